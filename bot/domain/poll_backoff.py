"""When to poll a feed next after a failure: soon after a passing hiccup, slowly when broken."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Protocol

MAX_DELAY = timedelta(hours=6)
# A transient failure (DNS, refused, timeout, 5xx) is retried after 1, 2, 4 … minutes, never
# later than the feed's own interval: a CERT unreachable for a minute costs a minute.
FIRST_RETRY = timedelta(minutes=1)
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
    *,
    transient: bool = False,
) -> timedelta:
    """The feed's interval while healthy. After a transient failure, 1, 2, 4 … minutes (the
    last fifth jittered) up to the interval. After a permanent one (404, not a feed), the
    interval plus a full-jitter extra drawn from [0, interval * (2**failures - 1)], capped
    (6 h) unless the interval itself is longer. Never sooner than the server's Retry-After."""
    delay = interval
    if consecutive_failures > 0 and transient:
        exponent = min(consecutive_failures - 1, _MAX_EXPONENT)
        ceiling = min(FIRST_RETRY.total_seconds() * 2.0 ** exponent, interval.total_seconds())
        delay = timedelta(seconds=rng.uniform(ceiling * 0.8, ceiling))
    elif consecutive_failures > 0:
        growth = 2.0 ** min(consecutive_failures, _MAX_EXPONENT) - 1.0
        room = max((cap - interval).total_seconds(), 0.0)
        ceiling = min(interval.total_seconds() * growth, room)
        delay = interval + timedelta(seconds=rng.uniform(0.0, ceiling))
    if retry_after is not None and retry_after > 0:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay
