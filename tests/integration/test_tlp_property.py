"""TLP as a property: generated hubs (feeds and a CSAF provider with configured TLPs, hub
channels of various clearances, members, a coordinator, an admin) and generated histories
(entries with or without labels, merges in any order, RSS+RSS and RSS+CSAF, relabelled entries,
CSAF revisions, KEV escalations, digests, /latest, /affected, the weekly summary), run through
the real parser and services on a real (in-memory SQLite) store. After every step:

- no outbox row goes to an address whose clearance is below its advisory's TLP — the highest
  of every source merged into it so far, as the test itself computes it;
- no text first seen in a source above an address's clearance appears in a message to it;
- an AMBER or AMBER+STRICT alert reaches a member's chat only about its own matches;
- a member matched by a TLP:RED entry is not silently lost: the coordinator hears of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from bot.domain.alerts import HubChannel
from bot.domain.csaf import parse_csaf
from bot.domain.exploitation import KevListing
from bot.domain.matching import AdvisoryMatcher
from bot.domain.members import Network, Role
from bot.domain.products import ProductSpec
from bot.domain.tlp import Tlp
from bot.feeds.config import FeedConfig
from bot.feeds.parse import parse_feed
from bot.services import digests, registrations, situation
from bot.services.chat_commands import ChatCommands, Sender
from bot.services.csaf_ingest import CsafItem, ingest_csaf
from bot.services.exploitation import escalate, record_catalog
from bot.services.hub_messages import HubPolicy
from bot.services.ingest import ingest_advisories
from bot.store.database import create_db_engine, upgrade
from bot.store.tables import AdvisorySourceRow, OutboxRow
from bot.store.unit_of_work import SqlStore

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
T = Network.TELEGRAM
ADMIN, COORDINATOR = (T, "70"), (T, "90")
ADMINS = frozenset({ADMIN})
# Members' chats, by the organisation they belong to (Gamma answers in a Matrix direct room).
MEMBER_CHATS = {(T, "11"): "Alpha", (T, "12"): "Beta", (T, "13"): "Delta",
                (Network.MATRIX, "@gamma:hub.example"): "Gamma",
                (Network.MATRIX, "!gamma-direct:hub.example"): "Gamma"}
CHANNELS = [(T, "-101"), (T, "-102"), (Network.MATRIX, "!hub:hub.example")]
PUMP, MONITOR = "Zentra Heliox Pump", "Zentra Vitro Monitor"
SENDERS = {"Alpha": Sender(T, "11", "11"), "Coordinator": Sender(T, "90", "90"),
           "Gamma": Sender(Network.MATRIX, "@gamma:hub.example", "!gamma-direct:hub.example")}

tlps = st.sampled_from(list(Tlp))
labels = st.sampled_from([None, *Tlp])
identities = st.integers(0, 1)  # two advisories' CVE sets: entries of different feeds merge
# Entries are most of a hub's life; each kind of step below is drawn as often as it is listed.
SCORES = ["CVSS v3.1 base score 9.8", "CVSS v3.1 base score 7.5", ""]  # critical, high, none
KINDS = ["rss"] * 5 + ["csaf", "relabel", "kev", "kev", "digest", "ask", "summary"]


@st.composite
def steps(draw: st.DrawFn) -> tuple[Any, ...]:
    kind = draw(st.sampled_from(KINDS))
    if kind == "rss":
        return ("rss", draw(st.integers(0, 2)), draw(identities), draw(labels),
                draw(st.sampled_from([PUMP, PUMP, MONITOR, f"{PUMP} and {MONITOR}",
                                      "a router"])),
                draw(st.sampled_from(SCORES)))
    if kind == "csaf":
        return ("csaf", draw(identities), draw(labels),
                draw(st.sampled_from(["known_affected", "fixed"])))
    if kind == "relabel":
        return ("relabel", draw(st.integers(0, 9)), draw(tlps))
    if kind == "kev":
        return ("kev", draw(identities))
    if kind == "ask":
        return ("ask", draw(st.sampled_from(sorted(SENDERS))),
                draw(st.sampled_from(["/latest 10", "/affected 1 yes", "/affected 2 no",
                                      "/affected 3 patched", "/situation 1"])))
    return (kind,)


events = st.lists(steps(), min_size=4, max_size=12)


@dataclass
class Hub:
    """The store, the services, and what the test knows of every source it generated."""

    store: SqlStore
    feeds: list[FeedConfig]
    provider_tlp: Tlp
    channel_tlps: dict[tuple[Network, str], Tlp]
    now: datetime = START
    # Each entry as served: its feed, CVE set, labels it has carried, product names, score.
    entries: list[tuple[FeedConfig, int, list[Tlp], str, str]] = field(default_factory=list)
    source_tlp: dict[str, Tlp] = field(default_factory=dict)  # entry id -> highest label
    source_words: dict[str, tuple[str, ...]] = field(default_factory=dict)  # what it first said
    red_pump_entries: list[str] = field(default_factory=list)  # TLP:RED, naming Alpha's
    coordinator_told: set[str] = field(default_factory=set)  # advisories alerted to them
    csaf_versions: dict[int, int] = field(default_factory=dict)
    seen_rows: int = 0
    updates: Iterator[int] = field(default_factory=lambda: iter(range(1, 10_000)))

    def clearance(self, address: tuple[Network, str]) -> Tlp:
        """The test's own model of who may read what (README, "TLP")."""
        if address in self.channel_tlps:
            return self.channel_tlps[address]
        if address in (ADMIN, COORDINATOR):
            return Tlp.RED
        if address in MEMBER_CHATS:
            return Tlp.AMBER_STRICT  # its own matches; checked separately below
        return Tlp.CLEAR


