"""Hub meetings: when they start across time zones and DST, and which reminders go when."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.meetings import (
    Meeting,
    describe_time,
    meeting_start,
    plan_reminders,
    until_text,
)

BERLIN = "Europe/Berlin"
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- meeting_start ----------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "zone", "expected"), [
    (date(2026, 12, 3), BERLIN, utc(2026, 12, 3, 13, 0)),  # CET, UTC+1
    (date(2026, 7, 2), BERLIN, utc(2026, 7, 2, 12, 0)),  # CEST, UTC+2
    (date(2026, 7, 2), "UTC", utc(2026, 7, 2, 14, 0)),
    (date(2026, 7, 2), "America/New_York", utc(2026, 7, 2, 18, 0)),
])
def test_two_pm_local_is_stored_as_the_right_utc_moment(day: date, zone: str,
                                                        expected: datetime) -> None:
    assert meeting_start(day, time(14, 0), zone, NOW) == expected


def test_a_time_skipped_when_clocks_go_forward_is_refused_saying_so() -> None:
    with pytest.raises(ValueError, match="does not exist in Europe/Berlin") as caught:
        meeting_start(date(2026, 3, 29), time(2, 30), BERLIN, NOW)
    assert "2026-03-29 02:30" in str(caught.value)
    assert "clocks go forward" in str(caught.value)


def test_the_hours_around_the_skipped_one_exist() -> None:
    assert meeting_start(date(2026, 3, 29), time(1, 59), BERLIN, NOW) == utc(2026, 3, 29, 0, 59)
    assert meeting_start(date(2026, 3, 29), time(3, 0), BERLIN, NOW) == utc(2026, 3, 29, 1, 0)


def test_a_time_that_happens_twice_when_clocks_go_back_is_the_first() -> None:
    start = meeting_start(date(2026, 10, 25), time(2, 30), BERLIN, NOW)
    assert start == utc(2026, 10, 25, 0, 30)
    assert describe_time(start, BERLIN).endswith("02:30 CEST (Europe/Berlin; 00:30 UTC)")


@pytest.mark.parametrize("start", [NOW - timedelta(minutes=1), NOW])
def test_a_meeting_in_the_past_is_refused(start: datetime) -> None:
    with pytest.raises(ValueError, match="That time is in the past."):
        meeting_start(start.date(), start.time(), "UTC", NOW)


def test_a_meeting_can_be_set_up_to_two_years_ahead_but_not_further() -> None:
    assert meeting_start(date(2027, 12, 31), time(9, 0), BERLIN, NOW) == utc(2027, 12, 31, 8, 0)
    with pytest.raises(ValueError, match="up to two years ahead"):
        meeting_start(date(2028, 2, 1), time(9, 0), BERLIN, NOW)


# --- describe_time, until_text ----------------------------------------------------------------

def test_a_meeting_time_reads_in_the_zone_with_utc_alongside() -> None:
    assert describe_time(utc(2026, 12, 3, 13, 0), BERLIN) == (
        "Thu 3 Dec 2026, 14:00 CET (Europe/Berlin; 13:00 UTC)")
    assert describe_time(utc(2026, 7, 2, 12, 0), BERLIN) == (
        "Thu 2 Jul 2026, 14:00 CEST (Europe/Berlin; 12:00 UTC)")
    assert describe_time(utc(2026, 7, 2, 12, 0), "UTC") == "Thu 2 Jul 2026, 12:00 UTC"


def test_a_weekly_meeting_keeps_its_local_hour_across_the_dst_change_while_utc_moves() -> None:
    before = meeting_start(date(2026, 10, 22), time(14, 0), BERLIN, NOW)
    after = meeting_start(date(2026, 10, 29), time(14, 0), BERLIN, NOW)
    assert describe_time(before, BERLIN) == "Thu 22 Oct 2026, 14:00 CEST (Europe/Berlin; 12:00 UTC)"
    assert describe_time(after, BERLIN) == "Thu 29 Oct 2026, 14:00 CET (Europe/Berlin; 13:00 UTC)"
    assert after - before == timedelta(days=7, hours=1)


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(minutes=40), "in 40 minutes"),
    (timedelta(minutes=1), "in 1 minute"),
    (timedelta(seconds=10), "in 1 minute"),
    (timedelta(0), "in 1 minute"),
    (timedelta(minutes=89), "in 1 hour 29 minutes"),
    (timedelta(hours=23), "in 23 hours"),
    (timedelta(hours=24), "in 24 hours"),
    (timedelta(hours=23, minutes=50), "in 24 hours"),
])
def test_time_until_a_meeting_reads_naturally(delta: timedelta, text: str) -> None:
    assert until_text(delta) == text


def test_the_one_hour_reminder_on_time_says_in_1_hour() -> None:
    assert until_text(HOUR) == "in 1 hour"


# --- plan_reminders ---------------------------------------------------------------------------

START = utc(2026, 6, 10, 14, 0)


def meeting(created_before: timedelta, **changes: object) -> Meeting:
    base = Meeting(id=3, title="Hub call", starts_at=START, zone=BERLIN, link=None,
                   created_at=START - created_before, created_by="Ann")
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_meeting_set_up_days_ahead_has_both_reminders_later() -> None:
    plan = plan_reminders(meeting(timedelta(days=5)), now=START - timedelta(days=5))
    assert plan.send_now == ()
    assert plan.skip == ()
    assert plan.later == (("24h", START - timedelta(hours=24)), ("1h", START - HOUR))


def test_a_meeting_set_up_less_than_a_day_ahead_gets_only_the_one_hour_reminder() -> None:
    plan = plan_reminders(meeting(timedelta(hours=10)), now=START - timedelta(hours=10))
    assert plan.send_now == ()
    assert plan.skip == ("24h",)
    assert plan.later == (("1h", START - HOUR),)


def test_a_meeting_set_up_within_the_hour_gets_no_reminder() -> None:
    plan = plan_reminders(meeting(timedelta(minutes=30)), now=START - timedelta(minutes=30))
    assert plan.send_now == ()
    assert set(plan.skip) == {"24h", "1h"}
    assert plan.later == ()


def test_each_reminder_goes_when_due() -> None:
    m = meeting(timedelta(days=5))
    assert plan_reminders(m, START - timedelta(hours=24)).send_now == ("24h",)
    m = replace(m, reminders_done=frozenset({"24h"}))
    assert plan_reminders(m, START - timedelta(hours=2)).send_now == ()
    assert plan_reminders(m, START - HOUR).send_now == ("1h",)


def test_after_downtime_over_both_moments_only_the_one_hour_reminder_goes_late_once() -> None:
    m = meeting(timedelta(days=5))
    plan = plan_reminders(m, now=START - timedelta(minutes=40))
    assert plan.send_now == ("1h",)
    assert plan.skip == ("24h",)
    assert plan.later == ()
    done = replace(m, reminders_done=frozenset(plan.send_now + plan.skip))
    again = plan_reminders(done, now=START - timedelta(minutes=39))
    assert again.send_now == () and again.skip == () and again.later == ()


def test_after_downtime_over_the_day_before_moment_that_reminder_goes_late() -> None:
    plan = plan_reminders(meeting(timedelta(days=5)), now=START - timedelta(hours=5))
    assert plan.send_now == ("24h",)
    assert plan.later == (("1h", START - HOUR),)


@pytest.mark.parametrize("now", [START, START + timedelta(minutes=5)])
def test_nothing_is_sent_once_the_meeting_started(now: datetime) -> None:
    plan = plan_reminders(meeting(timedelta(days=5)), now=now)
    assert plan.send_now == ()
    assert plan.later == ()
    assert set(plan.skip) == {"24h", "1h"}


def test_nothing_is_sent_for_a_cancelled_meeting() -> None:
    cancelled = meeting(timedelta(days=5), cancelled=True)
    for now in (START - timedelta(days=2), START - timedelta(hours=24), START - HOUR):
        plan = plan_reminders(cancelled, now=now)
        assert plan.send_now == () and plan.later == ()


def test_a_reminder_already_done_is_never_planned_again() -> None:
    m = meeting(timedelta(days=5), reminders_done=frozenset({"24h"}))
    for now in (START - timedelta(days=2), START - timedelta(hours=23), START + HOUR):
        plan = plan_reminders(m, now=now)
        planned = set(plan.send_now) | set(plan.skip) | {name for name, _ in plan.later}
        assert "24h" not in planned
    m = replace(m, reminders_done=frozenset({"24h", "1h"}))
    assert plan_reminders(m, START - timedelta(minutes=30)) == plan_reminders(m, START + HOUR)
    assert plan_reminders(m, START - timedelta(minutes=30)).send_now == ()


MINUTES = st.integers(min_value=1, max_value=5 * 24 * 60)


@given(created_before=MINUTES,
       wakeups=st.lists(st.integers(min_value=0, max_value=6 * 24 * 60), max_size=12))
def test_over_any_wake_ups_each_reminder_goes_at_most_once_in_order_and_before_the_start(
        created_before: int, wakeups: list[int]) -> None:
    """The scheduler may wake at any times (downtime, restarts): simulate it as the service does."""
    m = meeting(timedelta(minutes=created_before))
    sent: list[tuple[str, datetime]] = []
    for offset in sorted(wakeups):
        now = m.created_at + timedelta(minutes=offset)
        plan = plan_reminders(m, now)
        assert len(plan.send_now) <= 1
        assert all(when > now for _, when in plan.later)
        names = [*plan.send_now, *plan.skip, *(name for name, _ in plan.later)]
        assert len(names) == len(set(names))
        assert set(names) == {"24h", "1h"} - m.reminders_done
        sent += [(name, now) for name in plan.send_now]
        m = replace(m, reminders_done=m.reminders_done | set(plan.send_now + plan.skip))
    names_sent = [name for name, _ in sent]
    assert len(names_sent) == len(set(names_sent))
    assert names_sent in ([], ["24h"], ["1h"], ["24h", "1h"])
    for name, at in sent:
        due = START - (timedelta(hours=24) if name == "24h" else HOUR)
        assert m.created_at < due <= at < START
    awake_in_last_hour = any(START - HOUR <= m.created_at + timedelta(minutes=o) < START
                             for o in wakeups)
    if awake_in_last_hour and created_before > 60:
        assert "1h" in names_sent
