"""Publication dates of feed entries, in UTC."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

# Zone abbreviations feedparser does not know and silently reads as UTC (CERT-EU writes
# "CEST"/"CET", German feeds "MESZ"/"MEZ"). Ambiguous ones (IST, CST in Asia) stay out.
_ZONES: Mapping[str, int] = {
    "CET": 1, "CEST": 2, "MEZ": 1, "MESZ": 2,
    "WET": 0, "WEST": 1, "BST": 1, "EET": 2, "EEST": 3,
    "UTC": 0, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11,
}  # fmt: skip
_TRAILING_ZONE = re.compile(r"^(?P<stamp>.*\d)\s+(?P<zone>[A-Za-z]{3,5})\s*$")


def published_utc(entry: Mapping[str, Any]) -> datetime | None:
    """When the entry was published (else updated), as an aware UTC datetime; None if unknown."""
    for key in ("published", "updated", "created"):
        raw = _plain_get(entry, key)
        parsed = _plain_get(entry, f"{key}_parsed")
        if isinstance(raw, str) and (fixed := _with_known_zone(raw)) is not None:
            return fixed
        if isinstance(parsed, time.struct_time):
            try:
                return datetime(*parsed[:6], tzinfo=UTC)
            except ValueError:
                continue
    return None


def _plain_get(entry: Mapping[str, Any], key: str) -> Any:
    # feedparser's own get() maps a missing "updated" to "published", with a warning.
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _with_known_zone(raw: str) -> datetime | None:
    match = _TRAILING_ZONE.match(raw.strip())
    if not match or match["zone"].upper() not in _ZONES:
        return None
    hours = _ZONES[match["zone"].upper()]
    sign = "+" if hours >= 0 else "-"
    try:
        stamp = email.utils.parsedate_to_datetime(f"{match['stamp']} {sign}{abs(hours):02d}00")
    except (TypeError, ValueError, IndexError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone(timedelta(hours=hours)))
    return stamp.astimezone(UTC)
