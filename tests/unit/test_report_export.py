"""A member's report exported for MISP and for STIX 2.1 tools: both load back unchanged, carry
the TLP and the sharing choice, and name the organisation only when it chose to be named."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import stix2
from pymisp import MISPEvent
from stix2patterns.v21.pattern import Pattern
from stix2patterns.validator import run_validator

from bot.cli.report_export import misp_event, misp_event_json, stix_bundle, stix_bundle_json
from bot.domain.members import Network
from bot.domain.reports import (
    Indicator,
    IndicatorFlag,
    IndicatorKind,
    ProductName,
    Report,
    ReportStatus,
    Sharing,
)
from bot.domain.tlp import Tlp

MEMBER = "Klinikum Nordstadt"
ADDRESS = "@alice_nordstadt_it"

SAMPLES = {
    IndicatorKind.IPV4: "203.0.113.7",
    IndicatorKind.IPV6: "2a01:4f8::77",
    IndicatorKind.DOMAIN: "update-dräger.example",
    IndicatorKind.URL: "https://evil.test/login.php?u=a'b\\c\"d",
    IndicatorKind.EMAIL: "billing@evil.test",
    IndicatorKind.MD5: "d41d8cd98f00b204e9800998ecf8427e",
    IndicatorKind.SHA1: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    IndicatorKind.SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    IndicatorKind.CVE: "CVE-2024-21413",
}
MISP_TYPES = {
    IndicatorKind.IPV4: ("ip-dst", "Network activity"),
    IndicatorKind.IPV6: ("ip-dst", "Network activity"),
    IndicatorKind.DOMAIN: ("domain", "Network activity"),
    IndicatorKind.URL: ("url", "Network activity"),
    IndicatorKind.EMAIL: ("email-src", "Payload delivery"),
    IndicatorKind.MD5: ("md5", "Payload delivery"),
    IndicatorKind.SHA1: ("sha1", "Payload delivery"),
    IndicatorKind.SHA256: ("sha256", "Payload delivery"),
    IndicatorKind.CVE: ("vulnerability", "External analysis"),
}
STIX_PATHS = {
    IndicatorKind.IPV4: ("ipv4-addr", ["value"]),
    IndicatorKind.IPV6: ("ipv6-addr", ["value"]),
    IndicatorKind.DOMAIN: ("domain-name", ["value"]),
    IndicatorKind.URL: ("url", ["value"]),
    IndicatorKind.EMAIL: ("email-addr", ["value"]),
    IndicatorKind.MD5: ("file", ["hashes", "MD5"]),
    IndicatorKind.SHA1: ("file", ["hashes", "SHA-1"]),
    IndicatorKind.SHA256: ("file", ["hashes", "SHA-256"]),
}
# TLP 1.0 markings from stix2; AMBER+STRICT is TLP 2.0's (OASIS), with 1.0's AMBER beside it.
WHITE, GREEN = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", stix2.TLP_GREEN.id
AMBER, RED = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", stix2.TLP_RED.id
AMBER_STRICT = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
STIX_MARKINGS = {Tlp.CLEAR: {WHITE}, Tlp.GREEN: {GREEN}, Tlp.AMBER: {AMBER},
                 Tlp.AMBER_STRICT: {AMBER_STRICT, AMBER}, Tlp.RED: {RED}}


def a_report(**changes: Any) -> Report:
    report = Report(
        id=17,
        member=MEMBER,
        reporter_network=Network.TELEGRAM,
        reporter_address=ADDRESS,
        language="de",
        summary="Phishing mails with a fake Dräger update link\nThree wards clicked it.",
        product=ProductName("Dräger", "Infinity Delta"),
        tlp=Tlp.AMBER,
        sharing=Sharing.ANONYMOUS,
        status=ReportStatus.APPROVED,
        created_at=datetime(2024, 5, 2, 8, 30, tzinfo=UTC),
        decided_at=datetime(2024, 5, 2, 9, 15, tzinfo=UTC),
        decided_by="coordinator-anna",
        indicators=tuple(Indicator(kind, value) for kind, value in SAMPLES.items()),
    )
    return replace(report, **changes)


def misp_attributes(event: dict[str, Any]) -> list[dict[str, Any]]:
    attributes: list[dict[str, Any]] = event["Event"]["Attribute"]
    return attributes


def stix_objects(report: Report, type_: str) -> list[Any]:
    return [o for o in stix_bundle(report).objects if o.type == type_]


def unquoted(literal: str) -> str:
    """The value a STIX pattern's string literal stands for."""
    assert literal.startswith("'") and literal.endswith("'")
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


