"""Every version form publishers write, decided as a careful reader would.

The forms collected from the real documents and from CISA's public CSAF repository are
written down in version_forms.txt with the decision for some versions. Over the real documents
of ../shared/data (csaf/ and csaf-cisa-ot-2021-2022/), every product_version and
product_version_range is either read by a rule, and then the versions it names decide as its
operators say and as the document's statuses say, or it is an explicit "could not compare":
never a silent "not affected"."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.domain.csaf import CsafDocument, parse_csaf, products_named
from bot.domain.products import ProductSpec
from bot.domain.version_order import Undecidable
from bot.domain.version_rules import scheme_of
from bot.domain.version_text import read_listed
from bot.domain.versions import Decision, decide
from tests.support.csaf_documents import monitor_document
from tests.support.shared_data import require_shared_data

FORMS = Path(__file__).with_name("version_forms.txt")
MONITOR = ProductSpec("Philips", "IntelliVue MX40")
DECISIONS = {"affected": Decision.AFFECTED, "not affected": Decision.NOT_AFFECTED,
             "could not compare": Decision.UNKNOWN_VERSION}
# The texts of the real documents that no rule reads (38 of 1,494: names of products and
# models, dates, serial numbers); each is alerted with "could not compare".
UNDECIDABLE_AT_MOST = 38


@dataclass(frozen=True)
class Form:
    field: str  # "range", "version" or "ranges" (several ranges of one product)
    text: str
    cases: tuple[tuple[str, str], ...]  # (member's version, decision)

    def document(self) -> dict[str, Any]:
        if self.field == "ranges":
            versions = {f"P{i}": ("product_version_range", t.strip())
                        for i, t in enumerate(self.text.split(";;"))}
        else:
            versions = {"P1": ("product_version_range" if self.field == "range"
                               else "product_version", self.text)}
        return monitor_document({"known_affected": list(versions)}, versions=versions)


def load_forms() -> list[Form]:
    forms: list[Form] = []
    for number, line in enumerate(FORMS.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if (head := re.match(r"(range|version|ranges): (.*)$", line)) is not None:
            forms.append(Form(head.group(1), head.group(2), ()))
            continue
        member, decision = re.split(r"\s{2,}", line.strip())
        assert forms and decision in DECISIONS, f"{FORMS.name} line {number}: {line!r}"
        last = forms[-1]
        forms[-1] = Form(last.field, last.text, (*last.cases, (member, decision)))
    return forms


@pytest.mark.parametrize("form", load_forms(), ids=lambda f: f.text[:40])
def test_each_form_publishers_write_is_decided_as_a_careful_reader_would(form: Form) -> None:
    doc = parse_csaf(form.document())
    ids = products_named(doc, MONITOR)
    for member, expected in form.cases:
        result = decide(member, doc, ids)
        assert result.decision is DECISIONS[expected], (form.text, member, result.reason)
        if expected == "could not compare":
            assert result.reason.startswith("could not compare version"), result.reason


def test_the_forms_cover_the_issues_examples() -> None:
    texts = {f.text for f in load_forms()}
    assert {"<V4.00_Utilizes_Wibu-Systems_CodeMeter_7.60c",
            ">=3.05F_Packaged_with_MC_Works64_4.03D", "1.32|1.33|1.35", "4.24.",
            "<9.6.3.13 ;; <9.6.4.1"} <= texts


def real_documents() -> list[CsafDocument]:
    docs = []
    for folder in ("csaf", "csaf-cisa-ot-2021-2022"):
        for path in sorted(require_shared_data(folder).glob("*.json")):
            docs.append(parse_csaf(json.loads(path.read_text(encoding="utf-8"))))
    assert len(docs) >= 794
    return docs


@pytest.fixture(scope="module")
def documents() -> list[CsafDocument]:
    return real_documents()


def test_every_version_text_of_the_real_documents_is_read_or_could_not_compare(
        documents: list[CsafDocument]) -> None:
    texts = Counter((field, text) for doc in documents for p in doc.products.values()
                    for field, text in (("product_version", p.version),
                                        ("product_version_range", p.version_range)) if text)
    assert len(texts) >= 1_400
    undecidable = []
    for field, text in texts:
        doc = parse_csaf(monitor_document({"known_affected": ["P1"]},
                                          versions={"P1": (field, text)}))
        scheme, body = scheme_of(text)
        if scheme is not None:
            continue  # univers decides
        try:
            reading = read_listed(body, text)
        except Undecidable:
            undecidable.append(text)
            for member in ("1.0", "B.06.18", "V4.3.8", "2.0 SP1"):
                result = decide(member, doc, ["P1"])
                assert result.decision is Decision.UNKNOWN_VERSION, (text, member, result.reason)
                assert result.reason.startswith("could not compare"), result.reason
            continue
        flat = " ".join(text.replace("{", "(").replace("}", ")").split())
        for piece in reading.pieces:
            for bound in (b for b in (piece.low, piece.high) if b is not None):
                # What was read is the publisher's version, cut, never made up.
                assert bound.shown.strip() in flat, (text, bound.shown)
                if bound.inclusive:
                    result = decide(bound.shown, doc, ["P1"])
                    assert result.decision is not Decision.NOT_AFFECTED, (text, result.reason)
        if len(reading.pieces) == 1 and not reading.other:
            high = reading.pieces[0].high
            if high is not None and not high.inclusive:
                result = decide(high.shown, doc, ["P1"])
                assert result.decision is not Decision.AFFECTED, (text, result.reason)
    assert len(undecidable) <= UNDECIDABLE_AT_MOST, sorted(undecidable)


def test_every_listed_version_of_the_real_documents_decides_as_its_status_says(
        documents: list[CsafDocument]) -> None:
    checked = Counter[str]()
    for doc in documents:
        for pid, product in doc.products.items():
            statuses = {v.statuses[pid] for v in doc.vulnerabilities if pid in v.statuses}
            text = product.version_range or product.version
            if not statuses or not text or scheme_of(text)[0] is not None:
                continue
            try:
                reading = read_listed(scheme_of(text)[1], text)
            except Undecidable:
                continue
            expected = (Decision.AFFECTED if any(s.affected for s in statuses) else
                        Decision.UNDER_INVESTIGATION if any(s.investigating for s in statuses)
                        else Decision.FIXED if any(s.fixed for s in statuses)
                        else Decision.NOT_AFFECTED)
            named = [b.shown for p in reading.pieces for b in (p.low, p.high)
                     if b is not None and b.inclusive and not b.stem]
            for member in named:
                result = decide(member, doc, [pid])
                if result.decision is Decision.UNKNOWN_VERSION:
                    assert result.reason.startswith("could not compare"), result.reason
                    checked["could not compare"] += 1
                    continue
                assert result.decision is expected, (doc.tracking_id, text, member, result.reason)
                checked[expected.value] += 1
    assert checked[Decision.AFFECTED.value] >= 1_900, checked
    assert checked["could not compare"] <= checked[Decision.AFFECTED.value] / 100, checked
