"""Hub meetings: when they are, in which time zone, and which reminders are due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.language import N_, _, clock_text, moment_text, ngettext

# Reminders before a meeting, the latest last: (name, how long before the start).
REMINDERS: tuple[tuple[str, timedelta], ...] = (
    ("24h", timedelta(hours=24)),
    ("1h", timedelta(hours=1)),
)
DEFAULT_LENGTH = timedelta(hours=1)
MAX_AHEAD = timedelta(days=2 * 366)


@dataclass(frozen=True)
class Meeting:
    id: int
    title: str
    starts_at: datetime  # aware, UTC
    zone: str  # IANA name the coordinator gave; times are shown in it
    link: str | None
    created_at: datetime
    created_by: str
    cancelled: bool = False
    reminders_done: frozenset[str] = field(default_factory=frozenset)

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(ZoneInfo(self.zone))


def meeting_start(day: date, clock_time: time, zone: str, now: datetime) -> datetime:
    """The meeting's start in UTC; ValueError with a reason a coordinator understands.

    A wall-clock time that does not exist (the hour skipped when clocks go forward) is refused;
    one that happens twice (clocks go back) is read as the first.
    """
    tz = ZoneInfo(zone)
    local = datetime.combine(day, clock_time, tzinfo=tz)
    start = local.astimezone(UTC)
    if start.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        # TRANSLATORS: {day} {time} as the coordinator typed them (2026-03-29 02:30).
        raise ValueError(_("{day} {time} does not exist in {zone}: the clocks go forward then. "
                           "Choose another time.").format(
            day=day.isoformat(), time=f"{clock_time:%H:%M}", zone=zone))
    if start <= now:
        raise ValueError(_("That time is in the past."))
    if start - now > MAX_AHEAD:
        raise ValueError(_("A meeting can be set up to two years ahead."))
    return start


# Short weekday names, Monday first (datetime.weekday()).
_WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def describe_time(moment: datetime, zone: str) -> str:
    """In the reader's language, e.g. 'Thu 3 Dec 2026, 14:00 CET (Europe/Berlin; 13:00 UTC)' /
    'Do., 03.12.2026, 14:00 MEZ (Europe/Berlin; 13:00 UTC)'."""
    weekday = _(_WEEKDAYS[moment.astimezone(ZoneInfo(zone)).weekday()])
    # TRANSLATORS: {weekday} is a short day name (Thu), {moment} date, time and zone.
    text = _("{weekday} {moment}").format(weekday=weekday, moment=moment_text(moment, zone))
    if zone == "UTC":
        return text
    return f"{text} ({zone}; {clock_text(moment, 'UTC')})"


def until_text(delta: timedelta) -> str:
    """'in 1 hour', 'in 23 hours', 'in 40 minutes', 'in 1 hour 20 minutes'."""
    minutes = max(1, round(delta.total_seconds() / 60))
    if minutes < 60:
        return ngettext("in {n} minute", "in {n} minutes", minutes).format(n=minutes)
    hours, rest = divmod(minutes, 60)
    if hours >= 2:
        return ngettext("in {n} hour", "in {n} hours", round(minutes / 60)).format(
            n=round(minutes / 60))
    if not rest:
        return ngettext("in {n} hour", "in {n} hours", hours).format(n=hours)
    # Between one and two hours: "in 1 hour 20 minutes".
    return ngettext("in 1 hour {n} minute", "in 1 hour {n} minutes", rest).format(n=rest)


@dataclass(frozen=True)
class ReminderPlan:
    send_now: tuple[str, ...]  # due (perhaps late, after downtime) and the meeting not started
    skip: tuple[str, ...]  # never to be sent: superseded by a later one, or the moment is gone
    later: tuple[tuple[str, datetime], ...]  # (reminder, when) still to come


def plan_reminders(meeting: Meeting, now: datetime) -> ReminderPlan:
    """Which of a meeting's reminders go now, which never, which later.

    A reminder whose moment passed while the bot was down is sent once, late, if the meeting
    has not started; when several are overdue only the latest goes (one "in 40 minutes", not
    also a "tomorrow"). A reminder whose moment was before the meeting was set up is skipped:
    the notice itself just told everyone.
    """
    pending = [(name, meeting.starts_at - before) for name, before in REMINDERS
               if name not in meeting.reminders_done]
    if meeting.cancelled or now >= meeting.starts_at:
        return ReminderPlan((), tuple(name for name, _ in pending), ())
    skip = [name for name, due in pending if due <= meeting.created_at]
    pending = [(name, due) for name, due in pending if name not in skip]
    overdue = [name for name, due in pending if due <= now]
    later = tuple((name, due) for name, due in pending if due > now)
    send_now = tuple(overdue[-1:])
    skip += overdue[:-1]
    return ReminderPlan(send_now, tuple(skip), later)
