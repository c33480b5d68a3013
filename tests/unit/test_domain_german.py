"""What a German and an English reader see from the domain: help, usage errors, alerts, dates
across a DST change, and "ja" confirming a preview. (The catalogs are installed by conftest.)"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.domain.advisory import Advisory
from bot.domain.alerts import Alert, MatchedProduct
from bot.domain.commands import CommandError, help_text, parse_command
from bot.domain.coordination_commands import Confirm, parse_confirmation
from bot.domain.language import Phrase, speaking
from bot.domain.meetings import describe_time, meeting_start, until_text
from bot.domain.outbox_payload import AlertMessage, Button
from bot.domain.rendering import (
    alert_ref_line,
    button_hint_lines,
    published_text,
    render_alert_html,
    render_alert_text,
)
from bot.domain.severity import Severity, severity_heading, severity_label
from bot.domain.situation import SituationReport, situation_text
from bot.domain.tlp import Tlp

WINTER = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)  # 14:30 in Berlin (CET, UTC+1)
SUMMER = datetime(2026, 7, 25, 12, 30, tzinfo=UTC)  # 14:30 in Berlin (CEST, UTC+2)
BERLIN = "Europe/Berlin"


def an_alert(published: datetime = WINTER, **changes: object) -> Alert:
    advisory = Advisory(
        id="a1", title="Dräger Infinity Delta overflow", summary="A heap overflow.",
        link="https://x.test/a1", source="CERT-Bund", published=published,
        cves=("CVE-2026-0001",), cvss=9.8, severity=Severity.CRITICAL, tlp=Tlp.CLEAR)
    fields: dict[str, object] = {
        "advisory": advisory, "member": "Klinikum Nord",
        "products": (MatchedProduct("Dräger", "Infinity Delta",
                                    'product "Infinity Delta"'),),
        "exploited": True, "epss": 0.423,
    }
    fields.update(changes)
    return Alert(**fields)  # type: ignore[arg-type]


def error_of(text: str) -> str:
    parsed = parse_command(text)
    assert isinstance(parsed, CommandError), parsed
    return parsed.message


# --- /help and usage errors --------------------------------------------------------------------

def test_a_german_member_reads_help_in_german_with_the_command_words_unchanged() -> None:
    with speaking("de"):
        text = help_text("member")
    assert text.startswith("hubbot sendet Ihrer Organisation Warnmeldungen")
    assert "/subscribe <Hersteller> | <Produkt>" in text
    assert "/affected <Warnungs-ID> <yes|no|patched> — den Koordinatoren des Hubs mitteilen" in text
    assert "Für Koordinatoren" not in text


def test_a_german_admin_sees_the_headings_of_coordinators_and_admins_in_german() -> None:
    with speaking("de"):
        text = help_text("admin")
    assert "\nFür Koordinatoren des Hubs:\n" in text
    assert "\nFür Administratoren:\n/grant <Mitglied> <coordinator|member>" in text


def test_the_same_help_reads_in_english_outside_german() -> None:
    text = help_text("coordinator")
    assert text.startswith("hubbot sends your organisation alerts about security advisories")
    assert "/subscribe <vendor> | <product>" in text
    assert "\nFor coordinators:\n" in text


def test_a_usage_error_in_german_names_the_problem_and_the_usage() -> None:
    with speaking("de"):
        message = error_of("/latest 99")
    assert message == "Geben Sie eine Zahl von 1 bis 50 an.\nVerwendung: /latest [n]"
    assert error_of("/latest 99") == "Give a number from 1 to 50.\nUsage: /latest [n]"


@pytest.mark.parametrize(("command", "german"), [
    ("/affected abc yes", "Die Warnungs-ID ist eine Zahl, wie in der Nachricht angegeben."),
    ("/rsvp 0 yes", "Die Nummer des Treffens ist eine Zahl, wie in der Nachricht angegeben."),
    ("/timezone Mars/Olympus", "Unbekannte Zeitzone Mars/Olympus: Verwenden Sie einen Namen "
                               "wie Europe/Berlin."),
    ("/frobnicate", "Unbekannter Befehl /frobnicate. Senden Sie /help für die Liste der Befehle."),
])
def test_refusals_are_german_for_a_german_reader(command: str, german: str) -> None:
    with speaking("de"):
        assert error_of(command).split("\nVerwendung:")[0] == german


def test_an_impossible_date_is_refused_in_german() -> None:
    with speaking("de"):
        message = error_of("/meeting add 2026-02-30 10:00 Hub call")
    assert message.startswith("2026-02-30 10:00 ist kein gültiges Datum mit Uhrzeit.")
    assert "Verwendung: /meeting add <JJJJ-MM-TT HH:MM>" in message


def test_a_meeting_in_the_hour_the_clocks_skip_is_refused_in_german() -> None:
    now = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    with speaking("de"), pytest.raises(ValueError) as caught:
        meeting_start(date(2026, 3, 29), time(2, 30), BERLIN, now)
    assert str(caught.value) == ("2026-03-29 02:30 gibt es in Europe/Berlin nicht: Die Uhren "
                                 "werden dann vorgestellt. Wählen Sie eine andere Uhrzeit.")


# --- an alert in German and in English ---------------------------------------------------------

def test_an_alert_reads_in_german_with_german_numbers_and_dates() -> None:
    with speaking("de"):
        text = render_alert_text(an_alert(), BERLIN)
    lines = text.splitlines()
    assert lines[0] == "[KRITISCH (CVSS 9,8)] Dräger Infinity Delta overflow"
    assert "BEKANNTERMASSEN AKTIV AUSGENUTZT (CISA KEV)" in lines
    assert "Für: Klinikum Nord   Quelle: CERT-Bund   TLP:CLEAR" in lines
    assert "Veröffentlicht: 25.11.2026, 14:30 MEZ" in lines
    assert "EPSS: 42,3\u00a0% Wahrscheinlichkeit einer Ausnutzung in den nächsten 30 Tagen" in lines
    assert "Ihr Produkt: Dräger | Infinity Delta" in lines
    assert '  Treffer, weil product "Infinity Delta"' in lines
    assert "Link: https://x.test/a1" in lines


def test_the_same_alert_reads_in_english() -> None:
    text = render_alert_text(an_alert(), BERLIN)
    lines = text.splitlines()
    assert lines[0] == "[CRITICAL (CVSS 9.8)] Dräger Infinity Delta overflow"
    assert "KNOWN EXPLOITED in the wild (CISA KEV)" in lines
    assert "Published: 25 Nov 2026, 14:30 CET" in lines
    assert "EPSS: 42.3% chance of exploitation in the next 30 days" in lines
    assert '  matched because product "Infinity Delta"' in lines


def test_the_chat_html_alert_in_german() -> None:
    with speaking("de"):
        html = "\n".join(render_alert_html(an_alert(), BERLIN))
    assert "🚨 <b>BEKANNTERMASSEN AKTIV AUSGENUTZT</b> (CISA KEV)" in html
    assert "🔴 <b>KRITISCH · CVSS 9,8</b>" in html
    assert "TLP:CLEAR · CERT-Bund · 25.11.2026, 14:30 MEZ" in html
    assert "Ihr Produkt: <b>Dräger | Infinity Delta</b>" in html
    assert "<i>Treffer: product &quot;Infinity Delta&quot;</i>" in html
    assert '<a href="https://x.test/a1">Sicherheitshinweis lesen</a>' in html
    english = "\n".join(render_alert_html(an_alert(), BERLIN))
    assert "🔴 <b>CRITICAL · CVSS 9.8</b>" in english
    assert '<a href="https://x.test/a1">Read the advisory</a>' in english


def test_a_summer_date_is_in_summer_time_in_both_languages() -> None:
    with speaking("de"):
        assert published_text(SUMMER, BERLIN) == "25.07.2026, 14:30 MESZ"
        assert published_text(WINTER, BERLIN) == "25.11.2026, 14:30 MEZ"
    assert published_text(SUMMER, BERLIN) == "25 Jul 2026, 14:30 CEST"
    assert published_text(WINTER, BERLIN) == "25 Nov 2026, 14:30 CET"
    assert published_text(WINTER, None) == "25 Nov 2026, 13:30 UTC"


def test_an_alert_of_unknown_severity_and_a_hub_channel_alert_in_german() -> None:
    alert = an_alert(member=None, products=(), exploited=False, epss=None)
    advisory = alert.advisory
    unknown = Alert(Advisory(advisory.id, advisory.title, advisory.summary, advisory.link,
                             advisory.source, advisory.published), None, ())
    with speaking("de"):
        assert "Für: Hub-Kanal   Quelle: CERT-Bund   TLP:CLEAR" in render_alert_text(alert)
        assert render_alert_text(unknown).startswith("[SCHWEREGRAD UNBEKANNT] Dräger")
    assert render_alert_text(unknown).startswith("[SEVERITY UNKNOWN] Dräger")


def test_a_reason_kept_as_a_phrase_is_shown_in_the_readers_language() -> None:
    reason = Phrase("Alert ID {ref}", ref=7)  # any catalog message stands in for a reason
    alert = an_alert(products=(MatchedProduct("Dräger", "Infinity Delta", reason, note=reason),))
    with speaking("de"):
        text = render_alert_text(alert)
    assert "  Treffer, weil Warnungs-ID 7" in text.splitlines()
    assert "  Warnungs-ID 7" in text.splitlines()
    assert "  matched because Alert ID 7" in render_alert_text(alert).splitlines()


def test_the_alert_id_line_and_button_hints_in_german() -> None:
    advisory = Advisory("a1", "Titel", "", "https://adv.example/a1", "cisa")
    payload = AlertMessage(Alert(advisory, "Klinikum Nord", ()), 12,
                           buttons=((Button("Ja", "/rsvp 3 yes"),),))
    with speaking("de"):
        assert alert_ref_line(payload) == (
            "Warnungs-ID 12 · betroffen? /affected 12 yes|no|patched")
        assert alert_ref_line(AlertMessage(Alert(advisory, None, ()), 12)) == "Warnungs-ID 12"
        assert button_hint_lines(payload, "!") == ["Antwort: !rsvp 3 yes"]


def test_severity_words_are_translated_but_the_stored_label_stays_english() -> None:
    with speaking("de"):
        assert severity_label(Severity.HIGH) == "hoch"
        assert severity_heading(Severity.MEDIUM) == "MITTEL"
        assert Severity.HIGH.label == "high"
    assert severity_label(Severity.HIGH) == "high"
    assert severity_heading(None) == "SEVERITY UNKNOWN"


# --- meetings and the situation across languages ----------------------------------------------

def test_a_meeting_time_in_german_across_the_october_clock_change() -> None:
    before = datetime(2026, 10, 22, 12, 0, tzinfo=UTC)
    after = before + timedelta(days=7)
    with speaking("de"):
        assert describe_time(before, BERLIN) == (
            "Do., 22.10.2026, 14:00 MESZ (Europe/Berlin; 12:00 UTC)")
        assert describe_time(after, BERLIN) == (
            "Do., 29.10.2026, 13:00 MEZ (Europe/Berlin; 12:00 UTC)")
        assert until_text(timedelta(minutes=80)) == "in 1 Stunde 20 Minuten"
        assert until_text(timedelta(hours=23)) == "in 23 Stunden"
    assert describe_time(after, BERLIN) == "Thu 29 Oct 2026, 13:00 CET (Europe/Berlin; 12:00 UTC)"


def test_a_coordinator_reads_the_situation_in_german() -> None:
    report = SituationReport(4, "Infinity Delta overflow", 3,
                             {"Klinikum Nord": "yes", "Klinikum Süd": "patched"})
    with speaking("de"):
        text = situation_text(report, ["Klinikum Nord", "Klinikum Süd", "Praxis West"])
    assert text.splitlines() == [
        "Warnmeldung 4: Infinity Delta overflow",
        "Treffer bei 3 Mitgliedern; Antworten: 2, noch offen: 1.",
        "Betroffen: 1 · Gepatcht: 1 · Nicht betroffen: 0",
        "",
        "• Klinikum Nord: betroffen",
        "• Klinikum Süd: gepatcht",
        "• Praxis West: noch keine Antwort",
    ]


# --- answering a preview ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "confirm"), [
    ("ja", Confirm(True, None)),
    ("Ja!", Confirm(True, None)),
    ("j", Confirm(True, None)),
    ("!ja 12", Confirm(True, 12)),
    ("nein", Confirm(False, None)),
    ("Nein 7", Confirm(False, 7)),
    ("n", Confirm(False, None)),
    ("yes", Confirm(True, None)),
    ("no 3", Confirm(False, 3)),
])
def test_a_preview_is_confirmed_or_dropped_in_either_language(text: str,
                                                               confirm: Confirm) -> None:
    assert parse_confirmation(text) == confirm


@pytest.mark.parametrize("text", ["jein", "jaja", "nee", "ja bitte"])
def test_other_words_are_no_answer_to_a_preview(text: str) -> None:
    assert parse_confirmation(text) is None
