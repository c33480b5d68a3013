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
(b) relay: the time from a coordinator's /approve (through the command service, as a chat
    message arrives) until the report is queued in the outbox for --members members (one in
    ten registered the product it names, and gets it first), on a fresh SQLite file and, when
    HUBBOT_BENCH_POSTGRES_URL is set, on PostgreSQL. Baseline in the same run: a naive loop
    that queues each member's message through the gate in a transaction of its own, timed on
    --naive-members members and given per message.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.domain.indicators import MAX_INDICATORS, MAX_TEXT_CHARS, extract_indicators
from bot.domain.members import Network, Role
from bot.domain.outbox_payload import ReportMessage
from bot.domain.products import ProductSpec
from bot.domain.queued_messages import NewMessage
from bot.domain.report_texts import relayed_report
from bot.domain.reports import ProductName, ReportStatus, Sharing
from bot.domain.tlp import Tlp
from bot.services import outgoing, registrations
from bot.services.chat_commands import ChatCommands, Sender
from bot.services.hub_messages import HubPolicy
from bot.services.ports import NewReport
from bot.store.database import create_db_engine, temporary_schema, upgrade
from bot.store.tables import OutboxRow
from bot.store.unit_of_work import SqlStore

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


# --- relay: a coordinator's approval until the report is queued for every member ------------

RELAY_NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
COORDINATOR = "900001"
REPORTER = "900002"


def _relay_hub(members: int, database_url: str) -> tuple[SqlStore, HubPolicy]:
    """A hub of `members` members (one Telegram contact each, one in ten registered the
    reported product), a coordinator and a reporter, on a fresh database."""
    engine = create_db_engine(database_url)
    upgrade(engine)
    store = SqlStore(engine)
    registrations.add_member(store, "Hub Office", [(Network.TELEGRAM, COORDINATOR)], RELAY_NOW)
    registrations.add_member(store, "Reporter", [(Network.TELEGRAM, REPORTER)], RELAY_NOW)
    with store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        for n in range(members):
            name = f"Member {n:05d}"
            uow.members.add(name, RELAY_NOW)
            uow.members.add_contact(name, Network.TELEGRAM, str(100_000 + n), RELAY_NOW)
            if n % 10 == 0:
                uow.products.add(name, ProductSpec("Dräger", "Infinity Delta"), RELAY_NOW)
        uow.commit()
    return store, HubPolicy()


def _file(store: SqlStore, policy: HubPolicy, text: str) -> int:
    found = extract_indicators(text)
    with store() as uow:
        report_id = uow.reports.add(NewReport(
            member="Reporter", reporter_network=Network.TELEGRAM, reporter_address=REPORTER,
            language="en", summary="Monitors beacon to an unknown host.",
            product=ProductName("Dräger", "Infinity Delta"), tlp=Tlp.AMBER,
            sharing=Sharing.ANONYMOUS, indicators=found.indicators), RELAY_NOW)
        uow.commit()
    return report_id


def _approve(store: SqlStore, policy: HubPolicy, report_id: int,
             sample: int = 0) -> tuple[float, int]:
    """hubbot: the coordinator's /approve through the command service; seconds, rows."""
    service = ChatCommands(store, lambda: RELAY_NOW, policy=policy)
    coordinator = Sender(Network.TELEGRAM, COORDINATOR, COORDINATOR)
    started = time.perf_counter()
    service.handle(coordinator, f"/approve R{report_id}", f"bench-{report_id}")
    elapsed = time.perf_counter() - started
    return elapsed, _count(store, f"report|{report_id}|%")


def _naive_approve(store: SqlStore, policy: HubPolicy, report_id: int,
                   sample: int) -> tuple[float, int]:
    """Naive: the same messages, each queued in its own transaction (a loop over members
    calling the gate and the outbox one by one), for the first `sample` members."""
    started = time.perf_counter()
    with store() as uow:
        uow.reports.decide(report_id, ReportStatus.APPROVED, "bench", RELAY_NOW)
        report = uow.reports.get(report_id)
        contacts = [c for c in uow.members.contacts() if c.member != "Reporter"][:sample]
        uow.commit()
    assert report is not None
    for contact in contacts:
        with store() as uow:
            message = NewMessage(
                network=contact.network, address=contact.address, kind="report",
                dedup_key=f"naive|{report_id}|{contact.address}",
                payload=ReportMessage(relayed_report(report), "en"), priority=2,
                member=contact.member, tlp=report.tlp)
            outgoing.queue(uow, [message], RELAY_NOW, admins=policy.admins)
            uow.commit()
    return time.perf_counter() - started, _count(store, f"naive|{report_id}|%")


def _count(store: SqlStore, dedup_pattern: str) -> int:
    """Rows queued whose dedup key matches (the bench reads the table directly)."""
    with Session(store.engine) as session:
        return int(session.exec(select(func.count()).select_from(OutboxRow).where(
            col(OutboxRow.dedup_key).like(dedup_pattern))).one())


def bench_relay(args: argparse.Namespace) -> None:
    """Approval → queued for `args.members` members: hubbot against the naive loop, each on a
    fresh SQLite file (and PostgreSQL when HUBBOT_BENCH_POSTGRES_URL is set)."""
    text = "C2 hxxp://bad-update[.]net/gate.php 45.77.12.9 44d88612fea8a8f36de82e1278abb02f"
    targets = [("sqlite", None)]
    if os.environ.get("HUBBOT_BENCH_POSTGRES_URL"):
        targets.append(("postgresql", os.environ["HUBBOT_BENCH_POSTGRES_URL"]))
    print(f"\nrelay: a coordinator's approval until queued for {args.members:,} members")
    for name, url in targets:
        with tempfile.TemporaryDirectory() as tmp:
            rates = {}
            for label, approve in (("hubbot", _approve), ("naive", _naive_approve)):
                database = url or f"sqlite:///{tmp}/{label}.db"
                with temporary_schema(database, f"bench_{label}") if url else \
                        nullcontext(database) as target:
                    store, policy = _relay_hub(args.members, target)
                    report_id = _file(store, policy, text)
                    seconds, rows = approve(store, policy, report_id, args.naive_members)
                    store.engine.dispose()
                rates[label] = rows / seconds
                whole = f"{seconds * 1000:9.1f} ms" if label == "hubbot" else \
                    f"~{args.members / rates[label]:8.1f} s for all (timed on {rows:,})"
                print(f"  {name:<10} {label:<7} {whole}  {rows:,} messages queued "
                      f"({rates[label]:,.0f}/s)")
            print(f"  {name:<10} hubbot queues {rates['hubbot'] / rates['naive']:,.0f}× faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--chars", type=int, default=MAX_TEXT_CHARS)
    parser.add_argument("--part", choices=["extraction", "relay", "all"], default="all")
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--naive-members", type=int, default=200,
                        help="the naive loop's sample (it takes about 0.1 s per member)")
    args = parser.parse_args()
    if args.part in ("extraction", "all"):
        bench_extraction(args)
    if args.part in ("relay", "all"):
        bench_relay(args)


if __name__ == "__main__":
    main()
