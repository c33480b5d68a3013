"""Repositories: translate between the domain's objects and the tables, inside one session."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from bot.domain.advisory import Advisory
from bot.domain.feed_state import FeedState
from bot.domain.members import Contact, Member, Network, Role
from bot.domain.name_folding import name_key
from bot.domain.products import ProductSpec, RegisteredProduct
from bot.domain.queued_messages import OutboxState
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp
from bot.services.ports.store import ProductsRevision
from bot.store.report_repository import SqlReports
from bot.store.tables import (
    AdvisoryRow,
    AdvisorySourceRow,
    AffectedAnswerRow,
    ContactRow,
    FeedStateRow,
    HeldAlertRow,
    InviteRow,
    MemberRow,
    OutboxRow,
    ProductRow,
)

log = logging.getLogger(__name__)
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
                tracking_id=advisory.tracking_id,
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

    def raise_tlp(self, advisory_id: str, tlp: Tlp) -> Tlp:
        """Raise the advisory's TLP to `tlp` if that is higher (never lower it); returns the
        advisory's TLP now, the highest of all its sources'."""
        self._s.exec(update(AdvisoryRow)
                     .where(col(AdvisoryRow.id) == advisory_id, col(AdvisoryRow.tlp) < int(tlp))
                     .values(tlp=int(tlp)))
        stored = self._s.exec(select(AdvisoryRow.tlp).where(AdvisoryRow.id == advisory_id)).first()
        return Tlp(stored) if stored is not None else tlp

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
            tracking_id=row.tracking_id,
        )

    def first_seen_after(self, advisory_id: str, moment: datetime) -> bool:
        seen = self._s.exec(
            select(AdvisoryRow.first_seen_at).where(AdvisoryRow.id == advisory_id)).first()
        if seen is None:
            return False
        seen = seen if seen.tzinfo is not None else seen.replace(tzinfo=moment.tzinfo)
        return seen >= moment

    def with_tracking_id(self, tracking_id: str | None) -> str | None:
        if not tracking_id:
            return None
        stmt = select(AdvisoryRow.id).where(AdvisoryRow.tracking_id == tracking_id).limit(1)
        return self._s.exec(stmt).first()

    def sources(self, advisory_id: str) -> list[str]:
        """Feeds that carried the advisory: the first one, then the others as they came."""
        first = self._s.exec(select(AdvisoryRow.source).where(AdvisoryRow.id == advisory_id))
        stmt = (
            select(AdvisorySourceRow.feed)
            .where(AdvisorySourceRow.advisory_id == advisory_id)
            .order_by(col(AdvisorySourceRow.seen_at), col(AdvisorySourceRow.feed))
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
        for table in (ContactRow, ProductRow, InviteRow, HeldAlertRow, AffectedAnswerRow):
            for child in self._s.exec(select(table).where(table.member_id == row.id)):
                self._s.delete(child)
        assert row.id is not None
        SqlReports(self._s).remove_member(row.id)
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

    def _set(self, name: str, **values: object) -> bool:
        """Change fields of the member's row; False when there is no such member."""
        row = self._row(name)
        if row is None:
            return False
        for field, value in values.items():
            setattr(row, field, value)
        self._s.add(row)
        self._s.flush()
        return True

    def set_min_severity(self, name: str, severity: Severity | None) -> bool:
        return self._set(name, min_severity=int(severity) if severity else None)

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

    def set_alert_rule(self, name: str, rule: str | None) -> bool:
        return self._set(name, alert_rule=rule)

    def set_digest_hour(self, name: str, hour: int | None) -> bool:
        return self._set(name, digest_hour=hour)

    def set_role(self, name: str, role: Role) -> bool:
        return self._set(name, role=role.value)

    def contact(self, network: Network, address: str) -> Contact | None:
        """The member contact at this address, if the address is linked."""
        found = self._s.exec(
            select(ContactRow, MemberRow.name)
            .join(MemberRow, col(MemberRow.id) == col(ContactRow.member_id))
            .where(ContactRow.network == network.value, ContactRow.address == address)
        ).first()
        if found is None:
            return None
        c, name = found
        return _contact(name, c)

    def update_contact(
        self, network: Network, address: str, *, active: bool | None = None,
        muted_until: datetime | None | bool = False, timezone: str | None | bool = False,
        language: str | None | bool = False, network_language: str | None | bool = False,
    ) -> bool:
        """Change a contact's state; `muted_until=None` unmutes, `False` leaves it."""
        row = self._s.exec(
            select(ContactRow).where(
                ContactRow.network == network.value, ContactRow.address == address
            )
        ).first()
        if row is None:
            return False
        if active is not None:
            row.active = active
        if muted_until is not False:
            row.muted_until = muted_until  # type: ignore[assignment]
        if timezone is not False:
            row.timezone = timezone  # type: ignore[assignment]
        if language is not False:
            row.language = language  # type: ignore[assignment]
        if network_language is not False:
            row.network_language = network_language  # type: ignore[assignment]
        self._s.add(row)
        self._s.flush()
        return True

    def contacts(self, members: Sequence[str] | None = None) -> list[Contact]:
        stmt = select(ContactRow, MemberRow.name).join(
            MemberRow, col(MemberRow.id) == col(ContactRow.member_id)
        )
        if members is not None:
            stmt = stmt.where(col(MemberRow.name).in_(list(members)))
        return [
            _contact(name, c)
            for c, name in self._s.exec(stmt.order_by(col(ContactRow.id)))
        ]

    def coordinators_contacts(self) -> list[Contact]:
        """Active contacts of coordinator members: who hears about delivery problems."""
        names = self._s.exec(
            select(MemberRow.name).where(MemberRow.role == Role.COORDINATOR.value)
        ).all()
        return [c for c in self.contacts(list(names)) if c.active] if names else []


