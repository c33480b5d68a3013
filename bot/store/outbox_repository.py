"""The outbox repository: queueing, claiming in order, and recording each attempt."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.domain.members import Network
from bot.domain.outbox_payload import PayloadError, payload_from_json, payload_to_json
from bot.domain.queued_messages import NewMessage, OutboxItem, OutboxState
from bot.services.ports.store import OutboxQueue
from bot.store.tables import MemberRow, OutboxRow

log = logging.getLogger(__name__)

# How far back "this address was just served" is remembered when sharing turns.
_FAIRNESS_MEMORY = timedelta(hours=1)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class SqlOutbox:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._member_ids: dict[str, int | None] = {}  # per unit of work: a fan-out asks often

    def add(self, message: NewMessage, now: datetime) -> bool:
        """Queue a message; False when the same dedup key is already queued or sent."""
        exists = self._s.exec(
            select(OutboxRow.id).where(OutboxRow.dedup_key == message.dedup_key)
        ).first()
        if exists is not None:
            return False
        try:
            with self._s.begin_nested():
                self._s.add(self._row(message, now))
        except IntegrityError:
            return False
        return True

    def add_many(self, messages: Sequence[NewMessage], now: datetime) -> set[str]:
        """Queue many messages at once (a fan-out); returns the dedup keys newly queued.

        One query finds the keys already queued, one flush inserts the rest; only if another
        writer queued one of them meanwhile does it fall back to one message at a time.
        """
        fresh: dict[str, NewMessage] = {}
        for message in messages:
            fresh.setdefault(message.dedup_key, message)
        keys = list(fresh)
        for start in range(0, len(keys), 500):
            for key in self._s.exec(select(OutboxRow.dedup_key).where(
                    col(OutboxRow.dedup_key).in_(keys[start:start + 500]))):
                fresh.pop(key, None)
        if not fresh:
            return set()
        try:
            with self._s.begin_nested():
                self._s.add_all([self._row(m, now) for m in fresh.values()])
        except IntegrityError:
            return {key for key, m in fresh.items() if self.add(m, now)}
        return set(fresh)

    def _row(self, message: NewMessage, now: datetime) -> OutboxRow:
        member_id = None
        if message.member is not None:
            if message.member not in self._member_ids:
                self._member_ids[message.member] = self._s.exec(
                    select(MemberRow.id).where(MemberRow.name == message.member)
                ).first()
            member_id = self._member_ids[message.member]
        return OutboxRow(
            created_at=now,
            network=message.network.value,
            address=message.address,
            kind=message.kind,
            dedup_key=message.dedup_key,
            advisory_id=message.advisory_id,
            member_id=member_id,
            payload=payload_to_json(message.payload),
            priority=message.priority,
            next_attempt_at=now,
        )

    def claim_due(self, network: Network, now: datetime, limit: int) -> list[OutboxItem]:
        """Mark up to `limit` due messages as sending and return them, most urgent first.

        Each address has one queue: its most urgent, then oldest, unsent message goes next, so
        a critical alert overtakes routine ones but equal messages keep their order. Between
        addresses, equal urgency is served round-robin: an address that was just served waits
        behind those that have been waiting longer, so a flood to some chats never holds up
        the answer to a quiet one.
        """
        items: list[OutboxItem] = []
        while len(items) < limit:
            ids = self._fair_heads(network, now, limit - len(items))
            if not ids:
                break
            readable = self._claim(ids)
            items += readable
            if len(readable) == len(ids):
                break  # else the next heads of the addresses whose message could not be read
        return items

    def _claim(self, ids: list[int]) -> list[OutboxItem]:
        """Mark these messages as sending; one whose payload cannot be read fails at once
        (it would on every try) and is left out."""
        rows = {r.id: r for r in self._s.exec(select(OutboxRow).where(col(OutboxRow.id).in_(ids)))}
        items = []
        for row in (rows[i] for i in ids if i in rows):
            row.state = OutboxState.SENDING.value
            row.attempts += 1
            try:
                payload = payload_from_json(row.payload, row.kind)
            except PayloadError as exc:
                row.state = OutboxState.FAILED.value
                row.last_error = f"could not read the message: {exc}"
                log.error("outbox #%s to %s: %s", row.id, row.kind, row.last_error)
            else:
                items.append(OutboxItem(
                    id=row.id or 0,
                    network=Network(row.network),
                    address=row.address,
                    kind=row.kind,
                    payload=payload,
                    priority=row.priority,
                    attempts=row.attempts,
                    created_at=row.created_at,
                ))
            self._s.add(row)
        self._s.flush()
        return items

    def _fair_heads(self, network: Network, now: datetime, limit: int) -> list[int]:
        """Ids of the due queue heads to send now, in the order to send them."""
        position = func.row_number().over(
            partition_by=OutboxRow.address,
            order_by=(col(OutboxRow.priority).desc(), col(OutboxRow.id)),
        )
        unsent = (
            sa_select(  # sqlmodel's select is typed for up to four columns
                col(OutboxRow.id), col(OutboxRow.address), col(OutboxRow.priority),
                col(OutboxRow.state), col(OutboxRow.next_attempt_at), col(OutboxRow.created_at),
                position.label("position"),
            )
            .where(
                col(OutboxRow.network) == network.value,
                col(OutboxRow.state).in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
            )
            .subquery()
        )
        heads: Sequence[Any] = self._s.exec(
            select(unsent.c.id, unsent.c.address, unsent.c.priority, unsent.c.created_at).where(
                unsent.c.position == 1,
                unsent.c.state == OutboxState.PENDING.value,
                unsent.c.next_attempt_at <= now,
            )
        ).all()
        if not heads:
            return []
        served = dict(
            self._s.exec(
                select(OutboxRow.address, func.max(OutboxRow.sent_at))
                .where(
                    OutboxRow.network == network.value,
                    OutboxRow.state == OutboxState.SENT.value,
                    col(OutboxRow.sent_at) >= now - _FAIRNESS_MEMORY,
                    col(OutboxRow.address).in_(sorted({h.address for h in heads})),
                )
                .group_by(OutboxRow.address)
            ).all()
        )

        def turn(head: Any) -> tuple[int, datetime, int]:
            waiting_since = _aware(head.created_at)
            last = served.get(head.address)
            if last is not None:
                waiting_since = max(waiting_since, _aware(last))
            return (-head.priority, waiting_since, head.id)

        return [h.id for h in sorted(heads, key=turn)[:limit]]

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

    def pending_for(self, network: Network, address: str) -> int:
        """Messages not yet delivered to one address."""
        return int(self._s.exec(
            select(func.count()).select_from(OutboxRow).where(
                OutboxRow.network == network.value,
                OutboxRow.address == address,
                col(OutboxRow.state).in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
            )
        ).one())

    def fail_pending_for(self, network: Network, address: str, reason: str) -> int:
        """Give up every unsent message to an address that can no longer receive."""
        result = self._s.exec(
            update(OutboxRow)
            .where(
                col(OutboxRow.network) == network.value,
                col(OutboxRow.address) == address,
                col(OutboxRow.state).in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
            )
            .values(state=OutboxState.FAILED.value, last_error=reason[:1000])
        )
        return int(result.rowcount or 0)

    def backlog(self) -> dict[OutboxQueue, int]:
        """Number of messages per (network, state)."""
        stmt = select(OutboxRow.network, OutboxRow.state, func.count()).group_by(
            OutboxRow.network, OutboxRow.state
        )
        return {OutboxQueue(Network(n), OutboxState(s)): int(c)
                for n, s, c in self._s.exec(stmt).all()}
