"""Reading CSAF 2.0 documents: the product tree in its allowed shapes, statuses, groups, scores,
the advisory the matcher reads, and hostile documents refused with a path, never a crash."""

from __future__ import annotations

import copy
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from bot.domain.csaf import CsafError, ProductStatus, parse_csaf, products_named
from bot.domain.matching import AdvisoryMatcher
from bot.domain.products import ProductSpec, RegisteredProduct
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp
from tests.support.shared_data import require_shared_data


def minimal(**tree: Any) -> dict[str, Any]:
    return {
        "document": {"title": "Philips IntelliVue monitors",
                     "tracking": {"id": "ICSMA-26-001-01", "version": "3",
                                  "initial_release_date": "2026-01-01T00:00:00Z",
                                  "current_release_date": "2026-02-01T12:00:00+01:00"},
                     "publisher": {"name": "CISA"},
                     "distribution": {"tlp": {"label": "WHITE"}},
                     "notes": [{"category": "legal_disclaimer", "text": "No warranty."},
                               {"category": "summary", "text": "Monitors  leak data."}],
                     "references": [{"category": "external", "url": "https://nvd.example/1"},
                                    {"category": "self", "url": "https://cisa.example/a"}]},
        "product_tree": tree,
        "vulnerabilities": [],
    }


def branch(category: str, name: str, *children: dict[str, Any],
           product_id: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"category": category, "name": name}
    if children:
        node["branches"] = list(children)
    if product_id:
        node["product"] = {"name": f"full {name}", "product_id": product_id}
    return node


def test_every_product_status_is_read_with_what_it_means() -> None:
    statuses = {s.value: [f"P-{s.value}"] for s in ProductStatus}
    data = minimal(full_product_names=[
        {"name": f"Philips X {s.value}", "product_id": f"P-{s.value}"} for s in ProductStatus])
    data["vulnerabilities"] = [{"cve": "cve-2026-0001 ", "product_status": statuses}]
    doc = parse_csaf(data)
    read = doc.vulnerabilities[0].statuses
    assert read == {f"P-{s.value}": s for s in ProductStatus}
    kinds = {s: (s.affected, s.fixed, s.not_affected, s.investigating) for s in ProductStatus}
    assert all(sum(k) == 1 for k in kinds.values())  # each status is exactly one kind
    assert [s for s in ProductStatus if s.affected] == [
        ProductStatus.KNOWN_AFFECTED, ProductStatus.FIRST_AFFECTED, ProductStatus.LAST_AFFECTED]
    assert [s for s in ProductStatus if s.fixed] == [
        ProductStatus.FIXED, ProductStatus.FIRST_FIXED, ProductStatus.RECOMMENDED]
    assert doc.cves == ("CVE-2026-0001",)


def test_document_fields_dates_link_summary_and_tlp() -> None:
    doc = parse_csaf(minimal())
    assert (doc.tracking_id, doc.version, doc.publisher) == ("ICSMA-26-001-01", "3", "CISA")
    assert doc.initial_release is not None and doc.initial_release.tzinfo is not None
    assert doc.current_release is not None and doc.current_release.utcoffset() is not None
    assert doc.link == "https://cisa.example/a"  # the self reference, not the first one
    assert doc.summary == "Monitors leak data."
    assert doc.tlp is Tlp.CLEAR and doc.max_cvss is None and doc.severity is None


def test_an_unlabelled_document_is_read_at_its_providers_configured_tlp() -> None:
    data = minimal()
    del data["document"]["distribution"]
    doc = parse_csaf(data)
    assert doc.tlp is None  # no label: not TLP:CLEAR
    assert doc.to_advisory("amber-provider", Tlp.AMBER).tlp is Tlp.AMBER
    assert doc.to_advisory("public-provider").tlp is Tlp.CLEAR


