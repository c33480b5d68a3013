"""Ingest CSAF documents: decide each matched member product by version, alert who is affected,
and re-alert on a revision only what changed for a member."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.alerts import (
    Alert,
    MatchedProduct,
    alerts_for,
    channel_deliveries,
    deliveries_for,
)
from bot.domain.csaf import CsafDocument, products_named
from bot.domain.feed_state import AlertWindow
from bot.domain.language import N_, Phrase
from bot.domain.matching import AdvisoryMatcher, Match
from bot.domain.tlp import Tlp
from bot.domain.versions import Decision, VersionDecision, decide
from bot.services.ingest import IngestReport, queue_alerts
from bot.services.outgoing import Address
from bot.services.ports import StoredDecision, UnitOfWork

log = logging.getLogger(__name__)

# A member is alerted unless the document says their version is fixed or not affected.
ALERTING = frozenset({Decision.AFFECTED, Decision.UNDER_INVESTIGATION, Decision.UNKNOWN_VERSION})
_NOTE_CHARS = 600


@dataclass(frozen=True)
class CsafItem:
    url: str
    document: CsafDocument
    raw_sha256: str  # of the document's bytes: a changed document with the same version


# What a version decision means for the member, before its reason.
_DECISION_NOTES = {
    Decision.AFFECTED: N_("Your version is affected: {reason}"),
    Decision.FIXED: N_("Fixed: {reason}"),
    Decision.NOT_AFFECTED: N_("Not affected: {reason}"),
    Decision.UNDER_INVESTIGATION: N_("Under investigation: {reason}"),
    # TRANSLATORS: the version could not be decided; the versions the advisory lists follow.
    Decision.UNKNOWN_VERSION: N_("Versions listed: {reason}"),
}
# What changed for a member whose version a revision now alerts, by the new decision.
_CHANGED_TO = {
    Decision.AFFECTED: N_("your version is now affected ({reason})"),
    Decision.UNDER_INVESTIGATION: N_("your version is now under investigation ({reason})"),
    # TRANSLATORS: the revision's versions could not be compared with the member's version.
    Decision.UNKNOWN_VERSION: N_("your version is now unknown version ({reason})"),
}


def _layout(count: int) -> str:
    """Not a message (the same in every language): the parts of a note, one after another."""
    return "; ".join(f"{{part{i}}}" for i in range(count))


def note_for(decision: VersionDecision) -> Phrase:
    """One line for the alert and /latest: the decision, its reason, and the fix; a phrase,
    so each reader sees it in their language."""
    parts = [Phrase(_DECISION_NOTES[decision.decision], reason=decision.reason)]
    if decision.decision is Decision.UNKNOWN_VERSION and decision.affected_versions:
        parts.append(Phrase(N_("affected: {versions}"),
                            versions=", ".join(decision.affected_versions[:10])))
    if decision.fixed_versions:
        parts.append(Phrase(N_("fixed in {versions}"),
                            versions=", ".join(decision.fixed_versions[:5])))
    if decision.fix_urls:
        # TRANSLATORS: {url} is the vendor's page with the fix (an update or patch).
        parts.append(Phrase(N_("fix: {url}"), url=decision.fix_urls[0]))
    note = parts[0] if len(parts) == 1 else Phrase(
        _layout(len(parts)), **{f"part{i}": part for i, part in enumerate(parts)})
    if len(note) <= _NOTE_CHARS:
        return note
    # Cut as before, in any language: a format width, not a slice (which would lose the phrase).
    return Phrase(f"{{note:.{_NOTE_CHARS}}}", note=note)


def _detail(decision: VersionDecision) -> dict[str, object]:
    return {"reason": decision.reason, "note": note_for(decision),
            "affected_versions": list(decision.affected_versions),
            "fixed_versions": list(decision.fixed_versions),
            "fix_urls": list(decision.fix_urls)}


def change_between(old: StoredDecision | None, new: VersionDecision) -> Phrase | None:
    """What changed for a member between two revisions, if it concerns them; else None. A
    phrase, shown after "Updated:" in each reader's language."""
    if new.decision not in ALERTING:
        return None
    if old is None:
        return Phrase(N_("the advisory now names your product"))
    if old.decision not in {d.value for d in ALERTING}:
        return Phrase(_CHANGED_TO[new.decision], reason=new.reason)
    if (new.fix_urls or new.fixed_versions) and not (
            old.detail.get("fix_urls") or old.detail.get("fixed_versions")):
        if not new.fixed_versions:
            return Phrase(N_("a fix is now available (see the link)"))
        return Phrase(N_("a fix is now available ({versions})"),
                      versions=", ".join(new.fixed_versions[:3]))
    return None


