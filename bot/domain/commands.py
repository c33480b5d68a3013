"""The chat command grammar, the same on every network: each command declared once.

`COMMANDS` is the one declaration of every command: its name, arguments, summary, who may use
it, its parser and the commands it parses to. Parsing, usage lines, /help and the chat menus
are made from it; the services bind a handler to each parsed command
(`bot.services.command_handlers`). The coordination commands' arguments are parsed in
`coordination_commands`; their names are re-exported here so the grammar is imported from one
place.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.domain.alerts import parse_alert_rule
from bot.domain.command_text import is_number, without_control
from bot.domain.coordination_commands import (
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
    parse_affected,
    parse_announce,
    parse_digest,
    parse_grant,
    parse_meeting,
    parse_rsvp,
    parse_situation,
    parse_timezone,
)
from bot.domain.language import N_, _, languages, supported
from bot.domain.name_folding import clean_name
from bot.domain.report_commands import (
    ApproveReport,
    CancelConversation,
    EditReport,
    ListReports,
    RejectReport,
    ReportSituation,
    Seen,
    SkipStep,
    StartReport,
    parse_approve,
    parse_edit,
    parse_reject,
    parse_report_situation,
    parse_seen,
)
from bot.domain.severity import Severity

__all__ = [
    "AddMeeting", "Affected", "Announce", "ApproveReport", "Audience", "COMMANDS",
    "CancelConversation", "CancelMeeting", "Command", "CommandError", "CommandSpec", "Digest",
    "EditReport", "Grant", "Help", "Latest", "ListMeetings", "ListProducts", "ListReports",
    "MAX_ARGUMENT_CHARS", "MAX_COMMAND_CHARS", "Mute", "RejectReport", "ReportSituation", "Rsvp",
    "SPECS", "Seen", "SetLanguage", "SetSeverity", "SetTimezone", "Situation", "SkipStep", "Start",
    "StartReport", "Status", "Subscribe", "Unsubscribe", "command_name", "help_text", "menu",
    "parse_command", "spec_of",
]

MAX_COMMAND_CHARS = 3000  # an announcement may be a few paragraphs
MAX_ARGUMENT_CHARS = 300
_COMMAND = re.compile(r"^/([A-Za-z_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?$", re.DOTALL)
_DURATION = re.compile(r"^(?:(\d{1,3})d)?(?:(\d{1,3})h)?(?:(\d{1,4})m)?$")
MAX_MUTE = timedelta(days=30)


class Audience(enum.StrEnum):
    """Who may use a command; the higher ones may use the lower ones' too."""

    ANYONE = "anyone"  # also a chat not linked to a member (so it can get linked)
    MEMBER = "member"
    COORDINATOR = "coordinator"  # and admins
    ADMIN = "admin"


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
    | Grant | SetTimezone | SetLanguage | StartReport | CancelConversation | SkipStep | ListReports
    | ApproveReport | RejectReport | EditReport | Seen | ReportSituation
)


@dataclass(frozen=True)
class CommandError:
    """What to answer instead: a short reason and the right usage."""

    message: str
    # The command it was meant for, when that is known ("subscribe" for a bad /subscribe).
    command: str | None = field(default=None, compare=False)


def spec_of(command: Command) -> CommandSpec:
    """The declaration `command` was parsed by."""
    return _SPEC_OF_TYPE[type(command)]


def command_name(command: Command) -> str:
    return spec_of(command).name


def parse_command(text: str) -> Command | CommandError | None:
    """Parse one chat message; None when it is not a command at all (plain text).

    A CommandError's message is written in the active language.
    """
    text = without_control(text).strip()
    if not text.startswith("/"):
        return None
    if len(text) > MAX_COMMAND_CHARS:
        return CommandError(_("That command is too long (over {limit} characters).").format(
            limit=MAX_COMMAND_CHARS))
    match = _COMMAND.match(text)
    if match is None:
        return CommandError(_("I did not understand that. Send /help for the list of commands."))
    name, rest = match.group(1).lower(), (match.group(2) or "").strip()
    spec = SPECS.get(name)
    if spec is None:
        return CommandError(
            _("Unknown command /{name}. Send /help for the list of commands.").format(name=name))
    try:
        return spec.parse(rest)
    except ValueError as exc:
        # TRANSLATORS: {usage} is the command and its arguments, e.g. "/latest [n]".
        usage = _("Usage: {usage}").format(usage=spec.usage)
        return CommandError(f"{exc}\n{usage}", name)


def help_text(audience: str = Audience.MEMBER) -> str:
    """The commands this person may use: members', plus coordinators' (and admins')."""
    lines = [_("hubbot sends your organisation alerts about security advisories that name the "
               "products it registered."), ""]
    lines += [_help_line(spec) for spec in _declared_for(Audience.MEMBER)]
    headings = {Audience.COORDINATOR: _("For coordinators:"), Audience.ADMIN: _("For admins:")}
    extra: dict[str, tuple[Audience, ...]] = {
        Audience.COORDINATOR: (Audience.COORDINATOR,),
        Audience.ADMIN: (Audience.COORDINATOR, Audience.ADMIN)}
    for group in extra.get(audience, ()):
        lines += ["", headings[group]]
        lines += [_help_line(spec) for spec in _declared_for(group)]
    return "\n".join(lines)