@pytest.mark.parametrize(("label", "provider", "read"), [
    ("WHITE", Tlp.AMBER, Tlp.AMBER), ("CLEAR", Tlp.RED, Tlp.RED),
    ("GREEN", Tlp.AMBER, Tlp.AMBER), ("RED", Tlp.GREEN, Tlp.RED),
    ("AMBER+STRICT", Tlp.CLEAR, Tlp.AMBER_STRICT), ("PURPLE", Tlp.CLEAR, Tlp.AMBER),
    (7, Tlp.CLEAR, Tlp.AMBER),  # not a label at all: restricted, never shared more widely
])
def test_a_documents_tlp_is_the_higher_of_its_label_and_its_providers(
        label: object, provider: Tlp, read: Tlp) -> None:
    data = minimal()
    data["document"]["distribution"] = {"tlp": {"label": label}}
    assert parse_csaf(data).to_advisory("provider", provider).tlp is read


def test_the_link_is_the_documents_own_page_before_its_json_file() -> None:
    data = minimal()
    data["document"]["references"] = [{"category": "self", "url": "https://x/adv-1.json"},
                                       {"category": "self", "url": "https://x/adv-1.html"}]
    assert parse_csaf(data).link == "https://x/adv-1.html"


def test_branches_nest_in_any_order_the_specification_allows() -> None:
    doc = parse_csaf(minimal(branches=[
        branch("vendor", "Philips",
               branch("product_family", "IntelliVue",
                      branch("product_name", "MX40",
                             branch("product_version", "B.06.18", product_id="A"),
                             branch("product_version_range", "vers:all/<B.06.19",
                                    product_id="B"))),
               branch("product_name", "IntelliVue MX800",
                      branch("product_version", "L.01", product_id="C")),
               branch("product_version", "9.0",
                      branch("product_name", "Xper Flex", product_id="D")))]))
    a, b, c, d = (doc.products[k] for k in "ABCD")
    assert (a.vendor, a.name, a.version, a.version_range) == \
        ("Philips", "IntelliVue MX40", "B.06.18", None)
    assert (b.name, b.version, b.version_range) == ("IntelliVue MX40", None, "vers:all/<B.06.19")
    assert (c.name, c.version) == ("IntelliVue MX800", "L.01")  # the family not doubled
    assert (d.name, d.version) == ("Xper Flex", "9.0")  # a version above its name


def test_a_relationship_is_the_product_it_refers_to() -> None:
    doc = parse_csaf(minimal(
        branches=[branch("vendor", "Philips",
                         branch("product_name", "IntelliVue MX40",
                                branch("product_version", "B.06.18", product_id="FW")),
                         branch("product_name", "IntelliVue X3", product_id="DEV"))],
        relationships=[{"category": "installed_on", "product_reference": "FW",
                        "relates_to_product_reference": "DEV",
                        "full_product_name": {"name": "MX40 B.06.18 on X3", "product_id": "R"}},
                       {"category": "installed_on", "product_reference": "missing",
                        "relates_to_product_reference": "DEV",
                        "full_product_name": {"name": "Orphan", "product_id": "R2"}}]))
    r = doc.products["R"]
    assert (r.vendor, r.name, r.version, r.full_name) == \
        ("Philips", "IntelliVue MX40", "B.06.18", "MX40 B.06.18 on X3")
    assert doc.products["R2"].full_name == "Orphan"


def test_groups_expand_in_remediations_and_scores_are_the_highest() -> None:
    data = minimal(full_product_names=[{"name": "Philips MX40", "product_id": "P1"},
                                       {"name": "Philips MX450", "product_id": "P2"}],
                   product_groups=[{"group_id": "G", "product_ids": ["P1", "P2"]}])
    data["vulnerabilities"] = [{
        "cve": "CVE-2026-0002", "product_status": {"known_affected": ["P1", "P2"]},
        "remediations": [{"category": "vendor_fix", "details": "Update", "group_ids": ["G"],
                          "product_ids": ["P1"], "url": "https://philips.example/fix"},
                         {"category": "mitigation", "details": "Segment", "url": 5}],
        "scores": [{"products": ["P1"], "cvss_v3": {"baseScore": 6.5}},
                   {"products": ["P2"], "cvss_v3": {"baseScore": 8.1},
                    "cvss_v4": {"baseScore": 9.3}}],
        "threats": [{"category": "impact", "details": "Data leak"}, "junk"],
    }]
    doc = parse_csaf(data)
    v = doc.vulnerabilities[0]
    assert v.remediations[0].product_ids == ("P1", "P2")
    assert v.remediations[1].url is None
    assert (v.cvss_v3, v.cvss_v4) == (8.1, 9.3) and doc.severity is Severity.CRITICAL
    assert v.threats == (("impact", "Data leak"),)