# --- round trips ------------------------------------------------------------------------


def test_misp_event_loads_back_with_pymisp_with_the_same_attributes_and_tags() -> None:
    report = a_report(sharing=Sharing.NAMED)
    loaded = MISPEvent()
    loaded.load(misp_event_json(report))

    expected = misp_event(report)["Event"]
    assert [(a.type, a.category, a.value, a.to_ids, a.comment, a.uuid)
            for a in loaded.attributes] == [
        (a["type"], a["category"], a["value"], a["to_ids"], a["comment"], a["uuid"])
        for a in expected["Attribute"]]
    assert [t.name for t in loaded.tags] == [t["name"] for t in expected["Tag"]]
    assert (loaded.info, loaded.date.isoformat(), loaded.uuid, loaded.Orgc.name) == (
        expected["info"], "2024-05-02", expected["uuid"], "hubbot")


def test_stix_bundle_is_read_back_by_stix2_parse_with_the_same_objects() -> None:
    report = a_report(sharing=Sharing.NAMED, tlp=Tlp.AMBER_STRICT)
    bundle = stix_bundle(report)

    parsed = stix2.parse(stix_bundle_json(report), allow_custom=False)

    assert parsed == bundle
    assert [o.id for o in parsed.objects] == [o.id for o in bundle.objects]
    assert parsed.objects[-1].type == "report"


def test_every_export_of_the_same_report_is_the_same_text() -> None:
    report = a_report()
    assert misp_event_json(report) == misp_event_json(report)
    assert stix_bundle_json(report) == stix_bundle_json(report)


# --- indicators -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(IndicatorKind))
def test_every_indicator_kind_becomes_its_typed_misp_attribute(kind: IndicatorKind) -> None:
    report = a_report(indicators=(Indicator(kind, SAMPLES[kind]),))
    [attribute] = [a for a in misp_attributes(misp_event(report))
                   if a["type"] not in ("text",)]
    assert (attribute["type"], attribute["category"]) == MISP_TYPES[kind]
    assert attribute["value"] == SAMPLES[kind]
    assert attribute["to_ids"] is (kind is not IndicatorKind.CVE)


@pytest.mark.parametrize("kind", [k for k in IndicatorKind if k is not IndicatorKind.CVE])
def test_every_indicator_kind_becomes_a_valid_stix_pattern_on_its_value(
        kind: IndicatorKind) -> None:
    report = a_report(indicators=(Indicator(kind, SAMPLES[kind]),))
    [indicator] = stix_objects(report, "indicator")

    assert indicator.pattern_type == "stix"
    assert run_validator(indicator.pattern, stix_version="2.1") == []
    object_type, path = STIX_PATHS[kind]
    [(found_path, operator, literal)] = Pattern(indicator.pattern).inspect().comparisons[
        object_type]
    assert (found_path, operator, unquoted(literal)) == (path, "=", SAMPLES[kind])


def test_a_cve_becomes_a_vulnerability_with_its_cve_reference() -> None:
    report = a_report(indicators=(Indicator(IndicatorKind.CVE, "cve-2024-21413"),))
    [vulnerability] = stix_objects(report, "vulnerability")

    assert vulnerability.name == "CVE-2024-21413"
    [reference] = vulnerability.external_references
    assert (reference.source_name, reference.external_id) == ("cve", "CVE-2024-21413")
    assert stix_objects(report, "indicator") == []
    [report_object] = stix_objects(report, "report")
    assert vulnerability.id in report_object.object_refs


