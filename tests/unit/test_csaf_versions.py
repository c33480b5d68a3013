"""CSAF documents and version-aware decisions: real CISA documents and small synthetic ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shared_data import require_shared_data

from bot.domain.csaf import CsafError, ProductStatus, parse_csaf, products_named
from bot.domain.products import ProductSpec
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp
from bot.domain.versions import Decision, decide, maven_order_sample


def document(branches: list[dict[str, Any]], statuses: dict[str, list[str]],
             remediations: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "document": {
            "category": "csaf_security_advisory", "csaf_version": "2.0",
            "title": "Vendor X: pump firmware flaw",
            "publisher": {"category": "vendor", "name": "Vendor X", "namespace": "https://x"},
            "distribution": {"tlp": {"label": "WHITE"}},
            "notes": [{"category": "summary", "text": "Pump  firmware flaw."}],
            "references": [{"category": "self", "url": "https://x/adv-1.json"},
                           {"category": "self", "url": "https://x/adv-1.html"}],
            "tracking": {"id": "X-2026-001", "version": "2", "status": "final",
                         "initial_release_date": "2026-11-01T10:00:00Z",
                         "current_release_date": "2026-11-20T10:00:00Z",
                         "revision_history": []},
        },
        "product_tree": {"branches": [{"category": "vendor", "name": "Vendor X",
                                       "branches": branches}], **extra},
        "vulnerabilities": [{
            "cve": "CVE-2026-1234", "product_status": statuses,
            "remediations": remediations or [],
            "scores": [{"products": ["P1"], "cvss_v3": {"baseScore": 9.1, "version": "3.1"}}],
        }],
    }


def versions(name: str, *items: tuple[str, str, str]) -> dict[str, Any]:
    """A product_name branch with (category, version text, product id) children."""
    return {"category": "product_name", "name": name, "branches": [
        {"category": category, "name": text, "product": {"name": f"{name} {text}",
                                                         "product_id": pid}}
        for category, text, pid in items]}


PUMP = ProductSpec("Vendor X", "Infusion Pump 5")


def test_a_document_is_read_with_its_products_statuses_and_fix() -> None:
    doc = parse_csaf(document(
        [versions("Infusion Pump 5", ("product_version_range", "vers:generic/<2.4.1", "P1"),
                  ("product_version", "2.4.1", "P2"))],
        {"known_affected": ["P1"], "fixed": ["P2"]},
        [{"category": "vendor_fix", "details": "Update to 2.4.1", "product_ids": ["P1"],
          "url": "https://x/fix"}]))
    assert (doc.tracking_id, doc.version, doc.tlp) == ("X-2026-001", "2", Tlp.CLEAR)
    assert doc.link == "https://x/adv-1.html" and doc.summary == "Pump firmware flaw."
    assert doc.cves == ("CVE-2026-1234",) and doc.severity is Severity.CRITICAL
    assert doc.products["P1"].vendor == "Vendor X"
    assert doc.products["P1"].version_range == "vers:generic/<2.4.1"
    assert doc.vulnerabilities[0].statuses == {"P1": ProductStatus.KNOWN_AFFECTED,
                                               "P2": ProductStatus.FIXED}
    advisory = doc.to_advisory("vendor-x-csaf")
    assert advisory.id == "vendor-x-csaf:X-2026-001" and advisory.tracking_id == "X-2026-001"
    assert "Vendor X Infusion Pump 5 2.4.1" in advisory.summary


@pytest.mark.parametrize(("member", "expected", "reason"), [
    ("2.3.9", Decision.AFFECTED, "known affected"),
    ("2.4.1", Decision.FIXED, "listed as fixed"),
    ("2.10.0", Decision.NOT_AFFECTED, "not among the versions listed"),
    (None, Decision.UNKNOWN_VERSION, "no version registered"),
])
def test_each_decision_names_the_rule_that_made_it(member: str | None, expected: Decision,
                                                   reason: str) -> None:
    doc = parse_csaf(document(
        [versions("Infusion Pump 5", ("product_version_range", "vers:generic/<2.4.1", "P1"),
                  ("product_version", "2.4.1", "P2"))],
        {"known_affected": ["P1"], "fixed": ["P2"]},
        [{"category": "vendor_fix", "details": "Update", "product_ids": ["P1"],
          "url": "https://x/fix"}]))
    decision = decide(member, doc, products_named(doc, PUMP))
    assert decision.decision is expected and reason in decision.reason
    assert decision.affected_versions == ("vers:generic/<2.4.1",)
    assert decision.fixed_versions == ("2.4.1",) and decision.fix_urls == ("https://x/fix",)


def test_not_affected_and_under_investigation_statuses() -> None:
    doc = parse_csaf(document(
        [versions("Infusion Pump 5", ("product_version", "3.0", "P1"),
                  ("product_version", "3.1", "P2"))],
        {"known_not_affected": ["P1"], "under_investigation": ["P2"]}))
    ids = products_named(doc, PUMP)
    assert decide("3.0", doc, ids).decision is Decision.NOT_AFFECTED
    assert decide("v3.1", doc, ids).decision is Decision.UNDER_INVESTIGATION


@pytest.mark.parametrize(("listed", "member", "affected"), [
    ("vers:all/<V4.3.8", "V4.3.7", True),  # CISA's form, which univers refuses as such
    ("vers:all/<V4.3.8", "V4.3.10", False),
    ("vers:intdot/<1.7.15", "1.7.9", True),  # univers 32's intdot would say no
    ("vers:intdot/>=1.0|<2.0", "2.0", False),
    ("< 8.2.2", "8.10", False),
    ("<=2.3.5", "2.3.5", True),
    (">= 2003 | <= 2006", "2005", True),
    ("<= L81", "L80", True),
    ("< B.06.18", "B.06.18", False),  # the issue's IntelliVue example
    ("vers:all/*", "anything", True),
])
def test_ranges_as_publishers_write_them(listed: str, member: str, affected: bool) -> None:
    doc = parse_csaf(document([versions("Infusion Pump 5",
                                        ("product_version_range", listed, "P1"))],
                              {"known_affected": ["P1"]}))
    decision = decide(member, doc, ["P1"])
    assert (decision.decision is Decision.AFFECTED) is affected, decision.reason


@pytest.mark.parametrize("listed", ["<May 2018", "A10 < A11"])
def test_an_undecidable_range_alerts_and_says_why(listed: str) -> None:
    doc = parse_csaf(document([versions("Infusion Pump 5",
                                        ("product_version_range", listed, "P1"))],
                              {"known_affected": ["P1"]}))
    decision = decide("1.0", doc, ["P1"])
    assert decision.decision is Decision.UNKNOWN_VERSION
    assert "could not compare" in decision.reason and listed in decision.reason


@pytest.mark.parametrize(("listed", "member", "hit"), [
    ("1.10 | 1.11 | 1.13", "1.11", True), ("1.10 | 1.11", "1.12", False),
    ("2.X", "2.7", True), ("2.X", "3.0", False), ("Rev B-M", "rev b-m", True),
])
def test_single_versions_lists_and_wildcards(listed: str, member: str, hit: bool) -> None:
    doc = parse_csaf(document([versions("Infusion Pump 5", ("product_version", listed, "P1"))],
                              {"known_affected": ["P1"]}))
    assert (decide(member, doc, ["P1"]).decision is Decision.AFFECTED) is hit


def test_a_member_range_against_listed_versions() -> None:
    doc = parse_csaf(document([versions("Infusion Pump 5", ("product_version", "1.5", "P1"))],
                              {"known_affected": ["P1"]}))
    assert decide("vers:generic/>=1.0|<2.0", doc, ["P1"]).decision is Decision.AFFECTED
    assert decide("vers:generic/>=2.0", doc, ["P1"]).decision is Decision.NOT_AFFECTED


def test_relationships_groups_and_names_of_other_products() -> None:
    doc = parse_csaf(document(
        [versions("Infusion Pump 5", ("product_version", "2.0", "P1")),
         versions("Infusion Pump 50", ("product_version", "2.0", "P9"))],
        {"known_affected": ["R1", "P9"]},
        [{"category": "vendor_fix", "details": "Update", "group_ids": ["G1"],
          "url": "https://x/group-fix"}],
        relationships=[{"category": "installed_on", "product_reference": "P1",
                        "relates_to_product_reference": "P9",
                        "full_product_name": {"name": "Pump 5 2.0 on dock",
                                              "product_id": "R1"}}],
        product_groups=[{"group_id": "G1", "product_ids": ["R1"]}]))
    assert doc.products["R1"].name == "Infusion Pump 5" and doc.products["R1"].version == "2.0"
    ids = products_named(doc, PUMP)
    assert set(ids) == {"P1", "R1"}  # not "Infusion Pump 50"
    decision = decide("2.0", doc, ids)
    assert decision.decision is Decision.AFFECTED and decision.fix_urls == ("https://x/group-fix",)
    assert products_named(doc, ProductSpec("Other Vendor", "Infusion Pump 5")) == []


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda d: d.pop("document"), "$.document"),
    (lambda d: d["document"]["tracking"].pop("id"), "$.document.tracking.id"),
    (lambda d: d.__setitem__("vulnerabilities", "many"), "$.vulnerabilities"),
    (lambda d: d["product_tree"]["branches"][0].__setitem__("branches", [5]),
     "$.product_tree.branches[0].branches[0]"),
    (lambda d: d["vulnerabilities"][0]["product_status"].__setitem__("fixed", "P1"),
     "$.vulnerabilities[0].product_status.fixed"),
])
def test_a_broken_document_is_refused_with_the_path(mutate: Any, path: str) -> None:
    data = document([versions("Infusion Pump 5", ("product_version", "1", "P1"))],
                    {"known_affected": ["P1"]})
    mutate(data)
    with pytest.raises(CsafError) as caught:
        parse_csaf(data)
    assert caught.value.path == path


def test_the_fallback_ordering_compares_numbers_as_numbers() -> None:
    assert maven_order_sample(["1.7.15", "1.7.9", "1.10"]) == ["1.7.9", "1.7.15", "1.10"]
    assert maven_order_sample(["B.06.18", "B.06.9", "B.07"]) == ["B.06.9", "B.06.18", "B.07"]


def test_every_real_cisa_document_is_read_and_decided() -> None:
    folder = require_shared_data("csaf")
    files = sorted(Path(folder).glob("*.json"))
    assert len(files) >= 20
    for path in files:
        doc = parse_csaf(json.loads(path.read_text(encoding="utf-8")))
        assert doc.tracking_id.upper() in path.stem.upper() or path.stem.upper() in \
            doc.tracking_id.upper()
        assert doc.products and doc.vulnerabilities
        for product_id, product in doc.products.items():
            version = product.version or product.version_range
            spec_version = version if version and "|" not in version and " " not in version \
                and not version.startswith(("<", ">", "vers:")) else None
            decision = decide(spec_version, doc, [product_id])
            assert decision.decision in set(Decision), decision


def test_the_issues_intellivue_example_on_the_real_document() -> None:
    folder = require_shared_data("csaf")
    doc = parse_csaf(json.loads((Path(folder) / "icsma-17-255-01.json").read_text()))
    ids = products_named(doc, ProductSpec("Philips", "IntelliVue MX40"))
    assert ids
    assert decide("B.06.18", doc, ids).decision is Decision.NOT_AFFECTED
    assert decide("B.06.12", doc, ids).decision is Decision.AFFECTED
