"""An in-memory unit of work for service unit tests (no database, no file), as cosmicpython's
FakeUnitOfWork: what a service leaves behind is read back from `FakeStore.committed`.

It holds the repositories the member and chat-command services use; a service reaching for
another one fails with a message naming it, so a newcomer knows what to add here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any

from bot.domain.alerts import HubChannel
from bot.domain.coordination import AuditEntry
from bot.domain.members import Contact, Member, Network, Role
from bot.domain.name_folding import name_key
from bot.domain.outbox_payload import ReplyMessage
from bot.domain.products import ProductSpec, RegisteredProduct
from bot.domain.queued_messages import NewMessage
from bot.domain.severity import Severity
from bot.services.ports.store import StoredDraft

UNCHANGED: Any = False  # update_contact's "leave this field as it is"


@dataclass
class State:
    """Everything the fake store holds; a unit of work changes a copy until it commits."""

    members: dict[str, Member] = field(default_factory=dict)
    contacts: dict[tuple[Network, str], Contact] = field(default_factory=dict)
    products: dict[int, RegisteredProduct] = field(default_factory=dict)
    invites: dict[str, tuple[str, datetime, str | None]] = field(default_factory=dict)
    inbound: set[tuple[Network, str]] = field(default_factory=set)
    outbox: dict[str, NewMessage] = field(default_factory=dict)
    channels: dict[tuple[Network, str], HubChannel] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    drafts: dict[tuple[Network, str], StoredDraft] = field(default_factory=dict)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


class FakeMembers:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, name: str, now: datetime) -> Member:
        if name in self.s.members:
            raise ValueError(f"member {name!r} already exists")
        member = self.s.members[name] = Member(self.s.new_id(), name)
        return member

    def get(self, name: str) -> Member | None:
        return self.s.members.get(name)

    def all(self) -> list[Member]:
        return sorted(self.s.members.values(), key=lambda m: m.name)

    def remove(self, name: str) -> bool:
        self.s.contacts = {k: c for k, c in self.s.contacts.items() if c.member != name}
        self.s.products = {k: p for k, p in self.s.products.items() if p.member != name}
        return self.s.members.pop(name, None) is not None

    def _set(self, name: str, **changes: Any) -> bool:
        if name not in self.s.members:
            return False
        self.s.members[name] = replace(self.s.members[name], **changes)
        return True

    def set_min_severity(self, name: str, severity: Severity | None) -> bool:
        return self._set(name, min_severity=severity)

    def set_role(self, name: str, role: Role) -> bool:
        return self._set(name, role=role)

    def set_digest_hour(self, name: str, hour: int | None) -> bool:
        return self._set(name, digest_hour=hour)

    def set_alert_rule(self, name: str, rule: str | None) -> bool:
        return self._set(name, alert_rule=rule)

    def add_contact(self, member: str, network: Network, address: str, now: datetime) -> None:
        if member not in self.s.members:
            raise ValueError(f"no member {member!r}")
        if (network, address) in self.s.contacts:
            raise ValueError(f"{network.value} address {address} is already linked to a member")
        self.s.contacts[(network, address)] = Contact(member, network, address)

    def contact(self, network: Network, address: str) -> Contact | None:
        return self.s.contacts.get((network, address))

    def update_contact(
        self, network: Network, address: str, *, active: bool | None = None,
        muted_until: datetime | None | bool = UNCHANGED, timezone: str | None | bool = UNCHANGED,
        language: str | None | bool = UNCHANGED,
        network_language: str | None | bool = UNCHANGED,
    ) -> bool:
        found = self.s.contacts.get((network, address))
        if found is None:
            return False
        changes = {name: value for name, value in (
            ("muted_until", muted_until), ("timezone", timezone), ("language", language),
            ("network_language", network_language)) if value is not UNCHANGED}
        if active is not None:
            changes["active"] = active
        self.s.contacts[(network, address)] = replace(found, **changes)
        return True

    def contacts(self, members: Any = None) -> list[Contact]:
        return [c for c in self.s.contacts.values() if members is None or c.member in members]

    def coordinators_contacts(self) -> list[Contact]:
        return [c for c in self.s.contacts.values()
                if self.s.members[c.member].role is Role.COORDINATOR]


class FakeProducts:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, member: str, spec: ProductSpec, now: datetime) -> RegisteredProduct:
        if member not in self.s.members:
            raise ValueError(f"no member {member!r}")
        if self.find(member, spec.vendor, spec.product) is not None:
            raise ValueError(f"{member} already has {spec.vendor} | {spec.product}")
        product = RegisteredProduct(self.s.new_id(), member, spec)
        self.s.products[product.id] = product
        return product

    def all(self, member: str | None = None) -> list[RegisteredProduct]:
        return [p for p in self.s.products.values() if member is None or p.member == member]

    def find(self, member: str, vendor: str, product: str) -> RegisteredProduct | None:
        wanted = (name_key(vendor), name_key(product))
        return next((p for p in self.all(member)
                     if (name_key(p.spec.vendor), name_key(p.spec.product)) == wanted), None)

    def remove(self, product_id: int) -> bool:
        return self.s.products.pop(product_id, None) is not None

    def set_versions(self, product_id: int, versions: str | None) -> bool:
        found = self.s.products.get(product_id)
        if found is None:
            return False
        self.s.products[product_id] = replace(found, spec=replace(found.spec, versions=versions))
        return True

    def revision(self) -> tuple[int, int]:
        return len(self.s.products), self.s.next_id


class FakeInvites:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, member: str, code_hash: str, now: datetime, expires_at: datetime) -> None:
        if member not in self.s.members:
            raise ValueError(f"no member {member!r}")
        self.s.invites[code_hash] = (member, expires_at, None)

    def redeem(self, code_hash: str, now: datetime, used_by: str) -> str:
        if code_hash not in self.s.invites:
            raise ValueError("unknown")
        member, expires_at, used = self.s.invites[code_hash]
        if used is not None:
            raise ValueError("used")
        if expires_at <= now:
            raise ValueError("expired")
        self.s.invites[code_hash] = (member, expires_at, used_by)
        return member


class FakeInbound:
    def __init__(self, state: State) -> None:
        self.s = state

    def first_time(self, network: Network, key: str, now: datetime) -> bool:
        seen = (network, key) in self.s.inbound
        self.s.inbound.add((network, key))
        return not seen

    def forget_before(self, moment: datetime) -> int:
        return 0


class FakeOutbox:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, message: NewMessage, now: datetime) -> bool:
        return bool(self.add_many([message], now))

    def add_many(self, messages: Any, now: datetime) -> set[str]:
        fresh = {m.dedup_key for m in messages if m.dedup_key not in self.s.outbox}
        for m in messages:
            self.s.outbox.setdefault(m.dedup_key, m)
        return fresh

    def pending_for(self, network: Network, address: str) -> int:
        return sum(1 for m in self.s.outbox.values()
                   if (m.network, m.address) == (network, address))


class FakeHubChannels:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, channel: HubChannel, now: datetime) -> None:
        self.s.channels[(channel.network, channel.address)] = channel

    def all(self, network: Network | None = None) -> list[HubChannel]:
        return [c for c in self.s.channels.values() if network in (None, c.network)]

    def remove(self, network: Network, address: str) -> bool:
        return self.s.channels.pop((network, address), None) is not None


class FakeAudit:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, actor: str, action: str, detail: str, now: datetime) -> None:
        self.s.audit.append(AuditEntry(now, actor, action, detail))

    def latest(self, limit: int) -> list[AuditEntry]:
        return self.s.audit[-limit:][::-1]


class FakeReportDrafts:
    """The report conversations' state (filed reports are tested on a real store)."""

    def __init__(self, state: State) -> None:
        self.s = state

    def draft(self, network: Network, address: str) -> StoredDraft | None:
        return self.s.drafts.get((network, address))

    def save_draft(self, network: Network, address: str, data: dict[str, Any],
                   now: datetime) -> None:
        old = self.s.drafts.get((network, address))
        self.s.drafts[(network, address)] = StoredDraft(data, old.started_at if old else now, now)

    def drop_draft(self, network: Network, address: str) -> bool:
        return self.s.drafts.pop((network, address), None) is not None