def build_hub(feed_tlps: list[Tlp], provider_tlp: Tlp, channel_tlps: list[Tlp],
              beta_digest: bool, gamma_rule: str | None) -> Hub:
    engine = create_db_engine("sqlite://")
    upgrade(engine)
    store = SqlStore(engine)
    for name, chats, product in (
            ("Alpha", [(T, "11")], ProductSpec("Zentra", "Heliox Pump")),
            ("Beta", [(T, "12")], ProductSpec("Zentra", "Heliox Pump")),
            ("Gamma", [(Network.MATRIX, "@gamma:hub.example")],
             ProductSpec("Zentra", "Heliox Pump")),
            ("Delta", [(T, "13")], ProductSpec("Zentra", "Heliox Pump", versions="1.0")),
            ("Hub Office", [COORDINATOR], ProductSpec("Zentra", "Vitro Monitor"))):
        registrations.add_member(store, name, chats, START)
        registrations.add_product(store, name, product, START)
    with store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.members.set_digest_hour("Beta", 8 if beta_digest else None)
        uow.members.set_alert_rule("Gamma", gamma_rule)
        for (network, address), tlp in zip(CHANNELS, channel_tlps, strict=False):
            uow.hub_channels.add(HubChannel(network, address, max_tlp=tlp), START)
        uow.commit()
    feeds = [FeedConfig(f"feed{i}", f"https://feed{i}.example/rss.xml", timedelta(hours=1),
                        tlp=tlp) for i, tlp in enumerate(feed_tlps)]
    return Hub(store, feeds, provider_tlp,
               dict(zip(CHANNELS, channel_tlps, strict=False)))


def item_xml(n: int, identity: int, labels: list[Tlp], names: str, score: str) -> str:
    word = f"ZQ{n:03d}"
    said = "".join(f" Shared as {label.label}." for label in labels)
    return (f"<item><title>{names} advisory {word}</title>"
            f"<link>https://src{n:03d}.example/{word}</link>"
            f"<description>{names}: {score} issue {word} (CVE-2026-{1000 + identity}).{said}"
            f"</description><pubDate>Mon, 02 Nov 2026 06:00:00 +0000</pubDate></item>")


def rss(items: list[str]) -> bytes:
    return ("<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
            + "".join(items) + "</channel></rss>").encode()


def ingest_entry(hub: Hub, feed: FeedConfig, n: int) -> None:
    """Entry n as its feed serves it now; its TLP, as the README says, is the highest of its
    feed's and every label it has carried."""
    identity, labels, names, score = hub.entries[n][1:]
    [advisory] = parse_feed(feed, rss([item_xml(n, identity, labels, names, score)]),
                            {}).advisories
    first = advisory.id not in hub.source_tlp
    hub.source_tlp[advisory.id] = max([feed.tlp, *labels])
    hub.source_words.setdefault(advisory.id, (f"ZQ{n:03d}", f"src{n:03d}.example"))
    # Alpha (no threshold, no digest) is alerted of every new entry naming its pump, unless a
    # CSAF document of the advisory already decided it by version; a TLP:RED one (even a copy
    # of an advisory it was alerted of) is kept from it, and the coordinator is told.
    if (first and hub.source_tlp[advisory.id] is Tlp.RED and PUMP in names
            and identity not in hub.csaf_versions):
        hub.red_pump_entries.append(advisory.id)
    with hub.store() as uow:
        ingest_advisories(uow, [advisory], AdvisoryMatcher(uow.products.all()), hub.now,
                          False, admins=ADMINS)
        uow.commit()


