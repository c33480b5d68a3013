"""Ingest advisories: store the new ones, match them, and queue their alerts, atomically."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.advisory import Advisory
from bot.domain.alerts import (
    Delivery,
    alert_payload,
    alerts_for,
    channel_deliveries,
    deliveries_for,
)
from bot.domain.matching import AdvisoryMatcher
from bot.domain.outbox import NewMessage
from bot.services.ports import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    new: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)  # known by CVE set from another entry
    known: int = 0
    alerts: int = 0
    messages: int = 0


class MatcherCache:
    """Rebuilds the matcher only when the registered products changed."""

    def __init__(self) -> None:
        self._revision: tuple[int, int] | None = None
        self._matcher = AdvisoryMatcher([])

    def get(self, uow: UnitOfWork) -> AdvisoryMatcher:
        revision = uow.products.revision()
        if revision != self._revision:
            self._matcher = AdvisoryMatcher(uow.products.all())
            self._revision = revision
        return self._matcher


def ingest_advisories(
    uow: UnitOfWork,
    advisories: Iterable[Advisory],
    matcher: AdvisoryMatcher,
    now: datetime,
    console: bool,
) -> IngestReport:
    """Record each advisory once and queue one message per (matched member contact, advisory).

    Runs inside the caller's unit of work; the caller commits, so the advisory, its matches and
    its outbox rows are written together or not at all.
    """
    report = IngestReport()
    members = {m.name: m for m in uow.members.all()}
    for advisory in advisories:
        if uow.advisories.advisory_for_entry(advisory.id) is not None:
            report.known += 1
            continue
        same = uow.advisories.with_cve_key(advisory.cve_key)
        if same is not None and advisory.source not in uow.advisories.sources(same):
            # Another feed republishing the same advisory: one advisory, one alert per member.
            # The entry is still matched, so a member it names who was not alerted yet is.
            uow.advisories.add_source(same, advisory.id, advisory.source, now)
            report.merged.append(same)
            advisory_id = same
        else:
            uow.advisories.add(advisory, now)
            report.new.append(advisory.id)
            advisory_id = advisory.id
        matches = matcher.match(advisory.title, advisory.summary)
        for m in matches:
            uow.matches.add(advisory_id, m.product, m.why, now)
        alerts = alerts_for(advisory, matches, members)
        contacts = uow.members.contacts([a.member for a in alerts if a.member]) if alerts else []
        deliveries = deliveries_for(alerts, contacts, console=console, now=now)
        if alerts:
            # The hub's channels carry what concerns at least one member, never who it is.
            deliveries += channel_deliveries(advisory, uow.hub_channels.all())
        queued_for: set[str] = set()
        for delivery in deliveries:
            if uow.outbox.add(_message(delivery, advisory_id), now):
                report.messages += 1
                if delivery.alert.member:
                    queued_for.add(delivery.alert.member)
        report.alerts += len(queued_for)
    return report


def _message(delivery: Delivery, advisory_id: str) -> NewMessage:
    alert = delivery.alert
    digest = hashlib.sha256(advisory_id.encode()).hexdigest()[:40]
    return NewMessage(
        network=delivery.network,
        address=delivery.address,
        kind="alert",
        dedup_key=f"alert|{digest}|{delivery.network.value}|{delivery.address}",
        payload={**alert_payload(alert), "silent": delivery.silent},
        priority=alert.priority,
        advisory_id=advisory_id,
        member=alert.member,
    )


MatcherProvider = Callable[[UnitOfWork], AdvisoryMatcher]