class FakeUnitOfWork:
    """One transaction on a FakeStore: its changes reach the store only on `commit()`."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._state = copy.deepcopy(store.committed)
        self.members = FakeMembers(self._state)
        self.products = FakeProducts(self._state)
        self.invites = FakeInvites(self._state)
        self.inbound = FakeInbound(self._state)
        self.outbox = FakeOutbox(self._state)
        self.hub_channels = FakeHubChannels(self._state)
        self.audit = FakeAudit(self._state)
        self.reports = FakeReportDrafts(self._state)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"FakeUnitOfWork has no {name!r} repository yet; add one to "
                             "tests/support/fake_store.py, or test this in tests/integration")

    def __enter__(self) -> FakeUnitOfWork:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None  # what was not committed is dropped with this copy

    def commit(self) -> None:
        self._store.committed = copy.deepcopy(self._state)
        self._store.commits += 1

    def rollback(self) -> None:
        self._state.__dict__.update(copy.deepcopy(self._store.committed).__dict__)


class FakeStore:
    """A unit-of-work factory in memory: `store()` opens a transaction, as SqlStore does."""

    def __init__(self) -> None:
        self.committed = State()
        self.commits = 0

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def replies_to(self, chat: str) -> list[str]:
        """The texts queued as replies to `chat`, oldest first."""
        return [m.payload.text for m in self.committed.outbox.values()
                if isinstance(m.payload, ReplyMessage) and m.address == chat]