@pytest.mark.parametrize("value", [
    "https://evil.test/a'b",
    "https://evil.test/trailing\\",
    "https://evil.test/x' OR [ipv4-addr:value = '1.2.3.4",
    "https://evil.test/\\'];--",
    'https://evil.test/"quoted"',
    "https://тест.example/путь?ü=ß&emoji=🦠",
])
def test_hostile_values_stay_one_value_in_both_formats(value: str) -> None:
    report = a_report(indicators=(Indicator(IndicatorKind.URL, value),))

    parsed = stix2.parse(stix_bundle_json(report), allow_custom=False)
    [indicator] = [o for o in parsed.objects if o.type == "indicator"]
    assert run_validator(indicator.pattern, stix_version="2.1") == []
    comparisons = Pattern(indicator.pattern).inspect().comparisons
    assert list(comparisons) == ["url"]
    [(_path, _operator, literal)] = comparisons["url"]
    assert unquoted(literal) == value

    loaded = MISPEvent()
    loaded.load(misp_event_json(report))
    assert [a.value for a in loaded.attributes if a.type == "url"] == [value]


@pytest.mark.parametrize("flag", list(IndicatorFlag))
def test_flagged_indicators_are_not_for_detection(flag: IndicatorFlag) -> None:
    report = a_report(indicators=(Indicator(IndicatorKind.IPV4, "10.1.2.3", flag),
                                  Indicator(IndicatorKind.IPV4, "203.0.113.7")))

    by_value = {a["value"]: a for a in misp_attributes(misp_event(report))}
    assert by_value["10.1.2.3"]["to_ids"] is False
    assert by_value["10.1.2.3"]["comment"]
    assert by_value["203.0.113.7"]["to_ids"] is True
    types = {i.name: i.indicator_types for i in stix_objects(report, "indicator")}
    assert types == {"10.1.2.3": ["anomalous-activity"], "203.0.113.7": ["malicious-activity"]}


# --- hostile and empty reports ----------------------------------------------------------


def test_a_long_summary_with_newlines_is_kept_whole_and_titled_by_its_first_line() -> None:
    first_line = "Ransomware note found on " + "the radiology PACS server " * 10
    summary = (first_line + "\n\n" + "Line with 'quotes' and \\backslashes\\\n" * 200)[:4000]
    report = a_report(summary=summary)

    loaded = MISPEvent()
    loaded.load(misp_event_json(report))
    assert loaded.info.startswith("R17: Ransomware note found on the radiology PACS server")
    assert len(loaded.info) <= 130 and "\n" not in loaded.info
    assert [a.value for a in loaded.attributes if a.comment == "summary"] == [summary.strip()]
    [stix_report] = [o for o in stix2.parse(stix_bundle_json(report), allow_custom=False).objects
                     if o.type == "report"]
    assert stix_report.description == summary
    assert stix_report.name == loaded.info


def test_a_report_without_indicators_is_still_a_valid_event_and_bundle() -> None:
    report = a_report(indicators=(), product=None)

    loaded = MISPEvent()
    loaded.load(misp_event_json(report))
    assert [a.value for a in loaded.attributes] == ["R17", report.summary]
    parsed = stix2.parse(stix_bundle_json(report), allow_custom=False)
    [stix_report] = [o for o in parsed.objects if o.type == "report"]
    assert stix_report.object_refs  # STIX requires at least one


def test_an_empty_summary_still_gives_a_title() -> None:
    report = a_report(summary="", indicators=())
    assert misp_event(report)["Event"]["info"] == "R17: report to the hub"
    [stix_report] = stix_objects(report, "report")
    assert "description" not in stix_report


# --- who is named -----------------------------------------------------------------------


@pytest.mark.parametrize("sharing", [Sharing.ANONYMOUS, Sharing.COORDINATORS])
def test_unnamed_reports_carry_no_trace_of_the_reporter(sharing: Sharing) -> None:
    report = a_report(sharing=sharing)
    someone_else = replace(report, member="Other Hospital", reporter_address="@bob",
                           reporter_network=Network.MATRIX)

    for text in (misp_event_json(report), stix_bundle_json(report)):
        assert MEMBER not in text and ADDRESS not in text
        assert "Nordstadt" not in text and "alice" not in text
    # Not even an id derived from the reporter: the exports are the same for anyone.
    assert misp_event_json(report) == misp_event_json(someone_else)
    assert stix_bundle_json(report) == stix_bundle_json(someone_else)
    assert 'iep:provider-attribution="MUST NOT"' in [
        t["name"] for t in misp_event(report)["Event"]["Tag"]]
    [identity] = stix_objects(report, "identity")
    assert identity.name == "hubbot"


