"""The only way into the outbox: every message passes the TLP gate first.

Services build `NewMessage`s carrying the TLP of what they quote; `queue` (and `hold`, for a
member's daily digest) gives each address its clearance and withholds what it may not read —
counted and logged, never with its text. A test fails if any code queues around this module.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.members import Network, Role
from bot.domain.outbox_payload import AlertMessage
from bot.domain.queued_messages import NewMessage
from bot.domain.tlp_gate import Clearance, Reader, clearance_of
from bot.services.ports import UnitOfWork

log = logging.getLogger(__name__)

Address = tuple[Network, str]
_FEW = 20  # up to this many addresses are looked up one by one, not with every contact


@dataclass
class Queued:
    """What the gate let through and was newly queued, and what it withheld."""

    added: set[str] = field(default_factory=set)  # dedup keys
    withheld: list[NewMessage] = field(default_factory=list)


def clearances(uow: UnitOfWork, addresses: Iterable[Address],
               admins: Collection[Address]) -> dict[Address, Clearance]:
    """Each address's clearance: a hub channel's configured TLP, a person's by their role (a
    member's contact, a coordinator's, an admin's), the console's; anything else TLP:CLEAR."""
    wanted = set(addresses)
    found: dict[Address, Clearance] = {}
    if not wanted:
        return found
    channels = {(ch.network, ch.address): ch.max_tlp for ch in uow.hub_channels.all()}
    people = [a for a in wanted if a[0] is not Network.CONSOLE]
    if len(people) <= _FEW:
        contacts = [c for c in (uow.members.contact(*a) for a in people) if c is not None]
    else:
        chosen = set(people)
        contacts = [c for c in uow.members.contacts() if (c.network, c.address) in chosen]
    member_of = {(c.network, c.address): c.member for c in contacts}
    coordinators = ({m.name for m in uow.members.all() if m.role is Role.COORDINATOR}
                    if contacts else set())
    for address in wanted:
        member = member_of.get(address)
        found[address] = clearance_of(
            hub_channel=channels.get(address), member=member,
            coordinator=member is not None and member in coordinators,
            admin=address in admins, console=address[0] is Network.CONSOLE)
    return found


def gate(uow: UnitOfWork, messages: Sequence[NewMessage],
         admins: Collection[Address]) -> tuple[list[NewMessage], list[NewMessage]]:
    """The messages each reader may read, and those they may not (logged without text)."""
    if not messages:
        return [], []
    cleared = clearances(uow, {a for m in messages for a in _addresses(m)}, admins)
    allowed: list[NewMessage] = []
    withheld: list[NewMessage] = []
    for m in messages:
        (allowed if _clearance(m, cleared).allows(m.tlp, m.member) else withheld).append(m)
    if withheld:
        counts = Counter((m.kind, m.tlp.label, _clearance(m, cleared).reader.value,
                          _clearance(m, cleared).limit.label) for m in withheld)
        log.warning("TLP gate: withheld %s", "; ".join(
            f"{n} {kind} {tlp} to a {reader} (cleared up to {limit})"
            for (kind, tlp, reader, limit), n in sorted(counts.items())))
    return allowed, withheld


def queue(uow: UnitOfWork, messages: Sequence[NewMessage], now: datetime, *,
          admins: Collection[Address]) -> Queued:
    """Queue the messages their readers may read; a repeated dedup key is a no-op."""
    allowed, withheld = gate(uow, messages, admins)
    return Queued(uow.outbox.add_many(allowed, now) if allowed else set(), withheld)


def hold(uow: UnitOfWork, messages: Sequence[NewMessage], now: datetime, *,
         admins: Collection[Address]) -> Queued:
    """Hold member alerts for their daily digest (checked again when it is released)."""
    allowed, withheld = gate(uow, messages, admins)
    added = set()
    for m in allowed:
        assert m.member is not None and m.advisory_id is not None, "only member alerts wait"
        assert isinstance(m.payload, AlertMessage), "only member alerts wait"
        if uow.held_alerts.hold(m.member, m.network, m.address, m.advisory_id, m.payload, now):
            added.add(m.dedup_key)
    return Queued(added, withheld)


def _addresses(message: NewMessage) -> tuple[Address, ...]:
    address = (message.network, message.address)
    return (address, (message.network, message.reader)) if message.reader else (address,)


def _clearance(message: NewMessage, cleared: dict[Address, Clearance]) -> Clearance:
    """The reader's clearance; a hub channel's own, whoever is said to read it."""
    at = cleared[(message.network, message.address)]
    if message.reader is None or at.reader is Reader.HUB_CHANNEL:
        return at
    return cleared[(message.network, message.reader)]
