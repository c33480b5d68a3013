"""Who is affected: members answer each alert; coordinators see counts and a weekly summary."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.coordination_commands import Affected, Situation
from bot.domain.meetings import describe_time
from bot.domain.situation import SituationReport, situation_text
from bot.services.hub_messages import HubPolicy, coordinators, queue_to
from bot.services.ports import UnitOfWork
from bot.services.replies import Reply

SUMMARY_PRIORITY = 1
_ANSWERED = {"yes": "is affected by", "no": "is not affected by", "patched": "has patched"}


def affected(uow: UnitOfWork, member: str, by: str, command: Affected, now: datetime) -> Reply:
    advisory_id = uow.affected.advisory_for(command.ref)
    # An alert the member never got is answered like an unknown one: numbers reveal nothing.
    if advisory_id is None or member not in uow.matches.members_for(advisory_id):
        return Reply(f"{member} got no alert {command.ref}. /latest shows your recent alerts.")
    uow.affected.answer(advisory_id, member, command.status.value, by, now)
    advisory = uow.advisories.get(advisory_id)
    title = advisory.title if advisory else advisory_id
    return Reply(f"Recorded: {member} {_ANSWERED[command.status.value]} alert {command.ref} "
                 f"({title}). Coordinators see how many members are affected, not who, "
                 "unless they ask. You can change the answer any time.")


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
        return Reply(f"There is no alert {command.ref}.")
    report, matched = found
    # Who is affected maps members' attack surface: reading it is audited.
    uow.audit.add(actor_name, "situation detail" if command.detail else "situation",
                  str(command.ref), now)
    return Reply(situation_text(report, matched if command.detail else None))


def weekly_summary_text(uow: UnitOfWork, policy: HubPolicy, now: datetime) -> str:
    since = now - timedelta(days=7)
    lines = [f"Weekly summary of the hub, {since:%d %b} – {now:%d %b %Y}"]
    reports = [found[0] for ref, _ in uow.affected.refs_since(since)
               if (found := report_for(uow, ref)) is not None]
    lines.append(f"Advisories that concerned members: {len(reports)}, with "
                 f"{sum(r.matched for r in reports)} member alerts in all.")
    open_ones = [r for r in reports if r.counts["yes"]]
    if open_ones:
        lines.append("Members affected and not yet patched:")
        for r in sorted(open_ones, key=lambda r: -r.counts["yes"])[:10]:
            lines.append(f"• {r.ref}: {r.title} — {r.counts['yes']} affected, "
                         f"{r.counts['patched']} patched, {r.unanswered} not answered")
    quiet = sum(r.unanswered for r in reports)
    if quiet:
        lines.append(f"Unanswered: {quiet} member answers outstanding (/situation <id>).")
    meetings = [m for m in uow.meetings.upcoming(now) if m.starts_at <= now + timedelta(days=7)]
    for m in meetings:
        c = uow.meetings.rsvp_counts(m.id)
        lines.append(f"Meeting {m.id}: {m.title}, {describe_time(m.starts_at, m.zone)} — "
                     f"{c.get('yes', 0)} attending")
    return "\n".join(lines)


def send_weekly_summary(uow: UnitOfWork, policy: HubPolicy, now: datetime,
                        week_of: datetime) -> int:
    """Queue the summary to coordinators and admins; once per week (`week_of`: its slot)."""
    year, week, _ = week_of.isocalendar()
    return queue_to(uow, coordinators(uow, policy), kind="summary", key=f"{year}-W{week:02}",
                    payload=lambda: {"text": weekly_summary_text(uow, policy, now)},
                    priority=SUMMARY_PRIORITY, now=now)
