"""Repositories of the hub's coordination: audit log, confirmations, meetings, answers, digests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from bot.domain.coordination import AuditEntry, HeldAlert, PendingConfirmation
from bot.domain.meetings import Meeting
from bot.domain.members import Network
from bot.domain.outbox_payload import AlertMessage, alert_message_from_json, payload_to_json
from bot.services.ports.store import AdvisoryRef, ChatAddress
from bot.store.tables import (
    AdvisoryRefRow,
    AffectedAnswerRow,
    AuditRow,
    HeldAlertRow,
    MeetingRow,
    MemberRow,
    PendingConfirmationRow,
    RsvpRow,
)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _member_id(session: Session, name: str) -> int:
    member_id = session.exec(select(MemberRow.id).where(MemberRow.name == name)).first()
    if member_id is None:
        raise ValueError(f"no member {name!r}")
    return member_id


class SqlAudit:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, actor: str, action: str, detail: str, now: datetime) -> None:
        self._s.add(AuditRow(at=now, actor=actor, action=action, detail=detail))
        self._s.flush()

    def latest(self, limit: int) -> list[AuditEntry]:
        rows = self._s.exec(
            select(AuditRow).order_by(col(AuditRow.at).desc(), col(AuditRow.id).desc())
            .limit(limit)
        ).all()
        return [AuditEntry(_aware(r.at), r.actor, r.action, r.detail) for r in rows]


class SqlConfirmations:
    """At most one pending confirmation per person: a new preview replaces the older one."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def put(self, network: Network, address: str, action: str, payload: dict[str, Any],
            now: datetime, expires_at: datetime) -> int:
        self.drop(network, address)
        row = PendingConfirmationRow(network=network.value, address=address, action=action,
                                     payload=json.dumps(payload, ensure_ascii=False),
                                     created_at=now, expires_at=expires_at)
        self._s.add(row)
        self._s.flush()
        assert row.id is not None
        return row.id

    def pending(self, network: Network, address: str) -> PendingConfirmation | None:
        row = self._s.exec(
            select(PendingConfirmationRow).where(
                PendingConfirmationRow.network == network.value,
                PendingConfirmationRow.address == address,
            ).order_by(col(PendingConfirmationRow.id).desc())
        ).first()
        if row is None:
            return None
        assert row.id is not None
        return PendingConfirmation(row.id, row.action, json.loads(row.payload),
                                   _aware(row.expires_at))

    def drop(self, network: Network, address: str) -> None:
        self._s.exec(delete(PendingConfirmationRow).where(
            col(PendingConfirmationRow.network) == network.value,
            col(PendingConfirmationRow.address) == address,
        ))
        self._s.flush()


class SqlMeetings:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, title: str, starts_at: datetime, zone: str, link: str | None,
            created_by: str, now: datetime) -> Meeting:
        row = MeetingRow(title=title, starts_at=starts_at, zone=zone, link=link,
                         created_at=now, created_by=created_by)
        self._s.add(row)
        self._s.flush()
        return _meeting(row)

    def get(self, meeting_id: int) -> Meeting | None:
        row = self._s.get(MeetingRow, meeting_id)
        return None if row is None else _meeting(row)

    def upcoming(self, now: datetime, limit: int | None = 100) -> list[Meeting]:
        stmt = select(MeetingRow).where(col(MeetingRow.starts_at) > now,
                                        col(MeetingRow.cancelled).is_(False))
        stmt = stmt.order_by(col(MeetingRow.starts_at))
        rows = self._s.exec(stmt.limit(limit) if limit is not None else stmt).all()
        return [_meeting(r) for r in rows]

    def cancel(self, meeting_id: int) -> bool:
        row = self._s.get(MeetingRow, meeting_id)
        if row is None or row.cancelled:
            return False
        row.cancelled = True
        self._s.add(row)
        self._s.flush()
        return True

    def mark_reminders(self, meeting_id: int, names: tuple[str, ...]) -> None:
        row = self._s.get(MeetingRow, meeting_id)
        if row is None or not names:
            return
        done = {n for n in row.reminders_done.split(",") if n} | set(names)
        row.reminders_done = ",".join(sorted(done))
        self._s.add(row)
        self._s.flush()

    def rsvp(self, meeting_id: int, network: Network, address: str, member: str | None,
             answer: str, now: datetime) -> None:
        row = self._s.exec(select(RsvpRow).where(
            RsvpRow.meeting_id == meeting_id, RsvpRow.network == network.value,
            RsvpRow.address == address)).first()
        member_id = _member_id(self._s, member) if member else None
        if row is None:
            row = RsvpRow(meeting_id=meeting_id, network=network.value, address=address,
                          member_id=member_id, answer=answer, answered_at=now)
        else:
            row.answer, row.answered_at, row.member_id = answer, now, member_id
        self._s.add(row)
        self._s.flush()

    def rsvp_counts(self, meeting_id: int) -> dict[str, int]:
        rows = self._s.exec(
            select(RsvpRow.answer, func.count()).where(RsvpRow.meeting_id == meeting_id)
            .group_by(RsvpRow.answer)
        ).all()
        return {answer: count for answer, count in rows}

    def rsvp_addresses(
        self, meeting_id: int, answers: tuple[str, ...]
    ) -> list[ChatAddress]:
        rows = self._s.exec(
            select(RsvpRow.network, RsvpRow.address).where(
                RsvpRow.meeting_id == meeting_id, col(RsvpRow.answer).in_(list(answers)))
            .order_by(col(RsvpRow.id))
        ).all()
        return [ChatAddress(Network(n), a) for n, a in rows]


