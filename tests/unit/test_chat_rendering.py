"""Alerts as chat HTML: escaped, balanced line by line, and split within Telegram's limit."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.advisory import Advisory
from bot.domain.alerts import Alert, MatchedProduct
from bot.domain.commands import (
    CommandError,
    Latest,
    Mute,
    SetSeverity,
    Start,
    Subscribe,
    help_text,
    parse_command,
)
from bot.domain.message_parts import split_lines, utf16_length
from bot.domain.outbox_payload import (
    AlertMessage,
    ReplyMessage,
    payload_from_json,
    payload_to_json,
)
from bot.domain.rendering import chat_message_lines, render_alert_html
from bot.domain.severity import Severity

HOSTILE = Advisory(
    id="x", title='<script>alert(1)</script> & <b>bold</b> "quoted" *md* _x_ [l](u)',
    summary="Ünïcödé <i>unclosed & more " * 200, link='https://x.test/?a=1&b="2"',
    source="feed<1>", cves=("CVE-2026-1",), severity=Severity.HIGH,
)


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag) -> None:
        assert self.stack and self.stack.pop() == tag


def test_feed_supplied_strings_are_escaped_and_every_line_is_balanced() -> None:
    alert = Alert(HOSTILE, "Klinikum Nord", (MatchedProduct("A<b>", "P&Q", 'why "x"'),))
    lines = render_alert_html(alert)
    html = "\n".join(lines)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "feed&lt;1&gt;" in html
    assert 'href="https://x.test/?a=1&amp;b=&quot;2&quot;"' in html
    tags = set(re.findall(r"</?([a-z]+)", html))
    assert tags <= {"b", "i", "a"}
    for line in lines:
        checker = _Balance()
        checker.feed(line)
        checker.close()
        assert checker.stack == [], line


def test_long_messages_split_between_lines_within_the_limit() -> None:
    lines = [f"line {i} " + "é😀" * 40 for i in range(200)]
    parts = split_lines(lines, 4096)
    assert len(parts) > 1
    assert all(utf16_length(p) <= 4096 for p in parts)
    assert "\n".join(parts).split("\n") == lines  # nothing lost, nothing reordered


def test_a_reply_is_plain_text_made_safe_and_cut_to_fit() -> None:
    lines, link = chat_message_lines(ReplyMessage("a <b> & c\n" + "x" * 5000))
    assert link is None and lines == ["a &lt;b&gt; &amp; c", "x" * 5000]
    parts = split_lines(lines, 4096)
    assert all(utf16_length(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "") == "a &lt;b&gt; &amp; c" + "x" * 5000


def test_an_alert_payload_offers_its_link() -> None:
    alert = Alert(HOSTILE, "Klinikum Nord", ())
    _, link = chat_message_lines(AlertMessage(alert))
    assert link == HOSTILE.link


@pytest.mark.parametrize(("text", "expected"), [
    ("/start", Start(None)),
    ("/start@hub_bot AbCdEf123", Start("AbCdEf123")),
    ("/subscribe  Dräger |  Infinity Delta ", Subscribe("Dräger", "Infinity Delta")),
    ("/SEVERITY High", SetSeverity(Severity.HIGH)),
    ("/mute 1d12h", Mute(__import__("datetime").timedelta(days=1, hours=12))),
    ("/mute off", Mute(None)),
    ("/latest", Latest(5)),
    ("\u200b/latest 7", Latest(7)),
])
def test_commands_parse(text, expected) -> None:
    assert parse_command(text) == expected


def test_plain_text_is_not_a_command() -> None:
    assert parse_command("hello /help") is None


def test_help_lists_every_command_with_its_usage() -> None:
    text = help_text()
    for name in ("start", "help", "subscribe", "unsubscribe", "products", "severity", "mute",
                 "status", "latest"):
        assert f"/{name}" in text


@pytest.mark.parametrize("text", ["/", "/ subscribe", "/sub\x00scribe x", "/" + "a" * 40,
                                  "/subscribe " + "x|" * 600])
def test_malformed_commands_get_an_answer_not_a_crash(text: str) -> None:
    assert isinstance(parse_command(text), CommandError)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=2000) | st.builds(lambda a, b: f"/{a} {b}", st.sampled_from(
    ["start", "subscribe", "unsubscribe", "severity", "mute", "latest", "help", "x"]),
    st.text(max_size=500)))
def test_any_message_parses_to_a_command_an_answer_or_nothing(text: str) -> None:
    result = parse_command(text)
    assert result is None or hasattr(result, "__dataclass_fields__")
    if isinstance(result, Subscribe):
        assert result.vendor and result.product and "|" not in result.vendor + result.product


def test_commands_are_written_with_the_networks_prefix_and_links_are_left_alone() -> None:
    from bot.domain.rendering import with_command_prefix

    text = ("Send /help. Only coordinators may use /announce (see https://hub.example/help "
            "and /tmp/affected); /affected 3 yes, or /helpdesk.")
    assert with_command_prefix(text, "!") == (
        "Send !help. Only coordinators may use !announce (see https://hub.example/help "
        "and /tmp/affected); !affected 3 yes, or /helpdesk.")
    assert with_command_prefix(text, "/") == text


def test_an_alert_shows_exploitation_epss_what_changed_and_the_version_decision() -> None:
    from bot.domain.advisory import Advisory
    from bot.domain.alerts import Alert, MatchedProduct
    from bot.domain.rendering import render_alert_html, render_alert_text

    advisory = Advisory("a", "Philips <IntelliVue> MX40", "", "https://x/1", "cisa-csaf",
                        cves=("CVE-2026-1",))
    product = MatchedProduct("Philips", "IntelliVue MX40", 'product "IntelliVue MX40"',
                             "affected", "Your version is affected: B.06.12 < B.06.18 & co")
    alert = Alert(advisory, "Vivantes", (product,), exploited=True, epss=0.4231,
                  change="a fix is now available (B.06.19)")
    message = payload_from_json(payload_to_json(AlertMessage(alert)))
    assert isinstance(message, AlertMessage) and message.alert == alert
    again = message.alert
    html = "\n".join(render_alert_html(again))
    assert html.startswith("🚨 <b>KNOWN EXPLOITED in the wild</b>")
    assert "🔁 <b>Updated:</b> a fix is now available (B.06.19)" in html
    assert "EPSS 42.3%" in html and "&lt;IntelliVue&gt;" in html
    assert "<b>Your version is affected: B.06.12 &lt; B.06.18 &amp; co</b>" in html
    text = render_alert_text(again)
    assert "KNOWN EXPLOITED in the wild (CISA KEV)" in text and "Updated: a fix" in text
    assert alert.priority == 4  # known exploited goes first, whatever the severity