def menu() -> list[tuple[str, str]]:
    """The members' commands for a chat app's menu: (name, summary in the active language)."""
    return [(spec.name, _(spec.summary)) for spec in _declared_for(Audience.MEMBER)]


def _declared_for(group: Audience) -> list[CommandSpec]:
    """The commands listed under `group` in /help (anyone's are listed with members')."""
    audiences = {group, Audience.ANYONE} if group is Audience.MEMBER else {group}
    return [spec for spec in COMMANDS if spec.audience in audiences]


def _help_line(spec: CommandSpec) -> str:
    return f"{spec.usage} — {_(spec.summary)}"


def _no_arguments(command: Command) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        if rest:
            raise ValueError(_("This command takes no arguments."))
        return command

    return parse


def _start(rest: str) -> Command:
    if not rest:
        return Start(None)
    if not re.fullmatch(r"[A-Za-z0-9_-]{6,64}", rest):
        raise ValueError(_("That does not look like an invite code."))
    return Start(rest)


def _vendor_product(rest: str) -> tuple[str, str]:
    if rest.count("|") != 1:
        raise ValueError(_("Give the vendor and the product separated by |."))
    vendor, product = (clean_name(part) for part in rest.split("|"))
    if not vendor or not product:
        raise ValueError(_("Both the vendor and the product are needed."))
    for part in (vendor, product):
        if len(part) > MAX_ARGUMENT_CHARS:
            raise ValueError(_("A name may have at most {limit} characters.").format(
                limit=MAX_ARGUMENT_CHARS))
    return vendor, product


def _subscribe(rest: str) -> Command:
    if rest.count("|") >= 2:  # a vers: range has | of its own: vendor | product | the rest
        vendor, product, versions = rest.split("|", 2)
        first, versions = f"{vendor}|{product}", versions.strip()
        if not versions:
            raise ValueError(_("Give the version after the second |, or leave out that |."))
        if len(versions) > MAX_ARGUMENT_CHARS:
            raise ValueError(_("A version may have at most {limit} characters.").format(
                limit=MAX_ARGUMENT_CHARS))
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
        # TRANSLATORS: keep the words low, medium, high, critical, kev and epss>=0.1 as they are.
        raise ValueError(_("Choose one of low, medium, high, critical, kev (only known "
                           "exploited) or epss>=0.1 (likely to be exploited)."))
    return SetSeverity(level)


def _mute(rest: str) -> Command:
    word = rest.strip().lower().replace(" ", "")
    if word in {"off", "0", "no", "stop"}:
        return Mute(None)
    match = _DURATION.match(word) if word else None
    if match is None or not any(match.groups()):
        # TRANSLATORS: m, h, d (minutes, hours, days) and 'off' are what the command takes.
        raise ValueError(_("Give a duration like 30m, 2h, 1d or 1d12h, or 'off'."))
    days, hours, minutes = (int(g or 0) for g in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes)
    if not timedelta(minutes=1) <= duration <= MAX_MUTE:
        raise ValueError(_("A mute lasts from 1 minute to 30 days."))
    return Mute(duration)


def _latest(rest: str) -> Command:
    if not rest:
        return Latest(5)
    if not is_number(rest) or not 1 <= int(rest) <= 50:
        raise ValueError(_("Give a number from 1 to 50."))
    return Latest(int(rest))


def _situation(rest: str) -> Command:
    """An alert's number, or a member report's ID (R12), with an optional `detail`."""
    words = rest.split()
    if words and words[0][:1] in "Rr" and 1 <= len(words) <= 2 \
            and (len(words) == 1 or words[1].lower() == "detail"):
        return parse_report_situation(words[0], len(words) == 2)
    return parse_situation(rest)


def _language(rest: str) -> Command:
    word = rest.strip().lower()
    if not word:
        return SetLanguage(None, show=True)
    if word in {"off", "auto", "default"}:
        return SetLanguage(None)
    if supported(word) != word:
        raise ValueError(_("Choose one of {languages}, or off.").format(
            languages=", ".join(languages())))
    return SetLanguage(word)


@dataclass(frozen=True)
class CommandSpec:
    """A command as declared: `arguments` and `summary` are English catalog messages (`N_`),
    written in the reader's language by `usage` and `help_text`; `parse` reads the text after
    the name into one of the `parses_to` commands, or raises ValueError with the reason."""

    name: str
    arguments: str
    summary: str
    parse: Callable[[str], Command]
    parses_to: tuple[type[Command], ...]
    audience: Audience = Audience.MEMBER

    @property
    def usage(self) -> str:
        """'/subscribe <vendor> | <product> …' in the active language."""
        arguments = _(self.arguments) if self.arguments else ""  # _("") is the catalog header
        return f"/{self.name} {arguments}".rstrip()


