"""CSAF bookkeeping: which document version each advisory was decided on, what was fetched."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.services.ports.store import CsafRecord
from bot.store.tables import CsafDocumentRow, CsafSeenRow


class SqlCsaf:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, tracking_id: str) -> CsafRecord | None:
        row = self._s.exec(select(CsafDocumentRow).where(
            CsafDocumentRow.tracking_id == tracking_id)).first()
        return None if row is None else CsafRecord(row.advisory_id, row.version, row.document)

    def save(self, advisory_id: str, tracking_id: str, version: str, url: str,
             raw_sha256: str, now: datetime) -> None:
        row = self._s.exec(select(CsafDocumentRow).where(
            CsafDocumentRow.advisory_id == advisory_id)).first()
        if row is None:
            row = CsafDocumentRow(advisory_id=advisory_id, tracking_id=tracking_id,
                                  version=version, url=url, document=raw_sha256, seen_at=now)
        else:
            row.tracking_id, row.version, row.url, row.document, row.seen_at = (
                tracking_id, version, url, raw_sha256, now)
        self._s.add(row)
        self._s.flush()

    def seen(self, feed: str) -> dict[str, str]:
        rows = self._s.exec(select(CsafSeenRow).where(CsafSeenRow.feed == feed)).all()
        return {r.url: r.updated for r in rows}

    def set_seen(self, feed: str, url: str, updated: str) -> None:
        row = self._s.get(CsafSeenRow, (feed, url))
        if row is None:
            row = CsafSeenRow(feed=feed, url=url[:700], updated=updated[:100])
        else:
            row.updated = updated[:100]
        self._s.add(row)
        self._s.flush()
