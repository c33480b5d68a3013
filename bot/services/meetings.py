"""Hub meetings: the notice with its calendar file, RSVPs, reminders and cancellations."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from bot.domain.coordination_commands import AddMeeting, CancelMeeting, Rsvp
from bot.domain.meetings import Meeting, describe_time, meeting_start, plan_reminders, until_text
from bot.domain.members import Network
from bot.domain.rendering import Button, buttons_payload
from bot.services.calendar_file import ics_attachment
from bot.services.hub_messages import Address, HubPolicy, hub_channels, queue_to
from bot.services.ports import UnitOfWork
from bot.services.replies import Reply

log = logging.getLogger(__name__)

MEETING_PRIORITY = 2
ATTENDING = ("yes", "maybe")


def rsvp_buttons(meeting: Meeting) -> list[list[Button]]:
    return [[Button(label, f"/rsvp {meeting.id} {word}")
             for label, word in (("Attend", "yes"), ("Maybe", "maybe"), ("Decline", "no"))]]


def _notice_text(meeting: Meeting) -> str:
    lines = [f"📅 Hub meeting {meeting.id}: {meeting.title}",
             f"When: {describe_time(meeting.starts_at, meeting.zone)}"]
    if meeting.link:
        lines.append(f"Join: {meeting.link}")
    lines.append(f"The attached calendar file adds it to your calendar. Answer with "
                 f"/rsvp {meeting.id} yes, no or maybe.")
    return "\n".join(lines)


def add_meeting(uow: UnitOfWork, command: AddMeeting, policy: HubPolicy, actor_name: str,
                now: datetime) -> Reply:
    zone = command.zone or policy.zone
    try:
        start = meeting_start(command.day, command.clock_time, zone, now)
    except ValueError as exc:
        return Reply(f"Not scheduled: {exc}")
    meeting = uow.meetings.add(command.title, start, zone, command.link, actor_name, now)
    channels = hub_channels(uow, policy)
    queued = queue_to(uow, channels, kind="meeting", key=f"{meeting.id}|notice",
                      payload=lambda: {"text": _notice_text(meeting),
                               "buttons": buttons_payload(rsvp_buttons(meeting)),
                               "attachment": ics_attachment(meeting, now)},
                      priority=MEETING_PRIORITY, now=now)
    # Reminders whose moment is already gone will never be due: recorded now, not guessed later.
    plan = plan_reminders(meeting, now)
    uow.meetings.mark_reminders(meeting.id, plan.skip)
    coming = [name.replace("h", " hour") + ("s" if name != "1h" else "") for name, _ in plan.later]
    uow.audit.add(actor_name, "meeting add", f"{meeting.id}: {meeting.title} at "
                  f"{describe_time(start, zone)}", now)
    where = (f"posted to {queued} hub channel{'s' if queued != 1 else ''}" if queued
             else "not posted anywhere: the hub has no channels yet")
    reminders = (f"Reminders go {' and '.join(coming)} before." if coming
                 else "It is too close for reminders.")
    return Reply(f"Meeting {meeting.id} scheduled for {describe_time(start, zone)}; {where}. "
                 + reminders)


def cancel_meeting(uow: UnitOfWork, command: CancelMeeting, policy: HubPolicy,
                   actor_name: str, now: datetime) -> Reply:
    meeting = uow.meetings.get(command.meeting)
    if meeting is None:
        return Reply(f"There is no meeting {command.meeting}; /meetings lists them.")
    if meeting.cancelled:
        return Reply(f"Meeting {meeting.id} is already cancelled.")
    if meeting.starts_at <= now:
        return Reply(f"Meeting {meeting.id} has already started.")
    uow.meetings.cancel(meeting.id)
    recipients = hub_channels(uow, policy) + uow.meetings.rsvp_addresses(
        meeting.id, ("yes", "maybe", "no"))
    text = (f"❌ Cancelled: hub meeting {meeting.id}, {meeting.title}, which was set for "
            f"{describe_time(meeting.starts_at, meeting.zone)}. The attached file removes it "
            "from your calendar.")
    queued = queue_to(uow, recipients, kind="meeting", key=f"{meeting.id}|cancel",
                      payload=lambda: {"text": text,
                               "attachment": ics_attachment(meeting, now, cancelled=True)},
                      priority=MEETING_PRIORITY + 1, now=now)
    uow.audit.add(actor_name, "meeting cancel", f"{meeting.id}: {meeting.title}", now)
    return Reply(f"Meeting {meeting.id} cancelled; {queued} "
                 f"notification{'s' if queued != 1 else ''} on their way.")


def list_meetings(uow: UnitOfWork, now: datetime, coordinator: bool,
                  zone: str | None = None) -> Reply:
    """The upcoming meetings, in the reader's zone (else each meeting's own)."""
    meetings = uow.meetings.upcoming(now, limit=20)
    if not meetings:
        return Reply("No meetings are scheduled.")
    lines = ["Upcoming hub meetings:"]
    buttons: list[list[Button]] = []
    for m in meetings:
        lines.append(f"• {m.id}: {m.title} — {describe_time(m.starts_at, zone or m.zone)}")
        if m.link:
            lines.append(f"  {m.link}")
        if coordinator:
            c = uow.meetings.rsvp_counts(m.id)
            lines.append(f"  RSVP: {c.get('yes', 0)} yes · {c.get('maybe', 0)} maybe · "
                         f"{c.get('no', 0)} no")
        if len(buttons) < 3:
            buttons += rsvp_buttons(m)
    lines.append("Answer with /rsvp <number> yes, no or maybe.")
    return Reply("\n".join(lines), buttons if len(meetings) == 1 else [])


def rsvp(uow: UnitOfWork, network: Network, address: str, member: str, command: Rsvp,
         now: datetime, zone: str | None = None) -> Reply:
    meeting = uow.meetings.get(command.meeting)
    if meeting is None:
        return Reply(f"There is no meeting {command.meeting}; /meetings lists them.")
    if meeting.cancelled:
        return Reply(f"Meeting {meeting.id} was cancelled.")
    if meeting.starts_at <= now:
        return Reply(f"Meeting {meeting.id} has already started.")
    uow.meetings.rsvp(meeting.id, network, address, member, command.answer.value, now)
    words = {"yes": "you attend", "no": "you do not attend", "maybe": "you may attend"}
    extra = " You will get the reminders here." if command.answer.value in ATTENDING else ""
    return Reply(f"Noted: {words[command.answer.value]} meeting {meeting.id}, {meeting.title}, "
                 f"on {describe_time(meeting.starts_at, zone or meeting.zone)}.{extra}")


def send_due_reminders(uow: UnitOfWork, policy: HubPolicy,
                       now: datetime) -> list[tuple[int, str, datetime]]:
    """Queue every reminder due now (late ones once, if the meeting has not started).

    Returns the reminders still to come, (meeting, reminder, when), for the scheduler. The
    caller commits: a reminder is marked done in the same transaction that queues it.
    """
    later: list[tuple[int, str, datetime]] = []
    for meeting in uow.meetings.upcoming(now, limit=None):
        plan = plan_reminders(meeting, now)
        for name in plan.send_now:
            _queue_reminder(uow, meeting, name, policy, now)
        uow.meetings.mark_reminders(meeting.id, plan.send_now + plan.skip)
        later += [(meeting.id, name, when) for name, when in plan.later]
    return later


def _reminder_payload(meeting: Meeting, zone: str, now: datetime) -> dict[str, object]:
    lines = [f"⏰ Reminder: hub meeting {meeting.id}, {meeting.title}, starts "
             f"{until_text(meeting.starts_at - now)}",
             f"When: {describe_time(meeting.starts_at, zone)}"]
    if meeting.link:
        lines.append(f"Join: {meeting.link}")
    return {"text": "\n".join(lines)}


def _queue_reminder(uow: UnitOfWork, meeting: Meeting, name: str, policy: HubPolicy,
                    now: datetime) -> None:
    # Hub channels read the meeting's own zone; a person who set /timezone reads theirs.
    by_zone: dict[str, list[Address]] = {meeting.zone: list(hub_channels(uow, policy))}
    for network, address in uow.meetings.rsvp_addresses(meeting.id, ATTENDING):
        contact = uow.members.contact(network, address)
        zone = (contact.timezone if contact else None) or meeting.zone
        by_zone.setdefault(zone, []).append((network, address))
    queued = 0
    for zone, recipients in by_zone.items():
        queued += queue_to(uow, recipients, kind="reminder", key=f"{meeting.id}|{name}",
                           payload=partial(_reminder_payload, meeting, zone, now),
                           priority=MEETING_PRIORITY + 1, now=now)
    log.info("meeting %d: %s reminder queued for %d addresses", meeting.id, name, queued)
