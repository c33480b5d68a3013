"""Members' reports benchmark: indicator extraction from pasted text (and, later, the relay).

    python bench/report_relay.py [--repeat 20] [--chars 50000] [--part extraction|relay|all]

(a) extraction: `extract_indicators` on pasted texts of --chars characters, timed --repeat
    times each, against a naive baseline (one plain regular expression per kind, no re-fanging,
    no validation) on the same text in the same run:
    - advisory: real CISA ICS advisories (CSAF 2.0, 2021–2022: notes, references,
      remediations, CVE ids) from ../shared/data, as a member would paste them;
    - dense: nothing but candidates, built from the same real URLs and CVE ids (half of them
      defanged) with seeded made-up addresses, hashes and e-mail addresses, and the usual
      look-alikes (version numbers, file names, bad addresses, hashes of a wrong length);
    - hostile: the costliest shape found ("http://" repeated), for the worst case.
    Quality: the naive baseline's findings that extract_indicators does not confirm (invalid or
    false: "report.pdf" as a domain, 999.1.1.1, a URL with the sentence's full stop …) and the
    ones it misses (defanged).
(b) relay: not measured yet.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.indicators import MAX_INDICATORS, MAX_TEXT_CHARS, extract_indicators

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ADVISORIES = DATA / "csaf-cisa-ot-2021-2022"
KEV = DATA / "kev" / "known_exploited_vulnerabilities.json"

# The naive baseline: what a first attempt looks like.
NAIVE = {
    "ipv4": re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
    "ipv6": re.compile(r"\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{0,4}\b", re.IGNORECASE),
    "domain": re.compile(r"\b(?:[a-z0-9-]+\.)+[a-z]{2,}\b", re.IGNORECASE),
    "url": re.compile(r"\b(?:https?|ftp)://[^\s<>\"]+", re.IGNORECASE),
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "md5": re.compile(r"\b[0-9a-f]{32}\b", re.IGNORECASE),
    "sha1": re.compile(r"\b[0-9a-f]{40}\b", re.IGNORECASE),
    "sha256": re.compile(r"\b[0-9a-f]{64}\b", re.IGNORECASE),
    "cve": re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.IGNORECASE),
}


def naive_extract(text: str) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for kind, pattern in NAIVE.items():
        for value in pattern.findall(text):
            found.add((kind, value.upper() if kind == "cve" else
                       value if kind == "url" else value.lower()))
    return found


def advisory_parts() -> list[str]:
    parts = []
    for path in sorted(ADVISORIES.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        parts.append(doc["document"]["title"])
        parts += [n["text"] for n in doc["document"].get("notes", [])
                  if n.get("category") != "legal_disclaimer"]
        parts += [f"{r.get('summary', '')}: {r['url']}" for r in doc["document"].get(
            "references", [])]
        for vulnerability in doc.get("vulnerabilities", []):
            parts.append(vulnerability.get("cve", ""))
            parts += [n["text"] for n in vulnerability.get("notes", [])]
            parts += [r.get("details", "") + " " + r.get("url", "")
                      for r in vulnerability.get("remediations", [])]
    return parts


def advisory_text(parts: list[str], chars: int) -> str:
    text = ""
    for part in parts:
        if len(text) + len(part) + 1 > chars:
            break
        text += part + "\n"
    return text


def defanged(value: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return value
    value = value.replace("https://", "hxxps://").replace("http://", "hxxp://")
    return value.replace(".", rng.choice(["[.]", "(.)", "[dot]"])).replace("@", "[@]")


def dense_text(parts: list[str], chars: int, rng: random.Random) -> str:
    urls = sorted({u for p in parts for u in re.findall(r"https?://[^\s<>\"]+", p)})
    cves = sorted({v["cveID"] for v in json.loads(KEV.read_text())["vulnerabilities"]})
    hosts = sorted({re.sub(r"^https?://([^/]+).*", r"\1", u) for u in urls})

    def address() -> str:
        return ".".join(str(rng.randint(1, 223)) for _ in range(4))

    def hexes(n: int) -> str:
        return "".join(rng.choices("0123456789abcdef", k=n))

    makers: list[Callable[[], str]] = [
        lambda: defanged(rng.choice(urls), rng),
        lambda: rng.choice(cves),
        lambda: defanged(address(), rng),
        lambda: defanged(rng.choice(hosts), rng),
        lambda: defanged(f"{rng.choice(['it', 'soc', 'billing'])}@{rng.choice(hosts)}", rng),
        lambda: hexes(rng.choice([32, 40, 64])),
        lambda: rng.choice(["version 4.1.2.10", "setup.py", "report.pdf", "999.1.1.1",
                            hexes(41), "10.0.0.1", "198.51.100.7", "e.g. readme.md",
                            f"2001:db8::{rng.randint(1, 9999):x}"]),
    ]
    pieces: list[str] = []
    size = 0
    while size < chars:
        piece = rng.choice(makers)() + rng.choice([" ", ", ", "\n", " and "])
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces)[:chars]


def timed(function: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        function()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return statistics.mean(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def bench_text(name: str, text: str, repeat: int) -> None:
    extraction = extract_indicators(text)
    everything = extract_indicators(text, max_indicators=10**9).indicators
    ours_mean, ours_p95 = timed(lambda: extract_indicators(text), repeat)
    naive_mean, naive_p95 = timed(lambda: naive_extract(text), repeat)
    ours = {(i.kind.value, i.value) for i in everything}
    naive = naive_extract(text)
    flags = Counter(i.flag.value for i in everything if i.flag)
    kinds = Counter(i.kind.value for i in everything)
    print(f"  {name}: {len(text):,} characters{' (cut)' if extraction.text_cut else ''}")
    print(f"    extract_indicators: {extraction.found:,} found, {len(extraction.indicators)} kept "
          f"(cap {MAX_INDICATORS}), {extraction.dropped:,} dropped, {extraction.rejected:,} "
          f"rejected; mean {ours_mean:,.1f} ms, p95 {ours_p95:,.1f} ms per extraction")
    print(f"      by kind: {dict(sorted(kinds.items()))}; flagged: {dict(flags)}")
    print(f"    naive regexes:      {len(naive):,} found; mean {naive_mean:,.1f} ms, p95 "
          f"{naive_p95:,.1f} ms per extraction")
    false = naive - ours
    missed = ours - naive
    share = len(false) / len(naive) if naive else 0.0
    print(f"      naive findings not confirmed (invalid or false): {len(false):,} of "
          f"{len(naive):,} ({share:.0%}); by kind {dict(Counter(k for k, _ in false))}")
    examples: dict[str, list[str]] = {}
    for kind, value in sorted(false):
        examples.setdefault(kind, []).append(value)
    for kind, values in examples.items():
        print(f"        e.g. {kind:6s} {', '.join(v[:60] for v in values[:4])}")
    print(f"      missed by the naive regexes (defanged, or found only after cleaning): "
          f"{len(missed):,}; by kind {dict(Counter(k for k, _ in missed))}")


def bench_extraction(args: argparse.Namespace) -> None:
    if not ADVISORIES.is_dir() or not KEV.exists():
        print(f"extraction: skipped, {ADVISORIES} or {KEV} not found (the shared real data "
              f"beside the repository)")
        return
    parts = advisory_parts()
    rng = random.Random(20261207)
    extract_indicators("warm-up: ioc-finder builds its grammars on first use, http://a.com")
    print(f"(a) extraction, {args.repeat} runs per text (MAX_TEXT_CHARS {MAX_TEXT_CHARS:,})")
    bench_text("advisory (real CISA ICS advisories, 2021-2022)",
               advisory_text(parts, args.chars), args.repeat)
    bench_text("dense (real URLs and CVE ids, half defanged, with look-alikes)",
               dense_text(parts, args.chars, rng), args.repeat)
    bench_text("hostile (\"http://\" repeated)", ("http://" * args.chars)[:args.chars],
               max(args.repeat // 5, 1))


def bench_relay(args: argparse.Namespace) -> None:
    print("relay: not measured yet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--chars", type=int, default=MAX_TEXT_CHARS)
    parser.add_argument("--part", choices=["extraction", "relay", "all"], default="all")
    args = parser.parse_args()
    if args.part in ("extraction", "all"):
        bench_extraction(args)
    if args.part in ("relay", "all"):
        bench_relay(args)


if __name__ == "__main__":
    main()
