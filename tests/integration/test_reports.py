"""Members' reports through the command service on a real store (SQLite and PostgreSQL): the
/report conversation (state across a restart, expiry, bad answers asked again, /cancel), the
coordinators' triage (approve, edit, reject, decided once), the relay (anonymised, TLP routing,
members with the product first), sightings and retention. The chat networks' tests drive the
same service through Telegram and Matrix."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import log_redaction
from bot.domain.alerts import HubChannel
from bot.domain.members import Network, Role
from bot.domain.products import ProductSpec
from bot.domain.roles import parse_admins
from bot.domain.tlp import Tlp
from bot.services import registrations
from bot.services.chat_commands import NOT_LINKED, Sender
from bot.services.housekeeping import forget_old_reports
from bot.services.hub_messages import HubPolicy
from bot.store.unit_of_work import SqlStore
from tests.support.command_hub import CommandHub

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
COORD = Sender(Network.TELEGRAM, "3003", "3003")
NORD = Sender(Network.TELEGRAM, "1001", "1001")  # the reporter
NORD_MX = Sender(Network.MATRIX, "@ann:hub.test", "!dm-ann:hub.test")
VIV = Sender(Network.TELEGRAM, "2002", "2002")  # registered the product the report names
SUED = Sender(Network.MATRIX, "@sue:hub.test", "!dm-sue:hub.test")
ADMIN = Sender(Network.TELEGRAM, "9999", "9999")
STRANGER = Sender(Network.TELEGRAM, "6666", "6666")
HUB_TG, HUB_MX = "-100500", "!hub:hub.test"
POLICY = HubPolicy(admins=parse_admins("9999"), zone="Europe/Berlin")
INCIDENT = ("Since Monday our Infinity Delta monitors talk to an unknown server; "
            "ransomware note found on one workstation.")
PASTED = ("C2 at hxxp://bad-update[.]net/gate.php and 45.77.12.9, dropper "
          "44d88612fea8a8f36de82e1278abb02f, internal relay 10.20.30.40, "
          "CVE-2021-44228")


@pytest.fixture
def hub(store: SqlStore) -> CommandHub:
    registrations.add_member(store, "Hub Office", [(Network.TELEGRAM, "3003")], NOW)
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, "1001"),
                                                      (Network.MATRIX, "@ann:hub.test")], NOW)
    registrations.add_member(store, "Vivantes", [(Network.TELEGRAM, "2002")], NOW)
    registrations.add_member(store, "Klinikum Süd", [(Network.MATRIX, "@sue:hub.test")], NOW)
    registrations.add_product(store, "Vivantes", ProductSpec("Dräger", "Infinity Delta"), NOW)
    registrations.add_product(store, "Klinikum Süd", ProductSpec("Philips", "IntelliVue"), NOW)
    with store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, HUB_TG), NOW)
        uow.hub_channels.add(HubChannel(Network.MATRIX, HUB_MX, max_tlp=Tlp.AMBER), NOW)
        uow.commit()
    return CommandHub(store, NOW, POLICY)


def texts(hub: CommandHub, kind: str, address: str) -> list[str]:
    return [p["text"] for p in hub.payloads(kind, address)]


def file_report(hub: CommandHub, tlp: str = "GREEN", sharing: str = "2",
                sender: Sender = NORD) -> int:
    assert "What happened?" in hub.say(sender, "/report")
    assert "Which vendor and product" in hub.say(sender, INCIDENT)
    assert "Noted: Dräger Infinity Delta" in hub.say(sender, "Infinity Delta")
    listed = hub.say(sender, PASTED)
    assert "new indicators" in listed and "45.77.12.9 (ipv4)" in listed, listed
    assert "Which TLP" in hub.say(sender, "done")
    assert "How may the hub share it" in hub.say(sender, tlp)
    review = hub.say(sender, sharing)
    assert "Please check your report" in review and "45.77.12.9" in review
    filed = hub.say(sender, "yes")
    assert "Filed as report R" in filed
    return int(filed.split("report R")[1].split(".")[0])


def test_a_whole_report_is_filed_and_put_before_the_coordinators(hub: CommandHub) -> None:
    report_id = file_report(hub)
    [card] = texts(hub, "triage", COORD.chat) + texts(hub, "triage", ADMIN.chat)[:0]
    assert f"Report R{report_id} from Klinikum Nord" in card  # coordinators see who
    assert "10.20.30.40 (ipv4, private address" in card
    assert "http://bad-update.net/gate.php" in card  # re-fanged
    [[approve, edit, reject]] = hub.payloads("triage", COORD.chat)[0]["buttons"]
    assert approve["command"] == f"/approve R{report_id}"
    assert edit["command"] == f"/edit R{report_id}" and reject["command"].startswith("/reject")
    assert texts(hub, "triage", ADMIN.chat)  # the admins too
    # Nothing reaches members before a decision.
    assert hub.rows("report") == []
    assert f"R{report_id}" in hub.say(COORD, "/reports")


def test_approval_relays_anonymised_product_owners_first(hub: CommandHub) -> None:
    report_id = file_report(hub)
    assert "Approved" in hub.say(COORD, f"/approve R{report_id}")
    rows = hub.rows("report")
    by_address = {r.address: r for r in rows}
    assert NORD.chat not in by_address and NORD_MX.address not in by_address  # not sent back
    assert {VIV.address, SUED.address, HUB_MX} <= set(by_address)
    assert HUB_TG not in by_address  # that channel is configured for TLP:CLEAR only
    assert by_address[VIV.address].priority > by_address[SUED.address].priority  # product first
    for row in rows:
        text = json.loads(row.payload)["text"]
        assert "A member organisation reports" in text
        for secret in ("Klinikum Nord", "1001", "@ann:hub.test", "!dm-ann", "telegram:"):
            assert secret not in text
    relayed = json.loads(by_address[VIV.address].payload)["text"]
    assert "Your organisation registered this product" in relayed
    # The reporter's internal address says something of its network: coordinators only.
    assert "10.20.30.40" not in relayed and "1 internal address of the reporter" in relayed
    assert "45.77.12.9" in relayed
    [told] = texts(hub, "report_notice", NORD.chat)
    assert "approved your report" in told and "without naming your organisation" in told
    assert ("telegram:3003", "report approve", f"R{report_id}") in [
        (e.actor, e.action, e.detail) for e in _audit(hub)]
    # Decided once: a second coordinator's approval changes nothing.
    assert "already approved" in hub.say(ADMIN, f"/approve R{report_id}")
    assert len(hub.rows("report")) == len(rows)


def test_amber_goes_only_to_members_direct_chats(hub: CommandHub) -> None:
    report_id = file_report(hub, tlp="AMBER")
    hub.say(COORD, f"/approve R{report_id}")
    addresses = {r.address for r in hub.rows("report")}
    assert {VIV.address, SUED.address} <= addresses
    assert HUB_TG not in addresses and HUB_MX not in addresses  # even the AMBER channel


def test_red_never_leaves_the_coordinators(hub: CommandHub) -> None:
    report_id = file_report(hub, tlp="RED", sharing="3")
    answer = hub.say(COORD, f"/approve R{report_id}")
    assert "TLP:RED" in answer and "stays with the coordinators" in answer
    assert hub.rows("report") == []
    assert "There is no report" in hub.say(VIV, f"/seen R{report_id}")
    [told] = texts(hub, "report_notice", NORD.chat)
    assert "stays with them" in told


def test_named_report_names_the_organisation(hub: CommandHub) -> None:
    report_id = file_report(hub, sharing="3")
    hub.say(COORD, f"/approve R{report_id}")
    [text] = texts(hub, "report", VIV.address)
    assert text.startswith("🛡 Klinikum Nord reports")
    assert "1001" not in text


def test_coordinators_only_is_kept_with_them(hub: CommandHub) -> None:
    report_id = file_report(hub, sharing="coordinators")
    assert "coordinators only" in hub.say(COORD, f"/approve R{report_id}")
    assert hub.rows("report") == []


def test_edit_then_approve_relays_the_new_summary(hub: CommandHub) -> None:
    report_id = file_report(hub)
    assert "Send the new summary" in hub.say(COORD, f"/edit R{report_id}")
    assert "new summary of R" in hub.say(COORD, "A member sees Infinity Delta monitors beaconing.")
    cards = texts(hub, "triage", COORD.chat)
    assert len(cards) == 2 and "beaconing" in cards[-1]
    hub.say(COORD, f"/approve R{report_id}")
    [text] = texts(hub, "report", VIV.address)
    assert "beaconing" in text and "ransomware note" not in text


def test_rejection_tells_the_reporter_and_relays_nothing(hub: CommandHub) -> None:
    report_id = file_report(hub)
    assert "Rejected" in hub.say(COORD, f"/reject R{report_id} Duplicate of advisory 12")
    [told] = texts(hub, "report_notice", NORD.chat)
    assert "decided not to relay" in told and "Duplicate of advisory 12" in told
    assert hub.rows("report") == []
    assert "already rejected" in hub.say(COORD, f"/approve R{report_id}")
    assert "There is no report R999" in hub.say(COORD, "/approve R999")


def test_members_may_not_triage(hub: CommandHub) -> None:
    report_id = file_report(hub)
    for text in (f"/approve R{report_id}", f"/reject R{report_id}", "/reports",
                 f"/edit R{report_id} x"):
        assert "Only the hub's coordinators" in hub.say(VIV, text)
    assert hub.say(STRANGER, "/report") == NOT_LINKED
    assert hub.say(STRANGER, f"/seen R{report_id}") == NOT_LINKED


def test_sightings_counted_reporter_told_without_names(hub: CommandHub) -> None:
    report_id = file_report(hub)
    hub.say(COORD, f"/approve R{report_id}")
    assert "sees R" in hub.say(VIV, f"/seen R{report_id}")
    answer = hub.say(SUED, f"/seen R{report_id} we also see 185.220.101.4 and 45.77.12.9")
    assert "1 new indicator was added" in answer
    notices = texts(hub, "report_notice", NORD.chat)
    assert notices[-1] == f"2 other members see R{report_id} too."
    assert not any("Vivantes" in n or "Süd" in n for n in notices)
    assert "your organisation's own report" in hub.say(NORD, f"/seen R{report_id}")
    hub.say(VIV, f"/seen R{report_id} no")
    counts = hub.say(COORD, f"/situation R{report_id}")
    assert ("Members who see it too: 1. Members who do not: 1. Indicators added by members: 1."
            in counts)
    assert "Vivantes" not in counts
    detail = hub.say(COORD, f"/situation R{report_id} detail")
    assert "See it: Klinikum Süd" in detail and "Do not see it: Vivantes" in detail
    with hub.store() as uow:
        report = uow.reports.get(report_id)
        assert report is not None
        assert "185.220.101.4" in {i.value for i in report.indicators}


def test_a_conversation_survives_a_restart_and_expires_after_a_day(hub: CommandHub) -> None:
    hub.say(NORD, "/report")
    hub.say(NORD, INCIDENT)
    restarted = CommandHub(hub.store, NOW + timedelta(minutes=5), POLICY)
    updates = iter(f"after-restart-{n}" for n in range(10))

    def say(text: str) -> str:
        answer = restarted.service.handle(NORD, text, next(updates))
        assert answer is not None
        return answer

    assert "Noted: Dräger Infinity Delta" in say("Dräger Infinity Delta")
    restarted.clock.now = NOW + timedelta(hours=25)
    assert "expired" in say("45.77.12.9")
    assert "I only understand commands" in say("45.77.12.9")


def test_bad_answers_are_asked_again_with_why(hub: CommandHub) -> None:
    hub.say(NORD, "/report")
    assert "Please describe what happened" in hub.say(NORD, "   ")
    assert "cannot be skipped" in hub.say(NORD, "/skip")
    hub.say(NORD, INCIDENT)
    assert "No product of that name is registered" in hub.say(NORD, "Acme Toaster 3000")
    assert "Which vendor and product" in hub.say(NORD, "Acme Toaster 3000")
    hub.say(NORD, "/skip")
    assert "I found no indicators" in hub.say(NORD, "nothing to see here")
    hub.say(NORD, "/skip")
    assert "Answer with one of CLEAR" in hub.say(NORD, "purple")
    assert "How may the hub share it" in hub.say(NORD, "/skip")  # AMBER by default
    assert "Answer 1 (coordinators only)" in hub.say(NORD, "everyone")
    review = hub.say(NORD, "2")
    assert "\nTLP:AMBER" in review and "Product: none named" in review
    assert "Stopped" in hub.say(NORD, "/cancel")
    assert hub.rows("triage") == []


def test_other_commands_work_during_a_report(hub: CommandHub) -> None:
    hub.say(NORD, "/report")
    assert "/report" in hub.say(NORD, "/help")
    assert "Which vendor and product" in hub.say(NORD, INCIDENT)


def test_hostile_indicator_text_is_capped_with_a_clear_answer(hub: CommandHub) -> None:
    hub.say(NORD, "/report")
    hub.say(NORD, INCIDENT)
    hub.say(NORD, "/skip")
    flood = " ".join(f"45.{i // 250}.{i % 250}.7" for i in range(3000))
    answer = hub.say(NORD, "\u202e\u200b" + flood + "x" * 150_000)
    assert "left out" in answer
    assert "only its first part" in answer


def test_photos_and_files_are_refused(hub: CommandHub) -> None:
    hub.say(NORD, "/report")
    answer = hub.service.handle(NORD, "", "photo-1", attachment=True)
    assert answer is not None and "text only" in answer and "What happened?" in answer


def test_retention_purges_old_reports_with_their_sightings(hub: CommandHub) -> None:
    report_id = file_report(hub)
    hub.say(COORD, f"/approve R{report_id}")
    hub.say(VIV, f"/seen R{report_id}")
    assert forget_old_reports(hub.store, NOW + timedelta(days=179), timedelta(days=180)) == 0
    assert forget_old_reports(hub.store, NOW + timedelta(days=181), timedelta(days=180)) == 1
    with hub.store() as uow:
        assert uow.reports.get(report_id) is None and uow.reports.sightings(report_id) == []
    assert "There is no report" in hub.say(VIV, f"/seen R{report_id}")


def test_removing_a_member_removes_its_reports(hub: CommandHub) -> None:
    report_id = file_report(hub)
    registrations.remove_member(hub.store, "Klinikum Nord")
    with hub.store() as uow:
        assert uow.reports.get(report_id) is None


def _audit(hub: CommandHub) -> list[object]:
    with hub.store() as uow:
        return list(uow.audit.latest(100))


def test_no_report_text_or_indicator_reaches_the_log(hub: CommandHub) -> None:
    """At DEBUG, with the bot's own logging (libraries that print texts are held back)."""
    stream = io.StringIO()
    handler = log_redaction.configure("DEBUG", [], stream=stream)
    try:
        logged = _logged_report(hub, stream)
    finally:
        logging.getLogger().removeHandler(handler)
    for secret in ("45.77.12.9", "bad-update", "44d88612", "10.20.30.40", "185.220.101.4",
                   "CVE-2021-44228", "ransomware", "Infinity Delta", "Klinikum"):
        assert secret not in logged, secret


