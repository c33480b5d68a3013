import random
from datetime import timedelta

from bot.domain.poll_backoff import MAX_DELAY, next_poll_delay

QUARTER = timedelta(minutes=15)


class Highest:
    """An rng whose every draw is the top of the range (the worst case)."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Lowest:
    def uniform(self, a: float, b: float) -> float:
        return a


def test_healthy_feed_is_polled_at_its_interval() -> None:
    assert next_poll_delay(QUARTER, 0) == QUARTER


def test_failing_feed_is_never_polled_more_often_than_a_healthy_one() -> None:
    for failures in range(1, 40):
        assert next_poll_delay(QUARTER, failures, rng=Lowest()) == QUARTER


def test_backoff_ceiling_doubles_with_each_failure_until_the_cap() -> None:
    ceilings = [next_poll_delay(QUARTER, n, rng=Highest()) for n in range(1, 8)]
    assert ceilings[:4] == [QUARTER * 2, QUARTER * 4, QUARTER * 8, QUARTER * 16]
    assert ceilings[4:] == [MAX_DELAY] * 3


def test_jitter_spreads_retries_of_feeds_failing_together() -> None:
    rng = random.Random(7)
    delays = {next_poll_delay(QUARTER, 3, rng=rng) for _ in range(20)}
    assert len(delays) == 20
    assert all(QUARTER <= d <= QUARTER * 8 for d in delays)


def test_server_retry_after_is_honoured_even_when_longer_than_backoff() -> None:
    assert next_poll_delay(QUARTER, 1, retry_after=7200, rng=Highest()) == timedelta(hours=2)
    assert next_poll_delay(QUARTER, 0, retry_after=7200) == timedelta(hours=2)
    assert next_poll_delay(QUARTER, 0, retry_after=30) == QUARTER


def test_retry_after_beyond_the_cap_still_wins() -> None:
    assert next_poll_delay(QUARTER, 9, retry_after=86400.0) == timedelta(days=1)


def test_feed_with_interval_longer_than_cap_keeps_its_interval() -> None:
    assert next_poll_delay(timedelta(days=1), 5, rng=Highest()) == timedelta(days=1)


def test_years_of_failures_do_not_overflow() -> None:
    assert next_poll_delay(timedelta(days=2), 10_000, rng=Highest()) == timedelta(days=2)
    assert next_poll_delay(QUARTER, 10_000, rng=Highest()) == MAX_DELAY


def test_a_transient_failure_is_retried_after_one_two_four_minutes_up_to_the_interval() -> None:
    ceilings = [next_poll_delay(QUARTER, n, rng=Highest(), transient=True) for n in range(1, 7)]
    assert ceilings == [timedelta(minutes=m) for m in (1, 2, 4, 8, 15, 15)]
    floors = [next_poll_delay(QUARTER, n, rng=Lowest(), transient=True) for n in (1, 2)]
    assert floors == [timedelta(seconds=48), timedelta(seconds=96)]  # jitter: a fifth


def test_a_transient_failure_still_waits_for_the_servers_retry_after() -> None:
    assert next_poll_delay(QUARTER, 1, retry_after=600, transient=True) == timedelta(minutes=10)