# In the order /help and the menus list them. The argument texts name what to give in <…>; the
# words the grammar takes (yes, no, off, add, cancel, low … critical, kev, epss, detail, --dm,
# coordinator, member) stay as they are.
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", N_("[invite-code]"), N_("link this chat to your organisation"),
                _start, (Start,), Audience.ANYONE),
    CommandSpec("help", "", N_("what this bot does and its commands"),
                _no_arguments(Help()), (Help,)),
    CommandSpec("subscribe", N_("<vendor> | <product> [| <version or vers: range>]"),
                N_("alert me about a product (of that version)"), _subscribe, (Subscribe,)),
    CommandSpec("unsubscribe", N_("<vendor> | <product>"), N_("stop alerts about a product"),
                _unsubscribe, (Unsubscribe,)),
    CommandSpec("products", "", N_("the products your organisation registered"),
                _no_arguments(ListProducts()), (ListProducts,)),
    CommandSpec("severity", N_("<low|medium|high|critical|kev|epss>=0.1>"),
                N_("the lowest severity you are alerted of, or only exploited ones"),
                _severity, (SetSeverity,)),
    CommandSpec("mute", N_("<duration like 2h, 1d, or off>"),
                N_("deliver alerts silently for a while"), _mute, (Mute,)),
    CommandSpec("status", "", N_("feeds' health, last poll, alerts waiting"),
                _no_arguments(Status()), (Status,)),
    CommandSpec("latest", N_("[n]"), N_("the last n alerts for your organisation (default 5)"),
                _latest, (Latest,)),
    CommandSpec("affected", N_("<alert-id> <yes|no|patched>"),
                N_("tell the coordinators whether an alert affects you"),
                parse_affected, (Affected,)),
    CommandSpec("digest", N_("<on [hour]|off>"),
                N_("alerts below critical in one daily message, or at once"),
                parse_digest, (Digest,)),
    CommandSpec("meetings", "", N_("the hub's upcoming meetings"),
                _no_arguments(ListMeetings()), (ListMeetings,)),
    CommandSpec("timezone", N_("[zone like Europe/Berlin, or off]"),
                N_("the time zone your times are shown in"), parse_timezone, (SetTimezone,)),
    CommandSpec("language", N_("[de|en, or off]"), N_("the language the bot writes to you in"),
                _language, (SetLanguage,)),
    CommandSpec("report", "", N_("tell the hub about an attack or indicators you see"),
                _no_arguments(StartReport()), (StartReport,)),
    CommandSpec("seen", N_("<report-id> [no | indicators you see]"),
                N_("tell the hub whether you see what a member reported"),
                parse_seen, (Seen,)),
    CommandSpec("skip", "", N_("skip a question of a report"), _no_arguments(SkipStep()),
                (SkipStep,)),
    CommandSpec("cancel", "", N_("stop a report (or an edit) half-way"),
                _no_arguments(CancelConversation()), (CancelConversation,)),
    CommandSpec("rsvp", N_("<meeting-id> <yes|no|maybe>"),
                N_("say whether you attend a meeting"), parse_rsvp, (Rsvp,)),
    CommandSpec("announce", N_("[--dm] <text>"),
                N_("post to the hub channels (--dm: to every member too), after a preview"),
                parse_announce, (Announce,), Audience.COORDINATOR),
    CommandSpec("meeting", N_("add <YYYY-MM-DD HH:MM> [time zone] <title> [| link]  or  "
                              "cancel <meeting-id>"), N_("schedule or cancel a hub meeting"),
                parse_meeting, (AddMeeting, CancelMeeting), Audience.COORDINATOR),
    CommandSpec("situation", N_("<alert-id or report-id> [detail]"),
                N_("how many members an alert matched, are affected, patched; who sees a "
                   "report"), _situation, (Situation, ReportSituation), Audience.COORDINATOR),
    CommandSpec("reports", "", N_("members' reports waiting for a decision"),
                _no_arguments(ListReports()), (ListReports,), Audience.COORDINATOR),
    CommandSpec("approve", N_("<report-id>"), N_("relay a member's report to the members"),
                parse_approve, (ApproveReport,), Audience.COORDINATOR),
    CommandSpec("edit", N_("<report-id> [new summary]"),
                N_("rewrite a report's summary before it is relayed"), parse_edit,
                (EditReport,), Audience.COORDINATOR),
    CommandSpec("reject", N_("<report-id> [reason]"),
                N_("decline a member's report (the reporter is told)"), parse_reject,
                (RejectReport,), Audience.COORDINATOR),
    CommandSpec("grant", N_("<member> <coordinator|member>"),
                N_("give or take a member's coordinator role"), parse_grant, (Grant,),
                Audience.ADMIN),
)
SPECS = {spec.name: spec for spec in COMMANDS}
_SPEC_OF_TYPE: dict[type[Command], CommandSpec] = {
    kind: spec for spec in COMMANDS for kind in spec.parses_to}
