"""Poll jobs on APScheduler, spread evenly over each feed's interval."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.feeds.config import FeedConfig


def build_scheduler(
    feeds: Sequence[FeedConfig],
    poll: Callable[[FeedConfig], Awaitable[object]],
    now: datetime,
    housekeeping: Callable[[], object] | None = None,
) -> AsyncIOScheduler:
    """One job per enabled feed; first polls spread over the first minute, not all at once."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    if housekeeping is not None:
        scheduler.add_job(housekeeping, IntervalTrigger(hours=1), id="housekeeping",
                          max_instances=1, coalesce=True)
    enabled = [f for f in feeds if f.enabled]
    spread = timedelta(seconds=60) / max(1, len(enabled))
    for i, feed in enumerate(enabled):
        scheduler.add_job(
            poll,
            IntervalTrigger(seconds=feed.interval.total_seconds(), start_date=now),
            args=[feed],
            id=f"poll:{feed.name}",
            name=f"poll {feed.name}",
            next_run_time=now + spread * i,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(feed.interval.total_seconds()),
        )
    return scheduler
