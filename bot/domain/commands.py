"""The chat command grammar, the same on every network: declared once, usage generated."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.severity import Severity

MAX_COMMAND_CHARS = 1000
MAX_ARGUMENT_CHARS = 300
_COMMAND = re.compile(r"^/([A-Za-z_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?$", re.DOTALL)
_DURATION = re.compile(r"^(?:(\d{1,3})d)?(?:(\d{1,3})h)?(?:(\d{1,4})m)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
MAX_MUTE = timedelta(days=30)


@dataclass(frozen=True)
class CommandSpec:
    name: str
    arguments: str
    summary: str
    members_only: bool = True

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.arguments}".rstrip()


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "[invite-code]", "link this chat to your organisation", False),
    CommandSpec("help", "", "what this bot does and its commands", False),
    CommandSpec("subscribe", "<vendor> | <product>", "alert me about a product"),
    CommandSpec("unsubscribe", "<vendor> | <product>", "stop alerts about a product"),
    CommandSpec("products", "", "the products your organisation registered"),
    CommandSpec("severity", "<low|medium|high|critical>", "the lowest severity you are alerted of"),
    CommandSpec("mute", "<duration like 2h, 1d, or off>", "deliver alerts silently for a while"),
    CommandSpec("status", "", "feeds' health, last poll, alerts waiting"),
    CommandSpec("latest", "[n]", "the last n alerts for your organisation (default 5)"),
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


@dataclass(frozen=True)
class Unsubscribe:
    vendor: str
    product: str


@dataclass(frozen=True)
class ListProducts:
    pass


@dataclass(frozen=True)
class SetSeverity:
    level: Severity


@dataclass(frozen=True)
class Mute:
    duration: timedelta | None  # None: unmute


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Latest:
    count: int


Command = (
    Start | Help | Subscribe | Unsubscribe | ListProducts | SetSeverity | Mute | Status | Latest
)


@dataclass(frozen=True)
class CommandError:
    """What to answer instead: a short reason and the right usage."""

    message: str


def command_name(command: Command) -> str:
    return {
        Start: "start", Help: "help", Subscribe: "subscribe", Unsubscribe: "unsubscribe",
        ListProducts: "products", SetSeverity: "severity", Mute: "mute", Status: "status",
        Latest: "latest",
    }[type(command)]


def parse_command(text: str) -> Command | CommandError | None:
    """Parse one chat message; None when it is not a command at all (plain text)."""
    text = _CONTROL.sub("", text).strip()
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


def help_text() -> str:
    lines = ["hubbot sends your organisation alerts about security advisories that name the "
             "products it registered.", ""]
    lines += [f"{spec.usage} — {spec.summary}" for spec in COMMANDS]
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
    return Subscribe(*_vendor_product(rest))


def _unsubscribe(rest: str) -> Command:
    return Unsubscribe(*_vendor_product(rest))


def _severity(rest: str) -> Command:
    level = Severity.from_word(rest) if rest else None
    if level is None or rest.strip().lower() not in {s.label for s in Severity}:
        raise ValueError("Choose one of low, medium, high, critical.")
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
    if not rest.isdigit() or not 1 <= int(rest) <= 50:
        raise ValueError("Give a number from 1 to 50.")
    return Latest(int(rest))


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
}
