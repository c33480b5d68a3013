"""When to poll a feed next, slowing down while it keeps failing."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Protocol

MAX_DELAY = timedelta(hours=6)
_MAX_EXPONENT = 32


class UniformSource(Protocol):
    """What the jitter needs from a random generator (`random` or a seeded `random.Random`)."""

    def uniform(self, a: float, b: float) -> float: ...


def next_poll_delay(
    interval: timedelta,
    consecutive_failures: int,
    retry_after: float | None = None,
    rng: UniformSource = random,
    cap: timedelta = MAX_DELAY,
) -> timedelta:
    """The feed's interval while healthy; after failures, interval plus a full-jitter extra.

    The extra is drawn from [0, interval * (2**failures - 1)], so a failing feed is never
    polled more often than a healthy one; the total is capped (6 h) unless the interval itself
    is longer, and never below the server's Retry-After.
    """
    delay = interval
    if consecutive_failures > 0:
        growth = 2.0 ** min(consecutive_failures, _MAX_EXPONENT) - 1.0
        room = max((cap - interval).total_seconds(), 0.0)
        ceiling = min(interval.total_seconds() * growth, room)
        delay = interval + timedelta(seconds=rng.uniform(0.0, ceiling))
    if retry_after is not None and retry_after > 0:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay
