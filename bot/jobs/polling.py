"""Poll jobs on APScheduler, spread evenly over each feed's interval."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.domain.feed_config import FeedConfig


class PollResult(Protocol):
    next_poll_at: datetime | None


def build_scheduler(
    feeds: Sequence[FeedConfig],
    poll: Callable[[FeedConfig], Awaitable[Any]],
    now: datetime,
    housekeeping: Callable[[], object] | None = None,
) -> AsyncIOScheduler:
    """One job per enabled feed; first polls spread over the first minute, not all at once.

    After each poll the feed's job moves to the moment the feed asked for: its interval after
    a success, a minute after a passing network error, later while it stays broken.
    """
    scheduler = AsyncIOScheduler(timezone="UTC")
    if housekeeping is not None:
        scheduler.add_job(housekeeping, IntervalTrigger(hours=1), id="housekeeping",
                          max_instances=1, coalesce=True)
    enabled = [f for f in feeds if f.enabled]
    spread = timedelta(seconds=60) / max(1, len(enabled))

    async def poll_and_follow(feed: FeedConfig) -> None:
        outcome: PollResult = await poll(feed)
        wanted = getattr(outcome, "next_poll_at", None)
        job = scheduler.get_job(f"poll:{feed.name}")
        if wanted is not None and job is not None:
            job.reschedule(_every(feed, max(wanted, datetime.now(UTC))))

    for i, feed in enumerate(enabled):
        scheduler.add_job(
            poll_and_follow,
            _every(feed, now),
            args=[feed],
            id=f"poll:{feed.name}",
            name=f"poll {feed.name}",
            next_run_time=now + spread * i,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(feed.interval.total_seconds()),
        )
    return scheduler


def _every(feed: FeedConfig, start: datetime) -> IntervalTrigger:
    return IntervalTrigger(seconds=feed.interval.total_seconds(), start_date=start)
