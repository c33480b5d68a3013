"""Repositories of feed states, advisories and products: between the domain's objects and the
tables, inside one session (members: `member_repository`, reports: `report_repository`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from bot.domain.advisory import Advisory
from bot.domain.feed_state import FeedState
from bot.domain.name_folding import name_key
from bot.domain.products import ProductSpec, RegisteredProduct
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp
from bot.services.ports.store import ProductsRevision
from bot.store.tables import (
    AdvisoryRow,
    AdvisorySourceRow,
    FeedStateRow,
    MemberRow,
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
