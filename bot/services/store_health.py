"""What `/healthz` reads from the store, and how long the store may stay silent before the bot
counts as down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.domain.feed_state import FeedState
from bot.domain.queued_messages import OutboxState
from bot.services.ports import OutboxQueue, UnitOfWork

# A lock held by a migration, a backup or a long report makes the store slow for a while: the
# bot keeps working (its store work waits in worker threads) and reports itself degraded. A
# store that has not answered for this long is taken to be down (503).
STORE_DOWN_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class StoreHealth:
    feeds: list[FeedState]
    backlog: dict[OutboxQueue, int]


def read_store_health(uow: UnitOfWork) -> StoreHealth:
    """The feeds' states and the outbox backlog by network and state."""
    return StoreHealth(uow.feeds.all(), uow.outbox.backlog())


def undeliverable_backlog(uow: UnitOfWork, served: set[str]) -> dict[str, int]:
    """Pending messages by network for the networks this process does not serve."""
    return {queue.network.value: count for queue, count in sorted(uow.outbox.backlog().items())
            if queue.state is OutboxState.PENDING and queue.network.value not in served}