def test_a_named_report_names_the_organisation_but_never_the_chat_address() -> None:
    report = a_report(sharing=Sharing.NAMED)

    event = misp_event(report)["Event"]
    assert [a["value"] for a in event["Attribute"]
            if a["comment"].startswith("reporting organisation")] == [MEMBER]
    assert {'iep:provider-attribution="MAY"', 'hubbot:sharing="named"'} <= {
        t["name"] for t in event["Tag"]}
    [identity] = stix_objects(report, "identity")
    assert (identity.name, identity.identity_class) == (MEMBER, "organization")
    created = [o for o in stix_bundle(report).objects if "created_by_ref" in o]
    assert created and all(o.created_by_ref == identity.id for o in created)
    for text in (misp_event_json(report), stix_bundle_json(report)):
        assert ADDRESS not in text and "telegram" not in text


# --- TLP and distribution ---------------------------------------------------------------


@pytest.mark.parametrize("tlp", list(Tlp), ids=lambda t: t.name)
def test_every_tlp_is_a_misp_tag_and_a_stix_marking_on_every_object(tlp: Tlp) -> None:
    report = a_report(tlp=tlp)

    tags = [t["name"] for t in misp_event(report)["Event"]["Tag"]]
    assert tags[0] == tlp.label.lower()
    assert [t for t in tags if t.startswith("tlp:")] == [tlp.label.lower()]
    parsed = stix2.parse(stix_bundle_json(report), allow_custom=False)
    markings = {o.id for o in parsed.objects if o.type == "marking-definition"}
    assert markings == STIX_MARKINGS[tlp]
    for obj in parsed.objects:
        if obj.type != "marking-definition":
            assert set(obj.object_marking_refs) == STIX_MARKINGS[tlp], obj.type


def test_amber_strict_is_the_oasis_tlp2_marking_definition() -> None:
    [strict] = [o for o in stix_bundle(a_report(tlp=Tlp.AMBER_STRICT)).objects
                if o.id == AMBER_STRICT]
    assert strict.name == "TLP:AMBER+STRICT"
    assert json.loads(strict.serialize())["extensions"] == {
        "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
            "extension_type": "property-extension", "tlp_2_0": "amber+strict"}}


@pytest.mark.parametrize(("tlp", "sharing", "status", "distribution"), [
    (Tlp.CLEAR, Sharing.ANONYMOUS, ReportStatus.APPROVED, "3"),
    (Tlp.GREEN, Sharing.NAMED, ReportStatus.APPROVED, "2"),
    (Tlp.AMBER, Sharing.ANONYMOUS, ReportStatus.APPROVED, "1"),
    (Tlp.AMBER_STRICT, Sharing.ANONYMOUS, ReportStatus.APPROVED, "1"),
    (Tlp.RED, Sharing.NAMED, ReportStatus.APPROVED, "0"),
    (Tlp.CLEAR, Sharing.COORDINATORS, ReportStatus.APPROVED, "0"),
    (Tlp.CLEAR, Sharing.ANONYMOUS, ReportStatus.FILED, "0"),
    (Tlp.GREEN, Sharing.ANONYMOUS, ReportStatus.REJECTED, "0"),
])
def test_misp_distribution_reaches_no_further_than_the_hub_relays_the_report(
        tlp: Tlp, sharing: Sharing, status: ReportStatus, distribution: str) -> None:
    event = misp_event(a_report(tlp=tlp, sharing=sharing, status=status))["Event"]
    assert event["distribution"] == distribution
    assert {a["distribution"] for a in event["Attribute"]} == {"5"}  # inherit the event's


@pytest.mark.parametrize(("status", "analysis"), [
    (ReportStatus.FILED, "0"), (ReportStatus.APPROVED, "2"), (ReportStatus.REJECTED, "2")])
def test_misp_analysis_follows_the_triage(status: ReportStatus, analysis: str) -> None:
    event = misp_event(a_report(status=status))["Event"]
    assert (event["analysis"], event["threat_level_id"]) == (analysis, "4")


def test_the_report_ref_links_back_from_both_formats() -> None:
    report = a_report()
    assert [a["value"] for a in misp_attributes(misp_event(report))
            if a["category"] == "Internal reference"] == ["R17"]
    [stix_report] = stix_objects(report, "report")
    [reference] = stix_report.external_references
    assert (reference.source_name, reference.external_id) == ("hubbot", "R17")
