"""The command service on a real store at a clock the test sets, with what it queued readable
back: shared by the coordination tests and their German counterparts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.domain.advisory import Advisory
from bot.domain.matching import AdvisoryMatcher
from bot.services.chat_commands import ChatCommands, Sender
from bot.services.hub_messages import HubPolicy
from bot.services.ingest import ingest_advisories
from bot.store.tables import OutboxRow
from bot.store.unit_of_work import SqlStore


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class CommandHub:
    """The command service on `store` with `policy`, its clock starting at `now`; counts how
    often it said the meetings changed."""

    def __init__(self, store: SqlStore, now: datetime, policy: HubPolicy) -> None:
        self.store = store
        self.clock = Clock(now)
        self.meetings_changed = 0
        self.service = ChatCommands(store, self.clock, policy=policy,
                                    on_meetings_changed=self._changed)
        self._updates = iter(range(1, 100_000))

    def _changed(self) -> None:
        self.meetings_changed += 1

    def say(self, sender: Sender, text: str) -> str:
        answer = self.service.handle(sender, text, f"u{next(self._updates)}")
        assert answer is not None
        return answer

    def rows(self, kind: str | None = None) -> list[OutboxRow]:
        """The outbox (of this kind), oldest first."""
        with Session(self.store.engine) as s:
            stmt = select(OutboxRow).order_by(col(OutboxRow.id))
            if kind is not None:
                stmt = stmt.where(OutboxRow.kind == kind)
            return list(s.exec(stmt).all())

    def payloads(self, kind: str, address: str) -> list[dict[str, Any]]:
        """The payloads of this kind queued for `address`, oldest first."""
        return [dict(json.loads(r.payload)) for r in self.rows(kind) if r.address == address]

    def last_reply(self, sender: Sender) -> dict[str, Any]:
        return self.payloads("reply", sender.chat)[-1]

    def ingest(self, *advisories: Advisory) -> None:
        with self.store() as uow:
            matcher = AdvisoryMatcher(uow.products.all())
            ingest_advisories(uow, advisories, matcher, self.clock(), False)
            uow.commit()
