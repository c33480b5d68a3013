"""The parser on real feeds as their publishers served them (../shared/data/feeds)."""

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.severity import Severity
from bot.feeds.config import FeedConfig
from bot.feeds.parse import ParsedFeed, parse_feed

TAG = re.compile(r"</?(?:p|br|div|a|b|li|ul|td|tr|table|h[1-6]|strong|script|span)\b[^<>]*>")
KNOWN_FILES = [
    "cert-eu-2026.xml",
    "certbund-wid-2024-03-07.xml",
    "cisa-all-2026-08.xml",
    "cisa-ics-cert-2017.xml",
    "msrc-update-guide-2026-08.xml",
    "wago-psirt-2018-2023.xml",
]


def parsed(feeds_dir: Path, name: str, feed_name: str, url: str) -> ParsedFeed:
    feed = FeedConfig(feed_name, url, timedelta(hours=1))
    return parse_feed(feed, (feeds_dir / name).read_bytes(), {"Content-Type": "text/xml"})


def test_every_real_feed_parses_into_advisories(shared_feeds_dir: Path) -> None:
    files = sorted(shared_feeds_dir.glob("*.xml"))
    assert {f.name for f in files} >= set(KNOWN_FILES)
    for file in files:
        result = parsed(shared_feeds_dir, file.name, file.stem.split("-2")[0], "https://x.org/f")
        assert result.advisories, file.name
        for advisory in result.advisories:
            assert advisory.title and advisory.title == advisory.title.strip(), file.name
            assert advisory.published is None or advisory.published.tzinfo is UTC
            assert not TAG.search(advisory.title) and not TAG.search(advisory.summary), file.name


def test_cisa_all_gives_absolute_ids_cves_and_cvss(shared_feeds_dir: Path) -> None:
    result = parsed(
        shared_feeds_dir, "cisa-all-2026-08.xml", "cisa-all",
        "https://www.cisa.gov/cybersecurity-advisories/all.xml",
    )  # fmt: skip
    assert result.problems == []
    ids = [a.id for a in result.advisories]
    assert ids == [
        "https://www.cisa.gov/node/25374", "https://www.cisa.gov/node/23329",
        "https://www.cisa.gov/node/25379", "https://www.cisa.gov/node/25334",
    ]  # fmt: skip
    otto, mitsubishi, kev, _ = result.advisories
    assert otto.title == "Rockwell Automation OTTO Fleet Manager"
    assert otto.link == "https://www.cisa.gov/news-events/ics-advisories/icsa-26-239-03"
    # the table gives CVSS 3.1 6.8 and 4.0 6.9: the higher one counts
    assert (otto.cves, otto.cvss, otto.severity) == (("CVE-2026-75112",), 6.9, Severity.MEDIUM)
    assert (mitsubishi.cves, mitsubishi.cvss, mitsubishi.severity) == (
        ("CVE-2025-3511",), 7.5, Severity.HIGH,
    )  # fmt: skip
    assert kev.cves == ("CVE-2023-49105", "CVE-2026-53362", "CVE-2026-66384")
    # two-digit year "Thu, 27 Aug 26 12:00:00 +0000"
    assert otto.published == datetime(2026, 8, 27, 12, 0, tzinfo=UTC)
    assert "OTTO Fleet Manager <=V2.36.2 (CVE-2026-75112)" in otto.summary.split("\n")
    assert "&lt;" not in otto.summary and "<p>" not in otto.summary


def test_old_ics_cert_feed_reads_edt_dates_and_relative_guids(shared_feeds_dir: Path) -> None:
    result = parsed(
        shared_feeds_dir, "cisa-ics-cert-2017.xml", "ics-cert",
        "https://ics-cert.us-cert.gov/advisories/advisories.xml",
    )  # fmt: skip
    assert len(result.advisories) == 20 and result.problems == []
    first = result.advisories[0]
    assert first.id == "https://ics-cert.us-cert.gov/node/2480"
    assert first.title == "Miele Professional PG 85 Series"
    assert first.published == datetime(2017, 5, 18, 14, 5, 40, tzinfo=UTC)  # 10:05:40 EDT


