"""The outbox dispatcher: the only code that sends, one per network, retrying with backoff."""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain.clock import Clock, utc_now
from bot.domain.queued_messages import (
    MAX_AGE,
    UNEXPECTED_ATTEMPTS,
    OutboxItem,
    given_up,
    gives_up_unexpected,
    retry_delay,
)
from bot.outbox.channel import Channel, DeliveryError, program_error
from bot.services.delivery_problems import recipient_gone
from bot.services.ports import UnitOfWork, UnitOfWorkFactory
from bot.services.store_boundary import StoreBoundary, in_unit, store_boundary

log = logging.getLogger(__name__)

_CLAIMS = threading.Lock()


class OutboxDispatcher:
    """Drains one network's outbox rows through its channel; every attempt is recorded."""

    def __init__(
        self,
        store: UnitOfWorkFactory | StoreBoundary,
        channel: Channel,
        *,
        batch_size: int = 20,
        concurrency: int = 1,
        idle_seconds: float = 1.0,
        clock: Clock = utc_now,
        on_result: Callable[[OutboxItem, str, datetime], None] | None = None,
    ) -> None:
        self._store = store_boundary(store)  # every store call off the event loop
        self._channel = channel
        self._batch = batch_size
        self._semaphore = asyncio.Semaphore(concurrency)
        self._idle = idle_seconds
        self._clock = clock
        self._wake = asyncio.Event()
        self._on_result = on_result or (lambda item, result, now: None)
        # After a 429 nothing more is sent until the server's wait is over.
        self._paused_until: datetime | None = None
        self.recovered = asyncio.Event()  # run() has put back what the last stop left half-sent

    @property
    def network(self) -> str:
        return self._channel.network.value

    def wake(self) -> None:
        """Look at the outbox now rather than after the idle wait."""
        self._wake.set()

    async def recover(self) -> int:
        """Messages a crash left half-sent go back to pending (sent at least once)."""
        network = self._channel.network
        released = await self._store.unit(lambda uow: uow.outbox.release_claims(network))
        if released:
            log.warning("%s: %d messages were being sent at the last stop; resending them",
                        self.network, released)
        return released

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; the message in flight is finished first."""
        try:
            await self.recover()
        finally:
            self.recovered.set()
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
        """Claim the due messages of one batch and send them; returns how many were tried
        (none while the server's 429 wait lasts)."""
        now = self._clock()
        if self._paused_until is not None and now < self._paused_until:
            return 0
        items = await self._store.call(self._claim, now)
        if items:
            await asyncio.gather(*(self._send(item) for item in items))
        return len(items)

    def _claim(self, now: datetime) -> list[OutboxItem]:
        network, batch = self._channel.network, self._batch
        # One claim at a time in this process: a claim reads the due rows, then marks them, and
        # two at once (a second dispatcher of the network, as `hubbot poll --once` or a test
        # makes) could both read the same rows.
        with _CLAIMS:
            return in_unit(self._store, lambda uow: uow.outbox.claim_due(network, now, batch))

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
                    await self._recipient_gone(item, exc.reason)
                elif exc.rate_limited and exc.retry_after is not None:
                    await self._rate_limited(item, exc.reason, exc.retry_after)
                else:
                    await self._record_failure(item, exc.reason, exc.transient, exc.retry_after)
                return
            except Exception as exc:  # a bug in an adapter: a few tries, then it fails alone
                await self._unexpected(item, exc)
                return
        now = self._clock()
        await self._store.unit(lambda uow: uow.outbox.mark_sent(item.id, receipt, now))
        self._on_result(item, "sent", now)

    async def _recipient_gone(self, item: OutboxItem, reason: str) -> None:
        now = self._clock()

        def record(uow: UnitOfWork) -> None:
            uow.outbox.mark_failed(item.id, f"recipient gone: {reason}", now)
            recipient_gone(uow, item.network, item.address, reason, now)

        await self._store.unit(record)
        self._on_result(item, "failed", self._clock())
        self.wake()  # the coordinators' notices are queued

    async def _rate_limited(self, item: OutboxItem, reason: str, retry_after: float) -> None:
        """A 429: the message waits the server's time, and so does every other send; one
        WARNING per wait however many sends were told."""
        now = self._clock()
        if given_up(item, now):
            await self._record_failure(item, reason, True, retry_after)
            return
        until = now + timedelta(seconds=retry_after)
        if self._paused_until is None or now >= self._paused_until:
            log.warning("%s: the server asks to slow down (429); sending waits %g s",
                        self.network, round(retry_after, 1))
        self._paused_until = max(until, self._paused_until or until)
        delay = retry_delay(item.attempts, retry_after, rate_limited=True)
        await self._store.unit(lambda uow: uow.outbox.mark_retry(item.id, reason, now + delay))
        log.debug("%s: outbox #%d waits %.0f s (429)", self.network, item.id,
                  delay.total_seconds())
        self._on_result(item, "retry", now)

    async def _unexpected(self, item: OutboxItem, exc: Exception) -> None:
        """An exception no adapter expected: logged with its stack (not its message, which may
        quote the text), retried UNEXPECTED_ATTEMPTS times in all, then failed."""
        reason = f"unexpected error: {program_error(exc)}"
        last = gives_up_unexpected(item)
        log.error("%s: sending outbox #%d raised %s (attempt %d of %d)%s\n%s", self.network,
                  item.id, program_error(exc), item.attempts, UNEXPECTED_ATTEMPTS,
                  "" if last else "; retrying", "".join(traceback.format_tb(exc.__traceback__)))
        if last:
            reason = f"gave up after {item.attempts} attempts: {reason}"
        await self._record_failure(item, reason, not last, None)

    async def _record_failure(
        self, item: OutboxItem, reason: str, transient: bool, retry_after: float | None
    ) -> None:
        now = self._clock()
        if not transient or given_up(item, now):
            final = reason
            if transient:
                final = f"gave up after {item.attempts} attempts over {MAX_AGE}: {reason}"
            await self._store.unit(lambda uow: uow.outbox.mark_failed(item.id, final, now))
            log.error("%s: outbox #%d to %s failed for good: %s",
                      self.network, item.id, item.kind, final)
            self._on_result(item, "failed", now)
        else:
            delay = retry_delay(item.attempts, retry_after)
            await self._store.unit(lambda uow: uow.outbox.mark_retry(item.id, reason, now + delay))
            log.warning("%s: outbox #%d attempt %d failed (%s); retry in %.0f s",
                        self.network, item.id, item.attempts, reason, delay.total_seconds())
            self._on_result(item, "retry", now)
