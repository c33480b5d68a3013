"""The gettext catalogs (`bot/app/locales/<lang>/LC_MESSAGES/hubbot.po`) and Babel's locale formats.

The `.po` files are read at start (no compiled `.mo` to keep in step); adding a language is
adding one `.po` file (README, "Adding a language").
"""

from __future__ import annotations

import logging
import re
import string
from datetime import datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_time, get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

from bot.domain import language

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "hubbot"
# The CLDR locale whose date and number formats a language uses where its plain code would
# pick another region's (plain "en" is American: "Nov 25, 2026, 2:30 PM").
FORMAT_LOCALES = {"en": "en_150"}
_ZONE_ABBREVIATION = re.compile(r"^[A-Za-z]{2,6}$")


class BabelTranslator:
    """A language's translations from its `.po` file, dates and numbers by CLDR."""

    def __init__(self, code: str, translations: Translations | None) -> None:
        self.language = code
        self._translations = translations
        self._locale = Locale.parse(FORMAT_LOCALES.get(code, code))

    def gettext(self, message: str) -> str:
        return self._translations.gettext(message) if self._translations else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if self._translations is None:
            return singular if n == 1 else plural
        return self._translations.ngettext(singular, plural, n)

    def moment(self, moment: datetime, zone: str) -> str:
        pattern = self._locale.datetime_formats["medium"]
        joined = str(pattern).replace("{1}", "\x00").replace("{0}", "\x01")
        return joined.replace("\x00", self.day(moment, zone)).replace(
            "\x01", self.clock(moment, zone))

    def day(self, moment: datetime, zone: str) -> str:
        tz = _zone(zone)
        return format_date(moment.astimezone(tz).date(), "medium", locale=self._locale)

    def clock(self, moment: datetime, zone: str) -> str:
        tz = _zone(zone)
        time = format_time(moment, "HH:mm", tzinfo=tz, locale=self._locale)
        return f"{time} {self.zone_name(moment, zone)}"

    def zone_name(self, moment: datetime, zone: str) -> str:
        """The locale's short zone name (MEZ, CET), else the zone's own abbreviation (EST)."""
        tz = _zone(zone)
        short = format_datetime(moment, "z", tzinfo=tz, locale=self._locale)
        if _ZONE_ABBREVIATION.match(short):
            return short
        own = moment.astimezone(tz).tzname() or ""
        return own if _ZONE_ABBREVIATION.match(own) else short

    def decimal(self, value: float, digits: int = 1) -> str:
        return _decimal(self._locale, value, digits)

    def percent(self, value: float) -> str:
        # The locale's own pattern ("#,##0 %" in German) with one decimal place.
        pattern = self._locale.percent_formats[None].pattern
        return format_percent(value, pattern.replace("0", "0.0", 1) if "." not in pattern
                              else pattern, locale=self._locale)


@lru_cache(maxsize=4096)  # scores repeat (CVSS has 101), and Babel takes ~10 µs a number
def _decimal(locale: Locale, value: float, digits: int) -> str:
    return format_decimal(value, "0." + "0" * digits if digits else "0", locale=locale)


def _zone(zone: str):  # type: ignore[no-untyped-def]
    try:
        return get_timezone(zone)
    except LookupError:
        return get_timezone("UTC")


def placeholders(message: str | tuple[str, ...] | list[str]) -> set[str]:
    """The {names} a message is formatted with ('<unbalanced braces>' if it cannot be)."""
    texts = message if isinstance(message, tuple | list) else (message,)
    names: set[str] = set()
    for text in texts:
        try:
            names |= {field for _, field, _, _ in string.Formatter().parse(text) if field}
        except ValueError:
            names.add("<unbalanced braces>")
    return names


def _keeps_placeholders(message: str | tuple[str, ...] | list[str],
                        translation: str | tuple[str, ...] | list[str]) -> bool:
    """A translation may leave out a plural form's {n}, never add or misspell one."""
    expected = placeholders(message)
    texts = translation if isinstance(translation, tuple | list) else (translation,)
    if isinstance(message, tuple | list):
        return all(placeholders(text) <= expected for text in texts if text)
    return all(placeholders(text) == expected for text in texts if text)


def catalog_files() -> dict[str, Path]:
    """Every language with a catalog: {'de': …/de/LC_MESSAGES/hubbot.po}."""
    return {path.parent.parent.name: path
            for path in sorted(LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))}


def load(code: str, path: Path) -> BabelTranslator:
    return _load(code, path, path.stat().st_mtime_ns)


@lru_cache(maxsize=16)
def _load(code: str, path: Path, _version: int) -> BabelTranslator:
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=code, domain=DOMAIN)
    for message in catalog:
        if message.id and message.string and not _keeps_placeholders(message.id,
                                                                      message.string):
            # Written as is it would fail when the message is formatted: English instead.
            log.error("%s: the %s translation of %r does not keep its {placeholders}; "
                      "that message is shown in English", path.name, code, message.id)
            message.string = ("", "") if isinstance(message.id, tuple) else ""
    missing = sum(1 for m in catalog if m.id and (m.fuzzy or not all(
        m.string if isinstance(m.string, tuple) else (m.string,))))
    if missing:
        log.warning("%s: %d of %d messages are untranslated or fuzzy in %s; they are shown "
                    "in English", path.name, missing, len(catalog), code)
    buffer = BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return BabelTranslator(code, Translations(buffer, domain=DOMAIN))


def install(default: str = language.SOURCE_LANGUAGE, zone: str = "UTC") -> tuple[str, ...]:
    """Load every catalog and make its language available (`default` for people who chose
    none, `zone` the hub's time zone for those who set none); returns the languages."""
    translators = {language.SOURCE_LANGUAGE: BabelTranslator(language.SOURCE_LANGUAGE, None)}
    for code, path in catalog_files().items():
        translators[code] = load(code, path)
    if default not in translators:
        log.warning("HUBBOT_DEFAULT_LANGUAGE %r has no catalog; using English", default)
    language.install(translators, default, zone)
    return language.languages()
