"""Which advisories matched which member products, with the version decisions of CSAF."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.domain.language import Phrase, dump_text, load_text
from bot.domain.products import RegisteredProduct
from bot.domain.tlp import Tlp
from bot.services.ports.store import MatchedAdvisory, StoredDecision
from bot.store.repositories import SqlAdvisories
from bot.store.tables import AdvisoryRow, MatchRow, MemberRow, ProductRow


class SqlMatches:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, advisory_id: str, product: RegisteredProduct, why: str, now: datetime) -> None:
        """Record that the product matched; a second match of the same pair is ignored. A
        reason that is a phrase is kept as one, to be shown later in each reader's language."""
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
                advisory_id=advisory_id, product_id=product.id, member_id=member_id,
                why=dump_text(why) or "",
                created_at=now,
            )
        )


    def set_decision(self, advisory_id: str, product_id: int, decision: str,
                     detail: dict[str, object]) -> None:
        row = self._s.exec(select(MatchRow).where(
            MatchRow.advisory_id == advisory_id, MatchRow.product_id == product_id)).first()
        if row is None:
            return
        row.decision = decision
        row.decision_detail = json.dumps(
            {k: dump_text(v) if isinstance(v, Phrase) else v for k, v in detail.items()},
            ensure_ascii=False)
        self._s.add(row)
        self._s.flush()

    def decisions(self, advisory_id: str) -> dict[int, StoredDecision]:
        """Per matched product, the version decision a CSAF document made (if any)."""
        rows = self._s.exec(select(MatchRow.product_id, MatchRow.decision,
                                   MatchRow.decision_detail)
                            .where(MatchRow.advisory_id == advisory_id,
                                   col(MatchRow.decision).is_not(None))).all()
        return {pid: StoredDecision(str(d), _detail(detail)) for pid, d, detail in rows}

    def product_ids(self, advisory_id: str) -> set[int]:
        """The registered products this advisory matched so far."""
        return set(self._s.exec(
            select(MatchRow.product_id).where(MatchRow.advisory_id == advisory_id)).all())

    def members_for(self, advisory_id: str) -> list[str]:
        """The members whose products this advisory matched."""
        return list(self._s.exec(
            select(MemberRow.name).distinct()
            .join(MatchRow, col(MatchRow.member_id) == col(MemberRow.id))
            .where(MatchRow.advisory_id == advisory_id)
            .order_by(MemberRow.name)
        ).all())

    def latest_for_member(
        self, member: str, count: int, max_tlp: Tlp = Tlp.RED
    ) -> list[MatchedAdvisory]:
        """The member's most recent matched advisories up to `max_tlp`, newest first, with one
        reason each and, where a CSAF document decided by version, that decision's note."""
        rows = self._s.exec(
            select(AdvisoryRow, MatchRow.why, MatchRow.decision, MatchRow.decision_detail)
            .join(MatchRow, col(MatchRow.advisory_id) == col(AdvisoryRow.id))
            .join(MemberRow, col(MemberRow.id) == col(MatchRow.member_id))
            .where(MemberRow.name == member, col(AdvisoryRow.tlp) <= int(max_tlp))
            .order_by(col(MatchRow.created_at).desc(), col(MatchRow.id).desc())
            .limit(count * 5)
        ).all()
        seen: dict[str, MatchedAdvisory] = {}
        advisories = SqlAdvisories(self._s)
        for row, why, decision, detail in rows:
            if row.id not in seen and len(seen) < count:
                advisory = advisories.get(row.id)
                assert advisory is not None
                note: str | None = None
                if decision:
                    note = _detail(detail).get("note") or decision
                seen[row.id] = MatchedAdvisory(advisory, load_text(why) or "", note)
        return list(seen.values())


def _detail(stored: str) -> dict[str, Any]:
    """A decision's detail as stored, its reason and note phrases again where they were."""
    found: dict[str, Any] = json.loads(stored) if stored else {}
    return {k: load_text(v) if k in _PHRASES and isinstance(v, str) else v
            for k, v in found.items()}


_PHRASES = {"reason", "note"}
