"""The commands of members' reports: starting and steering a report's conversation, the
coordinators' triage, and members' sightings. Parsed here, acted on by the services."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.command_text import without_control
from bot.domain.language import N_, _
from bot.domain.reports import MAX_SUMMARY_CHARS, parse_report_ref

_REPORT_ID = N_("Give the report's ID as shown in the message, like R12.")


@dataclass(frozen=True)
class StartReport:
    pass


@dataclass(frozen=True)
class CancelConversation:
    pass


@dataclass(frozen=True)
class SkipStep:
    pass


@dataclass(frozen=True)
class ListReports:
    pass


@dataclass(frozen=True)
class ApproveReport:
    report_id: int


@dataclass(frozen=True)
class RejectReport:
    report_id: int
    reason: str | None = None


@dataclass(frozen=True)
class EditReport:
    report_id: int
    summary: str | None = None  # None: the next message is the new summary


@dataclass(frozen=True)
class Seen:
    report_id: int
    seen: bool = True
    text: str | None = None  # indicators the member sees, pasted after the ID


@dataclass(frozen=True)
class ReportSituation:
    report_id: int
    detail: bool = False


ReportCommand = (
    StartReport | CancelConversation | SkipStep | ListReports | ApproveReport | RejectReport
    | EditReport | Seen | ReportSituation
)


def report_id(word: str) -> int:
    """17 from "R17" (or a bare 17); ValueError in the reader's language otherwise."""
    found = parse_report_ref(word)
    if found is None and word.isascii() and word.isdigit() and len(word) <= 9:
        found = int(word)
    if not found:
        raise ValueError(_(_REPORT_ID))
    return found


def _split(rest: str) -> tuple[str, str]:
    first, _space, more = without_control(rest).strip().partition(" ")
    if not first:
        raise ValueError(_(_REPORT_ID))
    return first, more.strip()


def parse_approve(rest: str) -> ReportCommand:
    first, more = _split(rest)
    if more:
        raise ValueError(_("/approve takes only the report's ID."))
    return ApproveReport(report_id(first))


def parse_reject(rest: str) -> ReportCommand:
    first, reason = _split(rest)
    if len(reason) > MAX_SUMMARY_CHARS:
        raise ValueError(_("A reason may have at most {limit} characters.").format(
            limit=MAX_SUMMARY_CHARS))
    return RejectReport(report_id(first), reason or None)


def parse_edit(rest: str) -> ReportCommand:
    first, summary = _split(rest)
    if len(summary) > MAX_SUMMARY_CHARS:
        raise ValueError(_("A summary may have at most {limit} characters.").format(
            limit=MAX_SUMMARY_CHARS))
    return EditReport(report_id(first), summary or None)


def parse_seen(rest: str) -> ReportCommand:
    first, more = _split(rest)
    if more.lower() in {"no", "nein", "not", "nicht"}:
        return Seen(report_id(first), seen=False)
    return Seen(report_id(first), seen=True, text=more or None)


def parse_report_situation(first: str, detail: bool) -> ReportCommand:
    return ReportSituation(report_id(first), detail)
