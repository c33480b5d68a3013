from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.tlp import Tlp
from bot.feeds.config import FeedConfig, FeedsFileError, load_feeds, parse_feeds, parse_interval

REPO = Path(__file__).resolve().parents[2]

ONE_FEED = """
feeds:
  - name: cisa-ics-medical
    url: https://www.cisa.gov/cybersecurity-advisories/ics-medical-advisories.xml
    interval: 30m
    tlp: CLEAR
    tags: [medical, ics]
"""


def _error(text: str) -> str:
    with pytest.raises(FeedsFileError) as caught:
        parse_feeds(text, origin="feeds.yaml")
    return str(caught.value)


def test_shipped_feeds_yaml_is_valid_and_lists_the_hub_sources() -> None:
    feeds = load_feeds(REPO / "feeds.yaml")
    by_name = {feed.name: feed for feed in feeds}
    assert {"cisa-ics-medical", "cisa-ics", "certbund-wid", "cert-eu"} <= set(by_name)
    assert all(feed.url.startswith("https://") for feed in feeds)
    assert all(feed.interval >= timedelta(minutes=15) for feed in feeds)
    assert by_name["cisa-ics-medical"].url.endswith("/ics-medical-advisories.xml")


def test_admin_writes_a_feed_and_gets_it_back_typed() -> None:
    assert parse_feeds(ONE_FEED, origin="feeds.yaml") == [
        FeedConfig(
            name="cisa-ics-medical",
            url="https://www.cisa.gov/cybersecurity-advisories/ics-medical-advisories.xml",
            interval=timedelta(minutes=30),
            tlp=Tlp.CLEAR,
            tags=("medical", "ics"),
            enabled=True,
        )
    ]


@pytest.mark.parametrize(
    ("written", "seconds"),
    [(900, 900), ("900", 900), ("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400),
     ("1d", 86400), (1, 1)],
)  # fmt: skip
def test_interval_is_read_as_seconds_or_with_a_unit(written: object, seconds: int) -> None:
    assert parse_interval(written) == timedelta(seconds=seconds)


@pytest.mark.parametrize("written", [0, -5, "0s", "soon", "15 minutes", True, 1.5, "", "m"])
def test_interval_that_is_not_a_positive_duration_is_refused(written: object) -> None:
    with pytest.raises(ValueError, match="90s, 15m, 1h"):
        parse_interval(written)


@pytest.mark.parametrize("written", [
    "99999999999999999999",  # a YAML number too big for a timedelta (OverflowError before)
    "1" + "0" * 5000,  # more digits than int() takes from text
    '"99999999999999999999"', "99999999999999d", "1d99999999999999999999s", "31d", "2592001",
])
def test_a_huge_interval_is_refused_naming_file_feed_and_field(written: str) -> None:
    message = _error(ONE_FEED.replace("interval: 30m", f"interval: {written}"))
    assert message == (
        "feeds.yaml: feed 'cisa-ics-medical' (#1): field 'interval': must be at most 30 days "
        "(30d); write the interval as seconds (900) or with a unit: 90s, 15m, 1h, 1h30m, 1d")


def test_the_longest_interval_is_thirty_days_and_digits_are_ascii_only() -> None:
    assert parse_interval("30d") == parse_interval(2_592_000) == timedelta(days=30)
    for written in ("\u0663m", "\u00b2"):  # an Arabic-Indic three, a superscript two
        with pytest.raises(ValueError, match="90s, 15m, 1h"):
            parse_interval(written)


def test_unknown_tlp_label_names_file_feed_field_and_the_allowed_labels() -> None:
    text = (
        ONE_FEED
        + """
  - name: cisa-ics
    url: https://example.org/a.xml
    interval: 1h
  - name: cert-eu
    url: https://example.org/b.xml
    interval: 1h
    tlp: purple
"""
    )
    assert _error(text) == (
        "feeds.yaml: feed 'cert-eu' (#3): field 'tlp': unknown TLP label 'purple'; "
        "use CLEAR, GREEN, AMBER, AMBER+STRICT or RED"
    )


def test_every_problem_of_a_feed_is_reported_at_once() -> None:
    message = _error(
        "feeds:\n  - name: x\n    url: ftp://example.org/f.xml\n    interval: 0\n"
        "    colour: red\n    enabled: maybe\n"
    )
    assert "feed 'x' (#1): field 'url': must be an http:// or https:// URL" in message
    assert "feed 'x' (#1): field 'interval': must be at least 1 second" in message
    assert "feed 'x' (#1): field 'colour': unknown field; allowed fields are name, url" in message
    assert "feed 'x' (#1): field 'enabled': must be true or false" in message


def test_feed_without_a_name_is_named_by_its_position() -> None:
    message = _error(ONE_FEED + "  - url: https://example.org/x.xml\n    interval: 1h\n")
    assert message == "feeds.yaml: feed #2: field 'name': is required but missing"


def test_yaml_syntax_error_gives_the_line() -> None:
    message = _error("feeds:\n  - name: a\n    url: https://x.org\n   interval: 3\n")
    assert message.startswith("feeds.yaml: line 4, column 4: invalid YAML:")
    assert "indentation" in message


def test_a_key_written_twice_is_refused_instead_of_silently_overwritten() -> None:
    message = _error(
        "feeds:\n  - name: a\n    url: https://a.org/f\n    url: https://b.org/f\n    interval: 3\n"
    )
    assert message == "feeds.yaml: line 4, column 5: invalid YAML: the key 'url' is given twice"


def test_two_feeds_with_one_name_are_refused() -> None:
    message = _error(ONE_FEED + ONE_FEED.replace("feeds:\n", ""))
    assert message == (
        "feeds.yaml: feed 'cisa-ics-medical' (#2): field 'name': the name is already used by "
        "feed #1; feed names must be unique"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "feeds.yaml: expected a top-level 'feeds:' key holding a list of feeds"),
        ("feeds: []", "feeds.yaml: field 'feeds': the list of feeds is empty; add at least one"),
        ("feeds:\n  - https://x.org/f.xml\n", "feeds.yaml: feed #1: must be a mapping"),
        ("feeds: {}\nextra: 1\n", "feeds.yaml: field 'feeds': must be a list of feeds"),
    ],
)
def test_wrong_shape_is_explained(text: str, expected: str) -> None:
    assert _error(text).startswith(expected)


