"""The members' reports: drafts in conversation, filed reports, their indicators, sightings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from bot.domain.members import Network
from bot.domain.reports import (
    Indicator,
    IndicatorFlag,
    IndicatorKind,
    ProductName,
    Report,
    ReportStatus,
    Sharing,
    Sighting,
)
from bot.domain.tlp import Tlp
from bot.services.ports.store import NewReport, StoredDraft
from bot.store.tables import (
    MemberRow,
    ReportDraftRow,
    ReportIndicatorRow,
    ReportRow,
    ReportSightingRow,
)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class SqlReports:
    def __init__(self, session: Session) -> None:
        self._s = session

    # --- drafts --------------------------------------------------------------------------------

    def draft(self, network: Network, address: str) -> StoredDraft | None:
        row = self._draft_row(network, address)
        if row is None:
            return None
        return StoredDraft(json.loads(row.data), _aware(row.started_at), _aware(row.updated_at))

    def save_draft(self, network: Network, address: str, data: dict[str, Any],
                   now: datetime) -> None:
        text = json.dumps(data, ensure_ascii=False)
        row = self._draft_row(network, address)
        if row is None:
            self._s.add(ReportDraftRow(network=network.value, address=address, data=text,
                                       started_at=now, updated_at=now))
        else:
            row.data, row.updated_at = text, now
            self._s.add(row)
        self._s.flush()

    def drop_draft(self, network: Network, address: str) -> bool:
        result = self._s.exec(delete(ReportDraftRow).where(
            col(ReportDraftRow.network) == network.value,
            col(ReportDraftRow.address) == address))
        return bool(result.rowcount)

    def drop_drafts_before(self, moment: datetime) -> int:
        result = self._s.exec(delete(ReportDraftRow).where(
            col(ReportDraftRow.updated_at) < moment))
        return int(result.rowcount or 0)

    def _draft_row(self, network: Network, address: str) -> ReportDraftRow | None:
        return self._s.exec(select(ReportDraftRow).where(
            ReportDraftRow.network == network.value,
            ReportDraftRow.address == address)).first()

    # --- reports -------------------------------------------------------------------------------

    def add(self, report: NewReport, now: datetime) -> int:
        member_id = self._member_id(report.member)
        row = ReportRow(
            member_id=member_id, reporter_network=report.reporter_network.value,
            reporter_address=report.reporter_address, language=report.language,
            summary=report.summary,
            vendor=report.product.vendor if report.product else None,
            product=report.product.product if report.product else None,
            tlp=report.tlp.name, sharing=report.sharing.value,
            status=ReportStatus.FILED.value, created_at=now)
        self._s.add(row)
        self._s.flush()
        assert row.id is not None
        self.add_indicators(row.id, report.indicators, None)
        return row.id

    def get(self, report_id: int) -> Report | None:
        found = self._s.exec(select(ReportRow, MemberRow.name)
                             .join(MemberRow, col(MemberRow.id) == col(ReportRow.member_id))
                             .where(ReportRow.id == report_id)).first()
        if found is None:
            return None
        row, member = found
        return self._report(row, member)

    def waiting(self, limit: int = 50) -> list[Report]:
        """Filed reports no coordinator decided yet, oldest first."""
        found = self._s.exec(select(ReportRow, MemberRow.name)
                             .join(MemberRow, col(MemberRow.id) == col(ReportRow.member_id))
                             .where(ReportRow.status == ReportStatus.FILED.value)
                             .order_by(col(ReportRow.id)).limit(limit)).all()
        return [self._report(row, member) for row, member in found]

    def decide(self, report_id: int, status: ReportStatus, by: str, now: datetime,
               reason: str | None = None) -> bool:
        """Approve or reject a filed report; False when it was decided already (by anyone)."""
        result = self._s.exec(update(ReportRow).where(
            col(ReportRow.id) == report_id,
            col(ReportRow.status) == ReportStatus.FILED.value,
        ).values(status=status.value, decided_at=now, decided_by=by, reason=reason))
        self._s.flush()
        return bool(result.rowcount)

    def edit_summary(self, report_id: int, summary: str) -> bool:
        result = self._s.exec(update(ReportRow).where(
            col(ReportRow.id) == report_id,
            col(ReportRow.status) == ReportStatus.FILED.value,
        ).values(summary=summary, edited=True))
        self._s.flush()
        return bool(result.rowcount)

    def add_indicators(self, report_id: int, indicators: Sequence[Indicator],
                       member: str | None) -> int:
        """Add the indicators the report does not have yet; how many were new."""
        have = {(k, v) for k, v in self._s.exec(
            select(ReportIndicatorRow.kind, ReportIndicatorRow.value)
            .where(ReportIndicatorRow.report_id == report_id)).all()}
        added_by = self._member_id(member) if member is not None else None
        new = 0
        for indicator in indicators:
            key = (indicator.kind.value, indicator.value)
            if key in have:
                continue
            have.add(key)
            self._s.add(ReportIndicatorRow(
                report_id=report_id, kind=indicator.kind.value, value=indicator.value,
                flag=indicator.flag.value if indicator.flag else None,
                added_by_member_id=added_by))
            new += 1
        self._s.flush()
        return new

    def sight(self, report_id: int, member: str, seen: bool, indicators_added: int,
              now: datetime) -> bool:
        """Record a member's answer (the latest counts); True when it changed their answer."""
        member_id = self._member_id(member)
        row = self._s.exec(select(ReportSightingRow).where(
            ReportSightingRow.report_id == report_id,
            ReportSightingRow.member_id == member_id)).first()
        if row is None:
            self._s.add(ReportSightingRow(report_id=report_id, member_id=member_id, seen=seen,
                                          indicators_added=indicators_added, at=now))
            self._s.flush()
            return True
        changed = row.seen != seen
        row.seen, row.at = seen, now
        row.indicators_added += indicators_added
        self._s.add(row)
        self._s.flush()
        return changed

    def sightings(self, report_id: int) -> list[Sighting]:
        found = self._s.exec(select(ReportSightingRow, MemberRow.name)
                             .join(MemberRow,
                                   col(MemberRow.id) == col(ReportSightingRow.member_id))
                             .where(ReportSightingRow.report_id == report_id)
                             .order_by(col(MemberRow.name))).all()
        return [Sighting(member, row.seen, _aware(row.at), row.indicators_added)
                for row, member in found]

    def purge_before(self, moment: datetime) -> int:
        """Delete reports filed before `moment`, with their indicators and sightings."""
        ids = list(self._s.exec(select(ReportRow.id).where(col(ReportRow.created_at) < moment)))
        self._delete(ids)
        return len(ids)

    def remove_member(self, member_id: int) -> None:
        """A removed member's reports go with it, and its sightings of others' reports."""
        self._s.exec(delete(ReportSightingRow).where(
            col(ReportSightingRow.member_id) == member_id))
        self._delete(list(self._s.exec(select(ReportRow.id)
                                       .where(ReportRow.member_id == member_id))))

    def count(self) -> int:
        return int(self._s.exec(select(func.count()).select_from(ReportRow)).one())

    def _delete(self, ids: list[int | None]) -> None:
        if not ids:
            return
        for table in (ReportIndicatorRow, ReportSightingRow):
            self._s.exec(delete(table).where(
                col(table.report_id).in_(ids)))
        self._s.exec(delete(ReportRow).where(col(ReportRow.id).in_(ids)))
        self._s.flush()

    def _member_id(self, name: str) -> int:
        member_id = self._s.exec(select(MemberRow.id).where(MemberRow.name == name)).first()
        if member_id is None:
            raise ValueError("no such member")
        return member_id

    def _report(self, row: ReportRow, member: str) -> Report:
        assert row.id is not None
        indicators = tuple(
            Indicator(IndicatorKind(r.kind), r.value, IndicatorFlag(r.flag) if r.flag else None)
            for r in self._s.exec(select(ReportIndicatorRow)
                                  .where(ReportIndicatorRow.report_id == row.id)
                                  .order_by(col(ReportIndicatorRow.id))))
        product = (ProductName(row.vendor, row.product)
                   if row.vendor is not None and row.product is not None else None)
        return Report(
            id=row.id, member=member, reporter_network=Network(row.reporter_network),
            reporter_address=row.reporter_address, language=row.language, summary=row.summary,
            product=product, tlp=Tlp[row.tlp], sharing=Sharing(row.sharing),
            status=ReportStatus(row.status), created_at=_aware(row.created_at),
            decided_at=_aware(row.decided_at) if row.decided_at else None,
            decided_by=row.decided_by, reason=row.reason, edited=row.edited,
            indicators=indicators)
