"""A meeting as an iCalendar file (RFC 5545) members can add to their calendars."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from bot.domain.language import _
from bot.domain.meetings import DEFAULT_LENGTH, Meeting
from bot.domain.outbox_payload import Attachment


def meeting_uid(meeting: Meeting) -> str:
    return f"hubbot-meeting-{meeting.id}-{meeting.created_at:%Y%m%dT%H%M%S}@hubbot"


def meeting_ics(meeting: Meeting, now: datetime, cancelled: bool = False) -> str:
    """The meeting in its own time zone (with its VTIMEZONE), or its cancellation; its
    description in the active language."""
    calendar = Calendar()
    calendar.add("prodid", "-//hubbot//hub meetings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", meeting_uid(meeting))
    event.add("dtstamp", now)
    start = meeting.starts_at.astimezone(ZoneInfo(meeting.zone))
    event.add("dtstart", start)
    event.add("dtend", start + DEFAULT_LENGTH)
    event.add("summary", meeting.title)
    event.add("sequence", 1 if cancelled else 0)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if meeting.link:
        event.add("url", meeting.link)
        event.add("location", meeting.link)
        event.add("description", _("Join: {link}").format(link=meeting.link))
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return str(calendar.to_ical().decode())


def ics_attachment(meeting: Meeting, now: datetime, cancelled: bool = False) -> Attachment:
    name = f"meeting-{meeting.id}{'-cancelled' if cancelled else ''}.ics"
    return Attachment(name, "text/calendar", meeting_ics(meeting, now, cancelled))
