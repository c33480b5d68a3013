"""Small records of the hub's coordination: audit entries, confirmations, held alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.members import Network
from bot.domain.outbox_payload import AlertMessage


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str  # "telegram:123", "matrix:@ann:hub.example", "cli"
    action: str
    detail: str


@dataclass(frozen=True)
class PendingConfirmation:
    id: int
    action: str
    payload: dict[str, Any]
    expires_at: datetime


@dataclass(frozen=True)
class HeldAlert:
    id: int
    member: str
    network: Network
    address: str
    advisory_id: str
    payload: AlertMessage
    held_at: datetime