def ingest_document(hub: Hub, identity: int, label: Tlp | None, status: str) -> None:
    version = hub.csaf_versions[identity] = hub.csaf_versions.get(identity, 0) + 1
    tracking = f"ICSMA-26-00{identity}-01"
    word = f"CSAF{identity}V{version:03d}"  # no word inside another
    document: dict[str, Any] = {
        "document": {
            "title": f"{PUMP} {word}",
            "tracking": {"id": tracking, "version": str(version),
                         "initial_release_date": "2026-11-01T00:00:00Z",
                         "current_release_date": "2026-11-01T00:00:00Z"},
            "notes": [{"category": "summary", "text": f"{PUMP} issue {word}."}],
            "references": [{"category": "self", "url": f"https://csaf.example/{word}"}],
        },
        "product_tree": {"branches": [{"category": "vendor", "name": "Zentra", "branches": [
            {"category": "product_name", "name": "Heliox Pump", "branches": [
                {"category": "product_version_range", "name": "< 2.0",
                 "product": {"name": f"{PUMP} < 2.0", "product_id": "P1"}}]}]}]},
        "vulnerabilities": [{"cve": f"CVE-2026-{1000 + identity}",
                             "product_status": {status: ["P1"]}}],
    }
    if label is not None:
        document["document"]["distribution"] = {"tlp": {"label": label.label}}
    doc = parse_csaf(document)
    entry = f"provider:{tracking}"
    tlp = max(hub.provider_tlp, label or Tlp.CLEAR)
    hub.source_tlp[entry] = max(hub.source_tlp.get(entry, Tlp.CLEAR), tlp)
    # A revision says new words: they are that revision's, first seen at its TLP.
    hub.source_words[f"{entry}#{version}"] = (word, f"csaf.example/{word}")
    hub.source_tlp[f"{entry}#{version}"] = tlp
    with hub.store() as uow:
        ingest_csaf(uow, [CsafItem(f"https://csaf.example/{word}.json", doc, word)],
                    AdvisoryMatcher(uow.products.all()), hub.now, console=False,
                    source="provider", tlp=hub.provider_tlp, admins=ADMINS)
        uow.commit()


def run(hub: Hub, event: tuple[Any, ...]) -> None:
    kind = event[0]
    hub.now += timedelta(hours=7)
    policy = HubPolicy(admins=ADMINS)
    if kind == "rss":
        _, feed_index, identity, label, names, score = event
        feed = hub.feeds[feed_index % len(hub.feeds)]
        hub.entries.append((feed, identity, [label] if label is not None else [], names, score))
        ingest_entry(hub, feed, len(hub.entries) - 1)
    elif kind == "csaf":
        ingest_document(hub, *event[1:])
    elif kind == "relabel" and hub.entries:
        # The same entry again, now labelled: a known entry's label raises its advisory.
        n = event[1] % len(hub.entries)
        hub.entries[n][2].append(event[2])
        ingest_entry(hub, hub.entries[n][0], n)
    elif kind == "kev":
        with hub.store() as uow:
            listing = KevListing(f"CVE-2026-{1000 + event[1]}", date(2026, 11, 3), "Zentra",
                                 "Heliox Pump", "Bypass", False, "Update.")
            for new in record_catalog(uow, [listing], hub.now)[0]:
                escalate(uow, new, hub.now, admins=ADMINS)
            uow.commit()
    elif kind == "digest":
        hub.now += timedelta(days=1)
        with hub.store() as uow:
            digests.release_due(uow, policy, hub.now)
            uow.commit()
    elif kind == "ask":
        service = ChatCommands(hub.store, lambda: hub.now, policy=policy)
        service.handle(SENDERS[event[1]], event[2], f"u{next(hub.updates)}")
    elif kind == "summary":
        with hub.store() as uow:
            situation.send_weekly_summary(uow, policy, hub.now, hub.now)
            uow.commit()


