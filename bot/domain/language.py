"""The language a message is written in.

Every user-facing string is written `_("…")` (or `N_("…")` where it is only declared, then
`_()` when shown) so that `pybabel extract` finds it. Which language `_()` answers in is the
active translator of the current context: `speaking("de")` around the code that writes a message
for one reader. The translators are installed once at start (`bot.app.i18n.install`); without them
everything reads in English, the language the messages are written in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SOURCE_LANGUAGE = "en"
T = TypeVar("T")


class Translator(Protocol):
    """One language's catalog and its ways of writing dates and numbers."""

    language: str

    def gettext(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...

    def moment(self, moment: datetime, zone: str) -> str:
        """Date, time and zone: '25.11.2026, 14:30 MEZ' / '25 Nov 2026, 14:30 CET'."""
        ...

    def day(self, moment: datetime, zone: str) -> str:
        """The date alone, in the reader's zone: '25.11.2026' / '25 Nov 2026'."""
        ...

    def clock(self, moment: datetime, zone: str) -> str:
        """The time of day and zone: '14:30 MEZ'."""
        ...

    def decimal(self, value: float, digits: int = 1) -> str: ...

    def percent(self, value: float) -> str:
        """0.123 as '12.3%' / '12,3 %'."""
        ...


class English:
    """The messages as written, dates in the European English style, no catalog needed."""

    language = SOURCE_LANGUAGE

    def gettext(self, message: str) -> str:
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return singular if n == 1 else plural

    def moment(self, moment: datetime, zone: str) -> str:
        local = _local(moment, zone)
        return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"

    def day(self, moment: datetime, zone: str) -> str:
        local = _local(moment, zone)
        return f"{local.day} {local:%b %Y}"

    def clock(self, moment: datetime, zone: str) -> str:
        local = _local(moment, zone)
        return f"{local:%H:%M} {local.tzname()}"

    def decimal(self, value: float, digits: int = 1) -> str:
        return f"{value:.{digits}f}"

    def percent(self, value: float) -> str:
        return f"{value:.1%}"


def _local(moment: datetime, zone: str) -> datetime:
    try:
        return moment.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return moment.astimezone(ZoneInfo("UTC"))


_ENGLISH = English()
_installed: dict[str, Translator] = {SOURCE_LANGUAGE: _ENGLISH}
_default: list[str] = [SOURCE_LANGUAGE]
_default_zone: list[str] = ["UTC"]
_active: ContextVar[Translator] = ContextVar("hubbot_language", default=_ENGLISH)


def install(translators: Mapping[str, Translator], default: str, zone: str = "UTC") -> None:
    """Make these languages available; `default` is for readers who chose none, and `zone`
    (the hub's time zone) for readers and hub channels that set none."""
    _default_zone[0] = zone
    _installed.clear()
    _installed[SOURCE_LANGUAGE] = _ENGLISH
    _installed.update(translators)
    _default[0] = default if default in _installed else SOURCE_LANGUAGE


def languages() -> tuple[str, ...]:
    """The languages a reader may choose, in a stable order."""
    return tuple(sorted(_installed))


def default_language() -> str:
    return _default[0]


def default_zone() -> str:
    """The hub's time zone: for readers who set none."""
    return _default_zone[0]


def supported(code: str | None) -> str | None:
    """The installed language a network's language tag means ('de-AT' → 'de'), or None."""
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in _installed else None


def choose(*preferences: str | None) -> str:
    """The first supported language among the preferences, else the hub's default."""
    for code in preferences:
        found = supported(code)
        if found is not None:
            return found
    return default_language()


def language_name(code: str) -> str:
    """A language's name in the active language ('Deutsch' / 'German')."""
    names = {"de": N_("German"), "en": N_("English")}
    return _(names[code]) if code in names else code


@contextmanager
def speaking(language: str | None) -> Iterator[Translator]:
    """Write messages in `language` (the default when it is None or not installed)."""
    translator = _installed.get(supported(language) or default_language(), _ENGLISH)
    token = _active.set(translator)
    try:
        yield translator
    finally:
        _active.reset(token)


def in_each_language(codes: Iterable[str], write: Callable[[], T]) -> dict[str, T]:
    """`write()` once per distinct language among `codes`, each inside `speaking(code)`."""
    written: dict[str, T] = {}
    for code in sorted(set(codes)):
        with speaking(code):
            written[code] = write()
    return written


def reason_text(error: ValueError) -> str:
    """A refusal's reason in the active language (domain errors carry a phrase or a text)."""
    return str(in_language(error.args[0])) if error.args else str(error)


def current() -> Translator:
    return _active.get()


def _(message: str) -> str:
    return _active.get().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _active.get().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for the catalog where it is declared; `_()` translates it when shown."""
    return message


def moment_text(moment: datetime, zone: str | None) -> str:
    return _active.get().moment(moment, zone or _default_zone[0])


def day_text(moment: datetime, zone: str | None) -> str:
    return _active.get().day(moment, zone or _default_zone[0])


def clock_text(moment: datetime, zone: str | None) -> str:
    return _active.get().clock(moment, zone or _default_zone[0])


def decimal_text(value: float, digits: int = 1) -> str:
    return _active.get().decimal(value, digits)


def percent_text(value: float) -> str:
    return _active.get().percent(value)


class Phrase(str):
    """A text made now in English that can be written again in the reader's language later.

    It is the English text (so it compares, logs and stores as before) and keeps the catalog
    message and its values; values may be phrases themselves.
    """

    message: str
    values: dict[str, Any]

    def __new__(cls, message: str, **values: Any) -> Phrase:
        made = super().__new__(cls, message.format(**values))  # nested phrases are English
        made.message = message
        made.values = values
        return made

    def text(self) -> str:
        """In the active language."""
        return _render(self.message, self.values)

    def to_json(self) -> dict[str, Any]:
        return {"m": self.message,
                "v": {k: v.to_json() if isinstance(v, Phrase) else v
                      for k, v in self.values.items()}}


def _render(message: str, values: Mapping[str, Any]) -> str:
    shown = {k: in_language(v) for k, v in values.items()}
    return _(message).format(**shown)


def in_language(text: Any) -> Any:
    """A phrase in the active language; anything else as it is."""
    return text.text() if isinstance(text, Phrase) else text


def phrase_from_json(data: Any) -> Phrase | str | None:
    """A phrase stored with `to_json`, or the plain string it was stored as."""
    if data is None or isinstance(data, str):
        return data
    if not isinstance(data, dict) or not isinstance(data.get("m"), str):
        return None
    found = data.get("v")
    values: dict[str, Any] = found if isinstance(found, dict) else {}
    try:
        return Phrase(data["m"], **{str(k): phrase_from_json(v) if isinstance(v, dict) else v
                                    for k, v in values.items()})
    except (KeyError, IndexError, ValueError):
        return None


def dump_text(text: str | None) -> str | None:
    """For a text column: a phrase as JSON, a plain string as itself."""
    if isinstance(text, Phrase):
        return json.dumps(text.to_json(), ensure_ascii=False)
    return text


def load_text(stored: str | None) -> str | None:
    """Back from a text column: a phrase stored by `dump_text`, or the plain string."""
    if stored is None or not stored.startswith('{"m":'):
        return stored
    try:
        found = phrase_from_json(json.loads(stored))
    except ValueError:
        return stored
    return found if found is not None else stored