@pytest.mark.parametrize("score", [True, math.nan, math.inf, -1, 11, "9.8", None])
def test_a_score_that_is_no_cvss_number_is_ignored(score: Any) -> None:
    data = minimal(full_product_names=[{"name": "Philips MX40", "product_id": "P1"}])
    data["vulnerabilities"] = [{"product_status": {"known_affected": ["P1"]},
                                "scores": [{"products": ["P1"],
                                            "cvss_v3": {"baseScore": score}}]}]
    assert parse_csaf(data).max_cvss is None


def test_products_named_is_the_matchers_notion_of_the_same_product() -> None:
    doc = parse_csaf(minimal(branches=[
        branch("vendor", "Philips",
               branch("product_name", "IntelliVue MX40",
                      branch("product_version", "B.06.18", product_id="MX40")),
               branch("product_name", "IntelliVue MX400",
                      branch("product_version", "B.06.18", product_id="MX400")),
               branch("product_name", "IntelliVue MX 40 Wearable", product_id="SPLIT")),
        branch("vendor", "Other Corp",
               branch("product_name", "IntelliVue MX40", product_id="ELSEWHERE"))],
        full_product_names=[{"name": "Philips IntelliVue MX40 B.06.12", "product_id": "FPN"},
                            {"name": "IntelliVue MX40 B.06.11", "product_id": "NOVENDOR"}],
        relationships=[{"category": "installed_on", "product_reference": "MX40",
                        "relates_to_product_reference": "DOCK",
                        "full_product_name": {"name": "MX40 B.06.18 on a docking station",
                                              "product_id": "ON"}}]))
    ids = products_named(doc, ProductSpec("Philips Healthcare", "IntelliVue MX40"))
    assert ids == ["MX40", "SPLIT", "FPN", "ON"]  # ON: the MX40 installed on a dock
    spaced = products_named(doc, ProductSpec("Philips", "Intellivue MX 40"))
    assert spaced == ["MX40", "SPLIT", "FPN", "ON"]
    assert products_named(doc, ProductSpec("Philips", "IntelliVue MX400")) == ["MX400"]
    assert "NOVENDOR" in products_named(
        doc, ProductSpec("", "IntelliVue MX40", distinctive=True))


def test_the_advisory_carries_the_product_lines_the_name_matcher_finds() -> None:
    doc = parse_csaf(minimal(branches=[branch("vendor", "Philips", branch(
        "product_name", "IntelliVue MX40", branch("product_version", "B.06.18",
                                                  product_id="A")))]))
    advisory = doc.to_advisory("cisa-csaf")
    assert advisory.id == "cisa-csaf:ICSMA-26-001-01" and advisory.tracking_id == "ICSMA-26-001-01"
    assert advisory.id == parse_csaf(minimal()).to_advisory("cisa-csaf").id  # stable per id
    assert advisory.title == "Philips IntelliVue monitors"
    assert "Philips IntelliVue MX40 B.06.18" in advisory.summary
    member = RegisteredProduct(1, "hospital", ProductSpec("Philips", "IntelliVue MX40"))
    other = RegisteredProduct(2, "clinic", ProductSpec("Philips", "IntelliVue MX400"))
    found = AdvisoryMatcher([member, other]).match(advisory.title, advisory.summary)
    assert [m.product.member for m in found] == ["hospital"]


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda d: d.__setitem__("document", []), "$.document"),
    (lambda d: d.pop("document"), "$.document"),
    (lambda d: d["document"].__setitem__("title", 5), "$.document.title"),
    (lambda d: d["document"]["tracking"].pop("id"), "$.document.tracking.id"),
    (lambda d: d["document"]["tracking"].__setitem__("version", ""),
     "$.document.tracking.version"),
    (lambda d: d.__setitem__("product_tree", "tree"), "$.product_tree"),
    (lambda d: d["product_tree"]["branches"][0].__setitem__("branches", [5]),
     "$.product_tree.branches[0].branches[0]"),
    (lambda d: d["product_tree"].__setitem__("full_product_names", [{"name": "x"}]),
     "$.product_tree.full_product_names[0].product_id"),
    (lambda d: d["product_tree"].__setitem__("relationships", [{"product_reference": "A"}]),
     "$.product_tree.relationships[0].full_product_name"),
    (lambda d: d["product_tree"].__setitem__("product_groups", [{"product_ids": []}]),
     "$.product_tree.product_groups[0].group_id"),
    (lambda d: d.__setitem__("vulnerabilities", "many"), "$.vulnerabilities"),
    (lambda d: d.__setitem__("vulnerabilities", [{"product_status": []}]),
     "$.vulnerabilities[0].product_status"),
    (lambda d: d.__setitem__("vulnerabilities", [{"product_status": {"fixed": "A"}}]),
     "$.vulnerabilities[0].product_status.fixed"),
    (lambda d: d.__setitem__("vulnerabilities", [{"remediations": [{"group_ids": 1}]}]),
     "$.vulnerabilities[0].remediations[0].group_ids"),
])
def test_a_document_it_cannot_use_is_refused_with_the_path(mutate: Any, path: str) -> None:
    data = minimal(branches=[branch("vendor", "Philips", product_id="A")])
    mutate(data)
    with pytest.raises(CsafError) as caught:
        parse_csaf(data)
    assert caught.value.path == path and path in str(caught.value)