def check(hub: Hub) -> None:
    with Session(hub.store.engine) as s:
        new = list(s.exec(select(OutboxRow).where(col(OutboxRow.id) > hub.seen_rows)
                          .order_by(col(OutboxRow.id))).all())
        sources = [(r.entry_id, r.advisory_id) for r in s.exec(select(AdvisorySourceRow))]
    with hub.store() as uow:
        matched = {advisory_id: set(uow.matches.members_for(advisory_id))
                   for _entry, advisory_id in sources}
        coordinator_alerts = {r.advisory_id for r in new if (r.network, r.address) ==
                              (COORDINATOR[0].value, COORDINATOR[1]) and r.kind == "alert"}
    advisory_tlp: dict[str, Tlp] = {}
    for entry, advisory_id in sources:
        advisory_tlp[advisory_id] = max(advisory_tlp.get(advisory_id, Tlp.CLEAR),
                                        hub.source_tlp.get(entry, Tlp.CLEAR))
    advisory_of = dict(sources)
    for row in new:
        address = (Network(row.network), row.address)
        cleared = hub.clearance(address)
        text = json.dumps(json.loads(row.payload), ensure_ascii=False)
        # What the row is about: its advisory, and every advisory whose words it quotes (a
        # digest, an answer); each carries the TLP of all its sources so far.
        quoted = {advisory_of[source.split("#")[0]] for source, words in
                  hub.source_words.items() if any(w in text for w in words)}
        for advisory_id in quoted | ({row.advisory_id} if row.advisory_id else set()):
            assert advisory_tlp[advisory_id] <= cleared, (row.kind, advisory_id, address)
            if address in MEMBER_CHATS and advisory_tlp[advisory_id] > Tlp.GREEN:
                assert MEMBER_CHATS[address] in matched[advisory_id], (row.kind, address)
        for source, words in hub.source_words.items():  # each text at its own label, too
            if hub.source_tlp[source] > cleared:
                assert not any(w in text for w in words), (row.kind, source, address)
    hub.seen_rows = max([hub.seen_rows, *(r.id or 0 for r in new)])
    hub.coordinator_told |= coordinator_alerts
    for entry_id in hub.red_pump_entries:  # Alpha was matched: the coordinator must know
        assert advisory_of[entry_id] in hub.coordinator_told, entry_id

R, A, G, C = Tlp.RED, Tlp.AMBER, Tlp.GREEN, Tlp.CLEAR


def entry(feed: int, label: Tlp | None = None) -> tuple[Any, ...]:
    """An entry of `feed` naming Alpha's pump, of the first CVE set, below critical."""
    return ("rss", feed, 0, label, PUMP, SCORES[1])


@settings(max_examples=40, deadline=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(feed_tlps=st.lists(tlps, min_size=2, max_size=3), provider_tlp=tlps,
       channel_tlps=st.lists(tlps, min_size=1, max_size=3), beta_digest=st.booleans(),
       gamma_rule=st.sampled_from([None, "kev"]), history=events)
# The case 1, in both orders: a RED feed's and a CLEAR feed's entries of one CVE set,
# a CLEAR hub channel, then the CVE enters KEV.
@example([R, C], C, [C], False, None, [entry(0), entry(1), ("kev", 0)])
@example([R, C], C, [C, G], False, "kev", [entry(1), entry(0), ("kev", 0),
                                          ("ask", "Gamma", "/latest 10")])
# Case 2: a RED feed's "TLP:GREEN" entry and a GREEN channel; "TLP:CLEAR" in an AMBER feed; an
# AMBER provider's unlabelled CSAF document and a CLEAR channel, then its RSS entry.
@example([R, A], C, [G, C], False, None, [entry(0, G), entry(1, C), ("ask", "Alpha",
                                                                    "/latest 10")])
@example([C, C], A, [C], False, None, [("csaf", 0, None, "known_affected"), entry(1),
                                       ("kev", 0)])
# A held alert raised to RED before its digest; a relabelled entry; a CSAF revision.
@example([C, R], G, [A], True, None, [entry(0), entry(1), ("digest",), ("relabel", 0, R),
                                      ("csaf", 0, G, "fixed"), ("csaf", 0, None,
                                                                "known_affected"),
                                      ("summary",), ("ask", "Alpha", "/affected 1 yes")])
def test_no_message_reaches_an_address_below_the_tlp_of_what_it_quotes(
        feed_tlps: list[Tlp], provider_tlp: Tlp, channel_tlps: list[Tlp], beta_digest: bool,
        gamma_rule: str | None, history: list[tuple[Any, ...]]) -> None:
    hub = build_hub(feed_tlps, provider_tlp, channel_tlps, beta_digest, gamma_rule)
    try:
        for event in history:
            run(hub, event)
            check(hub)
    finally:
        hub.store.engine.dispose()


def test_the_generated_entries_of_one_cve_set_merge_across_feeds() -> None:
    """The generator makes what the property is about: entries of two feeds merged into one
    advisory, whose TLP their KEV escalation is then held to."""
    hub = build_hub([Tlp.RED, Tlp.CLEAR], Tlp.CLEAR, [Tlp.CLEAR], False, None)
    try:
        for event in (entry(1), entry(0), ("kev", 0)):
            run(hub, event)
            check(hub)
        with Session(hub.store.engine) as s:
            sources = list(s.exec(select(AdvisorySourceRow)))
            kinds = [(r.kind, r.address) for r in s.exec(select(OutboxRow))]
        assert len({r.advisory_id for r in sources}) == 1 and len(sources) == 2
        assert ("escalation", "90") in kinds and ("escalation", "-101") not in kinds
        assert ("alert", "-101") in kinds  # alerted while it was CLEAR
    finally:
        hub.store.engine.dispose()
