"""The chat command grammar, the same on every network: declared once, usage generated.

The coordination commands' arguments are parsed in `coordination_commands`; their names are
re-exported here so the grammar is imported from one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.alerts import parse_alert_rule
from bot.domain.command_text import CONTROL, is_number
from bot.domain.coordination_commands import (
    COORDINATION_PARSERS,
    AddMeeting,
    Affected,
    Announce,
    CancelMeeting,
    Digest,
    Grant,
    ListMeetings,
    Rsvp,
    SetTimezone,
    Situation,
)
from bot.domain.language import languages, supported
from bot.domain.severity import Severity

MAX_COMMAND_CHARS = 3000  # an announcement may be a few paragraphs
MAX_ARGUMENT_CHARS = 300
_COMMAND = re.compile(r"^/([A-Za-z_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?$", re.DOTALL)
_DURATION = re.compile(r"^(?:(\d{1,3})d)?(?:(\d{1,3})h)?(?:(\d{1,4})m)?$")
MAX_MUTE = timedelta(days=30)


@dataclass(frozen=True)
class CommandSpec:
    name: str
    arguments: str
    summary: str
    members_only: bool = True
    # Who sees it in /help and may use it: "member", "coordinator" (and admins) or "admin".
    audience: str = "member"

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.arguments}".rstrip()


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "[invite-code]", "link this chat to your organisation", False),
    CommandSpec("help", "", "what this bot does and its commands", False),
    CommandSpec("subscribe", "<vendor> | <product> [| <version or vers: range>]",
                "alert me about a product (of that version)"),
    CommandSpec("unsubscribe", "<vendor> | <product>", "stop alerts about a product"),
    CommandSpec("products", "", "the products your organisation registered"),
    CommandSpec("severity", "<low|medium|high|critical|kev|epss>=0.1>",
                "the lowest severity you are alerted of, or only exploited ones"),
    CommandSpec("mute", "<duration like 2h, 1d, or off>", "deliver alerts silently for a while"),
    CommandSpec("status", "", "feeds' health, last poll, alerts waiting"),
    CommandSpec("latest", "[n]", "the last n alerts for your organisation (default 5)"),
    CommandSpec("affected", "<alert-id> <yes|no|patched>",
                "tell the coordinators whether an alert affects you"),
    CommandSpec("digest", "<on [hour]|off>",
                "alerts below critical in one daily message, or at once"),
    CommandSpec("meetings", "", "the hub's upcoming meetings"),
    CommandSpec("timezone", "[zone like Europe/Berlin, or off]",
                "the time zone your times are shown in"),
    CommandSpec("language", "[de|en, or off]", "the language the bot writes to you in"),
    CommandSpec("rsvp", "<meeting-id> <yes|no|maybe>", "say whether you attend a meeting"),
    CommandSpec("announce", "[--dm] <text>",
                "post to the hub channels (--dm: to every member too), after a preview",
                audience="coordinator"),
    CommandSpec("meeting", "add <YYYY-MM-DD HH:MM> [time zone] <title> [| link]  or  "
                "cancel <meeting-id>", "schedule or cancel a hub meeting",
                audience="coordinator"),
    CommandSpec("situation", "<alert-id> [detail]",
                "how many members an alert matched, are affected, patched",
                audience="coordinator"),
    CommandSpec("grant", "<member> <coordinator|member>", "give or take a member's coordinator "
                "role", audience="admin"),
)
SPECS = {spec.name: spec for spec in COMMANDS}


@dataclass(frozen=True)
class Start:
    code: str | None


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Subscribe:
    vendor: str
    product: str
    versions: str | None = None


@dataclass(frozen=True)
class Unsubscribe:
    vendor: str
    product: str


@dataclass(frozen=True)
class ListProducts:
    pass


@dataclass(frozen=True)
class SetSeverity:
    level: Severity | None
    rule: str | None = None  # "kev" or "epss>=0.1": exploitation instead of severity


@dataclass(frozen=True)
class Mute:
    duration: timedelta | None  # None: unmute


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Latest:
    count: int


@dataclass(frozen=True)
class SetLanguage:
    language: str | None  # None: back to the network's language or the hub's
    show: bool = False


Command = (
    Start | Help | Subscribe | Unsubscribe | ListProducts | SetSeverity | Mute | Status | Latest
    | Affected | Digest | ListMeetings | Rsvp | Announce | AddMeeting | CancelMeeting | Situation
    | Grant | SetTimezone | SetLanguage
)


@dataclass(frozen=True)
class CommandError:
    """What to answer instead: a short reason and the right usage."""

    message: str


def command_name(command: Command) -> str:
    return {
        Start: "start", Help: "help", Subscribe: "subscribe", Unsubscribe: "unsubscribe",
        ListProducts: "products", SetSeverity: "severity", Mute: "mute", Status: "status",
        Latest: "latest", Affected: "affected", Digest: "digest", ListMeetings: "meetings",
        Rsvp: "rsvp", Announce: "announce", AddMeeting: "meeting", CancelMeeting: "meeting",
        Situation: "situation", Grant: "grant", SetTimezone: "timezone",
        SetLanguage: "language",
    }[type(command)]


def parse_command(text: str) -> Command | CommandError | None:
    """Parse one chat message; None when it is not a command at all (plain text)."""
    text = CONTROL.sub("", text).strip()
    if not text.startswith("/"):
        return None
    if len(text) > MAX_COMMAND_CHARS:
        return CommandError(f"That command is too long (over {MAX_COMMAND_CHARS} characters).")
    match = _COMMAND.match(text)
    if match is None:
        return CommandError("I did not understand that. " + _see_help())
    name, rest = match.group(1).lower(), (match.group(2) or "").strip()
    spec = SPECS.get(name)
    if spec is None:
        return CommandError(f"Unknown command /{name}. " + _see_help())
    try:
        return _PARSERS[name](rest)
    except ValueError as exc:
        return CommandError(f"{exc}\nUsage: {spec.usage}")


def help_text(audience: str = "member") -> str:
    """The commands this person may use: members', plus coordinators' (and admins')."""
    lines = ["hubbot sends your organisation alerts about security advisories that name the "
             "products it registered.", ""]
    lines += [f"{spec.usage} — {spec.summary}" for spec in COMMANDS if spec.audience == "member"]
    extra = {"member": (), "coordinator": ("coordinator",), "admin": ("coordinator", "admin")}
    for group in extra.get(audience, ()):
        lines += ["", f"For {group}s:"]
        lines += [f"{spec.usage} — {spec.summary}" for spec in COMMANDS if spec.audience == group]
    return "\n".join(lines)


def _see_help() -> str:
    return "Send /help for the list of commands."


def _no_arguments(command: Command) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        if rest:
            raise ValueError("This command takes no arguments.")
        return command

    return parse


def _start(rest: str) -> Command:
    if not rest:
        return Start(None)
    if not re.fullmatch(r"[A-Za-z0-9_-]{6,64}", rest):
        raise ValueError("That does not look like an invite code.")
    return Start(rest)


def _vendor_product(rest: str) -> tuple[str, str]:
    if rest.count("|") != 1:
        raise ValueError("Give the vendor and the product separated by |.")
    vendor, product = (part.strip() for part in rest.split("|"))
    if not vendor or not product:
        raise ValueError("Both the vendor and the product are needed.")
    for part in (vendor, product):
        if len(part) > MAX_ARGUMENT_CHARS:
            raise ValueError(f"A name may have at most {MAX_ARGUMENT_CHARS} characters.")
    return vendor, product


def _subscribe(rest: str) -> Command:
    if rest.count("|") >= 2:  # a vers: range has | of its own: vendor | product | the rest
        vendor, product, versions = rest.split("|", 2)
        first, versions = f"{vendor}|{product}", versions.strip()
        if not versions:
            raise ValueError("Give the version after the second |, or leave out that |.")
        if len(versions) > MAX_ARGUMENT_CHARS:
            raise ValueError(f"A version may have at most {MAX_ARGUMENT_CHARS} characters.")
        return Subscribe(*_vendor_product(first), versions=versions)
    return Subscribe(*_vendor_product(rest))


def _unsubscribe(rest: str) -> Command:
    return Unsubscribe(*_vendor_product(rest))


def _severity(rest: str) -> Command:
    word = rest.strip().lower().replace(" ", "")
    rule = parse_alert_rule(word) if word else None
    if rule is not None:
        return SetSeverity(None, rule)
    level = Severity.from_word(word) if word else None
    if level is None or word not in {s.label for s in Severity}:
        raise ValueError("Choose one of low, medium, high, critical, kev (only known "
                         "exploited) or epss>=0.1 (likely to be exploited).")
    return SetSeverity(level)


def _mute(rest: str) -> Command:
    word = rest.strip().lower().replace(" ", "")
    if word in {"off", "0", "no", "stop"}:
        return Mute(None)
    match = _DURATION.match(word) if word else None
    if match is None or not any(match.groups()):
        raise ValueError("Give a duration like 30m, 2h, 1d or 1d12h, or 'off'.")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes)
    if not timedelta(minutes=1) <= duration <= MAX_MUTE:
        raise ValueError("A mute lasts from 1 minute to 30 days.")
    return Mute(duration)


def _latest(rest: str) -> Command:
    if not rest:
        return Latest(5)
    if not is_number(rest) or not 1 <= int(rest) <= 50:
        raise ValueError("Give a number from 1 to 50.")
    return Latest(int(rest))


def _language(rest: str) -> Command:
    word = rest.strip().lower()
    if not word:
        return SetLanguage(None, show=True)
    if word in {"off", "auto", "default"}:
        return SetLanguage(None)
    if supported(word) != word:
        raise ValueError(f"Choose one of {', '.join(languages())}, or off.")
    return SetLanguage(word)


_PARSERS: dict[str, Callable[[str], Command]] = {
    "start": _start,
    "help": _no_arguments(Help()),
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "products": _no_arguments(ListProducts()),
    "severity": _severity,
    "mute": _mute,
    "status": _no_arguments(Status()),
    "latest": _latest,
    "language": _language,
    **COORDINATION_PARSERS,
}
