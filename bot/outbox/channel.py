"""The one interface every chat network adapter offers the outbox dispatcher."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from bot.domain.members import Network
from bot.domain.queued_messages import OutboxItem


class DeliveryError(Exception):
    """A send that did not go through; `transient` ones are retried, others fail for good."""

    def __init__(
        self, reason: str, *, transient: bool, retry_after: float | None = None,
        recipient_gone: bool = False, rate_limited: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        # The address can no longer receive (user blocked the bot, chat deleted): stop trying.
        self.recipient_gone = recipient_gone
        # The server asked to slow down (429): every send of the network waits `retry_after`.
        self.rate_limited = rate_limited


class Channel(Protocol):
    network: Network
    connected: bool  # False while the network answers with errors, True after a good send

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, item: OutboxItem) -> str | None:
        """Deliver one outbox message; return the network's message id, raise DeliveryError."""
        ...


@contextmanager
def rendering() -> Iterator[None]:
    """Turning a payload into a network's message: an error here would repeat on every try,
    so the message fails for good with the reason instead of holding back its address."""
    try:
        yield
    except DeliveryError:
        raise
    except Exception as exc:
        raise DeliveryError(f"could not render the message: {program_error(exc)}",
                            transient=False) from exc


def program_error(exc: BaseException) -> str:
    """An unexpected exception as its type and where it was raised, without its message (which
    may quote the text being sent): "ValueError at bot/domain/rendering.py:120 in split"."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    frame = frames[-1]
    parts = Path(frame.filename).parts
    start = len(parts) - 1 - parts[::-1].index("bot") if "bot" in parts else len(parts) - 2
    shown = "/".join(parts[max(start, 0):])
    return f"{type(exc).__name__} at {shown}:{frame.lineno} in {frame.name}"
