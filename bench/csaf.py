"""CSAF benchmark on the real documents in ../shared/data/csaf/ (prints figures, asserts nothing).

1. Reading: documents/s for schema validation and for `parse_csaf`.
2. Decisions: for every (product, version, status) the documents list (a product's status over
   all vulnerabilities, affected first), a member registers that version (a listed version, or
   a range's inclusive bound) and the share of version-aware decisions that agree with the
   document's own status is printed (target 100 %), with the rules that decided and the
   documents' ranges no rule reads. For every
   exclusive upper bound (`< X`) a second member registers X itself — the first version the
   document does not list, i.e. a patched one — whose decision must be "not affected".
3. Alarms: on the same members, how many alerts name-only matching (the RSS way: the matcher
   over the advisory's text) sends against version-aware matching — the false alarms removed.

    python bench/csaf.py [--data ../shared/data/csaf] [--repeat 20] [--show 15]

With --data ../shared/data/csaf-cisa-ot-2021-2022 (773 documents) the agreement is lower for
a reason of this benchmark, not of the decisions: a `< X` bound's X is taken as patched, while
another range of the same product in the document often lists X as affected (`<V2.9.2` and
`>=V2.9.2<V2.9.4`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.csaf import CsafDocument, ProductStatus, parse_csaf, products_named
from bot.domain.matching import AdvisoryMatcher
from bot.domain.products import ProductSpec, RegisteredProduct
from bot.domain.version_order import Undecidable
from bot.domain.version_rules import scheme_of
from bot.domain.version_text import read_listed
from bot.domain.versions import Decision, decide
from bot.feeds.csaf_source import schema_error

_BOUND = re.compile(r"^(<=|>=|<)\s*([0-9A-Za-z][0-9A-Za-z._-]*)$")
ALERTING = {Decision.AFFECTED, Decision.UNDER_INVESTIGATION, Decision.UNKNOWN_VERSION}


def combined_statuses(doc: CsafDocument) -> dict[str, ProductStatus]:
    """Each product's status over all the document's vulnerabilities, by the decision's own
    priority: affected, then under investigation, then fixed, then not affected."""
    rank = {"affected": 0, "investigating": 1, "fixed": 2, "not_affected": 3}

    def kind(status: ProductStatus) -> int:
        return rank["affected" if status.affected else "investigating" if status.investigating
                    else "fixed" if status.fixed else "not_affected"]

    combined: dict[str, ProductStatus] = {}
    for vulnerability in doc.vulnerabilities:
        for pid, status in vulnerability.statuses.items():
            if pid not in combined or kind(status) < kind(combined[pid]):
                combined[pid] = status
    return combined


def members_for(doc: CsafDocument,
                skipped: list[str]) -> list[tuple[str, str, str, Decision]]:
    """(product id, vendor/product name, version a member runs, the decision expected);
    version texts no member version can be derived from go to `skipped`."""
    cases = []
    for pid, status in combined_statuses(doc).items():
        product = doc.products.get(pid)
        if product is None or not product.vendor:
            continue
        expected = (Decision.AFFECTED if status.affected else Decision.FIXED
                    if status.fixed else Decision.NOT_AFFECTED
                    if status is ProductStatus.KNOWN_NOT_AFFECTED
                    else Decision.UNDER_INVESTIGATION)
        text = (product.version_range or product.version or "").strip()
        if text in ("vers:all/*", ""):
            cases.append((pid, product.name, "1.0", expected))
            continue
        if text.startswith("vers:"):
            text = text.split("/", 1)[1]
        for part in [p.strip() for p in text.split("|") if p.strip()]:
            bound = _BOUND.match(part)
            if bound is None:
                if not part.startswith(("<", ">")) and " " not in part:
                    cases.append((pid, product.name, part, expected))  # a listed version
                else:
                    skipped.append(f"{doc.tracking_id}: {part!r}")
                continue
            op, version = bound.groups()
            if op in ("<=", ">="):
                cases.append((pid, product.name, version, expected))
            elif status.affected:  # < X: X is the first version not listed: patched
                cases.append((pid, product.name, version, Decision.NOT_AFFECTED))
    return list(dict.fromkeys(cases))


_RULES = (("the range of its release branch", "outside its release branch's range"),
          ("setting aside", "read without the publisher's words"),
          ("read without the publisher's words", "read without the publisher's words"),
          ("at or above the first", "at or above a first affected/fixed version"),
          ("at or below the last", "at or below the last affected version"),
          ("but could not compare", "another vulnerability's range unreadable"),
          ("every version", "every version listed"),
          ("read as", "within a range (univers)"),
          ("the same version", "the same single version"),
          ("the same major version", "a wildcard (2.X)"),
          ("not among", "not among the versions listed"),
          ("could not compare", "undecidable: alerted"),
          ("no status", "the advisory names no status for it"),
          ("no version", "no version registered"))


def rule_of(reason: str) -> str:
    return next((name for words, name in _RULES if words in reason), reason[:50])


def unread_texts(doc: CsafDocument) -> tuple[list[str], int]:
    """The document's version texts (ranges and versions) no rule reads, and how many it has;
    a member running such a product is alerted with "could not compare"."""
    found, total = [], 0
    for product in doc.products.values():
        text = product.version_range or product.version
        if text is None:
            continue
        total += 1
        scheme, body = scheme_of(text)
        if scheme is not None:
            continue
        try:
            read_listed(body, text)
        except Undecidable:
            found.append(f"{doc.tracking_id}: {text!r}")
    return found, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared/data/csaf")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--show", type=int, default=15, help="disagreements to print")
    args = parser.parse_args()
    files = sorted(args.data.glob("*.json"))
    if not files:
        sys.exit(f"no CSAF documents in {args.data}")
    raw = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    size = sum(f.stat().st_size for f in files)

    start = time.perf_counter()
    invalid = sum(schema_error(d) is not None for _ in range(args.repeat) for d in raw)
    validate = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.repeat):
        docs = [parse_csaf(d) for d in raw]
    parse = time.perf_counter() - start
    n = len(raw) * args.repeat
    print(f"CSAF documents: {len(files)} real CISA documents, {size / 1024:.0f} KiB")
    print(f"  schema validation   {n / validate:8.0f} documents/s ({invalid} invalid)")
    print(f"  parse_csaf          {n / parse:8.0f} documents/s")

    agree = Counter[str]()
    rules = Counter[str]()
    disagreements = []
    name_only = version_aware = 0
    members = 0
    skipped: list[str] = []
    start = time.perf_counter()
    for doc in docs:
        advisory = doc.to_advisory("bench")
        for pid, name, version, expected in members_for(doc, skipped):
            members += 1
            vendor = doc.products[pid].vendor
            try:
                spec = ProductSpec(vendor, name, versions=version)
            except ValueError:
                agree["not registrable (generic name)"] += 1
                continue
            product = RegisteredProduct(members, f"member-{members}", spec)
            named = AdvisoryMatcher([product]).match(advisory.title, advisory.summary)
            name_only += bool(named)
            ids = products_named(doc, spec)
            decision = decide(version, doc, ids)
            rules[rule_of(decision.reason)] += 1
            version_aware += bool(named) and decision.decision in ALERTING
            if decision.decision is expected:
                agree["agree"] += 1
            elif decision.decision is Decision.UNKNOWN_VERSION:
                agree["undecidable (alerted, reason given)"] += 1
                disagreements.append((doc.tracking_id, name, version, expected.value,
                                      decision.reason))
            else:
                agree["disagree"] += 1
                disagreements.append((doc.tracking_id, name, version, expected.value,
                                      decision.reason))
    decide_time = time.perf_counter() - start
    decided = agree["agree"] + agree["disagree"] + agree["undecidable (alerted, reason given)"]
    print(f"\nDecisions: {members} members, one per (product, version, status) "
          f"({decide_time * 1000 / max(1, members):.2f} ms each, matching included)")
    for key, count in agree.most_common():
        print(f"  {key:<38} {count:5}")
    print(f"  agreement with the documents' statuses {agree['agree'] / max(1, decided):.1%} "
          f"of {decided} decided")
    print("  the rules that decided:")
    for rule, count in rules.most_common():
        print(f"    {rule:<50} {count:5}")
    for row in disagreements[:args.show]:
        print("   ", " | ".join(row))
    print(f"  version texts no member version can be read from: {len(skipped)} "
          f"(e.g. {', '.join(skipped[:4])}); a member running such a product is alerted with "
          "the reason 'could not compare'")
    unread = [unread_texts(doc) for doc in docs]
    texts = [t for found, _ in unread for t in found]
    print(f"  version texts of the documents no rule reads: {len(texts)} of "
          f"{sum(total for _, total in unread)} (e.g. {', '.join(texts[:3]) or 'none'}): "
          "decided 'could not compare', alerted")
    print(f"\nAlerts on the same members: name-only {name_only}, version-aware {version_aware}: "
          f"{name_only - version_aware} false alarms removed "
          f"({(name_only - version_aware) / max(1, name_only):.0%})")


if __name__ == "__main__":
    main()
