"""Messages waiting to be sent, and how a failed send is retried."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain.members import Network

MAX_ATTEMPTS = 12
_BASE_DELAY = 2.0
_MAX_DELAY = 3600.0


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class NewMessage:
    """A message to queue; `dedup_key` makes queueing the same fact twice a no-op."""

    network: Network
    address: str
    kind: str
    dedup_key: str
    payload: dict[str, Any]
    priority: int = 0
    advisory_id: str | None = None
    member: str | None = None


@dataclass(frozen=True)
class OutboxItem:
    id: int
    network: Network
    address: str
    kind: str
    payload: dict[str, Any]
    priority: int
    attempts: int
    created_at: datetime


def retry_delay(
    attempts: int, retry_after: float | None = None, rng: random.Random | None = None
) -> timedelta:
    """Exponential backoff with full jitter, never sooner than the server's retry-after."""
    rng = rng or random.Random()
    ceiling = min(_MAX_DELAY, _BASE_DELAY * 2 ** max(0, attempts - 1))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)
