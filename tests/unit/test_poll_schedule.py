"""Each feed's poll job follows the moment the feed asked for, sooner or later than its grid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.feeds.config import FeedConfig
from bot.jobs.polling import build_scheduler


@dataclass
class Outcome:
    next_poll_at: datetime | None


async def test_a_failed_poll_moves_the_feeds_next_run_to_the_retry_not_the_next_interval() -> None:
    now = datetime.now(UTC)
    feed = FeedConfig("cert", "http://127.0.0.1/feed.xml", timedelta(minutes=30))
    wanted = [now + timedelta(minutes=1)]

    async def poll(_feed: FeedConfig) -> Outcome:
        return Outcome(wanted[0])

    scheduler = build_scheduler([feed], poll, now)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job("poll:cert")
        await job.func(*job.args)  # a transient failure: try again in a minute
        assert scheduler.get_job("poll:cert").next_run_time == wanted[0]
        wanted[0] = now + timedelta(minutes=31)  # then a success: the interval again
        await job.func(*job.args)
        rescheduled = scheduler.get_job("poll:cert")
        assert rescheduled.next_run_time == wanted[0]
        after = rescheduled.trigger.get_next_fire_time(wanted[0], wanted[0])
        assert after == wanted[0] + feed.interval
    finally:
        scheduler.shutdown(wait=False)
