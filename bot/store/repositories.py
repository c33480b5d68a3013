"""Repositories: translate between the domain's objects and the tables, inside one session."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.domain.advisory import Advisory
from bot.domain.feed_state import FeedState
from bot.domain.members import Contact, Member, Network
from bot.domain.outbox import NewMessage, OutboxItem, OutboxState
from bot.domain.products import ProductSpec, RegisteredProduct
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp
from bot.store.tables import (
    AdvisoryRow,
    AdvisorySourceRow,
    ContactRow,
    FeedStateRow,
    MatchRow,
    MemberRow,
    OutboxRow,
    ProductRow,
)

_SEP = "\x1f"  # joins list fields; never typed by a user


def _join(items: Sequence[str]) -> str:
    return _SEP.join(items)


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split(_SEP)) if text else ()


class SqlFeedStates:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, feed: str) -> FeedState:
        row = self._s.get(FeedStateRow, feed)
        if row is None:
            return FeedState(feed)
        return FeedState(**row.model_dump())

    def save(self, state: FeedState) -> None:
        row = self._s.get(FeedStateRow, state.feed) or FeedStateRow(feed=state.feed)
        for name, value in vars(state).items():
            setattr(row, name, value)
        self._s.add(row)

    def all(self) -> list[FeedState]:
        rows = self._s.exec(select(FeedStateRow).order_by(FeedStateRow.feed)).all()
        return [FeedState(**r.model_dump()) for r in rows]


class SqlAdvisories:
    def __init__(self, session: Session) -> None:
        self._s = session

    def advisory_for_entry(self, entry_id: str) -> str | None:
        row = self._s.get(AdvisorySourceRow, entry_id)
        if row is not None:
            return row.advisory_id
        # The advisory's own id is always one of its entries, but look it up directly too.
        return entry_id if self._s.get(AdvisoryRow, entry_id) is not None else None

    def with_cve_key(self, cve_key: str) -> str | None:
        if not cve_key:
            return None
        stmt = select(AdvisoryRow.id).where(AdvisoryRow.cve_key == cve_key).limit(1)
        return self._s.exec(stmt).first()

    def add(self, advisory: Advisory, seen_at: datetime) -> None:
        self._s.add(
            AdvisoryRow(
                id=advisory.id,
                title=advisory.title,
                summary=advisory.summary,
                link=advisory.link,
                source=advisory.source,
                published=advisory.published,
                cves=_join(advisory.cves),
                cve_key=advisory.cve_key[:700],
                cvss=advisory.cvss,
                severity=int(advisory.severity) if advisory.severity else None,
                tlp=int(advisory.tlp),
                tags=_join(advisory.tags),
                first_seen_at=seen_at,
            )
        )
        self._s.add(
            AdvisorySourceRow(
                entry_id=advisory.id, advisory_id=advisory.id, feed=advisory.source,
                seen_at=seen_at,
            )
        )
        self._s.flush()

    def add_source(self, advisory_id: str, entry_id: str, feed: str, seen_at: datetime) -> None:
        if self._s.get(AdvisorySourceRow, entry_id) is None:
            self._s.add(
                AdvisorySourceRow(
                    entry_id=entry_id, advisory_id=advisory_id, feed=feed, seen_at=seen_at
                )
            )
            self._s.flush()

    def get(self, advisory_id: str) -> Advisory | None:
        row = self._s.get(AdvisoryRow, advisory_id)
        if row is None:
            return None
        return Advisory(
            id=row.id,
            title=row.title,
            summary=row.summary,
            link=row.link,
            source=row.source,
            published=row.published,
            cves=_split(row.cves),
            cvss=row.cvss,
            severity=Severity(row.severity) if row.severity else None,
            tlp=Tlp(row.tlp),
            tags=_split(row.tags),
        )

    def sources(self, advisory_id: str) -> list[str]:
        """Feeds that carried the advisory: the first one, then the others as they came."""
        first = self._s.exec(select(AdvisoryRow.source).where(AdvisoryRow.id == advisory_id))
        stmt = (
            select(AdvisorySourceRow.feed)
            .where(AdvisorySourceRow.advisory_id == advisory_id)
            .order_by(AdvisorySourceRow.seen_at, AdvisorySourceRow.feed)
        )
        return list(dict.fromkeys([*first.all(), *self._s.exec(stmt).all()]))

    def count(self) -> int:
        return self._s.exec(select(func.count()).select_from(AdvisoryRow)).one()


class SqlMembers:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _row(self, name: str) -> MemberRow | None:
        return self._s.exec(select(MemberRow).where(MemberRow.name == name)).first()

    def add(self, name: str, now: datetime) -> Member:
        if self._row(name) is not None:
            raise ValueError(f"member {name!r} already exists")
        row = MemberRow(name=name, created_at=now)
        self._s.add(row)
        self._s.flush()
        assert row.id is not None
        return Member(row.id, row.name)

    def get(self, name: str) -> Member | None:
        row = self._row(name)
        return None if row is None else _member(row)

    def all(self) -> list[Member]:
        return [_member(r) for r in self._s.exec(select(MemberRow).order_by(MemberRow.name))]

    def remove(self, name: str) -> bool:
        row = self._row(name)
        if row is None:
            return False
        for table in (ContactRow, ProductRow):
            for child in self._s.exec(select(table).where(table.member_id == row.id)):
                self._s.delete(child)
        # Nothing more reaches a removed member, not even what was already queued.
        self._s.exec(
            update(OutboxRow)
            .where(
                col(OutboxRow.member_id) == row.id,
                col(OutboxRow.state).in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
            )
            .values(state=OutboxState.FAILED.value, last_error="member removed")
        )
        self._s.flush()
        self._s.delete(row)
        self._s.flush()
        return True

    def set_min_severity(self, name: str, severity: Severity | None) -> bool:
        row = self._row(name)
        if row is None:
            return False
        row.min_severity = int(severity) if severity else None
        self._s.add(row)
        self._s.flush()
        return True

    def add_contact(self, member: str, network: Network, address: str, now: datetime) -> None:
        row = self._row(member)
        if row is None:
            raise ValueError(f"no member {member!r}")
        taken = self._s.exec(
            select(ContactRow).where(
                ContactRow.network == network.value, ContactRow.address == address
            )
        ).first()
        if taken is not None:
            raise ValueError(f"{network.value} address {address} is already linked to a member")
        assert row.id is not None
        self._s.add(
            ContactRow(member_id=row.id, network=network.value, address=address, created_at=now)
        )
        self._s.flush()

    def contacts(self, members: Sequence[str] | None = None) -> list[Contact]:
        stmt = select(ContactRow, MemberRow.name).join(
            MemberRow, col(MemberRow.id) == col(ContactRow.member_id)
        )
        if members is not None:
            stmt = stmt.where(col(MemberRow.name).in_(list(members)))
        return [
            Contact(name, Network(c.network), c.address, c.active)
            for c, name in self._s.exec(stmt.order_by(ContactRow.id))
        ]


def _member(row: MemberRow) -> Member:
    assert row.id is not None
    severity = Severity(row.min_severity) if row.min_severity else None
    return Member(row.id, row.name, severity)


class SqlProducts:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, member: str, spec: ProductSpec, now: datetime) -> RegisteredProduct:
        owner = self._s.exec(select(MemberRow).where(MemberRow.name == member)).first()
        if owner is None:
            raise ValueError(f"no member {member!r}")
        assert owner.id is not None
        exists = self._s.exec(
            select(ProductRow).where(
                ProductRow.member_id == owner.id,
                ProductRow.vendor == spec.vendor,
                ProductRow.product == spec.product,
            )
        ).first()
        if exists is not None:
            raise ValueError(f"{member} already has {spec.vendor} | {spec.product}")
        row = ProductRow(
            member_id=owner.id,
            vendor=spec.vendor,
            product=spec.product,
            aliases=_join(spec.aliases),
            vendor_aliases=_join(spec.vendor_aliases),
            distinctive=spec.distinctive,
            created_at=now,
        )
        self._s.add(row)
        self._s.flush()
        assert row.id is not None
        return RegisteredProduct(row.id, member, spec)

    def all(self, member: str | None = None) -> list[RegisteredProduct]:
        stmt = select(ProductRow, MemberRow.name).join(
            MemberRow, col(MemberRow.id) == col(ProductRow.member_id)
        )
        if member is not None:
            stmt = stmt.where(MemberRow.name == member)
        return [
            RegisteredProduct(
                p.id or 0,
                name,
                ProductSpec(
                    p.vendor, p.product, _split(p.aliases), _split(p.vendor_aliases),
                    p.distinctive,
                ),
            )
            for p, name in self._s.exec(stmt.order_by(ProductRow.id))
        ]

    def remove(self, product_id: int) -> bool:
        row = self._s.get(ProductRow, product_id)
        if row is None:
            return False
        self._s.delete(row)
        self._s.flush()
        return True

    def revision(self) -> tuple[int, int]:
        """Changes whenever a product is added or removed: (count, highest id)."""
        count, top = self._s.exec(select(func.count(), func.max(ProductRow.id))).one()
        return int(count), int(top or 0)


class SqlMatches:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, advisory_id: str, product: RegisteredProduct, why: str, now: datetime) -> None:
        """Record that the product matched; a second match of the same pair is ignored."""
        exists = self._s.exec(
            select(MatchRow.id).where(
                MatchRow.advisory_id == advisory_id, MatchRow.product_id == product.id
            )
        ).first()
        if exists is not None:
            return
        member_id = self._s.exec(
            select(ProductRow.member_id).where(ProductRow.id == product.id)
        ).one()
        self._s.add(
            MatchRow(
                advisory_id=advisory_id, product_id=product.id, member_id=member_id, why=why,
                created_at=now,
            )
        )


class SqlOutbox:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, message: NewMessage, now: datetime) -> bool:
        """Queue a message; False when the same dedup key is already queued or sent."""
        exists = self._s.exec(
            select(OutboxRow.id).where(OutboxRow.dedup_key == message.dedup_key)
        ).first()
        if exists is not None:
            return False
        member_id = None
        if message.member is not None:
            member_id = self._s.exec(
                select(MemberRow.id).where(MemberRow.name == message.member)
            ).first()
        row = OutboxRow(
            created_at=now,
            network=message.network.value,
            address=message.address,
            kind=message.kind,
            dedup_key=message.dedup_key,
            advisory_id=message.advisory_id,
            member_id=member_id,
            payload=json.dumps(message.payload, ensure_ascii=False),
            priority=message.priority,
            next_attempt_at=now,
        )
        try:
            with self._s.begin_nested():
                self._s.add(row)
        except IntegrityError:
            return False
        return True

    def claim_due(self, network: Network, now: datetime, limit: int) -> list[OutboxItem]:
        """Mark up to `limit` due messages as sending and return them, most urgent first.

        Each address has one queue: its most urgent, then oldest, unsent message goes first,
        so a critical alert overtakes routine ones but equal messages keep their order.
        """
        stmt = (
            select(OutboxRow)
            .where(
                OutboxRow.network == network.value,
                col(OutboxRow.state) == OutboxState.PENDING.value,
                col(OutboxRow.next_attempt_at) <= now,
            )
            .order_by(col(OutboxRow.priority).desc(), col(OutboxRow.id))
            .limit(limit * 4)
        )
        rows = list(self._s.exec(stmt))
        heads = self._queue_heads(network, {r.address for r in rows})
        claimed = [r for r in rows if heads.get(r.address) == r.id][:limit]
        for row in claimed:
            row.state = OutboxState.SENDING.value
            row.attempts += 1
            self._s.add(row)
        self._s.flush()
        return [
            OutboxItem(
                id=r.id or 0,
                network=Network(r.network),
                address=r.address,
                kind=r.kind,
                payload=json.loads(r.payload),
                priority=r.priority,
                attempts=r.attempts,
                created_at=r.created_at,
            )
            for r in claimed
        ]

    def _queue_heads(self, network: Network, addresses: set[str]) -> dict[str, int]:
        """The id of the message each address must get next (pending or being sent)."""
        heads: dict[str, tuple[int, int]] = {}
        if not addresses:
            return {}
        unsent = self._s.exec(
            select(OutboxRow.address, OutboxRow.priority, OutboxRow.id).where(
                OutboxRow.network == network.value,
                col(OutboxRow.address).in_(sorted(addresses)),
                col(OutboxRow.state).in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
            )
        )
        for address, priority, row_id in unsent:
            key = (priority, -(row_id or 0))
            if address not in heads or key > heads[address]:
                heads[address] = key
        return {address: -key[1] for address, key in heads.items()}

    def mark_sent(self, item_id: int, receipt: str | None, now: datetime) -> None:
        self._s.exec(
            update(OutboxRow)
            .where(col(OutboxRow.id) == item_id)
            .values(state=OutboxState.SENT.value, sent_at=now, receipt=receipt, last_error=None)
        )

    def mark_retry(self, item_id: int, error: str, next_attempt_at: datetime) -> None:
        self._s.exec(
            update(OutboxRow)
            .where(col(OutboxRow.id) == item_id)
            .values(
                state=OutboxState.PENDING.value,
                last_error=error[:1000],
                next_attempt_at=next_attempt_at,
            )
        )

    def mark_failed(self, item_id: int, error: str, now: datetime) -> None:
        self._s.exec(
            update(OutboxRow)
            .where(col(OutboxRow.id) == item_id)
            .values(state=OutboxState.FAILED.value, last_error=error[:1000], sent_at=None)
        )

    def release_claims(self, network: Network | None = None) -> int:
        """Put messages left `sending` by a crash back to pending; returns how many."""
        stmt = update(OutboxRow).where(col(OutboxRow.state) == OutboxState.SENDING.value)
        if network is not None:
            stmt = stmt.where(col(OutboxRow.network) == network.value)
        result = self._s.exec(stmt.values(state=OutboxState.PENDING.value))
        return int(result.rowcount or 0)

    def backlog(self) -> dict[tuple[str, str], int]:
        """Number of messages per (network, state)."""
        stmt = select(OutboxRow.network, OutboxRow.state, func.count()).group_by(
            OutboxRow.network, OutboxRow.state
        )
        return {(n, s): int(c) for n, s, c in self._s.exec(stmt).all()}
