"""The one interface every chat network adapter offers the outbox dispatcher."""

from __future__ import annotations

from typing import Protocol

from bot.domain.members import Network
from bot.domain.outbox import OutboxItem


class DeliveryError(Exception):
    """A send that did not go through; `transient` ones are retried, others fail for good."""

    def __init__(
        self, reason: str, *, transient: bool, retry_after: float | None = None,
        recipient_gone: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        # The address can no longer receive (user blocked the bot, chat deleted): stop trying.
        self.recipient_gone = recipient_gone


class Channel(Protocol):
    network: Network
    connected: bool  # False while the network answers with errors, True after a good send

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, item: OutboxItem) -> str | None:
        """Deliver one outbox message; return the network's message id, raise DeliveryError."""
        ...
