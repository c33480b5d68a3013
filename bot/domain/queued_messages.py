"""Messages waiting to be sent, and how a failed send is retried."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.members import Network
from bot.domain.outbox_payload import OutboxPayload
from bot.domain.tlp import Tlp

# A temporary failure is retried until the message is this old: an outage of hours loses
# nothing, while a message nobody could deliver for days is reported as failed.
MAX_AGE = timedelta(days=3)
# A send that raised something no adapter expected is tried this often in all: such an error
# is nearly always a bug that repeats for this message, and while it is retried every later
# message to the address waits (the tries take about half a minute); a passing glitch of a
# library gets a few chances.
UNEXPECTED_ATTEMPTS = 5
_BASE_DELAY = 2.0
# Short enough that a message goes out within minutes of a long outage's end.
_MAX_DELAY = 300.0


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class NewMessage:
    """A message to queue; `dedup_key` makes queueing the same fact twice a no-op.

    `tlp` is the highest TLP of what the message quotes (TLP:CLEAR for a text that quotes no
    advisory) and `member` the organisation whose own matches it is about, if any: the TLP
    gate (`bot.services.outgoing`) holds both against the clearance of whoever reads `address`
    — the person `reader` (their own address) when `address` is their direct chat by another
    id (a Matrix direct room).
    """

    network: Network
    address: str
    kind: str
    dedup_key: str
    payload: OutboxPayload
    priority: int = 0
    advisory_id: str | None = None
    member: str | None = None
    tlp: Tlp = Tlp.CLEAR
    reader: str | None = None


@dataclass(frozen=True)
class OutboxItem:
    id: int
    network: Network
    address: str
    kind: str
    payload: OutboxPayload
    priority: int
    attempts: int
    created_at: datetime


def given_up(item: OutboxItem, now: datetime) -> bool:
    """True when a temporarily failing message has been tried for too long."""
    return now - item.created_at > MAX_AGE


def gives_up_unexpected(item: OutboxItem) -> bool:
    """True when a message whose send raised an unexpected error has had its tries."""
    return item.attempts >= UNEXPECTED_ATTEMPTS


def retry_delay(
    attempts: int, retry_after: float | None = None, rng: random.Random | None = None,
    *, rate_limited: bool = False,
) -> timedelta:
    """Exponential backoff with full jitter, never sooner than the server's retry-after; after
    a 429 just the server's wait (and up to a second more, so that waiting sends do not all
    start again at once): being told to wait is no sign the message is at fault."""
    rng = rng or random.Random()
    if rate_limited and retry_after is not None:
        return timedelta(seconds=retry_after + rng.uniform(0, 1))
    ceiling = min(_MAX_DELAY, _BASE_DELAY * 2 ** max(0, attempts - 1))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)