def _meeting(row: MeetingRow) -> Meeting:
    assert row.id is not None
    return Meeting(
        id=row.id, title=row.title, starts_at=_aware(row.starts_at), zone=row.zone,
        link=row.link, created_at=_aware(row.created_at), created_by=row.created_by,
        cancelled=row.cancelled,
        reminders_done=frozenset(n for n in row.reminders_done.split(",") if n),
    )


class SqlAffected:
    """Advisories' short numbers and members' answers to them."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def ref_for(self, advisory_id: str) -> int:
        """The advisory's short number, given on first use."""
        ref = self._s.exec(
            select(AdvisoryRefRow.ref).where(AdvisoryRefRow.advisory_id == advisory_id)
        ).first()
        if ref is not None:
            return ref
        row = AdvisoryRefRow(advisory_id=advisory_id)
        self._s.add(row)
        self._s.flush()
        assert row.ref is not None
        return row.ref

    def advisory_for(self, ref: int) -> str | None:
        row = self._s.get(AdvisoryRefRow, ref)
        return None if row is None else row.advisory_id

    def answer(self, advisory_id: str, member: str, status: str, by: str,
               now: datetime) -> None:
        member_id = _member_id(self._s, member)
        row = self._s.exec(select(AffectedAnswerRow).where(
            AffectedAnswerRow.advisory_id == advisory_id,
            AffectedAnswerRow.member_id == member_id)).first()
        if row is None:
            row = AffectedAnswerRow(advisory_id=advisory_id, member_id=member_id, status=status,
                                    answered_by=by, answered_at=now)
        else:
            row.status, row.answered_by, row.answered_at = status, by, now
        self._s.add(row)
        self._s.flush()

    def answers(self, advisory_id: str) -> dict[str, str]:
        rows = self._s.exec(
            select(MemberRow.name, AffectedAnswerRow.status)
            .join(MemberRow, col(MemberRow.id) == col(AffectedAnswerRow.member_id))
            .where(AffectedAnswerRow.advisory_id == advisory_id)
        ).all()
        return {name: status for name, status in rows}

    def refs_since(self, since: datetime) -> list[AdvisoryRef]:
        """The refs of advisories first alerted on since then, oldest first."""
        from bot.store.tables import AdvisoryRow

        rows = self._s.exec(
            select(AdvisoryRefRow.ref, AdvisoryRefRow.advisory_id)
            .join(AdvisoryRow, col(AdvisoryRow.id) == col(AdvisoryRefRow.advisory_id))
            .where(col(AdvisoryRow.first_seen_at) >= since)
            .order_by(col(AdvisoryRefRow.ref))
        ).all()
        return [AdvisoryRef(ref, advisory_id) for ref, advisory_id in rows if ref is not None]


class SqlHeldAlerts:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._member_ids: dict[str, int] = {}

    def _member(self, name: str) -> int:
        if name not in self._member_ids:
            self._member_ids[name] = _member_id(self._s, name)
        return self._member_ids[name]

    def hold(self, member: str, network: Network, address: str, advisory_id: str,
             payload: AlertMessage, now: datetime) -> bool:
        exists = self._s.exec(select(HeldAlertRow.id).where(
            HeldAlertRow.advisory_id == advisory_id, HeldAlertRow.network == network.value,
            HeldAlertRow.address == address)).first()
        if exists is not None:
            return False
        self._s.add(HeldAlertRow(member_id=self._member(member), network=network.value,
                                 address=address, advisory_id=advisory_id,
                                 payload=payload_to_json(payload), held_at=now))
        self._s.flush()
        return True

    def waiting(self, member: str, before: datetime | None = None) -> list[HeldAlert]:
        """The member's alerts not yet released, held before `before` (all if None)."""
        stmt = select(HeldAlertRow).where(
            HeldAlertRow.member_id == _member_id(self._s, member),
            col(HeldAlertRow.released_at).is_(None))
        if before is not None:
            stmt = stmt.where(col(HeldAlertRow.held_at) < before)
        rows = self._s.exec(stmt.order_by(col(HeldAlertRow.id))).all()
        return [HeldAlert(r.id or 0, member, Network(r.network), r.address, r.advisory_id,
                          alert_message_from_json(r.payload), _aware(r.held_at)) for r in rows]

    def release(self, ids: list[int], now: datetime) -> None:
        for start in range(0, len(ids), 500):
            self._s.exec(update(HeldAlertRow)
                         .where(col(HeldAlertRow.id).in_(ids[start:start + 500]))
                         .values(released_at=now))
        self._s.flush()

    def members_waiting(self) -> list[str]:
        rows = self._s.exec(
            select(MemberRow.name).distinct()
            .join(HeldAlertRow, col(HeldAlertRow.member_id) == col(MemberRow.id))
            .where(col(HeldAlertRow.released_at).is_(None))
        ).all()
        return list(rows)