def _member(row: MemberRow) -> Member:
    assert row.id is not None
    severity = Severity(row.min_severity) if row.min_severity else None
    return Member(row.id, row.name, severity, Role(row.role), row.digest_hour, row.alert_rule)


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
            versions=spec.versions,
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
        products = []
        for p, name in self._s.exec(stmt.order_by(col(ProductRow.id))):
            try:
                spec = ProductSpec(p.vendor, p.product, _split(p.aliases),
                                   _split(p.vendor_aliases), p.distinctive, p.versions)
            except ValueError:
                # Stored before a rule got stricter (a name of invisible characters only): one
                # such row must not stop matching for everyone. The name is not logged.
                log.warning("product #%s is not valid under today's rules and is not matched; "
                            "remove it with `hubbot product remove %s`", p.id, p.id)
                continue
            products.append(RegisteredProduct(p.id or 0, name, spec))
        return products

    def find(self, member: str, vendor: str, product: str) -> RegisteredProduct | None:
        """The member's product with this vendor and name, compared as `name_key` compares
        (without case, invisible characters or compatibility forms)."""
        wanted = (name_key(vendor), name_key(product))
        for p in self.all(member):
            if (name_key(p.spec.vendor), name_key(p.spec.product)) == wanted:
                return p
        return None

    def set_versions(self, product_id: int, versions: str | None) -> bool:
        row = self._s.get(ProductRow, product_id)
        if row is None:
            return False
        row.versions = versions
        self._s.add(row)
        self._s.flush()
        return True

    def remove(self, product_id: int) -> bool:
        row = self._s.get(ProductRow, product_id)
        if row is None:
            return False
        self._s.delete(row)
        self._s.flush()
        return True

    def revision(self) -> ProductsRevision:
        """Changes whenever a product is added or removed."""
        count, top = self._s.exec(select(func.count(), func.max(ProductRow.id))).one()
        return ProductsRevision(count=int(count), highest_id=int(top or 0))


def _contact(member: str, c: ContactRow) -> Contact:
    return Contact(member, Network(c.network), c.address, c.active, c.muted_until, c.timezone,
                   c.language, c.network_language)
