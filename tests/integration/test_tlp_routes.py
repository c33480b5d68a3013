"""The TLP gate on every route, on a real store: merges raise an advisory's TLP and never lower
it; alerts, KEV escalations, digests, /latest and /affected reach no one below it; members kept
from a TLP:RED alert are not silently lost (coordinators and admins get it, with a count)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.domain.advisory import Advisory
from bot.domain.alerts import HubChannel
from bot.domain.csaf import parse_csaf
from bot.domain.exploitation import KevListing
from bot.domain.matching import AdvisoryMatcher
from bot.domain.members import Network, Role
from bot.domain.outbox_payload import AlertMessage, payload_from_json
from bot.domain.products import ProductSpec
from bot.domain.rendering import render_alert_text
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp
from bot.services import digests, registrations
from bot.services.chat_commands import ChatCommands, Sender
from bot.services.csaf_ingest import CsafItem, ingest_csaf
from bot.services.exploitation import escalate
from bot.services.hub_messages import HubPolicy
from bot.services.ingest import ingest_advisories
from bot.store.tables import OutboxRow
from bot.store.unit_of_work import SqlStore

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CVE = "CVE-2026-4242"
MEMBER, COORDINATOR, ADMIN = "1001", "9001", "7777"
CLEAR_CHANNEL, AMBER_CHANNEL, RED_CHANNEL = "-1000", "-1002", "-1004"
ADMINS = frozenset({(Network.TELEGRAM, ADMIN)})
POLICY = HubPolicy(admins=ADMINS)
BELOW_RED = {MEMBER, CLEAR_CHANNEL, AMBER_CHANNEL}

RED = Advisory("https://partner.example/red/1", "Dräger Infinity Delta: partner details "
               "RED-ONLY-WORDS", "Only for the hub.", "https://partner.example/red/1",
               "partner-red", cves=(CVE,), severity=Severity.HIGH, tlp=Tlp.RED)
PUBLIC = Advisory("https://cisa.example/1", "Dräger Infinity Delta: authentication bypass",
                  "Public.", "https://cisa.example/1", "cisa", cves=(CVE,),
                  severity=Severity.HIGH)


@pytest.fixture
def hub(store: SqlStore) -> SqlStore:
    """Klinikum Nord (Dräger Infinity Delta) on 1001, the coordinator Hub Office on 9001, an
    admin on 7777, and hub channels cleared for CLEAR, AMBER and RED."""
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, MEMBER)], NOW)
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Dräger", "Infinity Delta"), NOW)
    registrations.add_member(store, "Hub Office", [(Network.TELEGRAM, COORDINATOR)], NOW)
    with store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        for address, tlp in ((CLEAR_CHANNEL, Tlp.CLEAR), (AMBER_CHANNEL, Tlp.AMBER),
                             (RED_CHANNEL, Tlp.RED)):
            uow.hub_channels.add(HubChannel(Network.TELEGRAM, address, max_tlp=tlp), NOW)
        uow.commit()
    return store


def ingest(store: SqlStore, *advisories: Advisory, now: datetime = NOW) -> None:
    with store() as uow:
        ingest_advisories(uow, advisories, AdvisoryMatcher(uow.products.all()), now, False,
                          admins=ADMINS)
        uow.commit()


def kev(store: SqlStore, now: datetime = NOW) -> int:
    with store() as uow:
        queued = escalate(uow, KevListing(CVE, date(2026, 11, 24), "Dräger", "Infinity Delta",
                                          "Auth bypass", False, "Update."), now, admins=ADMINS)
        uow.commit()
    return queued


def rows(store: SqlStore) -> list[OutboxRow]:
    with Session(store.engine) as s:
        return list(s.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all())


def sent_to(store: SqlStore, address: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [json.loads(r.payload) for r in rows(store)
            if r.address == address and (kind is None or r.kind == kind)]


def stored_tlp(store: SqlStore, advisory_id: str) -> Tlp:
    with store() as uow:
        advisory = uow.advisories.get(advisory_id)
        assert advisory is not None
        return advisory.tlp


def test_raising_an_advisorys_tlp_never_lowers_it(store: SqlStore) -> None:
    with store() as uow:
        uow.advisories.add(PUBLIC, NOW)
        assert uow.advisories.raise_tlp(PUBLIC.id, Tlp.AMBER) is Tlp.AMBER
        assert uow.advisories.raise_tlp(PUBLIC.id, Tlp.GREEN) is Tlp.AMBER
        assert uow.advisories.raise_tlp(PUBLIC.id, Tlp.CLEAR) is Tlp.AMBER
        uow.commit()
    assert stored_tlp(store, PUBLIC.id) is Tlp.AMBER
    with store() as uow:
        assert uow.advisories.raise_tlp(PUBLIC.id, Tlp.RED) is Tlp.RED
        uow.commit()
    assert stored_tlp(store, PUBLIC.id) is Tlp.RED


def test_a_red_advisory_goes_to_red_channels_and_coordinators_with_a_count_never_to_members(
        hub: SqlStore) -> None:
    ingest(hub, RED)
    assert {r.address for r in rows(hub)} == {RED_CHANNEL, COORDINATOR, ADMIN}
    for staff in (COORDINATOR, ADMIN):
        [payload] = sent_to(hub, staff, "alert")
        assert payload["withheld"] == 1 and payload["products"] == []
        assert payload["member"] is None and "Klinikum" not in json.dumps(payload)
        message = payload_from_json(json.dumps(payload))
        assert isinstance(message, AlertMessage)
        text = render_alert_text(message.alert)
        assert "Matched 1 member, who was not sent it: TLP:RED is above a member's " \
               "clearance." in text
        assert "For: hub coordinators" in text and "RED-ONLY-WORDS" in text
    [channel] = sent_to(hub, RED_CHANNEL, "alert")
    assert "withheld" not in channel and channel["advisory"]["tlp"] == "RED"


def test_case_1_a_clear_copy_of_a_red_advisory_and_its_escalation_reach_no_one_below_red(
        hub: SqlStore) -> None:
    ingest(hub, RED)
    ingest(hub, PUBLIC)  # another feed, the same CVE set: merged into the RED advisory
    assert stored_tlp(hub, RED.id) is Tlp.RED
    assert kev(hub) == 3  # the RED channel, the coordinator, the admin
    assert not [r for r in rows(hub) if r.address in BELOW_RED]
    [escalation] = sent_to(hub, COORDINATOR, "escalation")
    assert "RED-ONLY-WORDS" in escalation["text"] and "Not sent" not in escalation["text"]


def test_a_merge_that_raises_an_alerted_advisory_to_red_keeps_its_escalation_from_chats_below(
        hub: SqlStore) -> None:
    ingest(hub, PUBLIC)  # alerted at CLEAR: the member and every channel
    alerted = {r.address for r in rows(hub)}
    assert alerted == {MEMBER, CLEAR_CHANNEL, AMBER_CHANNEL, RED_CHANNEL}
    ingest(hub, RED)  # the partner's RED copy: the advisory is now RED
    assert stored_tlp(hub, PUBLIC.id) is Tlp.RED
    before = len(rows(hub))
    kev(hub)
    later = rows(hub)[before:]
    assert {r.address for r in later} == {RED_CHANNEL, COORDINATOR, ADMIN}
    [told] = sent_to(hub, COORDINATOR, "escalation")
    assert "Not sent to 3 chats alerted earlier: the advisory is now TLP:RED" in told["text"]
    assert not [r for r in rows(hub) if r.address in BELOW_RED and "RED-ONLY" in r.payload]


def test_a_label_in_a_known_entry_raises_its_advisory(hub: SqlStore) -> None:
    ingest(hub, PUBLIC)
    ingest(hub, Advisory(**{**PUBLIC.__dict__, "tlp": Tlp.AMBER}))  # relabelled since
    assert stored_tlp(hub, PUBLIC.id) is Tlp.AMBER
    ingest(hub, PUBLIC)  # and read without the label again: not lowered
    assert stored_tlp(hub, PUBLIC.id) is Tlp.AMBER


def test_an_amber_advisory_reaches_its_member_and_amber_channels_only(hub: SqlStore) -> None:
    ingest(hub, Advisory(**{**PUBLIC.__dict__, "tlp": Tlp.AMBER}))
    assert {r.address for r in rows(hub)} == {MEMBER, AMBER_CHANNEL, RED_CHANNEL}
    [alert] = sent_to(hub, MEMBER, "alert")
    assert alert["advisory"]["tlp"] == "AMBER" and alert["products"]


def test_a_held_alert_whose_advisory_became_red_is_left_out_of_the_digest(
        hub: SqlStore) -> None:
    registrations.add_member(hub, "Vivantes", [(Network.TELEGRAM, "2002")], NOW)
    registrations.add_product(hub, "Vivantes", ProductSpec("Dräger", "Infinity Delta"), NOW)
    with hub() as uow:
        uow.members.set_digest_hour("Vivantes", 8)
        uow.commit()
    other = Advisory("https://cisa.example/2", "Dräger Infinity Delta: weak password",
                     "Public.", "https://cisa.example/2", "cisa", cves=("CVE-2026-5555",),
                     severity=Severity.MEDIUM)
    ingest(hub, PUBLIC, other)  # both below critical: held for Vivantes's digest
    assert not sent_to(hub, "2002")
    ingest(hub, RED)  # the first one is RED now
    with hub() as uow:
        assert digests.release_due(uow, POLICY, NOW + timedelta(days=1)) == 2
        uow.commit()
    [digest] = sent_to(hub, "2002", "digest")
    assert "weak password" in digest["text"] and "authentication bypass" not in digest["text"]
    assert "Daily digest for Vivantes: 1 alert" in digest["text"]
    told = [p for p in sent_to(hub, COORDINATOR, "alert") if p.get("withheld")]
    assert told and all(p["advisory"]["tlp"] == "RED" for p in told)


def test_latest_and_affected_never_show_a_member_a_red_advisory(hub: SqlStore) -> None:
    service = ChatCommands(hub, lambda: NOW, policy=POLICY)
    ingest(hub, RED)
    ingest(hub, Advisory(**{**PUBLIC.__dict__, "id": "https://cisa.example/3",
                            "link": "https://cisa.example/3", "cves": ("CVE-2026-7777",),
                            "title": "Dräger Infinity Delta: AMBER partner note",
                            "tlp": Tlp.AMBER}))
    member = Sender(Network.TELEGRAM, MEMBER, MEMBER)
    latest = service.handle(member, "/latest 5", "u1") or ""
    assert "AMBER partner note" in latest and "RED-ONLY-WORDS" not in latest
    with hub() as uow:
        ref = uow.affected.ref_for(RED.id)
    answer = service.handle(member, f"/affected {ref} yes", "u2") or ""
    assert "got no alert" in answer and "RED-ONLY" not in answer
    replies = sent_to(hub, MEMBER, "reply")
    assert len(replies) == 2 and "AMBER partner note" in replies[0]["text"]
    coordinator = Sender(Network.TELEGRAM, COORDINATOR, COORDINATOR)
    assert "Matched 1 member" in (service.handle(coordinator, f"/situation {ref}", "u3") or "")


def test_an_answer_in_a_matrix_direct_room_is_cleared_as_the_person_reading_it(
        hub: SqlStore) -> None:
    registrations.add_member(hub, "Labor Süd", [(Network.MATRIX, "@anna:hub.example")], NOW)
    registrations.add_product(hub, "Labor Süd", ProductSpec("Dräger", "Infinity Delta"), NOW)
    ingest(hub, Advisory(**{**PUBLIC.__dict__, "tlp": Tlp.AMBER}))
    service = ChatCommands(hub, lambda: NOW, policy=POLICY)
    anna = Sender(Network.MATRIX, "@anna:hub.example", "!direct:hub.example")
    assert "authentication bypass" in (service.handle(anna, "/latest", "m1") or "")
    [reply] = sent_to(hub, "!direct:hub.example", "reply")
    assert "authentication bypass" in reply["text"]  # the room is Anna's: AMBER about Labor Süd


def test_what_the_gate_withholds_is_logged_without_any_text(
        hub: SqlStore, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        ingest(hub, RED)
    [line] = [r.getMessage() for r in caplog.records if "TLP gate" in r.getMessage()]
    assert line == "TLP gate: withheld 1 alert TLP:RED to a member (cleared up to " \
                   "TLP:AMBER+STRICT)"  # hub channels below RED are not even addressed
    for secret in ("RED-ONLY", "Dräger", "Klinikum", MEMBER, CLEAR_CHANNEL, "partner.example"):
        assert all(secret not in r.getMessage() for r in caplog.records), secret


def csaf_document(tracking: str, label: str | None, version: str = "1") -> CsafItem:
    """A Dräger advisory `tracking` naming CVE, labelled `label` (None: no TLP label)."""
    document: dict[str, Any] = {
        "document": {
            "title": f"Dräger Infinity Delta {tracking} PROVIDER-WORDS",
            "tracking": {"id": tracking, "version": version,
                         "initial_release_date": "2026-11-24T00:00:00Z",
                         "current_release_date": "2026-11-24T00:00:00Z"},
            "notes": [{"category": "summary", "text": "Dräger monitors."}],
            "references": [{"category": "self", "url": "https://amber.example/csaf/1"}],
        },
        "product_tree": {"branches": [{"category": "vendor", "name": "Dräger", "branches": [
            {"category": "product_name", "name": "Infinity Delta",
             "product": {"name": "Dräger Infinity Delta", "product_id": "P1"}}]}]},
        "vulnerabilities": [{"cve": CVE, "product_status": {"known_affected": ["P1"]}}],
    }
    if label is not None:
        document["document"]["distribution"] = {"tlp": {"label": label}}
    return CsafItem(f"https://amber.example/{tracking}.json", parse_csaf(document),
                    f"sha-{tracking}-{version}")


def ingest_document(store: SqlStore, item: CsafItem, provider_tlp: Tlp) -> None:
    with store() as uow:
        ingest_csaf(uow, [item], AdvisoryMatcher(uow.products.all()), NOW, console=False,
                    source="amber-provider", tlp=provider_tlp, admins=ADMINS)
        uow.commit()


def test_an_amber_providers_unlabelled_document_never_reaches_a_clear_channel(
        hub: SqlStore) -> None:
    ingest_document(hub, csaf_document("VDE-2026-001", None), Tlp.AMBER)
    assert {r.address for r in rows(hub)} == {MEMBER, AMBER_CHANNEL, RED_CHANNEL}
    # Its RSS entry, from a CLEAR feed, merges into it: still AMBER, still not for CLEAR.
    ingest(hub, Advisory("https://cisa.example/vde", "VDE-2026-001: Dräger Infinity Delta",
                         "", "https://cisa.example/vde", "cisa", cves=(CVE,),
                         tracking_id="VDE-2026-001"))
    assert not sent_to(hub, CLEAR_CHANNEL)


def test_a_csaf_document_merged_into_a_clear_advisory_raises_it_and_its_revision_with_it(
        hub: SqlStore) -> None:
    ingest(hub, PUBLIC)
    before = {r.id for r in rows(hub)}
    ingest_document(hub, csaf_document("ICSMA-26-001-01", "CLEAR"), Tlp.AMBER)
    assert stored_tlp(hub, PUBLIC.id) is Tlp.AMBER
    later = [r for r in rows(hub) if r.id not in before]
    assert all(r.address not in (CLEAR_CHANNEL,) for r in later)
    assert all("PROVIDER-WORDS" not in r.payload for r in rows(hub)
               if r.address == CLEAR_CHANNEL)
    # A revision labelled CLEAR, from a provider now configured CLEAR, never lowers it.
    ingest_document(hub, csaf_document("ICSMA-26-001-01", "CLEAR", "2"), Tlp.CLEAR)
    assert stored_tlp(hub, PUBLIC.id) is Tlp.AMBER
