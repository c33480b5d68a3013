"""What hubbot remembers about each feed between polls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
    # When the first poll succeeded: what a provider had released well before then is its
    # archive (CSAF), recorded without alerting however many polls it takes to read it.
    following_since: datetime | None = None

    @property
    def healthy(self) -> bool:
        return self.consecutive_failures == 0
