"""Ingest advisories: store the new ones, match them, and queue their alerts, atomically."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.domain.advisory import Advisory
from bot.domain.alerts import (
    Delivery,
    alert_payload,
    alerts_for,
    channel_deliveries,
    deliveries_for,
)
from bot.domain.digest import held_for_digest
from bot.domain.feed_state import AlertWindow
from bot.domain.language import _, speaking
from bot.domain.matching import AdvisoryMatcher
from bot.domain.members import Member, Network
from bot.domain.outbox import NewMessage
from bot.domain.rendering import Button, buttons_payload
from bot.services.ports import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    new: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)  # known by CVE set from another entry
    known: int = 0
    alerts: int = 0
    messages: int = 0
    held: int = 0  # waiting for their members' daily digest
    archived: int = 0  # recorded without alerting: the feed's backlog (see AlertWindow)


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
    window: AlertWindow | None = None,
) -> IngestReport:
    """Record each advisory once and queue one message per (matched member contact, advisory).

    Runs inside the caller's unit of work; the caller commits, so the advisory, its matches and
    its outbox rows are written together or not at all. Entries older than the `window` (a
    feed's backlog on its first poll) are recorded and matched but alert only when a CVE of
    theirs is known exploited.
    """
    report = IngestReport()
    members = {m.name: m for m in uow.members.all()}
    for advisory in advisories:
        if uow.advisories.advisory_for_entry(advisory.id) is not None:
            report.known += 1
            continue
        same = (uow.advisories.with_tracking_id(advisory.tracking_id)
                or uow.advisories.with_cve_key(advisory.cve_key))
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
        if same is not None:
            # Products a CSAF document of this advisory already decided by version are not
            # decided again by name: no alarm where the document says not affected.
            decided = uow.matches.decisions(advisory_id)
            matches = [m for m in matches if m.product.id not in decided]
        exploited = bool(uow.exploitation.exploited(advisory.cves))
        if window is not None and window.is_old(advisory.published) and not exploited:
            report.archived += 1
            continue
        alerts = alerts_for(advisory, matches, members, exploited,
                            uow.exploitation.epss_max(advisory.cves))
        contacts = uow.members.contacts([a.member for a in alerts if a.member]) if alerts else []
        deliveries = deliveries_for(alerts, contacts, console=console, now=now)
        if alerts:
            # The hub's channels carry what concerns at least one member, never who it is.
            deliveries += channel_deliveries(advisory, uow.hub_channels.all())
        queue_alerts(uow, advisory, advisory_id, deliveries, members, now, report)
    return report


def queue_alerts(
    uow: UnitOfWork, advisory: Advisory, advisory_id: str, deliveries: list[Delivery],
    members: dict[str, Member], now: datetime, report: IngestReport,
    dedup_suffix: str | None = None,
) -> None:
    """Queue (or hold for a digest) each delivery, with the advisory's short id, exploitation
    and EPSS; `dedup_suffix` makes a revision's re-alert a new message."""
    if not deliveries:
        return
    deliveries = _with_exploitation(uow, advisory, deliveries)
    ref = uow.affected.ref_for(advisory_id)
    queued_for: set[str] = set()
    outgoing: list[tuple[NewMessage, str | None]] = []
    for delivery in deliveries:
        message = _message(delivery, advisory_id, ref, dedup_suffix)
        if _digested(delivery, members):
            assert delivery.alert.member is not None
            if uow.held_alerts.hold(delivery.alert.member, delivery.network,
                                    delivery.address, advisory_id, message.payload, now):
                report.held += 1
                queued_for.add(delivery.alert.member)
        else:
            outgoing.append((message, delivery.alert.member))
    added = uow.outbox.add_many([m for m, _ in outgoing], now)
    report.messages += len(added)
    queued_for |= {member for m, member in outgoing if member and m.dedup_key in added}
    report.alerts += len(queued_for)


def _with_exploitation(
    uow: UnitOfWork, advisory: Advisory, deliveries: list[Delivery]
) -> list[Delivery]:
    """Mark alerts of a known exploited CVE (critical priority) and add the EPSS score."""
    exploited = bool(uow.exploitation.exploited(advisory.cves))
    epss = uow.exploitation.epss_max(advisory.cves)
    if not exploited and epss is None:
        return deliveries
    return [replace(d, alert=replace(d.alert, exploited=exploited, epss=epss))
            for d in deliveries]


def _digested(delivery: Delivery, members: dict[str, Member]) -> bool:
    """An alert below critical to a member who chose the daily digest waits for it."""
    member = members.get(delivery.alert.member or "")
    return (member is not None and member.digest_hour is not None
            and not delivery.alert.exploited
            and delivery.network is not Network.CONSOLE
            and held_for_digest(delivery.alert.advisory.severity))


def affected_buttons(ref: int) -> list[list[Button]]:
    return [[Button(_("Affected"), f"/affected {ref} yes"),
             Button(_("Not affected"), f"/affected {ref} no"),
             Button(_("Patched"), f"/affected {ref} patched")]]


def _message(delivery: Delivery, advisory_id: str, ref: int | None,
             dedup_suffix: str | None = None) -> NewMessage:
    alert = delivery.alert
    digest = hashlib.sha256(advisory_id.encode()).hexdigest()[:40]
    if dedup_suffix:
        digest += f"|{dedup_suffix[:100]}"
    payload = {**alert_payload(alert), "silent": delivery.silent, "ref": ref,
               "zone": delivery.zone, "language": delivery.language}
    if alert.member is not None and ref is not None:
        # Members answer whether they are affected; a hub channel only shows the number.
        with speaking(delivery.language):
            payload["buttons"] = buttons_payload(affected_buttons(ref))
    return NewMessage(
        network=delivery.network,
        address=delivery.address,
        kind="alert",
        dedup_key=f"alert|{digest}|{delivery.network.value}|{delivery.address}",
        payload=payload,
        priority=alert.priority,
        advisory_id=advisory_id,
        member=alert.member,
    )


MatcherProvider = Callable[[UnitOfWork], AdvisoryMatcher]