def test_certbund_titles_are_clean_and_severity_comes_from_the_risk_word(
    shared_feeds_dir: Path,
) -> None:
    result = parsed(
        shared_feeds_dir, "certbund-wid-2024-03-07.xml", "certbund-wid",
        "https://wid.cert-bund.de/content/public/securityAdvisory/rss",
    )  # fmt: skip
    advisories = result.advisories
    assert len(advisories) == 250 and result.problems == []
    assert not any(a.title.startswith("[") for a in advisories)
    assert advisories[0].title == "pgAdmin: Schwachstelle ermöglicht Codeausführung"
    assert advisories[0].severity is Severity.HIGH  # "[NEU] [hoch] ..."
    assert Counter(a.severity for a in advisories) == {
        Severity.MEDIUM: 160, Severity.HIGH: 79, Severity.LOW: 10, Severity.CRITICAL: 1,
    }  # fmt: skip
    # no guid: the link (one per WID advisory) is the id
    assert (
        advisories[0].id
        == "https://wid.cert-bund.de/portal/wid/securityadvisory?name=WID-SEC-2024-0576"
    )
    assert len({a.id for a in advisories}) == 250
    assert all(a.published == datetime(2024, 3, 7, 12, 35, 53, tzinfo=UTC) for a in advisories[:2])


def test_cert_eu_links_are_stripped_and_cest_dates_are_utc(shared_feeds_dir: Path) -> None:
    result = parsed(
        shared_feeds_dir, "cert-eu-2026.xml", "cert-eu",
        "https://cert.europa.eu/publications/security-advisories-rss",
    )  # fmt: skip
    first, second, *_, last = result.advisories
    assert len(result.advisories) == 5 and result.problems == []
    assert first.link == "https://cert.europa.eu/publications/security-advisories/2026-010/"
    assert first.id == "cert-eu:security-advisories-10947"
    assert first.published == datetime(2026, 8, 19, 16, 13, 47, tzinfo=UTC)  # 18:13:47 CEST
    assert last.published == datetime(2026, 2, 26, 18, 38, 52, tzinfo=UTC)  # 19:38:52 CET
    assert first.severity is Severity.CRITICAL  # "Critical Vulnerabilities in ..."
    assert "CVE-2026-50522" in second.cves
    assert "\n" in first.summary and "<br" not in first.summary


def test_wago_empty_item_is_skipped_and_single_digit_days_are_read(shared_feeds_dir: Path) -> None:
    result = parsed(
        shared_feeds_dir, "wago-psirt-2018-2023.xml", "wago-psirt", "https://www.wago.com/x"
    )
    assert len(result.advisories) == 43
    assert result.problems == [
        "entry #21 (guid 'c0b757fe1f6fdec4388fe98e02fe1c4f') has no title, text or link; skipped"
    ]
    march = [a for a in result.advisories if a.published and a.published.month == 3]
    assert march[0].published == datetime(2023, 3, 1, 12, 42, 9, tzinfo=UTC)  # "Wed, 1 Mar 2023"
    assert result.advisories[0].id == "wago-psirt:97820771daf76805db895f4d75e19052"


def test_msrc_revisions_of_one_cve_share_one_id(shared_feeds_dir: Path) -> None:
    result = parsed(
        shared_feeds_dir, "msrc-update-guide-2026-08.xml", "msrc",
        "https://api.msrc.microsoft.com/update-guide/rss",
    )  # fmt: skip
    assert len(result.advisories) == 11
    revisions = [a for a in result.advisories if a.cves == ("CVE-2026-69836",)]
    assert len(revisions) == 2
    assert revisions[0].id == revisions[1].id == "msrc:CVE-2026-69836"
    assert revisions[0].summary != revisions[1].summary
    assert len({a.id for a in result.advisories}) == 10


@pytest.mark.parametrize("name", KNOWN_FILES)
def test_real_feed_parses_the_same_twice(shared_feeds_dir: Path, name: str) -> None:
    first = parsed(shared_feeds_dir, name, "f", "https://x.org/f")
    second = parsed(shared_feeds_dir, name, "f", "https://x.org/f")
    assert first == second
