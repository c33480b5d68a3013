"""Who hub-wide messages reach, and queueing one message to many addresses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.members import Network
from bot.domain.outbox import NewMessage
from bot.services.ports import UnitOfWork

Address = tuple[Network, str]
CONSOLE_HUB = "hub"  # the console's stand-in for the hub channels


@dataclass(frozen=True)
class HubPolicy:
    """What the admin configured for coordination (see `Settings`)."""

    admins: frozenset[Address] = field(default_factory=frozenset)
    zone: str = "UTC"  # the hub's time zone: meetings without one, digests, weekly summary
    digest_hour: int = 8
    console: bool = False  # also show hub-wide messages on the console


def actor(network: Network, address: str) -> str:
    return f"{network.value}:{address}"


def hub_channels(uow: UnitOfWork, policy: HubPolicy) -> list[Address]:
    """Every hub channel on every network (announcements and meetings are for everyone)."""
    found = [(ch.network, ch.address) for ch in uow.hub_channels.all()]
    if policy.console:
        found.append((Network.CONSOLE, CONSOLE_HUB))
    return found


def member_contacts(uow: UnitOfWork) -> list[Address]:
    return _unique((c.network, c.address) for c in uow.members.contacts() if c.active)


def coordinators(uow: UnitOfWork, policy: HubPolicy) -> list[Address]:
    """Coordinators' contacts and the admins (their private chats)."""
    found = [(c.network, c.address) for c in uow.members.coordinators_contacts()]
    return _unique([*found, *sorted(policy.admins)])


def queue_to(
    uow: UnitOfWork, recipients: Iterable[Address], *, kind: str, key: str,
    payload: dict[str, Any], priority: int, now: datetime,
) -> int:
    """One outbox message per address; `key` names the fact, so re-queueing it is a no-op."""
    messages = [NewMessage(network=network, address=address, kind=kind,
                           dedup_key=f"{kind}|{key}|{network.value}|{address}",
                           payload={"kind": kind, **payload}, priority=priority)
                for network, address in _unique(recipients)]
    return len(uow.outbox.add_many(messages, now))


def _unique(items: Iterable[Address]) -> list[Address]:
    return list(dict.fromkeys(items))
