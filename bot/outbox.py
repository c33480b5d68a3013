"""The outbox dispatcher: the only code that sends, one per network, retrying with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.channels.channel import Channel, DeliveryError
from bot.domain.outbox import MAX_AGE, OutboxItem, given_up, retry_delay
from bot.services.delivery_problems import recipient_gone
from bot.services.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxDispatcher:
    """Drains one network's outbox rows through its channel; every attempt is recorded."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        channel: Channel,
        *,
        batch_size: int = 20,
        concurrency: int = 1,
        idle_seconds: float = 1.0,
        clock: Clock = utc_now,
        on_result: Callable[[OutboxItem, str, datetime], None] | None = None,
    ) -> None:
        self._uow = uow_factory
        self._channel = channel
        self._batch = batch_size
        self._semaphore = asyncio.Semaphore(concurrency)
        self._idle = idle_seconds
        self._clock = clock
        self._wake = asyncio.Event()
        self._on_result = on_result or (lambda item, result, now: None)

    @property
    def network(self) -> str:
        return self._channel.network.value

    def wake(self) -> None:
        """Look at the outbox now rather than after the idle wait."""
        self._wake.set()

    def recover(self) -> int:
        """Messages a crash left half-sent go back to pending (sent at least once)."""
        with self._uow() as uow:
            released = uow.outbox.release_claims(self._channel.network)
            uow.commit()
        if released:
            log.warning("%s: %d messages were being sent at the last stop; resending them",
                        self.network, released)
        return released

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; the message in flight is finished first."""
        self.recover()
        while not stop.is_set():
            try:
                handled = await self.drain_once()
            except Exception:
                log.exception("%s dispatcher: unexpected error; retrying shortly", self.network)
                handled = 0
            if handled == 0:
                self._wake.clear()
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait(
                    {waiter, stopper}, timeout=self._idle, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                stopper.cancel()

    async def drain_once(self) -> int:
        """Claim the due messages of one batch and send them; returns how many were tried."""
        with self._uow() as uow:
            items = uow.outbox.claim_due(self._channel.network, self._clock(), self._batch)
            uow.commit()
        if items:
            await asyncio.gather(*(self._send(item) for item in items))
        return len(items)

    async def drain(self) -> int:
        """Send until nothing is due; returns how many messages were tried."""
        total = 0
        while (handled := await self.drain_once()) > 0:
            total += handled
        return total

    async def _send(self, item: OutboxItem) -> None:
        async with self._semaphore:
            try:
                receipt = await self._channel.send(item)
            except DeliveryError as exc:
                if exc.recipient_gone:
                    self._recipient_gone(item, exc.reason)
                else:
                    self._record_failure(item, exc.reason, exc.transient, exc.retry_after)
                return
            except Exception as exc:  # a bug in an adapter must not lose the message
                log.exception("%s: send of outbox #%d raised", self.network, item.id)
                self._record_failure(item, f"{type(exc).__name__}: {exc}", True, None)
                return
        now = self._clock()
        with self._uow() as uow:
            uow.outbox.mark_sent(item.id, receipt, now)
            uow.commit()
        self._on_result(item, "sent", now)

    def _recipient_gone(self, item: OutboxItem, reason: str) -> None:
        with self._uow() as uow:
            uow.outbox.mark_failed(item.id, f"recipient gone: {reason}", self._clock())
            recipient_gone(uow, item.network, item.address, reason, self._clock())
            uow.commit()
        self._on_result(item, "failed", self._clock())
        self.wake()  # the coordinators' notices are queued

    def _record_failure(
        self, item: OutboxItem, reason: str, transient: bool, retry_after: float | None
    ) -> None:
        now = self._clock()
        with self._uow() as uow:
            if not transient or given_up(item, now):
                final = reason
                if transient:
                    final = f"gave up after {item.attempts} attempts over {MAX_AGE}: {reason}"
                uow.outbox.mark_failed(item.id, final, now)
                log.error("%s: outbox #%d to %s failed for good: %s",
                          self.network, item.id, item.kind, final)
                self._on_result(item, "failed", now)
            else:
                delay = retry_delay(item.attempts, retry_after)
                uow.outbox.mark_retry(item.id, reason, now + delay)
                log.warning("%s: outbox #%d attempt %d failed (%s); retry in %.0f s",
                            self.network, item.id, item.attempts, reason, delay.total_seconds())
                self._on_result(item, "retry", now)
            uow.commit()
