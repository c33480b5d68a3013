"""What hubbot remembers about each feed between polls, and which of its entries still alert."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# A feed that was not even tried for this long (disabled, or the bot stopped) is read on its
# next poll like a new one: what it lists from before the backlog window is recorded silently.
MIN_PAUSE = timedelta(days=1)


@dataclass
class FeedState:
    feed: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    next_poll_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    entries_seen: int = 0
    # When the first poll succeeded: what a feed listed from well before then is its archive,
    # recorded without alerting however many polls it takes to read it.
    following_since: datetime | None = None
    # The first failure of the current failure streak, and whether the admins were told of it.
    failing_since: datetime | None = None
    failure_reported: bool = False

    @property
    def healthy(self) -> bool:
        return self.consecutive_failures == 0


@dataclass(frozen=True)
class AlertWindow:
    """Which entries of one poll alert: those published at or after `since`; an entry without
    a date alerts unless `undated_old` (a first poll, or the first after a long pause)."""

    since: datetime
    undated_old: bool
    reason: str  # "first poll" | "after a pause" | "" (a routine poll)

    def is_old(self, published: datetime | None) -> bool:
        if published is None:
            return self.undated_old
        return published < self.since


def alert_window(state: FeedState, now: datetime, backlog: timedelta,
                 previous_attempt: datetime | None) -> AlertWindow:
    """The window of this poll. On the first poll only what was published in the last
    `backlog` alerts; later polls alert anything newer than that first window, so an archive
    read over several polls (a CSAF provider) never floods; after a pause longer than the
    backlog (at least a day) the window starts again from now."""
    first = state.following_since is None
    since = (state.following_since or now) - backlog
    paused = (not first and previous_attempt is not None
              and now - previous_attempt > max(backlog, MIN_PAUSE))
    if paused:
        since = max(since, now - backlog)
    reason = "first poll" if first else ("after a pause" if paused else "")
    return AlertWindow(since, first or paused, reason)
