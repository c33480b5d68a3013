"""The admin exports a member's report for the hub's other tools: `hubbot export misp|stix`
on the database the bot wrote, read back by PyMISP and the stix2 library."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import stix2
from pymisp import MISPEvent

from bot.domain.members import Network
from bot.services.chat_commands import ChatCommands, Sender
from bot.store.database import create_db_engine, upgrade
from bot.store.unit_of_work import SqlStore
from tests.support.console import Hubbot

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
REPORTER = Sender(Network.TELEGRAM, "1001", "1001")
COORD = Sender(Network.TELEGRAM, "3003", "3003")


def _filed_and_approved(hubbot: Hubbot, sharing: str) -> str:
    """A report filed through the chat conversation and approved, on the CLI's database."""
    assert hubbot("member", "add", "Klinikum Nord", "--telegram", "1001").code == 0
    assert hubbot("member", "add", "Hub Office", "--telegram", "3003").code == 0
    assert hubbot("member", "role", "Hub Office", "coordinator").code == 0
    engine = create_db_engine(f"sqlite:///{hubbot.home / 'data' / 'hubbot.db'}")
    upgrade(engine)
    store = SqlStore(engine)
    service = ChatCommands(store, lambda: NOW)
    answers = ["/report", "Our PACS gateway beacons to a host abroad.", "/skip",
               "hxxps://evil-cdn[.]com/a.js 45.77.12.9 bad@evil-cdn.com CVE-2021-44228 "
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "done",
               "AMBER", sharing, "yes"]
    for n, text in enumerate(answers):
        service.handle(REPORTER, text, f"u{n}")
    service.handle(COORD, "/approve R1", "approve")
    with store() as uow:
        report = uow.reports.get(1)
        assert report is not None and len(report.indicators) >= 5
    engine.dispose()
    return "R1"


def test_an_anonymous_report_exports_to_misp_and_stix_without_its_reporter(
        hubbot: Hubbot, tmp_path: Path) -> None:
    ref = _filed_and_approved(hubbot, "2")
    misp = hubbot("export", "misp", ref)
    assert misp.code == 0, misp.err
    event = MISPEvent()
    event.load(misp.out)
    types = {a.type for a in event.attributes}
    assert {"url", "ip-dst", "sha256", "vulnerability"} <= types
    assert "tlp:amber" in {t.name for t in event.tags}
    assert "AMBER" in misp.err  # the admin is reminded what the file may reach
    for secret in ("Klinikum Nord", "1001", "telegram"):
        assert secret not in misp.out

    out_file = tmp_path / "r1.stix.json"
    stix = hubbot("export", "stix", ref, "--output", str(out_file))
    assert stix.code == 0, stix.err
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    bundle = stix2.parse(out_file.read_text(encoding="utf-8"), allow_custom=False)
    kinds = {obj.type for obj in bundle.objects}
    assert {"report", "indicator"} <= kinds and "identity" not in {
        o.type for o in bundle.objects if getattr(o, "identity_class", None) == "organization"
        and o.name == "Klinikum Nord"}
    assert "Klinikum Nord" not in out_file.read_text(encoding="utf-8")
    patterns = {o.pattern for o in bundle.objects if o.type == "indicator"}
    assert "[ipv4-addr:value = '45.77.12.9']" in patterns

    audit = hubbot("audit").out
    assert "report export misp\tR1" in audit and "report export stix\tR1" in audit
    assert "report approve\tR1" in audit


def test_a_named_report_names_its_organisation(hubbot: Hubbot) -> None:
    ref = _filed_and_approved(hubbot, "3")
    misp = hubbot("export", "misp", ref)
    assert misp.code == 0 and "Klinikum Nord" in misp.out
    assert "1001" not in misp.out  # never the contact
    stix = hubbot("export", "stix", ref)
    named = [o for o in json.loads(stix.out)["objects"] if o["type"] == "identity"]
    assert any(o["name"] == "Klinikum Nord" for o in named)


def test_a_bad_or_unknown_report_id_is_refused(hubbot: Hubbot) -> None:
    assert hubbot("member", "add", "Klinikum Nord", "--telegram", "1001").code == 0
    unknown = hubbot("export", "misp", "R42")
    assert unknown.code == 1 and "no report R42" in unknown.err
    bad = hubbot("export", "stix", "42; DROP TABLE")
    assert bad.code == 1 and "not a report ID" in bad.err
    assert hubbot("export", "csv", "R1").code == 2  # the forms are misp and stix
