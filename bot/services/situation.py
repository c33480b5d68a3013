"""Who is affected: members answer each alert; coordinators see counts and a weekly summary."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from bot.domain.coordination_commands import Affected, Situation
from bot.domain.language import N_, _, day_text, ngettext
from bot.domain.meetings import describe_time
from bot.domain.outbox_payload import SummaryMessage
from bot.domain.situation import SituationReport, situation_text
from bot.domain.tlp import Tlp, highest
from bot.domain.tlp_gate import Clearance
from bot.services.hub_messages import HubPolicy, coordinators, queue_to
from bot.services.ports import UnitOfWork
from bot.services.replies import Reply

SUMMARY_PRIORITY = 1
_RECORDED = {
    "yes": N_("Recorded: {member} is affected by alert {ref} ({title}). Coordinators see how "
              "many members are affected, not who, unless they ask. You can change the answer "
              "any time."),
    "no": N_("Recorded: {member} is not affected by alert {ref} ({title}). Coordinators see "
             "how many members are affected, not who, unless they ask. You can change the "
             "answer any time."),
    "patched": N_("Recorded: {member} has patched alert {ref} ({title}). Coordinators see how "
                  "many members are affected, not who, unless they ask. You can change the "
                  "answer any time."),
}


def affected(uow: UnitOfWork, member: str, by: str, command: Affected, now: datetime,
             clearance: Clearance) -> Reply:
    advisory_id = uow.affected.advisory_for(command.ref)
    advisory = uow.advisories.get(advisory_id) if advisory_id else None
    # An alert the member never got is answered like an unknown one: numbers reveal nothing.
    # Nor did it get one above its clearance (a TLP:RED advisory that matched it).
    if (advisory_id is None or member not in uow.matches.members_for(advisory_id)
            or (advisory is not None and not clearance.allows(advisory.tlp, member))):
        return Reply(_("{member} got no alert {ref}. /latest shows your recent alerts.").format(
            member=member, ref=command.ref))
    uow.affected.answer(advisory_id, member, command.status.value, by, now)
    title = advisory.title if advisory else advisory_id
    return Reply(_(_RECORDED[command.status.value]).format(member=member, ref=command.ref,
                                                           title=title),
                 tlp=advisory.tlp if advisory else Tlp.CLEAR)


def report_for(uow: UnitOfWork, ref: int) -> tuple[SituationReport, list[str]] | None:
    advisory_id = uow.affected.advisory_for(ref)
    if advisory_id is None:
        return None
    matched = uow.matches.members_for(advisory_id)
    matched_set = set(matched)
    answers = {m: a for m, a in uow.affected.answers(advisory_id).items() if m in matched_set}
    advisory = uow.advisories.get(advisory_id)
    title = advisory.title if advisory else advisory_id
    return SituationReport(ref, title, len(matched), answers), matched


def situation(uow: UnitOfWork, command: Situation, actor_name: str, now: datetime) -> Reply:
    found = report_for(uow, command.ref)
    if found is None:
        return Reply(_("There is no alert {ref}.").format(ref=command.ref))
    report, matched = found
    # Who is affected maps members' attack surface: reading it is audited.
    uow.audit.add(actor_name, "situation detail" if command.detail else "situation",
                  str(command.ref), now)
    return Reply(situation_text(report, matched if command.detail else None),
                 tlp=_tlp_of(uow, [command.ref]))


def weekly_summary_text(uow: UnitOfWork, policy: HubPolicy, now: datetime) -> str:
    since = now - timedelta(days=7)
    lines = [_("Weekly summary of the hub, {start} – {end}").format(
        start=day_text(since, policy.zone), end=day_text(now, policy.zone))]
    reports = [found[0] for known in uow.affected.refs_since(since)
               if (found := report_for(uow, known.ref)) is not None]
    alerts = sum(r.matched for r in reports)
    lines.append(ngettext("Advisories that concerned members: {advisories}, with {n} member "
                          "alert in all.",
                          "Advisories that concerned members: {advisories}, with {n} member "
                          "alerts in all.", alerts).format(advisories=len(reports), n=alerts))
    open_ones = [r for r in reports if r.counts["yes"]]
    if open_ones:
        lines.append(_("Members affected and not yet patched:"))
        for r in sorted(open_ones, key=lambda r: -r.counts["yes"])[:10]:
            lines.append(_("• {ref}: {title} — {affected} affected, {patched} patched, "
                           "{unanswered} not answered").format(
                ref=r.ref, title=r.title, affected=r.counts["yes"],
                patched=r.counts["patched"], unanswered=r.unanswered))
    quiet = sum(r.unanswered for r in reports)
    if quiet:
        lines.append(ngettext("Unanswered: {n} member answer outstanding (/situation <id>).",
                              "Unanswered: {n} member answers outstanding (/situation <id>).",
                              quiet).format(n=quiet))
    meetings = [m for m in uow.meetings.upcoming(now) if m.starts_at <= now + timedelta(days=7)]
    for m in meetings:
        c = uow.meetings.rsvp_counts(m.id)
        lines.append(_("Meeting {id}: {title}, {time} — {n} attending").format(
            id=m.id, title=m.title, time=describe_time(m.starts_at, m.zone), n=c.get("yes", 0)))
    return "\n".join(lines)


def send_weekly_summary(uow: UnitOfWork, policy: HubPolicy, now: datetime,
                        week_of: datetime) -> int:
    """Queue the summary to coordinators and admins; once per week (`week_of`: its slot)."""
    year, week, _day = week_of.isocalendar()
    # It quotes the titles of the week's alerts: its TLP is the highest of theirs.
    tlp = _tlp_of(uow, [known.ref for known in uow.affected.refs_since(now - timedelta(days=7))])
    return queue_to(uow, coordinators(uow, policy), key=f"{year}-W{week:02}",
                    payload=partial(_summary_payload, uow, policy, now),
                    priority=SUMMARY_PRIORITY, now=now, admins=policy.admins, tlp=tlp)


def _tlp_of(uow: UnitOfWork, refs: list[int]) -> Tlp:
    """The highest TLP of the advisories these alert numbers name."""
    ids = [advisory_id for ref in refs if (advisory_id := uow.affected.advisory_for(ref))]
    return highest(advisory.tlp for advisory_id in ids
                   if (advisory := uow.advisories.get(advisory_id)) is not None)


def _summary_payload(uow: UnitOfWork, policy: HubPolicy, now: datetime) -> SummaryMessage:
    return SummaryMessage(weekly_summary_text(uow, policy, now))
