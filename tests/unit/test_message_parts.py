"""Any message fits: whatever a feed, a member or a stranger writes, the chat HTML is cut into
messages Telegram accepts (its HTML rules as tdlib applies them, checked by the test Bot API
server's parser, and 4,096 UTF-16 units) and Matrix accepts (65,536 bytes an event, encrypted
or not), and nothing of the text is lost or reordered."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.matrix import MAX_CONTENT_BYTES, message_contents
from bot.channels.telegram import button_url
from bot.domain.advisory import Advisory
from bot.domain.alerts import Alert, MatchedProduct
from bot.domain.message_parts import split_lines, utf16_length, wrap_line
from bot.domain.outbox_payload import AlertMessage, Button, ReplyMessage, text_message
from bot.domain.rendering import LONG_LINK_CHARS, chat_message_lines
from bot.domain.severity import Severity
from tests.support.telegram_server import parse_html

TELEGRAM_LIMIT = 4096
# What a homeserver adds to an event's content (ids, hashes, signatures), generously.
EVENT_OVERHEAD = 2_000
MATRIX_EVENT_LIMIT = 65_536

# Hostile text: huge lines, floods of what HTML escapes, emoji (two UTF-16 units, four bytes),
# combining marks piled on one letter, zero-width joiners, right-to-left marks, tags as text.
_PIECES = st.sampled_from([
    "&", "<", ">", '"', "'", "&amp;", "<b>", "</b>", "<a href='x'>", " ", "\n", "\t", "😀",
    "👩\u200d💻", "e\u0301", "\u0301" * 30, "\u202e", "\u200b", "ä", "中", "x", "word ",
    "https://adv.example.org/?a=1&b=2", "\U0001f1e9\U0001f1ea", "\ufeff",
])
HOSTILE_TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(_PIECES, max_size=200).map("".join),
    st.builds(lambda piece, n: piece * n, _PIECES, st.integers(1, 9000)),
    st.builds(lambda a, b, n: (a + b) * n, _PIECES, st.text(min_size=1, max_size=5),
              st.integers(1, 3000)),
)


def _telegram_messages(lines: list[str]) -> list[tuple[str, str]]:
    """(html, text) of each message, or the test fails as Telegram would refuse one."""
    messages = []
    for html in split_lines(lines, TELEGRAM_LIMIT):
        assert utf16_length(html) <= TELEGRAM_LIMIT
        text, _ = parse_html(html)  # raises HtmlParseError: "can't parse entities"
        assert utf16_length(text) <= TELEGRAM_LIMIT
        messages.append((html, text))
    return messages


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _alert(text: str, link: str) -> Alert:
    advisory = Advisory(id="x", title=text[:500], summary=text, link=link, source=text[:40],
                        cves=("CVE-2026-1",), severity=Severity.CRITICAL, cvss=9.8,
                        published=datetime(2026, 4, 14, 12, tzinfo=UTC))
    return Alert(advisory, "Klinikum Nord", (MatchedProduct(text[:200], text[:200], text),),
                 change=text[:300] or None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE_TEXT)
def test_any_reply_is_cut_into_messages_telegram_accepts_and_nothing_is_lost(
        text: str) -> None:
    lines, _ = chat_message_lines(ReplyMessage(text))
    messages = _telegram_messages(lines)
    whole, _ = parse_html("\n".join(lines))
    assert _squeezed("".join(t for _, t in messages)) == _squeezed(whole)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE_TEXT, st.one_of(
    st.just("https://adv.example.org/1"),
    st.builds(lambda n: "https://adv.example.org/track?" + "a=1&b=2&" * n, st.integers(1, 2000)),
    st.text(max_size=3000).map(lambda t: "https://x.test/" + t)))
def test_any_alert_fits_telegram_with_its_link_on_the_button(text: str, link: str) -> None:
    payload = AlertMessage(_alert(text, link))
    lines, button = chat_message_lines(payload, link_button=True)
    messages = _telegram_messages(lines)
    assert button == link  # the whole link, however long, stays one press away
    shown = "\n".join(html for html, _ in messages)
    if len(link) > LONG_LINK_CHARS:
        assert escape(link, quote=True) not in shown


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE_TEXT, st.sampled_from(["alert", "reply", "announcement"]))
def test_any_message_fits_a_matrix_event_even_encrypted(text: str, kind: str) -> None:
    link = "https://adv.example.org/" + "x" * min(len(text) * 3, 70_000)
    payload = (AlertMessage(_alert(text, link)) if kind == "alert"
               else text_message(kind, text, buttons=((Button("Yes", "/rsvp 3 yes"),),)))
    contents = message_contents(payload)
    for content in contents:
        wire = json.dumps(content)  # as matrix-nio sends it, and encrypts it
        assert len(wire) <= MAX_CONTENT_BYTES
        assert len(wire) * 4 // 3 + EVENT_OVERHEAD <= MATRIX_EVENT_LIMIT  # base64 when encrypted
        assert content["body"].strip() or not text.strip()
    assert "!rsvp 3 yes" in contents[-1]["body"] or kind == "alert"
    if kind != "alert":  # the text is all there, in order, in the parts' bodies
        assert _squeezed("".join(c["body"] for c in contents)).startswith(_squeezed(text))


def test_a_long_line_is_cut_at_spaces_and_its_tags_closed_and_opened_again() -> None:
    line = "<b>" + escape("Dräger & Co " * 10) + "</b> <i>end</i>"
    pieces = wrap_line(line, 40)
    assert all(utf16_length(p) <= 40 for p in pieces)
    assert all(p.startswith("<b>") and p.endswith("</b>") for p in pieces[:3])
    assert pieces[0] == "<b>Dräger &amp; Co Dräger &amp; Co </b>"  # 39 units
    assert "".join(re.sub(r"</?[bi]>", "", p) for p in pieces) == re.sub(
        r"</?[bi]>", "", line)


@pytest.mark.parametrize("line", [
    escape("&" * 5000),  # the jam of issue 14: 1,000 characters grew past 4,096 escaped
    "<b>" + escape('"' * 3000) + "</b>",
    "😀" * 3000,  # 6,000 UTF-16 units in 3,000 characters
    "e" + "\u0301" * 5000,  # one letter under thousands of combining marks
])
def test_a_line_longer_than_a_message_is_hard_wrapped_never_inside_an_entity(line: str) -> None:
    messages = _telegram_messages([line])
    assert len(messages) >= 2
    assert all(not re.search(r"&[a-z]*$", html) for html, _ in messages)
    assert "".join(text for _, text in messages) == parse_html(line)[0]


def test_a_tag_too_big_for_any_message_is_left_out_and_its_text_kept() -> None:
    huge = f'<a href="https://adv.example.org/{"x" * 5000}">Read the advisory</a>'
    assert split_lines(["title", huge], TELEGRAM_LIMIT) == ["title\nRead the advisory"]


def test_a_long_link_is_shown_as_its_host_an_anchor_on_matrix_a_button_on_telegram() -> None:
    link = "https://www.cisa.gov/news-events/ics-medical-advisories/icsma-26-1?" + "utm=x&" * 400
    payload = AlertMessage(_alert("Dräger Infinity Delta", link))
    telegram, button = chat_message_lines(payload, link_button=True)
    assert button == link
    assert telegram[-1] == ("Read the advisory on <b>www.cisa.gov</b>: button “Open the "
                            "advisory”")
    [content] = message_contents(payload)
    assert content["formatted_body"].endswith(
        f'Read the advisory: <a href="{escape(link, quote=True)}">www.cisa.gov</a>')
    short = AlertMessage(_alert("Dräger Infinity Delta", "https://www.cisa.gov/icsma-26-1"))
    assert chat_message_lines(short, link_button=True)[0][-1] == (
        '<a href="https://www.cisa.gov/icsma-26-1">Read the advisory</a>')


def test_a_matrix_message_too_big_for_one_event_goes_in_several_with_the_answers_last() -> None:
    text = "Exercise: " + "patch & reboot; " * 4000  # 64,000 characters, 96 KB as HTML
    payload = text_message("announcement", text, buttons=((Button("Yes", "/rsvp 3 yes"),),))
    contents = message_contents(payload)
    assert len(contents) >= 3
    assert all(len(json.dumps(c)) <= MAX_CONTENT_BYTES for c in contents)
    assert "".join(c["body"] for c in contents).startswith(text.rstrip())
    assert all("!rsvp 3 yes" not in c["body"] for c in contents[:-1])
    assert contents[-1]["body"].endswith("Answer: !rsvp 3 yes")
    assert contents[-1]["formatted_body"].endswith("Answer: !rsvp 3 yes")
    [small] = message_contents(ReplyMessage("a & b"))
    assert small["body"] == "a & b" and small["formatted_body"] == "a &amp; b"


@pytest.mark.parametrize(("link", "kept"), [
    ("https://www.cisa.gov/news-events/ics-medical-advisories/icsma-26-1", True),
    ("https://10.1.2.3/advisory", True),
    ("tg://resolve?domain=hub", True),
    ("http://intranet/advisory", False),  # Telegram wants a dot in a host name
    ("https://adv.example.org/a b", False),
    ("ftp://adv.example.org/1", False),
    ("https://[::1/", False),
    ("", False),
])
def test_a_link_telegram_would_refuse_on_a_button_gets_none(link: str, kept: bool) -> None:
    # Telegram refuses the whole message over such a button: the alert goes without it.
    assert button_url(link) == (link if kept else None)
