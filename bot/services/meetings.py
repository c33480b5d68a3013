"""Hub meetings: the notice with its calendar file, RSVPs, reminders and cancellations."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from bot.domain.coordination_commands import AddMeeting, CancelMeeting, Rsvp
from bot.domain.language import N_, _, ngettext, reason_text
from bot.domain.meetings import Meeting, describe_time, meeting_start, plan_reminders, until_text
from bot.domain.members import Network
from bot.domain.outbox_payload import Button, MeetingMessage, ReminderMessage, button_rows
from bot.services.calendar_file import ics_attachment
from bot.services.hub_messages import Address, HubPolicy, hub_channels, queue_to
from bot.services.ports import UnitOfWork
from bot.services.replies import Reply

log = logging.getLogger(__name__)

MEETING_PRIORITY = 2
ATTENDING = ("yes", "maybe")
# The RSVP buttons' labels and the answer each sends.
_RSVP = ((N_("Attend"), "yes"), (N_("Maybe"), "maybe"), (N_("Decline"), "no"))
_NOTED = {"yes": N_("Noted: you attend meeting {id}, {title}, on {time}."),
          "no": N_("Noted: you do not attend meeting {id}, {title}, on {time}."),
          "maybe": N_("Noted: you may attend meeting {id}, {title}, on {time}.")}


def rsvp_buttons(meeting: Meeting) -> list[list[Button]]:
    """Attend / Maybe / Decline, labelled in the active language."""
    return [[Button(_(label), f"/rsvp {meeting.id} {word}") for label, word in _RSVP]]


def _when_line(moment: datetime, zone: str) -> str:
    return _("When: {time}").format(time=describe_time(moment, zone))


def _join_line(link: str) -> str:
    return _("Join: {link}").format(link=link)


def _notice_text(meeting: Meeting) -> str:
    lines = [_("📅 Hub meeting {id}: {title}").format(id=meeting.id, title=meeting.title),
             _when_line(meeting.starts_at, meeting.zone)]
    if meeting.link:
        lines.append(_join_line(meeting.link))
    # TRANSLATORS: "yes, no or maybe" are the words /rsvp takes; keep them in English.
    lines.append(_("The attached calendar file adds it to your calendar. Answer with "
                   "/rsvp {id} yes, no or maybe.").format(id=meeting.id))
    return "\n".join(lines)


def _notice_payload(meeting: Meeting, now: datetime) -> MeetingMessage:
    return MeetingMessage(_notice_text(meeting), buttons=button_rows(rsvp_buttons(meeting)),
                          attachment=ics_attachment(meeting, now))


def _cancel_payload(meeting: Meeting, now: datetime) -> MeetingMessage:
    text = _("❌ Cancelled: hub meeting {id}, {title}, which was set for {time}. The attached "
             "file removes it from your calendar.").format(
        id=meeting.id, title=meeting.title, time=describe_time(meeting.starts_at, meeting.zone))
    return MeetingMessage(text, attachment=ics_attachment(meeting, now, cancelled=True))


def _reminders_text(names: list[str]) -> str:
    """When the reminders go ('24 hours and 1 hour before')."""
    befores = [ngettext("{n} hour", "{n} hours", hours).format(n=hours)
               for hours in (int(name.removesuffix("h")) for name in names)]
    if not befores:
        return _("It is too close for reminders.")
    if len(befores) == 1:
        # TRANSLATORS: {before} is e.g. "1 hour".
        return _("Reminders go {before} before.").format(before=befores[0])
    # TRANSLATORS: {first} and {second} are e.g. "24 hours" and "1 hour".
    return _("Reminders go {first} and {second} before.").format(first=befores[0],
                                                                 second=befores[1])


def add_meeting(uow: UnitOfWork, command: AddMeeting, policy: HubPolicy, actor_name: str,
                now: datetime) -> Reply:
    zone = command.zone or policy.zone
    try:
        start = meeting_start(command.day, command.clock_time, zone, now)
    except ValueError as exc:
        return Reply(_("Not scheduled: {reason}").format(reason=reason_text(exc)))
    meeting = uow.meetings.add(command.title, start, zone, command.link, actor_name, now)
    channels = hub_channels(uow, policy)
    queued = queue_to(uow, channels, key=f"{meeting.id}|notice",
                      payload=partial(_notice_payload, meeting, now),
                      priority=MEETING_PRIORITY, now=now, admins=policy.admins)
    # Reminders whose moment is already gone will never be due: recorded now, not guessed later.
    plan = plan_reminders(meeting, now)
    uow.meetings.mark_reminders(meeting.id, plan.skip)
    uow.audit.add(actor_name, "meeting add", f"{meeting.id}: {meeting.title} at "
                  f"{describe_time(start, zone)}", now)
    when = describe_time(start, zone)
    if queued:
        done = ngettext("Meeting {id} scheduled for {time}; posted to {n} hub channel.",
                        "Meeting {id} scheduled for {time}; posted to {n} hub channels.",
                        queued).format(id=meeting.id, time=when, n=queued)
    else:
        done = _("Meeting {id} scheduled for {time}; not posted anywhere: the hub has no "
                 "channels yet.").format(id=meeting.id, time=when)
    return Reply(done + " " + _reminders_text([name for name, _when in plan.later]))


def cancel_meeting(uow: UnitOfWork, command: CancelMeeting, policy: HubPolicy,
                   actor_name: str, now: datetime) -> Reply:
    meeting = uow.meetings.get(command.meeting)
    if meeting is None:
        return _no_meeting(command.meeting)
    if meeting.cancelled:
        return Reply(_("Meeting {id} is already cancelled.").format(id=meeting.id))
    if meeting.starts_at <= now:
        return _started(meeting)
    uow.meetings.cancel(meeting.id)
    recipients = hub_channels(uow, policy) + uow.meetings.rsvp_addresses(
        meeting.id, ("yes", "maybe", "no"))
    queued = queue_to(uow, recipients, key=f"{meeting.id}|cancel",
                      payload=partial(_cancel_payload, meeting, now),
                      priority=MEETING_PRIORITY + 1, now=now, admins=policy.admins)
    uow.audit.add(actor_name, "meeting cancel", f"{meeting.id}: {meeting.title}", now)
    return Reply(ngettext("Meeting {id} cancelled; {n} notification on its way.",
                          "Meeting {id} cancelled; {n} notifications on their way.",
                          queued).format(id=meeting.id, n=queued))


def _no_meeting(number: int) -> Reply:
    return Reply(_("There is no meeting {id}; /meetings lists them.").format(id=number))


def _started(meeting: Meeting) -> Reply:
    return Reply(_("Meeting {id} has already started.").format(id=meeting.id))


def list_meetings(uow: UnitOfWork, now: datetime, coordinator: bool,
                  zone: str | None = None) -> Reply:
    """The upcoming meetings, in the reader's zone (else each meeting's own)."""
    meetings = uow.meetings.upcoming(now, limit=20)
    if not meetings:
        return Reply(_("No meetings are scheduled."))
    lines = [_("Upcoming hub meetings:")]
    buttons: list[list[Button]] = []
    for m in meetings:
        lines.append(f"• {m.id}: {m.title} — {describe_time(m.starts_at, zone or m.zone)}")
        if m.link:
            lines.append(f"  {m.link}")
        if coordinator:
            c = uow.meetings.rsvp_counts(m.id)
            # TRANSLATORS: how many answered yes, maybe and no to a meeting.
            lines.append("  " + _("RSVP: {yes} yes · {maybe} maybe · {no} no").format(
                yes=c.get("yes", 0), maybe=c.get("maybe", 0), no=c.get("no", 0)))
        if len(buttons) < 3:
            buttons += rsvp_buttons(m)
    # TRANSLATORS: "yes, no or maybe" are the words /rsvp takes; keep them in English.
    lines.append(_("Answer with /rsvp <number> yes, no or maybe."))
    return Reply("\n".join(lines), buttons if len(meetings) == 1 else [])


def rsvp(uow: UnitOfWork, network: Network, address: str, member: str, command: Rsvp,
         now: datetime, zone: str | None = None) -> Reply:
    meeting = uow.meetings.get(command.meeting)
    if meeting is None:
        return _no_meeting(command.meeting)
    if meeting.cancelled:
        return Reply(_("Meeting {id} was cancelled.").format(id=meeting.id))
    if meeting.starts_at <= now:
        return _started(meeting)
    answer = command.answer.value
    uow.meetings.rsvp(meeting.id, network, address, member, answer, now)
    text = _(_NOTED[answer]).format(id=meeting.id, title=meeting.title,
                                    time=describe_time(meeting.starts_at, zone or meeting.zone))
    if answer in ATTENDING:
        text += " " + _("You will get the reminders here.")
    return Reply(text)


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


def _reminder_payload(meeting: Meeting, zone: str, now: datetime) -> ReminderMessage:
    # TRANSLATORS: {until} is e.g. "in 40 minutes".
    lines = [_("⏰ Reminder: hub meeting {id}, {title}, starts {until}").format(
                 id=meeting.id, title=meeting.title, until=until_text(meeting.starts_at - now)),
             _when_line(meeting.starts_at, zone)]
    if meeting.link:
        lines.append(_join_line(meeting.link))
    return ReminderMessage("\n".join(lines))


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
        queued += queue_to(uow, recipients, key=f"{meeting.id}|{name}",
                           payload=partial(_reminder_payload, meeting, zone, now),
                           priority=MEETING_PRIORITY + 1, now=now, admins=policy.admins)
    log.info("meeting %d: %s reminder queued for %d addresses", meeting.id, name, queued)
