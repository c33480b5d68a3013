"""Version-aware decisions: every status and range form with the rule named in the reason,
ordered statuses, several vulnerabilities, the versions and fixes a decision lists, the real
CISA documents, and hostile versions."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from bot.domain.csaf import parse_csaf, products_named
from bot.domain.products import ProductSpec
from bot.domain.versions import Decision, decide, maven_order_sample
from tests.support.csaf_documents import monitor_document
from tests.support.shared_data import require_shared_data

MONITOR = ProductSpec("Philips", "IntelliVue MX40")


def decision_for(member: str | None, data: dict[str, Any]) -> tuple[Decision, str]:
    doc = parse_csaf(data)
    result = decide(member, doc, products_named(doc, MONITOR))
    return result.decision, result.reason


@pytest.mark.parametrize(("status", "member", "expected", "reason"), [
    ("known_affected", "B.06.18", Decision.AFFECTED, "listed as known affected"),
    ("known_affected", "B.06.19", Decision.NOT_AFFECTED, "not among the versions listed"),
    ("first_affected", "B.06.18", Decision.AFFECTED, "listed as first affected"),
    ("first_affected", "B.06.20", Decision.AFFECTED, "at or above the first affected version"),
    ("first_affected", "B.06.9", Decision.NOT_AFFECTED, "not among"),  # 9 < 18, as numbers
    ("last_affected", "B.06.2", Decision.AFFECTED, "at or below the last affected version"),
    ("last_affected", "B.07", Decision.NOT_AFFECTED, "not among"),
    ("fixed", "B.06.18", Decision.FIXED, "listed as fixed"),
    ("first_fixed", "B.06.19", Decision.FIXED, "at or above the first fixed version B.06.18"),
    ("first_fixed", "B.06.17", Decision.NOT_AFFECTED, "not among"),
    ("recommended", "b.06.18", Decision.FIXED, "listed as recommended"),
    ("known_not_affected", "B.06.18", Decision.NOT_AFFECTED, "listed as known not affected"),
    ("under_investigation", "B.06.18", Decision.UNDER_INVESTIGATION,
     "listed as under investigation"),
])
def test_each_product_status_decides_with_its_rule(status: str, member: str,
                                                   expected: Decision, reason: str) -> None:
    decision, why = decision_for(member, monitor_document({status: ["P1"]}))
    assert decision is expected and reason in why, why


def test_a_first_affected_version_ends_at_the_first_fixed_one() -> None:
    data = monitor_document({"first_affected": ["P1"], "first_fixed": ["P2"]},
                            versions={"P1": ("product_version", "B.06.10"),
                                      "P2": ("product_version", "B.06.19")})
    assert decision_for("B.06.12", data)[0] is Decision.AFFECTED
    decision, why = decision_for("B.06.20", data)
    assert decision is Decision.FIXED and "first fixed version B.06.19" in why
    assert decision_for("B.06.01", data)[0] is Decision.NOT_AFFECTED


@pytest.mark.parametrize(("first", "second", "expected"), [
    ("known_affected", "fixed", Decision.AFFECTED),
    ("fixed", "known_affected", Decision.AFFECTED),
    ("fixed", "known_not_affected", Decision.FIXED),
    ("known_not_affected", "fixed", Decision.FIXED),
    ("fixed", "under_investigation", Decision.UNDER_INVESTIGATION),
    ("known_not_affected", "under_investigation", Decision.UNDER_INVESTIGATION),
    ("under_investigation", "known_affected", Decision.AFFECTED),
])
def test_across_vulnerabilities_affected_beats_investigating_beats_fixed_beats_not_affected(
        first: str, second: str, expected: Decision) -> None:
    data = monitor_document({first: ["P1"]}, {second: ["P1"]})
    assert decision_for("B.06.18", data)[0] is expected


def test_an_unreadable_affected_range_elsewhere_keeps_the_member_alerted() -> None:
    data = monitor_document({"fixed": ["P1"]}, {"known_affected": ["P2"]},
                            versions={"P1": ("product_version", "B.06.18"),
                                      "P2": ("product_version_range", "<May 2018")})
    decision, why = decision_for("B.06.18", data)
    assert decision is Decision.UNKNOWN_VERSION
    assert "listed as fixed" in why and "<May 2018" in why


@pytest.mark.parametrize(("member", "expected", "reason"), [
    (None, Decision.UNKNOWN_VERSION, "no version registered"),
    ("", Decision.UNKNOWN_VERSION, "no version registered"),
    ("   ", Decision.UNKNOWN_VERSION, "no version registered"),
    ("B.06.12", Decision.AFFECTED, "listed as known affected"),
    ("B.06.19", Decision.FIXED, "listed as fixed"),
    ("B.06.20", Decision.NOT_AFFECTED, "not among the versions listed"),
])
def test_every_decision_lists_the_affected_and_fixed_versions_and_the_fixes(
        member: str | None, expected: Decision, reason: str) -> None:
    data = monitor_document(
        {"known_affected": ["P1"], "fixed": ["P2"]},
        versions={"P1": ("product_version_range", "vers:all/<B.06.19"),
                  "P2": ("product_version", "B.06.19")},
        remediations=[{"category": "vendor_fix", "details": "Update", "product_ids": ["P1"],
                       "url": "https://philips.example/fix"},
                      {"category": "vendor_fix", "details": "Update all", "group_ids": ["G"],
                       "url": "https://philips.example/group-fix"}],
        product_groups=[{"group_id": "G", "product_ids": ["P1", "P2"]}])
    doc = parse_csaf(data)
    result = decide(member, doc, products_named(doc, MONITOR))
    assert result.decision is expected and reason in result.reason, result.reason
    assert result.affected_versions == ("vers:all/<B.06.19",)
    assert result.fixed_versions == ("B.06.19",)
    assert result.fix_urls == ("https://philips.example/fix",
                               "https://philips.example/group-fix")


def test_a_product_installed_on_another_is_decided_by_its_own_version() -> None:
    data = monitor_document(
        {"known_affected": ["ON"]},
        versions={"P1": ("product_version", "B.06.18")},
        relationships=[{"category": "installed_on", "product_reference": "P1",
                        "relates_to_product_reference": "DOCK",
                        "full_product_name": {"name": "MX40 B.06.18 on a docking station",
                                              "product_id": "ON"}}])
    doc = parse_csaf(data)
    ids = products_named(doc, MONITOR)
    assert set(ids) == {"P1", "ON"}
    assert decide("B.06.18", doc, ids).decision is Decision.AFFECTED
    assert decide("B.06.19", doc, ids).decision is Decision.NOT_AFFECTED


@pytest.mark.parametrize(("listed", "member", "expected", "reason"), [
    # CISA's form, which univers refuses as such
    ("vers:all/<V4.3.8", "V4.3.7", Decision.AFFECTED, "read as maven"),
    ("vers:all/<V4.3.8", "4.3.10", Decision.NOT_AFFECTED, "not among"),
    ("vers:all/<V4.3.8", "V4.3.10", Decision.NOT_AFFECTED, "not among"),
    ("vers:intdot/>=1.2.0|<1.10.0", "1.9.3", Decision.AFFECTED, "read as maven"),
    # univers 32's intdot ordering would say no
    ("vers:intdot/<1.7.15", "1.7.9", Decision.AFFECTED, "read as maven"),
    ("vers:intdot/>=1.0|<2.0", "2.0", Decision.NOT_AFFECTED, "not among"),
    ("vers:generic/<2025", "2024", Decision.AFFECTED, "read as maven"),
    ("<2025", "2025", Decision.NOT_AFFECTED, "not among"),
    ("vers:pypi/>=1.0.0|<2.0.0", "1.4.2", Decision.AFFECTED, "read as pypi"),
    ("vers:pypi/>=1.0.0|<2.0.0", "B.06.18", Decision.UNKNOWN_VERSION, "not a pypi version"),
    ("vers:semver/>=1.0.0|<2.0.0", "1.4.2", Decision.AFFECTED, "read as maven"),  # unknown
    ("vers:all/<b8", "1", Decision.UNKNOWN_VERSION, "'1' and 'vers:all/<b8' are numbered"),
    ("vers:nosuchscheme/<3", "2", Decision.AFFECTED, "read as maven"),
    ("vers:all/<<<", "1", Decision.UNKNOWN_VERSION, "cannot be read"),
    ("vers:all/*", "anything", Decision.AFFECTED, "vers:all/*: every version"),
    # the publisher's own text
    ("< 8.2.2", "8.10", Decision.NOT_AFFECTED, "not among"),
    ("<=2.3.5", "2.3.5", Decision.AFFECTED, "read as maven"),
    (">= 2003 | <= 2006", "2005", Decision.AFFECTED, "read as maven"),
    ("<= L81", "L80", Decision.AFFECTED, "read as maven"),
    ("< B.06.18", "B.06.18", Decision.NOT_AFFECTED, "not among"),  # the issue's example
    # undecidable: the member is alerted and the reason says why
    ("Rev B-M", "1.0", Decision.UNKNOWN_VERSION,
     "could not compare version 1.0: '1.0' and 'Rev B-M' are numbered differently"),
    ("<May 2018", "1.0", Decision.UNKNOWN_VERSION,
     "could not compare version 1.0: '<May 2018' names a date, not a version"),
    ("A10 < A11", "1.0", Decision.UNKNOWN_VERSION,
     "could not compare version 1.0: '1.0' and 'A10 < A11' are numbered differently"),
    ("vers:all/<V3|garbage words", "2", Decision.AFFECTED, "setting aside 'garbage words'"),
])
def test_range_forms_and_the_rule_named_in_the_reason(listed: str, member: str,
                                                      expected: Decision, reason: str) -> None:
    data = monitor_document({"known_affected": ["P1"]},
                            versions={"P1": ("product_version_range", listed)})
    decision, why = decision_for(member, data)
    assert decision is expected and reason in why, why


@pytest.mark.parametrize(("status", "listed", "member", "expected"), [
    ("known_affected", "1.10 | 1.11 | 1.13", "1.11", Decision.AFFECTED),
    ("known_affected", "1.10 | 1.11", "1.12", Decision.NOT_AFFECTED),
    ("known_affected", "2.X", "2.7", Decision.AFFECTED),
    ("known_affected", "2.X", "3.0", Decision.NOT_AFFECTED),
    ("known_affected", "Rev B-M", "rev b-m", Decision.AFFECTED),
    ("under_investigation", "3.1", "v3.1", Decision.UNDER_INVESTIGATION),  # a leading v
])
def test_single_versions_lists_and_wildcards(status: str, listed: str, member: str,
                                             expected: Decision) -> None:
    data = monitor_document({status: ["P1"]}, versions={"P1": ("product_version", listed)})
    assert decision_for(member, data)[0] is expected


def test_a_member_range_against_listed_versions() -> None:
    doc = parse_csaf(monitor_document({"known_affected": ["P1"]},
                                      versions={"P1": ("product_version", "1.5")}))
    assert decide("vers:generic/>=1.0|<2.0", doc, ["P1"]).decision is Decision.AFFECTED
    assert decide("vers:generic/>=2.0", doc, ["P1"]).decision is Decision.NOT_AFFECTED


def test_the_fallback_ordering_compares_numbers_as_numbers() -> None:
    assert maven_order_sample(["1.7.15", "1.7.9", "1.10"]) == ["1.7.9", "1.7.15", "1.10"]
    assert maven_order_sample(["B.06.18", "B.06.9", "B.07"]) == ["B.06.9", "B.06.18", "B.07"]


def test_a_product_the_advisory_does_not_name_is_unknown_not_silent() -> None:
    doc = parse_csaf(monitor_document({"known_affected": ["P1"]}))
    result = decide("B.06.18", doc, [])
    assert result.decision is Decision.UNKNOWN_VERSION
    assert "no status for this product" in result.reason


_HOSTILE = ["", "vers:", "vers:/", "vers:all/", "vers:all/<", "vers:maven/>=|<", "<", ">=",
            "\x00", "vers:semver/>=1.0.0|<0.1.0", "9" * 400, "1." * 200, "vers:all/*|<1",
            "vers:npm/^1.0.0", "vers:pypi/~=1.0", "*", "x", "X.X", ". . .", "vers:all/!=1|!=2",
            "vers:deb/<1:2.0-1", "vers:rpm/<1.0~rc1"]


@pytest.mark.parametrize("text", _HOSTILE)
def test_hostile_versions_and_ranges_give_a_decision_never_an_exception(text: str) -> None:
    for versions in ({"P1": ("product_version_range", text)},
                     {"P1": ("product_version", text or "1")}):
        for status in ("known_affected", "first_fixed", "last_affected"):
            doc = parse_csaf(monitor_document({status: ["P1"]}, versions=versions))
            for member in (text, "1.0", "vers:generic/>=1.0", "B.06.18"):
                result = decide(member, doc, ["P1"])
                assert result.decision in set(Decision) and result.reason


@pytest.mark.parametrize("text", ["1 " * 5_000, "1|" * 5_000, "V1.0 SP1 and " * 1_000])
def test_a_hostile_long_version_text_could_not_compare(text: str) -> None:
    for field in ("product_version", "product_version_range"):
        doc = parse_csaf(monitor_document({"known_affected": ["P1"]},
                                          versions={"P1": (field, text)}))
        for member in ("1", "vers:generic/>=1"):
            result = decide(member, doc, ["P1"])
            assert result.decision is Decision.UNKNOWN_VERSION
            assert "longer than 1000 characters" in result.reason


def test_random_version_texts_never_crash() -> None:
    rng = random.Random(8)
    alphabet = "0123456789.vV<>=|!*/:-+~ abxX"
    for _ in range(300):
        listed = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        member = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        category = rng.choice(["product_version", "product_version_range"])
        prefix = rng.choice(["", "vers:all/", "vers:intdot/", "vers:generic/"])
        doc = parse_csaf(monitor_document({rng.choice(["known_affected", "first_affected",
                                                       "first_fixed", "fixed"]): ["P1"]},
                                          versions={"P1": (category, prefix + listed)}))
        assert decide(member, doc, ["P1"]).decision in set(Decision)


def test_every_product_of_the_real_documents_is_decided_listed_versions_as_they_say() -> None:
    folder = require_shared_data("csaf")
    checked = 0
    for path in sorted(Path(folder).glob("*.json")):
        doc = parse_csaf(json.loads(path.read_text(encoding="utf-8")))
        for pid, product in doc.products.items():
            listed = product.version or product.version_range
            member = listed if listed and "|" not in listed and " " not in listed \
                and not listed.startswith(("<", ">", "vers:")) else None
            assert decide(member, doc, [pid]).decision in set(Decision)
            if product.version is None or "|" in product.version or " " in product.version:
                continue
            statuses = {v.statuses[pid] for v in doc.vulnerabilities if pid in v.statuses}
            if not statuses:
                continue
            result = decide(product.version, doc, [pid])
            expected = Decision.AFFECTED if any(s.affected for s in statuses) else None
            if expected is not None:
                assert result.decision is expected, (doc.tracking_id, product, result.reason)
                checked += 1
    assert checked >= 20


def test_the_issues_intellivue_example_on_the_real_document() -> None:
    folder = require_shared_data("csaf")
    doc = parse_csaf(json.loads((Path(folder) / "icsma-17-255-01.json").read_text()))
    ids = products_named(doc, MONITOR)
    assert ids
    assert decide("B.06.18", doc, ids).decision is Decision.NOT_AFFECTED
    assert decide("B.06.12", doc, ids).decision is Decision.AFFECTED


def test_the_version_ends_where_the_publishers_words_begin_and_the_reason_shows_them() -> None:
    listed = ">=3.05F_Packaged_with_MC_Works64_4.03D"
    data = monitor_document({"known_affected": ["P1"]},
                            versions={"P1": ("product_version_range", listed)})
    decision, why = decision_for("3.05F", data)
    assert decision is Decision.AFFECTED
    assert why == (f"version 3.05F is listed as known affected ({listed} read as maven, setting "
                   "aside 'Packaged_with_MC_Works64_4.03D')")
    decision, why = decision_for("3.04A", data)
    assert decision is Decision.NOT_AFFECTED and "'Packaged_with_MC_Works64_4.03D'" in why


def test_a_list_in_a_range_field_compares_by_equality() -> None:
    data = monitor_document({"known_affected": ["P1"]},
                            versions={"P1": ("product_version_range", "1.32|1.33|1.35")})
    assert decision_for("1.33", data) == (
        Decision.AFFECTED, "version 1.33 is listed as known affected (1.33: the same version)")
    assert decision_for("1.34", data)[0] is Decision.NOT_AFFECTED


def test_a_branch_fixed_version_listed_as_fixed_is_fixed_not_affected_by_the_next_branch() -> None:
    data = monitor_document({"known_affected": ["P1", "P2"], "fixed": ["P3"]},
                            versions={"P1": ("product_version_range", "<9.6.3.13"),
                                      "P2": ("product_version_range", "<9.6.4.1"),
                                      "P3": ("product_version", "9.6.3.13")})
    assert decision_for("9.6.3.13", data)[0] is Decision.FIXED
    assert decision_for("9.6.3.2", data)[0] is Decision.AFFECTED
    assert decision_for("9.5", data)[0] is Decision.AFFECTED  # below every branch
