"""Ingest advisories: store the new ones, match them, and queue their alerts, atomically."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.domain.advisory import Advisory, same_advisory
from bot.domain.alerts import (
    Alert,
    Delivery,
    alerts_for,
    channel_deliveries,
    deliveries_for,
)
from bot.domain.digest import held_for_digest
from bot.domain.feed_state import AlertWindow
from bot.domain.language import N_, Phrase, _, speaking
from bot.domain.matching import AdvisoryMatcher, Match
from bot.domain.members import Contact, Member, Network
from bot.domain.outbox_payload import AlertMessage, Button, Buttons, button_rows
from bot.domain.queued_messages import NewMessage
from bot.domain.tlp import Tlp
from bot.domain.tlp_gate import MEMBER_OWN_MATCHES
from bot.services import outgoing
from bot.services.hub_messages import coordinators_and_admins, recipient_languages
from bot.services.outgoing import Address
from bot.services.ports import ProductsRevision, UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    new: list[str] = field(default_factory=list)
    # Another copy (another feed) or revision (another link) of an advisory already stored,
    # known by its tracking id or CVE set.
    merged: list[str] = field(default_factory=list)
    known: int = 0
    alerts: int = 0
    messages: int = 0
    held: int = 0  # waiting for their members' daily digest
    archived: int = 0  # recorded without alerting: the feed's backlog (see AlertWindow)
    withheld: int = 0  # messages the TLP gate kept from readers not cleared for them


class MatcherCache:
    """Rebuilds the matcher only when the registered products changed."""

    def __init__(self) -> None:
        self._revision: ProductsRevision | None = None
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
    admins: Collection[Address] = frozenset(),
) -> IngestReport:
    """Record each advisory once and queue one message per (matched member contact, advisory).

    Runs inside the caller's unit of work; the caller commits, so the advisory, its matches and
    its outbox rows are written together or not at all. An advisory's TLP is the highest of
    every source's: a merged entry raises it, and its alerts carry it. Entries older than the
    `window` (a feed's backlog on its first poll) are recorded and matched but alert only when
    a CVE of theirs is known exploited.
    """
    report = IngestReport()
    members = {m.name: m for m in uow.members.all()}
    for advisory in advisories:
        known = uow.advisories.advisory_for_entry(advisory.id)
        if known is not None:
            if advisory.tlp > Tlp.CLEAR:  # an entry labelled higher since: raised, not lowered
                uow.advisories.raise_tlp(known, advisory.tlp)
            report.known += 1
            continue
        same = _same_advisory(uow, advisory)
        matched_before: set[int] = set()
        members_before: set[str] = set()
        # A copy above every member's clearance (TLP:RED) is never theirs: the gate keeps it
        # from each member it names, so the coordinators hear of it, also of one named before.
        staff_only = advisory.tlp > MEMBER_OWN_MATCHES
        if same is not None:
            # The same advisory again: another feed's copy, or a revision its own feed lists
            # under another link. One advisory: only what newly concerns a member alerts.
            if not staff_only:
                matched_before = uow.matches.product_ids(same)
                members_before = set(uow.matches.members_for(same))
            uow.advisories.add_source(same, advisory.id, advisory.source, now)
            advisory = replace(advisory, tlp=uow.advisories.raise_tlp(same, advisory.tlp))
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
            matches = [m for m in matches
                       if m.product.id not in decided and m.product.id not in matched_before]
        exploited = bool(uow.exploitation.exploited(advisory.cves))
        if window is not None and window.is_old(advisory.published) and not exploited:
            report.archived += 1
            continue
        alerts = alerts_for(advisory, matches, members, exploited,
                            uow.exploitation.epss_max(advisory.cves))
        contacts = uow.members.contacts([a.member for a in alerts if a.member]) if alerts else []
        first = [a for a in alerts if a.member not in members_before]
        deliveries = deliveries_for(first, contacts, console=console, now=now)
        if alerts:
            # The hub's channels carry what concerns at least one member, never who it is.
            deliveries += channel_deliveries(advisory, uow.hub_channels.all())
        queue_alerts(uow, advisory, advisory_id, deliveries, members, now, report,
                     admins=admins)
        for alert in alerts:
            if alert.member in members_before:
                _queue_newly_named(uow, alert, advisory_id, matches, contacts, members, now,
                                   report, console=console, admins=admins)
    return report


def _same_advisory(uow: UnitOfWork, advisory: Advisory) -> str | None:
    """The stored advisory this entry is another copy or revision of: the same publisher's
    tracking id, else the same CVE set (unless both name different ids of one publisher)."""
    found = uow.advisories.with_tracking_id(advisory.tracking_id)
    if found is not None:
        return found
    found = uow.advisories.with_cve_key(advisory.cve_key)
    if found is None or advisory.tracking_id is None:
        return found
    stored = uow.advisories.get(found)
    return found if stored is None or same_advisory(stored.tracking_id,
                                                    advisory.tracking_id) else None


def _queue_newly_named(
    uow: UnitOfWork, alert: Alert, advisory_id: str, matches: list[Match],
    contacts: list[Contact], members: dict[str, Member], now: datetime, report: IngestReport,
    *, console: bool, admins: Collection[Address],
) -> None:
    """A member already alerted of the advisory whose products a later copy or revision names
    for the first time: told once more, with what it now names."""
    named = ", ".join(f"{p.vendor} | {p.product}" for p in alert.products)
    change = Phrase(N_("it now also names {products}"), products=named)
    ids = sorted(m.product.id for m in matches if m.product.member == alert.member)
    deliveries = deliveries_for([replace(alert, change=change)], contacts, console=console,
                                now=now)
    queue_alerts(uow, alert.advisory, advisory_id, deliveries, members, now, report,
                 dedup_suffix="names:" + ",".join(map(str, ids)), admins=admins)


def queue_alerts(
    uow: UnitOfWork, advisory: Advisory, advisory_id: str, deliveries: list[Delivery],
    members: dict[str, Member], now: datetime, report: IngestReport,
    dedup_suffix: str | None = None, admins: Collection[Address] = frozenset(),
) -> None:
    """Queue (or hold for a digest) each delivery through the TLP gate, with the advisory's
    short id, exploitation and EPSS; `dedup_suffix` makes a revision's re-alert a new message.
    `advisory.tlp` must be the advisory's stored (highest) TLP. Members the gate kept it from
    are not lost: the coordinators are told how many (`tell_coordinators`)."""
    if not deliveries:
        return
    deliveries = _with_exploitation(uow, advisory, deliveries)
    ref = uow.affected.ref_for(advisory_id)
    waiting: list[NewMessage] = []
    sending: list[NewMessage] = []
    for delivery in deliveries:
        message = _message(delivery, advisory_id, ref, dedup_suffix)
        (waiting if _digested(delivery, members) else sending).append(message)
    held = outgoing.hold(uow, waiting, now, admins=admins)
    sent = outgoing.queue(uow, sending, now, admins=admins)
    report.held += len(held.added)
    report.messages += len(sent.added)
    report.withheld += len(held.withheld) + len(sent.withheld)
    report.alerts += len({m.member for m in [*waiting, *sending]
                          if m.member and m.dedup_key in held.added | sent.added})
    kept_from = {m.member for m in [*held.withheld, *sent.withheld] if m.member}
    if kept_from:
        exploited = any(d.alert.exploited for d in deliveries)
        epss = next((d.alert.epss for d in deliveries if d.alert.epss is not None), None)
        report.messages += tell_coordinators(
            uow, Alert(advisory, None, (), exploited, epss, withheld=len(kept_from)),
            advisory_id, ref, now, admins, dedup_suffix)


def tell_coordinators(uow: UnitOfWork, alert: Alert, advisory_id: str, ref: int,
                      now: datetime, admins: Collection[Address],
                      dedup_suffix: str | None = None) -> int:
    """The alert, with how many members it was kept from, to the coordinators and admins: an
    advisory above members' clearance (TLP:RED) is never silently lost. Returns how many
    messages were queued."""
    staff = coordinators_and_admins(uow, admins)
    if not staff:
        log.warning("a %s advisory matched %d members and no coordinator or admin is there to "
                    "be told", alert.advisory.tlp.label, alert.withheld)
        return 0
    languages = recipient_languages(uow, staff)
    messages = [_message(Delivery(alert, network, address, language=languages[(network,
                                                                                address)]),
                         advisory_id, ref, dedup_suffix, audience="coordinators")
                for network, address in staff]
    return len(outgoing.queue(uow, messages, now, admins=admins).added)


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
             dedup_suffix: str | None = None, audience: str | None = None) -> NewMessage:
    alert = delivery.alert
    digest = hashlib.sha256(advisory_id.encode()).hexdigest()[:40]
    if dedup_suffix:
        digest += f"|{dedup_suffix[:100]}"
    if audience:  # a coordinator also alerted as a member gets both
        digest += f"|{audience}"
    buttons: Buttons = ()
    if alert.member is not None and ref is not None:
        # Members answer whether they are affected; a hub channel only shows the number.
        with speaking(delivery.language):
            buttons = button_rows(affected_buttons(ref))
    payload = AlertMessage(alert, ref, delivery.silent, delivery.zone, delivery.language,
                           buttons)
    return NewMessage(
        network=delivery.network,
        address=delivery.address,
        kind="alert",
        dedup_key=f"alert|{digest}|{delivery.network.value}|{delivery.address}",
        payload=payload,
        priority=alert.priority,
        advisory_id=advisory_id,
        member=alert.member,
        tlp=alert.advisory.tlp,
    )


MatcherProvider = Callable[[UnitOfWork], AdvisoryMatcher]
