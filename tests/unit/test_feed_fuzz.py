"""Whatever a server sends, parsing answers with advisories and problems, never a crash."""

from datetime import timedelta
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.feeds.config import FeedConfig
from bot.feeds.html_text import html_to_text
from bot.feeds.parse import FeedRejected, ParsedFeed, parse_feed
from tests.support.feedserver import rss

FEED = FeedConfig("fuzz", "https://feeds.example.org/rss.xml", timedelta(hours=1))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash_the_parser(body: bytes) -> None:
    try:
        result = parse_feed(FEED, body, {})
    except FeedRejected:
        return
    assert isinstance(result, ParsedFeed)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_any_title_and_text_give_a_clean_advisory(title: str, text: str) -> None:
    item = (
        f"<item><title>{escape(title)}</title><description>{escape(text)}</description>"
        "<link>https://example.org/a</link></item>"
    )
    result = parse_feed(FEED, rss([item]), {})
    for advisory in result.advisories:
        assert advisory.title == advisory.title.strip()
        assert "\n" not in advisory.title
        assert advisory.id == "https://example.org/a"


@given(st.text(max_size=200))
def test_script_content_never_survives_html_to_text(payload: str) -> None:
    marker = "SCRIPT-BODY-" + payload.replace("<", "").replace(">", "")
    text = html_to_text(f"<p>before</p><script>{marker}</script><p>after</p>")
    assert "SCRIPT-BODY-" not in text
    assert text.startswith("before") and text.endswith("after")