def test_feed_name_must_be_usable_as_an_id_prefix() -> None:
    message = _error(ONE_FEED.replace("name: cisa-ics-medical", "name: 'cisa: medical'"))
    assert "field 'name': use 1-64 letters, digits" in message


def test_missing_feeds_file_is_named() -> None:
    with pytest.raises(FeedsFileError, match="nowhere.yaml: file not found"):
        load_feeds(Path("/nonexistent-hubbot-folder/nowhere.yaml"))


def test_feed_host_is_safe_to_log() -> None:
    feed = FeedConfig("x", "https://feeds.example.org/rss?token=s3cret", timedelta(hours=1))
    assert feed.host == "feeds.example.org"


def test_a_csaf_source_is_typed_and_an_unknown_type_is_refused() -> None:
    text = """
feeds:
  - name: bsi-csaf
    url: https://wid.cert-bund.de/.well-known/csaf/provider-metadata.json
    interval: 1h
    type: csaf
"""
    [feed] = parse_feeds(text, origin="feeds.yaml")
    assert feed.type == "csaf" and feed.advisories
    assert parse_feeds(ONE_FEED, origin="feeds.yaml")[0].type == "rss"  # the default
    assert _error(text.replace("type: csaf", "type: cvrf")) == (
        "feeds.yaml: feed 'bsi-csaf' (#1): field 'type': use rss (RSS or Atom), csaf "
        "(provider-metadata.json or ROLIE), kev (CISA's KEV catalog JSON) or epss "
        "(FIRST's EPSS API)"
    )


def test_a_csaf_source_pointing_at_a_web_page_says_what_url_to_give() -> None:
    text = """
feeds:
  - name: siemens-csaf
    url: https://cert-portal.siemens.com/productcert/csaf/
    interval: 1h
    type: csaf
"""
    message = _error(text)
    assert message.startswith("feeds.yaml: feed 'siemens-csaf' (#1): field 'url': a csaf feed's")
    assert "provider-metadata.json" in message and "ROLIE" in message


def test_shipped_csaf_providers_name_their_provider_metadata() -> None:
    csaf = [feed for feed in load_feeds(REPO / "feeds.yaml") if feed.type == "csaf"]
    assert {"cisa-csaf", "bsi-certbund-csaf", "siemens-productcert-csaf"} <= {f.name for f in csaf}
    assert all(feed.url.endswith("/provider-metadata.json") for feed in csaf)
