"""Per-user command rate limit: a flood from one user never starves the others (limits)."""

from __future__ import annotations

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bot.domain.language import N_

DEFAULT_RATE = "20/minute"
SLOW_DOWN = N_("You are sending commands faster than I answer them; wait a minute and try "
               "again.")


class CommandRateLimit:
    """`allow(user)` is False past the rate; `should_warn(user)` says so once a minute.

    `rate=None` turns the limit off (HUBBOT_COMMAND_RATE=off): every command is allowed.
    """

    def __init__(self, rate: str | None = DEFAULT_RATE) -> None:
        storage = MemoryStorage()  # expires idle keys itself: memory stays bounded
        self._limiter = MovingWindowRateLimiter(storage)
        self._rate = parse(rate) if rate is not None else None
        self._warning = parse("1/minute")

    def allow(self, network: str, user: str) -> bool:
        if self._rate is None:
            return True
        return self._limiter.hit(self._rate, "cmd", network, user)

    def should_warn(self, network: str, user: str) -> bool:
        return self._limiter.hit(self._warning, "warn", network, user)
