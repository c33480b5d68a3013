import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.severity import Severity
from bot.domain.tlp import Tlp
from bot.feeds.config import FeedConfig
from bot.feeds.parse import MAX_SUMMARY, MAX_TITLE, FeedRejected, parse_feed
from tests.support.feedserver import rss

FEED = FeedConfig(
    "test-feed", "https://feeds.example.org/advisories.xml", timedelta(minutes=30),
    tlp=Tlp.GREEN, tags=("medical",),
)  # fmt: skip
EXAMPLES = Path(__file__).resolve().parents[2] / "bot" / "cli" / "examples" / "feeds"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>t</title>
<item><title>&lol9;</title><link>https://example.org/1</link></item>
</channel></rss>"""


def item(
    title: str = "Advisory",
    *,
    link: str | None = "https://example.org/a/1",
    guid: str | None = None,
    description: str | None = None,
    date: str | None = "Thu, 27 Aug 2026 12:00:00 +0000",
    extra: str = "",
) -> str:
    parts = [f"<title>{title}</title>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f"<guid>{guid}</guid>")
    if description is not None:
        parts.append(f"<description>{description}</description>")
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + extra + "</item>"


def parse(body: bytes, feed: FeedConfig = FEED, content_type: str = "application/rss+xml"):
    return parse_feed(feed, body, {"Content-Type": content_type})


def only(body: bytes):
    parsed = parse(body)
    assert len(parsed.advisories) == 1, parsed
    return parsed.advisories[0]


# ---- hostile and broken XML ------------------------------------------------------------


def test_billion_laughs_feed_is_rejected_without_expanding() -> None:
    started = time.process_time()  # this process's CPU time: the same on a loaded machine
    with pytest.raises(FeedRejected, match="declares XML entities"):
        parse(BILLION_LAUGHS)
    assert time.process_time() - started < 0.5


def test_entity_declarations_are_found_even_where_expat_gives_up_early() -> None:
    body = ('<?xml version="1.0" encoding="utf-16"?>\n').encode("utf-16") + BILLION_LAUGHS[22:]
    with pytest.raises(FeedRejected):
        parse(body)


def test_old_rss_091_doctype_without_entities_is_still_read() -> None:
    body = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
        b"<title>Old</title><link>https://example.org/</link><description>d</description>"
        b"<item><title>Old advisory</title><link>https://example.org/old/1</link></item>"
        b"</channel></rss>"
    )
    assert [a.title for a in parse(body).advisories] == ["Old advisory"]


def test_malformed_xml_keeps_the_entries_before_the_damage_and_says_where() -> None:
    body = rss([item("First", link="https://example.org/1"), item("Second", link="https://e/2")])
    broken = body.replace(b"</channel></rss>", b"<item><title>Third</title><link>https:")
    parsed = parse(broken)
    assert [a.title for a in parsed.advisories][:2] == ["First", "Second"]
    assert len(parsed.problems) == 1
    assert parsed.problems[0].startswith("malformed XML at line")


def test_html_login_page_instead_of_a_feed_is_reported_as_not_a_feed() -> None:
    parsed = parse(b"<!doctype html><html><body><form>Login</form></body></html>")
    assert parsed.advisories == []
    assert parsed.problems[0].startswith("not a feed:")


@pytest.mark.parametrize("body", [b"", b"\x00\x01\x02garbage", b'{"items": []}'])
def test_garbage_body_is_not_a_feed(body: bytes) -> None:
    parsed = parse(body)
    assert parsed.advisories == [] and parsed.problems[0].startswith("not a feed:")


def test_invalid_utf8_does_not_crash_and_is_reported() -> None:
    body = rss([item("Patch for X")]).replace(b"Patch", b"Pa\xff\xfetch")
    parsed = parse(body)
    assert len(parsed.advisories) == 1
    assert parsed.advisories[0].title.startswith("Pa")
    assert parsed.problems and "encoding" in parsed.problems[0]


def test_charsetless_text_xml_follows_the_xml_declaration() -> None:
    body = rss([item("Dräger Infinity Delta")])
    parsed = parse(body, content_type="text/xml")
    assert parsed.problems == []
    assert parsed.advisories[0].title == "Dräger Infinity Delta"


def test_valid_empty_feed_has_no_advisories_and_no_problem() -> None:
    parsed = parse(rss([]))
    assert (parsed.advisories, parsed.problems) == ([], [])


# ---- entries -----------------------------------------------------------------------------


def test_entry_without_guid_is_identified_by_its_link() -> None:
    advisory = only(rss([item(link="https://example.org/wid?name=WID-1", date=None)]))
    assert advisory.id == "https://example.org/wid?name=WID-1"
    assert advisory.published is None


def test_entry_without_guid_link_or_date_gets_a_stable_content_id() -> None:
    body = rss([item("Only a title", link=None, date=None, description="and a text")])
    first, second = only(body), only(body)
    assert first.id.startswith("test-feed:sha256:")
    assert first.id == second.id
    assert first.link == ""


def test_relative_guid_is_made_absolute_against_the_channel_link() -> None:
    body = rss([item(guid="/node/25374")], link="https://www.cisa.gov/")
    assert only(body).id == "https://www.cisa.gov/node/25374"


def test_non_url_guid_is_kept_and_scoped_to_the_feed() -> None:
    advisory = only(rss([item(guid="security-advisories-10947")]))
    assert advisory.id == "test-feed:security-advisories-10947"


def test_link_padded_with_whitespace_is_stripped() -> None:
    advisory = only(rss([item(link="\n     https://example.org/2026-010/\n   ")]))
    assert advisory.link == "https://example.org/2026-010/"


def test_relative_link_is_made_absolute() -> None:
    advisory = only(rss([item(link="/advisories/42")], link="https://psirt.example.com/"))
    assert advisory.link == "https://psirt.example.com/advisories/42"


@pytest.mark.parametrize("link", ["javascript:alert(document.cookie)",
                                  "data:text/html;base64,PHNjcmlwdD4=",
                                  "https://cert.example/" + "a" * 9_000])
def test_a_link_no_reader_should_follow_is_left_out_and_the_entry_kept(link: str) -> None:
    advisory = only(rss([item("Siemens SCALANCE flaw", link=link, guid="urn:ssa:1")]))
    assert advisory.title == "Siemens SCALANCE flaw" and advisory.link == ""


def test_entry_with_nothing_in_it_is_skipped_with_a_note() -> None:
    body = rss(["<item><title/><description/><link/><guid>abc123</guid></item>", item("Kept")])
    parsed = parse(body)
    assert [a.title for a in parsed.advisories] == ["Kept"]
    assert parsed.problems == ["entry #1 (guid 'abc123') has no title, text or link; skipped"]


def test_entry_without_title_is_titled_from_its_text() -> None:
    advisory = only(rss([item("", description="Pump firmware flaw.\nMore detail here.")]))
    assert advisory.title == "Pump firmware flaw. More detail here."


def test_html_and_script_in_title_are_stripped() -> None:
    title = "&lt;b&gt;Alaris&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;pump &amp;amp; PC unit"
    assert only(rss([item(title)])).title == "Alaris pump & PC unit"


def test_summary_keeps_block_breaks_and_drops_script_and_style() -> None:
    html = (
        "&lt;style&gt;p {color: red}&lt;/style&gt;&lt;p&gt;First   paragraph&lt;/p&gt;"
        "&lt;ul&gt;&lt;li&gt;Infinity &amp;amp; Delta&lt;/li&gt;"
        "&lt;li&gt;Kappa&lt;/li&gt;&lt;/ul&gt;"
        "&lt;script&gt;steal(document.cookie)&lt;/script&gt;Line&lt;br&gt;break&amp;nbsp;end"
    )
    summary = only(rss([item(description=html)])).summary
    assert summary == "First paragraph\nInfinity & Delta\nKappa\nLine\nbreak end"


def test_plain_text_with_a_less_than_sign_is_not_mangled() -> None:
    advisory = only(rss([item("SCALANCE &lt;V3.0 affected", description="Versions &lt;V2.36.2")]))
    assert advisory.title == "SCALANCE <V3.0 affected"
    assert advisory.summary == "Versions <V2.36.2"


def test_long_title_and_summary_are_capped() -> None:
    advisory = only(rss([item("T" * 2000, description="word " * 10_000)]))
    assert len(advisory.title) == MAX_TITLE and advisory.title.endswith("…")
    assert len(advisory.summary) <= MAX_SUMMARY and advisory.summary.endswith("…")


def test_ten_thousand_entries_are_capped_quickly() -> None:
    body = rss(item(f"Advisory {i}", link=f"https://example.org/a/{i}") for i in range(10_000))
    started = time.process_time()  # this process's CPU time: the same on a loaded machine
    parsed = parse(body)
    assert time.process_time() - started < 10
    assert len(parsed.advisories) == 5_000
    assert parsed.advisories[-1].title == "Advisory 4999"
    assert parsed.problems == ["5,000 entries beyond the first 5,000 were dropped"]


# ---- dates, CVEs, scores, labels ---------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("Thu, 27 Aug 26 12:00:00 +0000", datetime(2026, 8, 27, 12, 0, tzinfo=UTC)),
        ("Thu, 18 May 2017 10:05:40 EDT", datetime(2017, 5, 18, 14, 5, 40, tzinfo=UTC)),
        ("Wed, 19 Aug 2026 18:13:47 CEST", datetime(2026, 8, 19, 16, 13, 47, tzinfo=UTC)),
        ("Thu, 26 Feb 2026 19:38:52 CET", datetime(2026, 2, 26, 18, 38, 52, tzinfo=UTC)),
        ("Wed, 1 Mar 2023 13:42:09 +0100", datetime(2023, 3, 1, 12, 42, 9, tzinfo=UTC)),
        ("Thu, 16 Apr 2026 12:35:53 MESZ", datetime(2026, 4, 16, 10, 35, 53, tzinfo=UTC)),
        ("2026-08-20T07:00:00-07:00", datetime(2026, 8, 20, 14, 0, tzinfo=UTC)),
        ("not a date", None),
        ("Mon, 32 Aug 2026 10:00:00 GMT", None),
    ],
)
def test_publication_date_is_read_in_utc(written: str, utc: datetime | None) -> None:
    assert only(rss([item(date=written)])).published == utc


def test_cves_are_found_in_title_and_text() -> None:
    advisory = only(
        rss([item("CVE-2026-1111 in X", description="Also cve-2026-22222 and CVE-2026-1111.")])
    )
    assert advisory.cves == ("CVE-2026-1111", "CVE-2026-22222")


def test_highest_cvss_score_in_the_text_sets_the_severity() -> None:
    text = "CVSS v3.1 base score of 7.5; CVSS v4 base score 9.3; CVSS v2 base score 10.0"
    advisory = only(rss([item(description=text)]))
    assert (advisory.cvss, advisory.severity) == (9.3, Severity.CRITICAL)


def test_cvss_is_computed_from_a_vector_when_no_score_is_written() -> None:
    advisory = only(rss([item(description="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")]))
    assert (advisory.cvss, advisory.severity) == (9.8, Severity.CRITICAL)


def test_certbund_title_prefix_is_stripped_and_gives_the_severity() -> None:
    title = "[NEU] [hoch] pgAdmin: Schwachstelle ermöglicht Codeausführung"
    advisory = only(rss([item(title)]))
    assert advisory.title == "pgAdmin: Schwachstelle ermöglicht Codeausführung"
    assert advisory.severity is Severity.HIGH


def test_bracketed_title_that_is_not_a_status_is_left_alone() -> None:
    assert only(rss([item("[Draft] Notes")])).title == "[Draft] Notes"


def test_severity_category_is_used_when_no_score_is_given() -> None:
    advisory = only(rss([item("X", extra="<category>kritisch</category>")]))
    assert advisory.severity is Severity.CRITICAL


def test_tlp_label_in_the_entry_overrides_the_feed_default() -> None:
    labelled = only(rss([item("Partner note", extra="<category>TLP:AMBER+STRICT</category>")]))
    plain = only(rss([item("Public note")]))
    assert labelled.tlp is Tlp.AMBER_STRICT
    assert plain.tlp is Tlp.GREEN


@pytest.mark.parametrize(("configured", "written", "read"), [
    (Tlp.RED, "TLP:GREEN", Tlp.RED),  # the issue: a RED feed's "TLP:GREEN" entry stayed GREEN
    (Tlp.AMBER, "TLP:CLEAR", Tlp.AMBER),  # CLEAR == 0 no longer decides by luck
    (Tlp.AMBER, "TLP:WHITE", Tlp.AMBER),
    (Tlp.AMBER_STRICT, "TLP:AMBER", Tlp.AMBER_STRICT),
    (Tlp.GREEN, "TLP:RED", Tlp.RED),  # a label above the feed's raises it
])
def test_a_label_in_an_entry_never_lowers_its_feeds_configured_tlp(
        configured: Tlp, written: str, read: Tlp) -> None:
    feed = FeedConfig("partner", "https://feeds.example.org/p.xml", timedelta(hours=1),
                      tlp=configured)
    for entry in (item(f"{written} Partner note"),
                  item("Partner note", description=f"Shared as {written}."),
                  item("Partner note", extra=f"<category>{written}</category>")):
        [advisory] = parse(rss([entry]), feed).advisories
        assert advisory.tlp is read


def test_advisory_carries_the_feed_name_and_tags() -> None:
    advisory = only(rss([item()]))
    assert (advisory.source, advisory.tags) == ("test-feed", ("medical",))


# ---- the bundled example feeds -----------------------------------------------------------


def test_example_feeds_parse_into_demo_advisories() -> None:
    parsed = {
        path.name: parse_feed(
            FeedConfig(path.stem, f"http://127.0.0.1/{path.name}", timedelta(minutes=15)),
            path.read_bytes(),
            {},
        )
        for path in sorted(EXAMPLES.glob("*.xml"))
    }
    assert set(parsed) == {
        "medical-device-advisories.xml", "vendor-psirt-atom.xml", "certbund-style.xml",
    }  # fmt: skip
    assert all(not p.problems and len(p.advisories) == 2 for p in parsed.values())
    drager = parsed["medical-device-advisories.xml"].advisories[0]
    assert drager.title == "Dräger Infinity Delta Patient Monitors"
    assert drager.cves == ("CVE-2026-90001", "CVE-2026-90002")
    assert (drager.cvss, drager.severity) == (8.1, Severity.HIGH)
    assert drager.id == "https://advisories.example.org/node/90101"
    amber = parsed["vendor-psirt-atom.xml"].advisories[1]
    assert amber.tlp is Tlp.AMBER and "IntelliVue MX750" in amber.summary
    braun = parsed["certbund-style.xml"].advisories[0]
    assert braun.title.startswith("B. Braun Space Infusionssystem")
    assert braun.published == datetime(2026, 4, 16, 10, 35, 53, tzinfo=UTC)
