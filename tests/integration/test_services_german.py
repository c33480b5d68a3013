"""Each reader gets the services' messages in their own language, on a real store: a member
contact who chose German (/language de) reads German, one who did not reads English, and a hub
channel added with language "de" reads German; hub-wide messages (announcement, meeting notice
and its buttons, reminders) and digests are written once per language."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from icalendar import Calendar

from bot.domain.advisory import Advisory
from bot.domain.alerts import HubChannel
from bot.domain.exploitation import KevListing
from bot.domain.members import Network, Role
from bot.domain.roles import parse_admins
from bot.domain.severity import Severity
from bot.jobs.coordination import CoordinationJobs
from bot.services import registrations
from bot.services.chat_commands import ChatCommands, Sender
from bot.services.command_rate import CommandRateLimit
from bot.services.delivery_problems import recipient_gone
from bot.services.exploitation import escalate, record_catalog
from bot.services.hub_messages import HubPolicy
from bot.store.unit_of_work import SqlStore
from tests.support.command_hub import CommandHub

NOW = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)  # 11:00 in Berlin, summer time (MESZ/CEST)
ANNA = Sender(Network.TELEGRAM, "1001", "1001")  # Klinikum Nord, chooses German
BOB = Sender(Network.TELEGRAM, "2002", "2002")  # Vivantes, English
COORD = Sender(Network.TELEGRAM, "3003", "3003")  # the hub office's coordinator, English
HUB_DE, HUB_EN = "-100500", "!hub:hub.test"
POLICY = HubPolicy(admins=parse_admins("9999"), zone="Europe/Berlin")


class Hub(CommandHub):
    """The command service on a real store; what it queued, read back per address."""

    def one(self, kind: str, address: str) -> dict[str, Any]:
        [payload] = self.payloads(kind, address)
        return payload


@pytest.fixture
def hub(store: SqlStore) -> Hub:
    registrations.add_member(store, "Hub Office", [(Network.TELEGRAM, "3003")], NOW)
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, "1001")], NOW)
    registrations.add_member(store, "Vivantes", [(Network.TELEGRAM, "2002")], NOW)
    with store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, HUB_DE, language="de"), NOW)
        uow.hub_channels.add(HubChannel(Network.MATRIX, HUB_EN), NOW)
        uow.commit()
    hub = Hub(store, NOW, POLICY)
    assert hub.say(ANNA, "/language de").startswith("Ab jetzt schreibe ich Ihnen auf Deutsch.")
    return hub


def test_command_answers_are_in_each_readers_language(hub: Hub) -> None:
    assert hub.say(ANNA, "/subscribe Dräger | Infinity Delta") == (
        "Dräger | Infinity Delta hinzugefügt. Klinikum Nord erhält eine Warnmeldung, wenn ein "
        "Sicherheitshinweis es nennt.")
    assert hub.say(BOB, "/subscribe Dräger | Infinity Delta") == (
        "Added Dräger | Infinity Delta. Vivantes will be alerted when an advisory names it.")
    assert "steht bereits in der Liste von Klinikum Nord" in hub.say(
        ANNA, "/subscribe dräger | infinity delta")

    assert hub.say(ANNA, "/products") == (
        "Produkte von Klinikum Nord (1):\n• Dräger | Infinity Delta")
    assert hub.say(BOB, "/products") == "Vivantes's products (1):\n• Dräger | Infinity Delta"

    assert hub.say(ANNA, "/mute 2h") == (
        "Warnmeldungen in diesem Chat kommen bis 20.10.2026, 13:00 MESZ stumm an; keine wird "
        "zurückgehalten. /mute off beendet das.")
    assert hub.say(BOB, "/mute 2h") == (
        "Alerts to this chat arrive silently until 20 Oct 2026, 13:00 CEST; none is held back. "
        "/mute off ends it.")

    hub.say(ANNA, "/severity high")
    status = hub.say(ANNA, "/status").splitlines()
    assert status[0] == "Feeds: 0 von 0 in Ordnung; noch kein erfolgreicher Abruf."
    assert "Klinikum Nord: 1 Produkt, Schweregrad-Schwelle hoch." in status
    assert "Stummgeschaltet bis 20.10.2026, 13:00 MESZ." in status
    status = hub.say(BOB, "/status").splitlines()
    assert status[0] == "Feeds: 0 of 0 healthy; last successful poll not yet."
    assert "Vivantes: 1 product, severity threshold all." in status
    assert "Muted until 20 Oct 2026, 13:00 CEST." in status

    # The language follows the person, not the member: back to English after /language off.
    assert "Ich verstehe nur Befehle" in hub.say(ANNA, "hello")
    hub.say(ANNA, "/language off")
    assert hub.say(ANNA, "hello") == "I only understand commands. Send /help for the list."


def test_an_announcement_reaches_everyone_in_their_language(hub: Hub) -> None:
    preview = hub.say(COORD, "/announce --dm Tabletop exercise on Friday")
    assert preview.startswith("Preview — this goes to 2 hub channels and 3 member contacts:")
    assert [b["label"] for b in hub.last_reply(COORD)["buttons"][0]] == ["Send", "Cancel"]
    assert hub.say(COORD, "yes") == "Sent: the announcement is on its way to 5 addresses."

    german = "📣 Mitteilung des Hubs\n\nTabletop exercise on Friday"
    english = "📣 Announcement from the hub\n\nTabletop exercise on Friday"
    for address, text, language in ((HUB_DE, german, "de"), (ANNA.chat, german, "de"),
                                    (HUB_EN, english, "en"), (BOB.chat, english, "en"),
                                    (COORD.chat, english, "en")):
        payload = hub.one("announcement", address)
        assert (payload["text"], payload["language"]) == (text, language)


def test_a_german_coordinators_preview_and_buttons_are_german(hub: Hub) -> None:
    hub.say(COORD, "/language de")
    preview = hub.say(COORD, "/announce Übung am Freitag")
    assert preview == (
        "Vorschau – dies geht an 2 Hub-Kanäle:\n\n📣 Mitteilung des Hubs\n\nÜbung am Freitag\n\n"
        "Senden? Antworten Sie mit ja oder nein (innerhalb von 30 Minuten).")
    assert [b["label"] for b in hub.last_reply(COORD)["buttons"][0]] == ["Senden", "Abbrechen"]
    assert hub.say(COORD, "no") == "Abgebrochen; nichts wurde gesendet."


def test_meeting_notice_rsvp_and_reminder_in_each_readers_language(hub: Hub) -> None:
    answer = hub.say(COORD, "/meeting add 2026-11-02 14:00 Quarterly exercise | "
                            "https://meet.example/q4")
    assert answer.startswith("Meeting 1 scheduled for Mon 2 Nov 2026, 14:00 CET (Europe/Berlin; "
                             "13:00 UTC); posted to 2 hub channels. Reminders go 24 hours and "
                             "1 hour before.")

    german = hub.one("meeting", HUB_DE)
    assert german["text"].splitlines() == [
        "📅 Treffen des Hubs 1: Quarterly exercise",
        "Wann: Mo., 02.11.2026, 14:00 MEZ (Europe/Berlin; 13:00 UTC)",
        "Teilnehmen: https://meet.example/q4",
        "Die angehängte Kalenderdatei trägt es in Ihren Kalender ein. Antworten Sie mit "
        "/rsvp 1 yes, no oder maybe."]
    assert german["buttons"] == [[{"label": "Teilnehmen", "command": "/rsvp 1 yes"},
                                  {"label": "Vielleicht", "command": "/rsvp 1 maybe"},
                                  {"label": "Absagen", "command": "/rsvp 1 no"}]]
    english = hub.one("meeting", HUB_EN)
    assert english["text"].startswith("📅 Hub meeting 1: Quarterly exercise\nWhen: Mon 2 Nov")
    assert [b["label"] for b in english["buttons"][0]] == ["Attend", "Maybe", "Decline"]
    # The calendar file's description is the reader's too; its title stays the meeting's.
    for payload, join in ((german, "Teilnehmen"), (english, "Join")):
        event = Calendar.from_ical(payload["attachment"]["text"]).walk("VEVENT")[0]
        assert str(event["description"]) == f"{join}: https://meet.example/q4"
        assert str(event["summary"]) == "Quarterly exercise"

    listing = hub.say(ANNA, "/meetings")
    assert listing.startswith("Kommende Treffen des Hubs:\n• 1: Quarterly exercise — Mo., "
                              "02.11.2026, 14:00 MEZ")
    assert [b["label"] for b in hub.last_reply(ANNA)["buttons"][0]] == [
        "Teilnehmen", "Vielleicht", "Absagen"]
    assert hub.say(ANNA, "/rsvp 1 yes") == (
        "Notiert: Sie nehmen an Treffen 1, Quarterly exercise, am Mo., 02.11.2026, 14:00 MEZ "
        "(Europe/Berlin; 13:00 UTC) teil. Sie erhalten die Erinnerungen hier.")
    assert hub.say(BOB, "/rsvp 1 maybe") == (
        "Noted: you may attend meeting 1, Quarterly exercise, on Mon 2 Nov 2026, 14:00 CET "
        "(Europe/Berlin; 13:00 UTC). You will get the reminders here.")

    hub.clock.now = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # the 1h reminder is due
    CoordinationJobs(hub.store, POLICY, hub.clock).resync_reminders()
    assert hub.one("reminder", ANNA.chat)["text"].splitlines()[:2] == [
        "⏰ Erinnerung: Treffen des Hubs 1, Quarterly exercise, beginnt in 1 Stunde",
        "Wann: Mo., 02.11.2026, 14:00 MEZ (Europe/Berlin; 13:00 UTC)"]
    assert hub.one("reminder", HUB_DE)["text"].startswith("⏰ Erinnerung: Treffen des Hubs 1")
    assert hub.one("reminder", BOB.chat)["text"].startswith(
        "⏰ Reminder: hub meeting 1, Quarterly exercise, starts in 1 hour\nWhen: Mon 2 Nov")
    assert hub.one("reminder", HUB_EN)["language"] == "en"


def test_a_cancelled_meeting_is_told_in_each_readers_language(hub: Hub) -> None:
    hub.say(COORD, "/meeting add 2026-11-02 14:00 Quarterly exercise")
    hub.say(ANNA, "/rsvp 1 no")
    assert hub.say(COORD, "/meeting cancel 1") == (
        "Meeting 1 cancelled; 3 notifications on their way.")
    # The notice went to the hub channels only; who answered gets the cancellation too.
    assert hub.one("meeting", ANNA.chat)["text"].startswith(
        "❌ Abgesagt: Treffen des Hubs 1, Quarterly exercise, angesetzt für Mo., 02.11.2026")
    assert hub.payloads("meeting", HUB_EN)[-1]["text"].startswith(
        "❌ Cancelled: hub meeting 1, Quarterly exercise, which was set for Mon 2 Nov 2026")


def test_digests_are_written_in_each_readers_language(hub: Hub) -> None:
    for sender in (ANNA, BOB):
        hub.say(sender, "/subscribe Dräger | Infinity Delta")
    assert hub.say(ANNA, "/digest on").startswith(
        "Tageszusammenfassung an: Warnmeldungen unter kritisch für Klinikum Nord kommen einmal "
        "täglich um 08:00 (Europe/Berlin) in einer Nachricht.")
    assert hub.say(BOB, "/digest on").startswith(
        "Digest on: Vivantes's alerts below critical arrive in one message a day at 08:00 "
        "(Europe/Berlin).")
    hub.ingest(Advisory("adv-1", "Dräger Infinity Delta: information disclosure", "",
                        "https://adv.example/1", "cisa", severity=Severity.HIGH))
    hub.clock.now = datetime(2026, 10, 21, 6, 0, tzinfo=UTC)  # 08:00 in Berlin
    assert CoordinationJobs(hub.store, POLICY, hub.clock).release_digests() == 2

    german = hub.one("digest", ANNA.chat)
    lines = german["text"].splitlines()
    assert german["language"] == "de"
    assert lines[0] == "Tageszusammenfassung für Klinikum Nord: 1 Warnmeldung"
    assert "[1] [HOCH] Dräger Infinity Delta: information disclosure" in lines
    assert "  Ihr Produkt: Dräger | Infinity Delta" in lines
    assert lines[-1] == "Antworten Sie zu jeder mit /affected <ID> yes, no oder patched."
    english = hub.one("digest", BOB.chat)["text"].splitlines()
    assert english[0] == "Daily digest for Vivantes: 1 alert"
    assert "  Your product: Dräger | Infinity Delta" in english
    assert english[-1] == "Answer /affected <id> yes, no or patched for each."


def test_the_weekly_summary_is_in_each_coordinators_language(hub: Hub) -> None:
    hub.say(COORD, "/language de")
    hub.say(COORD, "/meeting add 2026-10-23 14:00 Exercise")
    assert CoordinationJobs(hub.store, POLICY, hub.clock).weekly_summary() == 2
    lines = hub.one("summary", COORD.chat)["text"].splitlines()
    assert lines[0] == "Wochenübersicht des Hubs, 13.10.2026 – 20.10.2026"
    assert lines[1] == ("Sicherheitshinweise, die Mitglieder betrafen: 0, mit insgesamt 0 "
                        "Warnmeldungen an Mitglieder.")
    assert lines[2].startswith("Treffen 1: Exercise, Fr., 23.10.2026, 14:00 MESZ")
    assert hub.one("summary", "9999")["text"].startswith(
        "Weekly summary of the hub, 13 Oct 2026 – 20 Oct 2026")
    assert hub.one("meeting", HUB_DE)["language"] == "de"  # the channel's language


def test_a_kev_escalation_is_written_in_each_recipients_language(hub: Hub) -> None:
    for sender in (ANNA, BOB):
        hub.say(sender, "/subscribe Dräger | Infinity Delta")
    hub.ingest(Advisory("adv-1", "Dräger Infinity Delta: authentication bypass", "",
                        "https://adv.example/1", "cisa", cves=("CVE-2026-1111",),
                        severity=Severity.HIGH))
    entry = KevListing("CVE-2026-1111", date(2026, 10, 19), "Dräger", "Infinity Delta",
                       "Auth bypass", True, "Apply the vendor's update.")
    with hub.store() as uow:
        record_catalog(uow, [KevListing("CVE-2020-0001", None, "X", "Y", "Z", False)], NOW)
        record_catalog(uow, [entry], NOW)
        assert escalate(uow, entry, NOW) == 4  # two members, two hub channels
        uow.commit()

    german = hub.one("escalation", ANNA.chat)
    assert german["language"] == "de"
    assert german["text"].splitlines() == [
        "🚨 Jetzt aktiv ausgenutzt: CVE-2026-1111",
        "Warnmeldung 1: Dräger Infinity Delta: authentication bypass",
        "Die CISA hat CVE-2026-1111 (Dräger Infinity Delta) am 19.10.2026 in ihren Katalog "
        "Known Exploited Vulnerabilities (KEV) aufgenommen.",
        "Diese Schwachstelle wird bekanntermaßen in Ransomware-Kampagnen eingesetzt.",
        "Erforderliche Maßnahme: Apply the vendor's update.",
        "https://adv.example/1",
        "Betroffen? /affected 1 yes|no|patched"]
    assert hub.one("escalation", HUB_DE)["text"].startswith("🚨 Jetzt aktiv ausgenutzt")
    english = hub.one("escalation", BOB.chat)["text"].splitlines()
    assert english[0] == "🚨 Now exploited in the wild: CVE-2026-1111"
    assert english[2] == ("CISA added CVE-2026-1111 (Dräger Infinity Delta) to its Known "
                          "Exploited Vulnerabilities catalog on 19 Oct 2026.")


def test_coordinators_are_told_of_a_gone_recipient_in_their_language(hub: Hub) -> None:
    registrations.add_member(hub.store, "Charité", [(Network.TELEGRAM, "4004")], NOW)
    with hub.store() as uow:
        uow.members.set_role("Charité", Role.COORDINATOR)
        uow.commit()
    hub.say(Sender(Network.TELEGRAM, "4004", "4004"), "/language de")
    with hub.store() as uow:
        recipient_gone(uow, Network.TELEGRAM, "2002", "Forbidden: bot was blocked", NOW)
        uow.commit()
    german = hub.one("notice", "4004")
    assert german["language"] == "de"
    assert german["text"] == (
        "Ein telegram-Kontakt von Vivantes kann keine Nachrichten mehr empfangen (Forbidden: "
        "bot was blocked). Er ist als inaktiv markiert und 0 wartende Nachrichten an ihn "
        "wurden verworfen; er wird wieder aktiv, sobald er dem Bot schreibt.")
    assert hub.one("notice", COORD.chat)["text"].startswith(
        "A telegram contact of Vivantes can no longer receive messages (Forbidden: bot was "
        "blocked). It is marked inactive and 0 queued messages to it were dropped;")


def test_a_german_reader_over_the_command_rate_is_told_so_in_german(hub: Hub) -> None:
    service = ChatCommands(hub.store, hub.clock, CommandRateLimit("2/minute"), policy=POLICY)
    answers = [service.handle(ANNA, "/products", f"flood{i}") for i in range(4)]
    assert answers[2] == ("Sie senden Befehle schneller, als ich sie beantworte; warten Sie "
                          "eine Minute und versuchen Sie es erneut.")
    assert answers[3] == ""
    # Someone whose app speaks German but who chose nothing yet: their app's language.
    stranger = Sender(Network.TELEGRAM, "7007", "7007", language="de-AT")
    answers = [service.handle(stranger, "/help", f"s{i}") for i in range(3)]
    assert answers[2] is not None and answers[2].startswith("Sie senden Befehle schneller")
