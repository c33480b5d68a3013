"""A match's reasons kept in the store come back as phrases, so /latest and a revision's
re-alert read in each reader's language; rows written before phrases still read as they were."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.domain.csaf import parse_csaf
from bot.domain.language import Phrase, in_language, speaking
from bot.domain.matching import AdvisoryMatcher
from bot.domain.members import Network
from bot.domain.outbox_payload import AlertMessage, payload_from_json
from bot.domain.products import ProductSpec
from bot.services import registrations
from bot.services.csaf_ingest import CsafItem, ingest_csaf
from bot.store.tables import MatchRow, OutboxRow
from bot.store.unit_of_work import SqlStore

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
MONITOR = ProductSpec("Philips", "IntelliVue MX40", versions="B.06.12")


def document(version: str, status: str) -> dict[str, Any]:
    """Philips's advisory on IntelliVue MX40 below B.06.18, in revision `version`."""
    return {
        "document": {
            "title": "Philips IntelliVue MX40 monitors",
            "tracking": {"id": "ICSMA-TEST-01", "version": version,
                         "initial_release_date": "2026-11-24T00:00:00Z",
                         "current_release_date": "2026-11-24T00:00:00Z"},
            "notes": [{"category": "summary", "text": "Philips monitors."}],
        },
        "product_tree": {"branches": [{"category": "vendor", "name": "Philips", "branches": [
            {"category": "product_name", "name": "IntelliVue MX40", "branches": [
                {"category": "product_version_range", "name": "< B.06.18",
                 "product": {"name": "Philips IntelliVue MX40 < B.06.18",
                             "product_id": "P1"}}]}]}]},
        "vulnerabilities": [{"cve": "CVE-2026-0001", "product_status": {status: ["P1"]}}],
    }


def ingest(store: SqlStore, version: str, status: str) -> None:
    with store() as uow:
        matcher = AdvisoryMatcher(uow.products.all())
        item = CsafItem("https://csaf.example/icsma-test-01.json",
                        parse_csaf(document(version, status)), f"sha-{version}")
        ingest_csaf(uow, [item], matcher, NOW, console=False, source="cisa-csaf")
        uow.commit()


def setup_member(store: SqlStore) -> None:
    registrations.add_member(store, "Vivantes", [(Network.TELEGRAM, "2002")], NOW)
    registrations.add_product(store, "Vivantes", MONITOR, NOW)


def test_a_stored_note_and_reason_read_back_as_phrases(store: SqlStore) -> None:
    setup_member(store)
    ingest(store, "1", "known_affected")
    with store() as uow:
        [match] = uow.matches.latest_for_member("Vivantes", 5)
        [decision] = uow.matches.decisions(
            uow.advisories.with_tracking_id("ICSMA-TEST-01") or "").values()
    why, note, detail = match.why, match.note, decision.detail
    assert isinstance(why, Phrase) and isinstance(note, Phrase)
    assert why == 'product "IntelliVue MX40" in the title, vendor "Philips" in the title'
    assert note == ("Your version is affected: version B.06.12 is listed as known affected "
                    "(< B.06.18 read as maven)")
    assert isinstance(detail["reason"], Phrase)
    with speaking("de"):
        assert in_language(why) == (
            "Produkt „IntelliVue MX40“ im Titel, Hersteller „Philips“ im Titel")
        assert in_language(note) == ("Ihre Version ist betroffen: Version B.06.12 ist als "
                                     "„bekanntermaßen betroffen“ aufgeführt "
                                     "(< B.06.18 gelesen als maven)")


def test_a_revision_re_alert_carries_its_change_as_a_phrase(store: SqlStore) -> None:
    setup_member(store)
    ingest(store, "1", "known_not_affected")  # not affected: no alert
    ingest(store, "2", "known_affected")
    with Session(store.engine) as s:
        [payload] = [json.loads(r.payload) for r in s.exec(
            select(OutboxRow).where(OutboxRow.kind == "alert").order_by(col(OutboxRow.id)))]
    assert payload["change"].startswith("your version is now affected (version B.06.12")
    message = payload_from_json(json.dumps(payload))
    assert isinstance(message, AlertMessage)
    alert = message.alert
    assert isinstance(alert.change, Phrase)
    with speaking("de"):
        assert in_language(alert.change).startswith(
            "Ihre Version ist jetzt betroffen (Version B.06.12 ist als")


def test_a_reason_stored_before_phrases_still_reads(store: SqlStore) -> None:
    setup_member(store)
    ingest(store, "1", "known_affected")
    with Session(store.engine) as s:
        row = s.exec(select(MatchRow)).one()
        row.why = 'product "MX40" in the title, vendor "Philips" in the title'
        row.decision_detail = json.dumps({"note": "Your version is affected: old text"})
        s.add(row)
        s.commit()
    with store() as uow:
        [match] = uow.matches.latest_for_member("Vivantes", 5)
    why, note = match.why, match.note
    assert why == 'product "MX40" in the title, vendor "Philips" in the title'
    assert note == "Your version is affected: old text"
    assert not isinstance(why, Phrase) and not isinstance(note, Phrase)
