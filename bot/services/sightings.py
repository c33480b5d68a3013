"""Members' sightings of a relayed report (/seen), and the coordinators' view of them.

A member says "we see this too" or "not here", and may add the indicators it sees. The reporter
learns how many others see it, never who; coordinators see counts, and names with `detail`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.domain.indicators import extract_indicators
from bot.domain.language import _, ngettext
from bot.domain.report_commands import ReportSituation, Seen
from bot.domain.report_conversation import MAX_REPORT_INDICATORS
from bot.domain.report_texts import sharing_text
from bot.domain.reports import Report, ReportStatus, report_ref
from bot.services.hub_messages import HubPolicy
from bot.services.ports import UnitOfWork
from bot.services.replies import Reply
from bot.services.report_triage import tell_reporter

log = logging.getLogger(__name__)



def seen(uow: UnitOfWork, member: str, command: Seen, now: datetime,
         policy: HubPolicy) -> Reply:
    report = uow.reports.get(command.report_id)
    if report is None or not report.relayed_to_members:
        # Not relayed (or never filed): members learn nothing of it, not even that it exists.
        return Reply(_("There is no report {ref} shared with the members.").format(
            ref=report_ref(command.report_id)))
    if report.member == member:
        return Reply(_("{ref} is your organisation's own report.").format(ref=report.ref))
    added, notes = 0, []
    if command.text:
        found = extract_indicators(command.text)
        room = max(0, MAX_REPORT_INDICATORS - len(report.indicators))
        added = uow.reports.add_indicators(report.id, found.indicators[:room], member)
        if not found.indicators:
            notes.append(_("I found no indicators in the text after the ID."))
        if found.text_cut or found.dropped or len(found.indicators) > room:
            read = min(len(found.indicators), room)
            notes.append(ngettext("Only the first indicator was read.",
                                  "Only the first {count} indicators were read.", read).format(
                count=read))
    before = _count_seen(uow, report.id)
    uow.reports.sight(report.id, member, command.seen, added, now)
    after = _count_seen(uow, report.id)
    if after > before:
        _tell_reporter_count(uow, report, after, now, policy)
    log.info("sighting of %s recorded (%s)", report.ref, "seen" if command.seen else "not seen")
    if command.seen:
        text = _("Recorded: your organisation sees {ref} too.").format(ref=report.ref)
        if added:
            text += " " + ngettext("{count} new indicator was added to it.",
                                   "{count} new indicators were added to it.", added).format(
                count=added)
        text += " " + _("Its reporter learns how many see it, not who.")
    else:
        text = _("Recorded: your organisation does not see {ref}.").format(ref=report.ref)
    return Reply("\n".join([text, *notes]))


def situation(uow: UnitOfWork, command: ReportSituation) -> Reply:
    report = uow.reports.get(command.report_id)
    if report is None:
        return Reply(_("There is no report {ref}.").format(ref=report_ref(command.report_id)))
    sightings = uow.reports.sightings(report.id)
    yes = [s for s in sightings if s.seen]
    no = [s for s in sightings if not s.seen]
    added = sum(s.indicators_added for s in sightings)
    lines = [_("Report {ref} from {member} ({status}, {tlp}, {sharing}):").format(
        ref=report.ref, member=report.member, status=_status(report), tlp=report.tlp.label,
        sharing=sharing_text(report.sharing)),
        # TRANSLATORS: counts of member organisations and of indicators they added.
        _("Members who see it too: {seen}. Members who do not: {not_seen}. Indicators added by "
          "members: {added}.").format(seen=len(yes), not_seen=len(no), added=added)]
    if command.detail:
        if yes:
            lines.append(_("See it: {names}").format(names=", ".join(s.member for s in yes)))
        if no:
            lines.append(_("Do not see it: {names}").format(
                names=", ".join(s.member for s in no)))
    return Reply("\n".join(lines), tlp=report.tlp)


def _status(report: Report) -> str:
    if report.status is ReportStatus.APPROVED:
        return _("approved")
    if report.status is ReportStatus.REJECTED:
        return _("rejected")
    return _("waiting for a decision")


def _count_seen(uow: UnitOfWork, report_id: int) -> int:
    return sum(1 for s in uow.reports.sightings(report_id) if s.seen)


def _tell_reporter_count(uow: UnitOfWork, report: Report, count: int, now: datetime,
                         policy: HubPolicy) -> None:
    def text() -> str:
        return ngettext("{count} other member sees {ref} too.",
                        "{count} other members see {ref} too.", count).format(
            count=count, ref=report.ref)

    tell_reporter(uow, report, now, policy, text, key=f"seen{count}")
