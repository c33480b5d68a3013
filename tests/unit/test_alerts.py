"""Who gets an alert, and what the console shows of it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.advisory import Advisory, extract_cves, stable_advisory_id
from bot.domain.alerts import alerts_for, deliveries_for
from bot.domain.matching import AdvisoryMatcher
from bot.domain.members import Contact, Member, Network, check_address
from bot.domain.outbox_payload import AlertMessage, payload_from_json, payload_to_json
from bot.domain.product_csv import ProductCsvError, parse_product_csv, read_product_csv
from bot.domain.products import ProductSpec, RegisteredProduct
from bot.domain.rendering import render_alert_text
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp

ADVISORY = Advisory(
    id="https://x.test/a1", title="Dräger Infinity Delta <b>overflow</b>",
    summary="Update to 8.1.", link="https://x.test/a1", source="cisa-medical",
    published=datetime(2026, 11, 24, 12, 0, tzinfo=UTC), cves=("CVE-2026-0001",), cvss=9.8,
    severity=Severity.CRITICAL, tlp=Tlp.CLEAR,
)


def alerts(members: dict[str, Member]):
    products = [RegisteredProduct(1, "Charité", ProductSpec("Dräger", "Infinity Delta")),
                RegisteredProduct(2, "Vivantes", ProductSpec("Dräger", "Infinity Delta"))]
    matches = AdvisoryMatcher(products).match(ADVISORY.title, ADVISORY.summary)
    return alerts_for(ADVISORY, matches, members)


def test_each_matched_member_gets_one_alert_per_contact_and_console() -> None:
    result = alerts({"Charité": Member(1, "Charité"), "Vivantes": Member(2, "Vivantes")})
    contacts = [Contact("Charité", Network.TELEGRAM, "1"), Contact("Charité", Network.MATRIX,
                "@it:charite.de"), Contact("Vivantes", Network.TELEGRAM, "2", active=False)]
    deliveries = deliveries_for(result, contacts, console=True, now=datetime.now(UTC))
    assert sorted((d.network.value, d.address) for d in deliveries) == [
        ("console", "Charité"), ("console", "Vivantes"), ("matrix", "@it:charite.de"),
        ("telegram", "1")]


def test_member_threshold_filters_but_unknown_severity_always_alerts() -> None:
    strict = {"Charité": Member(1, "Charité", Severity.CRITICAL),
              "Vivantes": Member(2, "Vivantes", Severity.HIGH)}
    assert [a.member for a in alerts(strict)] == ["Charité", "Vivantes"]
    low = Advisory(**{**ADVISORY.__dict__, "severity": Severity.LOW})
    products = [RegisteredProduct(1, "Charité", ProductSpec("Dräger", "Infinity Delta"))]
    matches = AdvisoryMatcher(products).match(low.title, "")
    assert alerts_for(low, matches, strict) == []
    unknown = Advisory(**{**ADVISORY.__dict__, "severity": None})
    assert len(alerts_for(unknown, matches, strict)) == 1


def test_alert_survives_the_outbox_round_trip() -> None:
    [alert, _] = alerts({"Charité": Member(1, "Charité"), "Vivantes": Member(2, "Vivantes")})
    assert payload_from_json(payload_to_json(AlertMessage(alert))) == AlertMessage(alert)


def test_console_text_shows_what_a_member_needs() -> None:
    [alert] = alerts({"Charité": Member(1, "Charité")})
    text = render_alert_text(alert)
    assert text.splitlines()[0] == "[CRITICAL (CVSS 9.8)] Dräger Infinity Delta <b>overflow</b>"
    for part in ("CVE-2026-0001", "Your product: Dräger | Infinity Delta",
                 'matched because product "Infinity Delta"', "https://x.test/a1", "TLP:CLEAR"):
        assert part in text


def test_cve_ids_are_found_normalised_and_deduplicated() -> None:
    assert extract_cves("cve-2024-1234, CVE-2024-1234 and CVE-2025-123456.") == (
        "CVE-2024-1234", "CVE-2025-123456")


def test_advisory_id_prefers_guid_then_link_then_content() -> None:
    assert stable_advisory_id("f", "https://a/1", "https://b", "t", "s") == "https://a/1"
    assert stable_advisory_id("f", "abc123", "https://b", "t", "s") == "f:abc123"
    assert stable_advisory_id("f", None, " https://b ", "t", "s") == "https://b"
    hashed = stable_advisory_id("f", None, None, "t", "s")
    assert hashed.startswith("f:sha256:") and hashed == stable_advisory_id("f", "", "", "t", "s")
    assert hashed != stable_advisory_id("f", None, None, "t", "other")


@pytest.mark.parametrize(("text", "tlp"), [
    ("TLP:CLEAR", Tlp.CLEAR), ("white", Tlp.CLEAR), ("TLP:AMBER+STRICT", Tlp.AMBER_STRICT),
    ("red", Tlp.RED)])
def test_tlp_labels_parse(text: str, tlp: Tlp) -> None:
    assert Tlp.parse(text) is tlp


def test_unknown_tlp_label_says_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="use CLEAR, GREEN, AMBER"):
        Tlp.parse("purple")


def test_product_csv_reports_every_bad_row_and_imports_nothing() -> None:
    with pytest.raises(ProductCsvError) as exc:
        parse_product_csv("member,vendor,product\nCharité,Dräger,Infinity Delta\n"
                          ",Dräger,Infinity Delta\nVivantes,Philips,Version\n", "p.csv")
    assert "row 3: invalid member name" in str(exc.value)
    assert "row 4: product 'Version' is too generic" in str(exc.value)


def test_product_csv_read_row_by_row_keeps_the_good_rows_and_names_the_refused() -> None:
    read = read_product_csv("member,vendor,product\nCharité,AVEVA,Application Server\n"
                            "Vivantes,Philips,Version\nCharité,Dräger,Infinity Delta\n", "p.csv")
    assert [(ln.row, ln.spec.product) for ln in read.lines] == [
        (2, "Application Server"), (4, "Infinity Delta")]
    assert read.refused == ["row 3: product 'Version' is too generic to match on; give its "
                            "real name"]


def test_product_csv_needs_its_columns() -> None:
    with pytest.raises(ProductCsvError, match="missing column"):
        parse_product_csv("organisation,vendor,product\n")


@pytest.mark.parametrize(("network", "address"), [
    (Network.TELEGRAM, "@someone"), (Network.MATRIX, "someone"), (Network.MATRIX, "@a")])
def test_bad_contact_addresses_are_refused(network: Network, address: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        check_address(network, address)


def test_exploitation_rules_for_members() -> None:
    from bot.domain.alerts import parse_alert_rule, rule_allows

    assert parse_alert_rule("KEV") == "kev"
    assert parse_alert_rule("epss >= 0.10") == "epss>=0.1"
    assert parse_alert_rule("epss>=1") == "epss>=1"
    for bad in ("epss>=1.5", "epss>=-0.1", "epss", "cvss>=7", "epss>=0.1x"):
        assert parse_alert_rule(bad) is None, bad
    assert rule_allows(None, False, None)
    assert not rule_allows("kev", False, 0.99) and rule_allows("kev", True, None)
    assert rule_allows("epss>=0.1", False, 0.2) and not rule_allows("epss>=0.1", False, 0.05)
    assert rule_allows("epss>=0.1", False, None)  # not scored yet: alert
    assert rule_allows("epss>=0.5", True, 0.01)  # known exploited beats a low score
