"""Daily digests: which alerts wait for one, and when a member's digest is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.severity import Severity

DEFAULT_HOUR = 8


def held_for_digest(severity: Severity | None) -> bool:
    """Only alerts known to be below critical wait; unknown severity may be critical."""
    return severity is not None and severity < Severity.CRITICAL


def latest_slot(now: datetime, hour: int, zone: str) -> datetime:
    """The most recent digest moment at or before `now` (UTC), at `hour` o'clock in `zone`."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    slot = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if slot > local:
        slot = (slot - timedelta(days=1)).replace(hour=hour)
    # Recompute from the wall clock so a DST change between days keeps the hour.
    slot = datetime.combine(slot.date(), slot.timetz().replace(tzinfo=None), tzinfo=tz)
    return slot.astimezone(UTC)
