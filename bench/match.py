"""Matching benchmark: speed against a naive regex loop, precision and recall on real advisories.

    python bench/match.py [--advisories 10000] [--products 100000] [--naive-sample 20]
                          [--skip-naive-quality]

(a) throughput: N advisories (real CISA advisory texts, cycled) against M registered products
    (the real ground-truth products plus synthetic ones), hubbot's matcher versus a careful
    naive loop of one pre-compiled regex per product, on the same input in the same run. The
    naive loop is timed on a sample of advisories (it would take hours on all of them) and
    its per-advisory rate extrapolated.
(b) quality on ../shared/data/csaf_cases_2017_2022.jsonl: each advisory's ground-truth
    (vendor, product) pairs are registered as members' products; every advisory (title + body
    + affected names, as a CISA feed entry carries them) is matched against all of them, and
    matches are compared with the ground truth at (advisory, vendor, product) level.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cli.offline_match import advisory_text
from bot.domain.matching import AdvisoryMatcher
from bot.domain.products import (
    ProductSpec,
    RegisteredProduct,
    product_names,
    vendor_names,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CASES = DATA / "csaf_cases_2017_2022.jsonl"


def load_cases() -> list[dict]:
    if not CASES.exists():
        sys.exit(f"{CASES} not found: this benchmark needs the shared real data beside the repo")
    return [json.loads(line) for line in CASES.open(encoding="utf-8")]


def ground_truth_products(cases: list[dict]) -> list[RegisteredProduct]:
    seen: dict[tuple[str, str], None] = {}
    for case in cases:
        for p in case["products"]:
            seen.setdefault((p["vendor"].strip(), p["product"].strip()), None)
    registered = []
    for i, (vendor, product) in enumerate(seen):
        try:
            spec = ProductSpec(vendor, product)
        except ValueError:
            continue  # e.g. a ground-truth product called "Version": not registrable
        registered.append(RegisteredProduct(i, f"member-{i}", spec))
    return registered


def synthetic_products(real: list[RegisteredProduct], total: int, rng: random.Random):
    """Pad the real products with plausible made-up ones up to `total`."""
    vendors = sorted({p.spec.vendor for p in real})
    syllables = ["med", "vue", "cardio", "scan", "pulse", "flow", "tron", "lab", "neo", "gen",
                 "stat", "view", "care", "sys", "core", "net", "link", "max", "pro", "lux"]
    products = list(real)
    i = len(products)
    while len(products) < total:
        name = "".join(rng.sample(syllables, 2)).capitalize()
        model = f"{name} {rng.choice('ABCDEFGHKMRSTX')}{rng.randint(10, 9999)}"
        products.append(RegisteredProduct(i, f"member-{i}", ProductSpec(rng.choice(vendors),
                                                                         model)))
        i += 1
    return products


class NaiveMatcher:
    """The careful naive baseline: per product, a look-around regex for its name and one for
    its vendor's first word, both case-insensitive, tried one product after the other."""

    def __init__(self, products: list[RegisteredProduct]) -> None:
        self.rules = []
        for p in products:
            name = re.compile(r"(?<!\w)" + re.escape(p.spec.product.strip()) + r"(?!\w)",
                              re.IGNORECASE)
            first = (p.spec.vendor.split() or [""])[0].strip(",.")
            vendor = re.compile(r"(?<!\w)" + re.escape(first) + r"(?!\w)", re.IGNORECASE)
            self.rules.append((p, name, vendor))

    def match(self, title: str, text: str) -> list[RegisteredProduct]:
        body = f"{title}\n{text}"
        return [p for p, name, vendor in self.rules if name.search(body) and vendor.search(body)]


def throughput(cases, n_advisories, n_products, naive_sample, rng) -> None:
    real = ground_truth_products(cases)
    products = synthetic_products(real, n_products, rng)
    texts = [(c["title"], advisory_text(c)) for c in cases]
    advisories = [texts[i % len(texts)] for i in range(n_advisories)]
    chars = sum(len(t) + len(s) for t, s in advisories)

    t0 = time.perf_counter()
    matcher = AdvisoryMatcher(products)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = sum(len(matcher.match(t, s)) for t, s in advisories)
    ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    naive = NaiveMatcher(products)
    naive_build = time.perf_counter() - t0
    sample = rng.sample(advisories, naive_sample)
    t0 = time.perf_counter()
    for t, s in sample:
        naive.match(t, s)
    naive_per = (time.perf_counter() - t0) / naive_sample
    ours_per = ours / n_advisories

    print(f"(a) throughput: {n_advisories:,} advisories ({chars / 1e6:.1f} M characters) × "
          f"{len(products):,} registered products")
    print(f"    hubbot matcher: build {build:.2f} s, match {ours:.2f} s = "
          f"{n_advisories / ours:,.0f} advisories/s ({ours_per * 1e3:.2f} ms each), "
          f"{found:,} matches")
    print(f"    naive regex loop: build {naive_build:.2f} s, {naive_per * 1e3:,.0f} ms per "
          f"advisory (timed on {naive_sample} advisories; all {n_advisories:,} would take "
          f"~{naive_per * n_advisories / 60:,.0f} min)")
    print(f"    speed-up: {naive_per / ours_per:,.0f}× (target ≥ 50×)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"    peak RSS of this process so far: {peak:,.0f} MiB")


def quality(cases, with_naive: bool) -> None:
    products = ground_truth_products(cases)
    matcher = AdvisoryMatcher(products)
    canon = {p.id: (frozenset(vendor_names(p.spec.vendor)), frozenset(product_names(p.spec)))
             for p in products}
    by_pair = {(p.spec.vendor, p.spec.product): p.id for p in products}

    def same(a, b) -> bool:
        # Same vendor (a shared vendor name: "Mitsubishi Electric" = "Mitsubishi Electric
        # Corporation") and same product name once folded.
        return bool(a[0] & b[0]) and bool(a[1] & b[1])

    def score(match_fn) -> tuple[float, float, int, int, float]:
        good = total = covered = truths = 0
        t0 = time.perf_counter()
        for case in cases:
            got = {canon[p.id] for p in match_fn(case["title"], advisory_text(case))}
            truth = {canon[by_pair[k]] for k in
                     ((p["vendor"].strip(), p["product"].strip()) for p in case["products"])
                     if k in by_pair}
            total += len(got)
            good += sum(1 for g in got if any(same(g, t) for t in truth))
            truths += len(truth)
            covered += sum(1 for t in truth if any(same(g, t) for g in got))
        return good / total, covered / truths, total, truths, time.perf_counter() - t0

    p, r, n, truths, secs = score(lambda t, s: [m.product for m in matcher.match(t, s)])
    print(f"(b) quality on {len(cases):,} real CISA advisories, {len(products):,} registered "
          f"ground-truth products, {truths:,} true (advisory, vendor, product) pairs")
    print(f"    hubbot matcher:   precision {p:.3f}  recall {r:.3f}  ({n:,} matches, "
          f"{secs:.1f} s)   targets: P ≥ 0.95, R ≥ 0.90")
    if with_naive:
        naive = NaiveMatcher(products)
        p, r, n, _, secs = score(naive.match)
        print(f"    naive regex loop: precision {p:.3f}  recall {r:.3f}  ({n:,} matches, "
              f"{secs:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advisories", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=20)
    parser.add_argument("--skip-naive-quality", action="store_true")
    args = parser.parse_args()
    rng = random.Random(20261125)
    cases = load_cases()
    throughput(cases, args.advisories, args.products, args.naive_sample, rng)
    quality(cases, not args.skip_naive_quality)


if __name__ == "__main__":
    main()
