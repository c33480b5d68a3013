"""Alerts: what a member is told about an advisory, and who is told."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.advisory import Advisory
from bot.domain.language import choose
from bot.domain.matching import Match
from bot.domain.members import Contact, Member, Network, reader_language
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp
from bot.domain.tlp_gate import hub_channel_clearance

_EPSS_RULE = re.compile(r"^epss>=?(0?\.\d{1,4}|1(?:\.0{1,4})?|0)$")


@dataclass(frozen=True)
class MatchedProduct:
    vendor: str
    product: str
    why: str
    # From a CSAF document: affected | fixed | not_affected | under_investigation |
    # unknown_version, and a line saying which versions and fixes; None for a name-only match.
    decision: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Alert:
    """One advisory as one member sees it: the advisory and which of their products it names.

    A hub channel's alert has no member and no products: a channel never learns who matched.
    """

    advisory: Advisory
    member: str | None
    products: tuple[MatchedProduct, ...]
    exploited: bool = False  # in CISA's Known Exploited Vulnerabilities catalog
    epss: float | None = None  # FIRST EPSS: probability of exploitation in 30 days (max of CVEs)
    change: str | None = None  # a revision's re-alert: what changed for this member
    # For the hub's coordinators only: how many matched members were not sent the advisory
    # because it is above their TLP clearance (never who, never their products).
    withheld: int = 0

    @property
    def priority(self) -> int:
        """Higher goes first: critical (or known exploited) before high before the rest."""
        if self.exploited:
            return int(Severity.CRITICAL)
        return int(self.advisory.severity or 0)


@dataclass(frozen=True)
class Delivery:
    """One message to send: an alert to one contact or hub channel."""

    alert: Alert
    network: Network
    address: str
    silent: bool = False
    zone: str | None = None  # the reader's time zone; None: UTC
    language: str | None = None  # the reader's language; None: the hub's default


@dataclass(frozen=True)
class HubChannel:
    """A hub room or channel: it gets advisories that concern members, up to its TLP."""

    network: Network
    address: str
    min_severity: Severity | None = None
    max_tlp: Tlp = Tlp.CLEAR
    language: str | None = None  # None: the hub's default language


def parse_alert_rule(text: str) -> str | None:
    """`kev` or `epss>=X` (0 < X <= 1), normalised; None when the text is neither."""
    text = text.strip().lower().replace(" ", "")
    if text == "kev":
        return "kev"
    match = _EPSS_RULE.match(text)
    if match is None:
        return None
    threshold = float(match.group(1))
    return f"epss>={threshold:g}" if 0 < threshold <= 1 else None


def rule_allows(rule: str | None, exploited: bool, epss: float | None) -> bool:
    """`kev`: only known exploited. `epss>=X`: known exploited, or an EPSS of X or more, or no
    EPSS score yet (not knowing is no reason to stay silent)."""
    if rule is None or exploited:
        return True
    if rule == "kev":
        return False
    threshold = float(rule.removeprefix("epss>="))
    return epss is None or epss >= threshold


def alerts_for(advisory: Advisory, matches: Iterable[Match], members: dict[str, Member],
               exploited: bool = False, epss: float | None = None) -> list[Alert]:
    """One alert per member whose products matched and whose threshold or rule is met.

    An advisory without a known severity reaches every matched member: not knowing is no reason
    to stay silent.
    """
    by_member: dict[str, list[MatchedProduct]] = defaultdict(list)
    for m in matches:
        spec = m.product.spec
        by_member[m.product.member].append(MatchedProduct(spec.vendor, spec.product, m.why))
    alerts = []
    for name, products in sorted(by_member.items()):
        member = members.get(name)
        if member is None or not _severe_enough(advisory.severity, member.min_severity):
            continue
        if not rule_allows(member.alert_rule, exploited, epss):
            continue
        alerts.append(Alert(advisory, name, tuple(products)))
    return alerts


def deliveries_for(
    alerts: Iterable[Alert], contacts: Iterable[Contact], console: bool, now: datetime
) -> list[Delivery]:
    """One delivery per (alert, active contact of its member); plus the console if it is on.

    A muted contact still gets the alert, silently: a mute must never lose an alert.
    """
    by_member: dict[str, list[Contact]] = defaultdict(list)
    for c in contacts:
        if c.active:
            by_member[c.member].append(c)
    deliveries = []
    for alert in alerts:
        if alert.member is None:
            continue
        for contact in by_member.get(alert.member, []):
            deliveries.append(
                Delivery(alert, contact.network, contact.address, silent=contact.muted(now),
                         zone=contact.timezone, language=reader_language(contact))
            )
        if console:
            deliveries.append(Delivery(alert, Network.CONSOLE, alert.member))
    return deliveries


def channel_deliveries(advisory: Advisory, channels: Iterable[HubChannel]) -> list[Delivery]:
    """The hub channels that may carry this advisory: severe enough, and within their TLP."""
    alert = Alert(advisory, None, ())
    return [
        Delivery(alert, ch.network, ch.address, language=choose(ch.language))
        for ch in channels
        if hub_channel_clearance(ch.max_tlp).allows(advisory.tlp)
        and _severe_enough(advisory.severity, ch.min_severity)
    ]


def _severe_enough(severity: Severity | None, threshold: Severity | None) -> bool:
    return severity is None or threshold is None or severity >= threshold
