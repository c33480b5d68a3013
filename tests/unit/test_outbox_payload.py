"""The outbox payload: every kind of message comes back from its stored form as it was queued."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.advisory import Advisory
from bot.domain.alerts import Alert, MatchedProduct
from bot.domain.language import N_, Phrase, in_language, speaking
from bot.domain.outbox_payload import (
    PAYLOAD_VERSION,
    TEXT_KINDS,
    AlertMessage,
    AnnouncementMessage,
    Attachment,
    Button,
    DeliveryNotice,
    DigestMessage,
    EscalationMessage,
    FeedHealthMessage,
    MeetingMessage,
    OutboxPayload,
    PayloadError,
    ReminderMessage,
    ReplyMessage,
    ReportMessage,
    ReportNotice,
    SummaryMessage,
    TextMessage,
    TriageMessage,
    alert_message_from_json,
    payload_from_json,
    payload_to_json,
    text_message,
)
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp

ADVISORY = Advisory("cisa:icsma-26-1", "Dräger Infinity Delta: buffer overflow",
                    "A crafted packet restarts the monitor.", "https://adv.example/1", "cisa",
                    published=datetime(2026, 11, 24, 8, 0, tzinfo=UTC), cves=("CVE-2026-1",),
                    cvss=7.5, severity=Severity.HIGH, tlp=Tlp.AMBER, tags=("medical",))
WHY = Phrase(N_("product {product}, vendor {vendor}"),
             product=Phrase(N_('"{words}" in the title'), words="Infinity Delta"),
             vendor=Phrase(N_('"{words}" in the title'), words="Dräger"))
ANSWERS = ((Button("Affected", "/affected 7 yes"), Button("Not affected", "/affected 7 no")),)
ICS = Attachment("meeting-3.ics", "text/calendar", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")

EVERY_KIND: list[OutboxPayload] = [
    AlertMessage(Alert(ADVISORY, "Charité", (MatchedProduct("Dräger", "Infinity Delta", WHY,
                                                            "affected", "plain note"),),
                       exploited=True, epss=0.42, change="a fix is now available"),
                 ref=7, silent=True, zone="Europe/Berlin", language="de", buttons=ANSWERS),
    AlertMessage(Alert(ADVISORY, None, (), withheld=2), ref=7, language="en"),
    AlertMessage(Alert(Advisory("a", "t", "", "", "nvd"), None, ())),
    ReplyMessage("Added: Dräger | Infinity Delta", "de", ANSWERS),
    AnnouncementMessage("📣 Announcement from the hub\n\nExercise on Friday", "en"),
    MeetingMessage("📅 Hub meeting 3", "de", ((Button("Yes", "/rsvp 3 yes"),),), ICS),
    MeetingMessage("❌ Cancelled: hub meeting 3", "en", attachment=ICS),
    ReminderMessage("⏰ Reminder: hub meeting 3 starts in 1 hour", "en"),
    DigestMessage("Daily digest for Charité: 2 alerts", "de"),
    SummaryMessage("Hub week", "en"),
    DeliveryNotice("A telegram contact of Vivantes can no longer receive messages", "en"),
    FeedHealthMessage("⚠️ Feed siemens has failed", "en"),
    EscalationMessage("🚨 Now exploited: CVE-2026-1", "de", ref=7),
    ReportMessage("🛡 A member organisation reports (R3, TLP:AMBER)", "de",
                  ((Button("We see this too", "/seen R3"), Button("Not here", "/seen R3 no")),)),
    TriageMessage("📝 Report R3 from Charité", "en", ((Button("Approve", "/approve R3"),),)),
    ReportNotice("2 other members see R3 too.", "en"),
]


@pytest.mark.parametrize("message", EVERY_KIND, ids=lambda m: m.kind)
def test_every_kind_of_message_comes_back_as_it_was_queued(message: OutboxPayload) -> None:
    stored = payload_to_json(message)
    assert json.loads(stored)["version"] == PAYLOAD_VERSION
    assert json.loads(stored)["kind"] == message.kind
    back = payload_from_json(stored)
    assert back == message
    assert type(back) is type(message)


def test_every_text_kind_has_a_model_and_each_is_tried() -> None:
    tried = {m.kind for m in EVERY_KIND if isinstance(m, TextMessage)}
    assert tried == set(TEXT_KINDS)
    assert {type(text_message(kind, "x")) for kind in TEXT_KINDS} == set(TEXT_KINDS.values())


def test_an_alerts_reasons_come_back_as_phrases_and_read_in_german() -> None:
    back = payload_from_json(payload_to_json(EVERY_KIND[0]))
    assert isinstance(back, AlertMessage)
    [product] = back.alert.products
    assert isinstance(product.why, Phrase)
    assert product.why == 'product "Infinity Delta" in the title, vendor "Dräger" in the title'
    with speaking("de"):
        assert in_language(product.why) == \
            "Produkt „Infinity Delta“ im Titel, Hersteller „Dräger“ im Titel"


def test_a_row_written_before_payloads_had_a_version_reads_as_version_one() -> None:
    before = {"kind": "reply", "text": "Added", "language": "de",
              "buttons": [[{"label": "Undo", "command": "/unsubscribe 3"}]]}
    assert payload_from_json(json.dumps(before)) == ReplyMessage(
        "Added", "de", ((Button("Undo", "/unsubscribe 3"),),))


def test_a_payload_without_its_kind_takes_the_rows() -> None:
    assert payload_from_json('{"text": "hello"}', "announcement") == AnnouncementMessage("hello")


@pytest.mark.parametrize(("stored", "reason"), [
    ("not json", "not JSON"),
    ('["a list"]', "not a JSON object"),
    ('{"version": 3, "kind": "reply", "text": "x"}', "version 3: this bot reads 1 to 2"),
    ('{"version": "2", "kind": "reply", "text": "x"}', "version '2': this bot reads 1 to 2"),
    ('{"kind": "telepathy", "text": "x"}', "unknown kind 'telepathy'"),
    ('{"kind": "alert", "text": "secret words"}',
     "a field of the alert payload is missing or malformed (KeyError)"),
])
def test_a_payload_this_bot_cannot_read_says_why_without_its_text(stored: str,
                                                                  reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        payload_from_json(stored)
    assert str(caught.value).startswith(reason)
    assert "secret" not in str(caught.value)


def test_only_an_alert_is_held_for_the_digest() -> None:
    alert = EVERY_KIND[0]
    assert alert_message_from_json(payload_to_json(alert)) == alert
    with pytest.raises(PayloadError, match="a reply payload where an alert was expected"):
        alert_message_from_json(payload_to_json(ReplyMessage("hi")))


def test_a_text_without_a_kind_of_its_own_is_refused_when_queued() -> None:
    with pytest.raises(ValueError, match="no text message of kind 'text'"):
        payload_to_json(TextMessage("which kind?"))
    with pytest.raises(ValueError, match="no text message of kind 'poem'"):
        text_message("poem", "roses")


@given(st.text(), st.sampled_from(sorted(TEXT_KINDS)), st.none() | st.sampled_from(["de", "en"]))
def test_any_text_survives_the_stored_form(text: str, kind: str, language: str | None) -> None:
    message = text_message(kind, text, language)
    assert payload_from_json(payload_to_json(message)) == message