def test_a_hostile_depth_of_branches_is_refused_not_a_recursion_error() -> None:
    node: dict[str, Any] = branch("product_version", "1", product_id="deep")
    for _ in range(5000):
        node = {"category": "product_family", "name": "f", "branches": [node]}
    with pytest.raises(CsafError, match="nested deeper"):
        parse_csaf(minimal(branches=[node]))


_JUNK: list[Any] = [None, 0, -1, 1.5, True, "", "x", [], [None], {}, {"a": 1}, math.nan]


def _mutated(data: Any, rng: random.Random) -> Any:
    """A copy with one node somewhere replaced by junk."""
    data = copy.deepcopy(data)
    node, key = data, None
    parent: Any = None
    while isinstance(node, dict | list) and node and rng.random() < 0.85:
        parent = node
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        node = node[key]
    if parent is None:
        return rng.choice(_JUNK)
    parent[key] = rng.choice(_JUNK)
    return data


def test_mutated_real_documents_are_read_or_refused_never_a_crash() -> None:
    folder = require_shared_data("csaf")
    originals = [json.loads(p.read_text(encoding="utf-8"))
                 for p in sorted(Path(folder).glob("*.json"))[:6]]
    rng = random.Random(2026)
    refused = 0
    for _ in range(600):
        try:
            doc = parse_csaf(_mutated(rng.choice(originals), rng))
        except CsafError as exc:
            assert exc.path.startswith("$")
            refused += 1
            continue
        doc.to_advisory("fuzz")
        assert doc.max_cvss is None or 0 <= doc.max_cvss <= 10
    assert 0 < refused < 600


def test_the_real_documents_are_read_whole() -> None:
    folder = require_shared_data("csaf")
    files = sorted(Path(folder).glob("*.json"))
    assert len(files) == 21
    statuses = 0
    for path in files:
        raw = json.loads(path.read_text(encoding="utf-8"))
        doc = parse_csaf(raw)
        assert doc.tracking_id == raw["document"]["tracking"]["id"].strip()
        assert doc.tracking_id.upper() in path.stem.upper() or \
            path.stem.upper() in doc.tracking_id.upper()
        assert doc.products and doc.vulnerabilities
        assert doc.tlp is Tlp.CLEAR and doc.link.startswith("https://")
        assert doc.initial_release is not None and doc.current_release is not None
        assert all(p.vendor for p in doc.products.values()), path.name
        listed = sum(len(ids) for v in raw["vulnerabilities"]
                     for ids in v.get("product_status", {}).values())
        read = sum(len(v.statuses) for v in doc.vulnerabilities)
        assert read == listed, path.name  # no product is listed twice in one vulnerability
        statuses += read
        advisory = doc.to_advisory("cisa-csaf")
        for p in list(doc.products.values())[:5]:
            assert p.name in advisory.summary
    assert statuses == 394