def _logged_report(hub: CommandHub, stream: io.StringIO) -> str:
    report_id = file_report(hub)
    hub.say(COORD, f"/edit R{report_id} Monitors beacon to bad-update.net")
    hub.say(COORD, f"/approve R{report_id}")
    hub.say(SUED, f"/seen R{report_id} 185.220.101.4")
    logged = stream.getvalue()
    assert f"R{report_id}" in logged  # the log says what happened, by ID
    return logged


def test_each_reader_gets_the_relay_and_the_reporter_the_decision_in_their_language(
        hub: CommandHub) -> None:
    hub.say(VIV, "/language de")
    hub.say(NORD, "/language de")
    assert "Was ist passiert?" in hub.say(NORD, "/report")
    hub.say(NORD, INCIDENT)
    hub.say(NORD, "/skip")
    hub.say(NORD, "45.77.12.9")
    hub.say(NORD, "fertig")
    hub.say(NORD, "GREEN")
    hub.say(NORD, "anonym")
    filed = hub.say(NORD, "ja")
    found = re.search(r"\bR(\d+)\b", filed)
    assert found is not None, filed
    report_id = int(found.group(1))
    hub.say(COORD, f"/approve R{report_id}")
    [german] = texts(hub, "report", VIV.address)
    [english] = texts(hub, "report", SUED.address)
    assert german.startswith("🛡 Eine Mitgliedsorganisation meldet")
    assert english.startswith("🛡 A member organisation reports")
    assert INCIDENT in german and INCIDENT in english  # the reporter's words as written
    [told] = texts(hub, "report_notice", NORD.chat)
    assert "Koordinatoren" in told