def ingest_csaf(
    uow: UnitOfWork, items: Iterable[CsafItem], matcher: AdvisoryMatcher, now: datetime,
    console: bool, source: str, window: AlertWindow | None = None,
    tlp: Tlp = Tlp.CLEAR, admins: Collection[Address] = frozenset(),
) -> IngestReport:
    """Record each document's advisory and decisions and queue the alerts, in the caller's
    transaction (the caller commits). Documents last released before the `window` are
    recorded (decisions, /latest) without alerting, unless a CVE of theirs is known
    exploited: the archive of a provider the hub has only just begun to follow. `tlp` is the
    provider's configured TLP: the floor of every document's (an unlabelled document is read
    at it, never as TLP:CLEAR)."""
    report = IngestReport()
    members = {m.name: m for m in uow.members.all()}
    for item in items:
        doc = item.document
        advisory = doc.to_advisory(source, tlp)
        previous = uow.csaf.get(doc.tracking_id)
        if previous is not None and (previous.version, previous.raw_sha256) == (
                doc.version, item.raw_sha256):
            report.known += 1
            continue
        advisory_id = (uow.advisories.advisory_for_entry(advisory.id)
                       or uow.advisories.with_tracking_id(doc.tracking_id)
                       or uow.advisories.with_cve_key(advisory.cve_key))
        if advisory_id is None:
            uow.advisories.add(advisory, now)
            advisory_id = advisory.id
            report.new.append(advisory_id)
        else:
            uow.advisories.add_source(advisory_id, advisory.id, source, now)
            report.merged.append(advisory_id)
        # The highest of every source's (a revision labelled lower never lowers it).
        advisory = replace(advisory, tlp=uow.advisories.raise_tlp(advisory_id, advisory.tlp))
        revision = previous is not None
        old_decisions = uow.matches.decisions(advisory_id)
        alerting: list[Match] = []
        notes: dict[int, tuple[str, str, str | None]] = {}
        for m in matcher.match(advisory.title, advisory.summary):
            decision = decide(m.product.spec.versions, doc, products_named(doc, m.product.spec))
            uow.matches.add(advisory_id, m.product, m.why, now)
            uow.matches.set_decision(advisory_id, m.product.id, decision.decision.value,
                                     _detail(decision))
            change = change_between(old_decisions.get(m.product.id), decision)
            if decision.decision in ALERTING and (not revision or change):
                alerting.append(m)
                notes[m.product.id] = (decision.decision.value, note_for(decision),
                                       change if revision else None)
        uow.csaf.save(advisory_id, doc.tracking_id, doc.version, item.url, item.raw_sha256, now)
        exploited = bool(uow.exploitation.exploited(advisory.cves))
        released = doc.current_release or doc.initial_release
        if window is not None and window.is_old(released) and not exploited:
            report.archived += 1
            continue
        if not alerting:
            continue
        alerts = [_with_notes(a, alerting, notes)
                  for a in alerts_for(advisory, alerting, members, exploited,
                                      uow.exploitation.epss_max(advisory.cves))]
        contacts = uow.members.contacts([a.member for a in alerts if a.member])
        deliveries = deliveries_for(alerts, contacts, console=console, now=now)
        if not revision:
            deliveries += channel_deliveries(advisory, uow.hub_channels.all())
        version_key = f"v{doc.version}" if revision else None
        queue_alerts(uow, advisory, advisory_id, deliveries, members, now, report,
                     dedup_suffix=version_key, admins=admins)
    return report


def _with_notes(alert: Alert, matches: list[Match],
                notes: dict[int, tuple[str, str, str | None]]) -> Alert:
    by_name = {(m.product.spec.vendor, m.product.spec.product): m.product.id for m in matches
               if m.product.member == alert.member}
    products = []
    change = None
    for p in alert.products:
        product_id = by_name.get((p.vendor, p.product))
        if product_id in notes:
            decision, note, changed = notes[product_id]
            products.append(MatchedProduct(p.vendor, p.product, p.why, decision, note))
            change = change or changed
        else:
            products.append(p)
    return replace(alert, products=tuple(products), change=change)


def raw_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
