"""Coordination benchmark: hub-wide announcements, /situation, daily digests and reminder jobs at
hub scale, on a real store through the real command service.

    python bench/coordination.py [--members 2000] [--database-url URL] [--meetings 500]
                                 [--alerts 20] [--repeats 7]

The database is a temporary SQLite file unless `--database-url` names another one; on
PostgreSQL (`postgresql://postgres@127.0.0.1:5432/test`) the run uses a fresh schema and drops
it at the end. N members (`registrations.add_member`, one transaction each) each have one Telegram
and one Matrix contact and the same product (one `registrations.import_products`); member 0 is made
coordinator by an admin's /grant. Every figure is of work read back from the database (or the
scheduler) after it was timed:

1. `/announce --dm` to every member contact and 3 hub channels: the preview, then the author's
   `yes`, which queues one outbox row per address in one transaction. Naive baseline: the same
   rows queued through the same repository with one transaction (commit) per message.
   For scale, a floor: the same rows in one multi-row INSERT, no repository.
2. `/situation <id>` and `/situation <id> detail` for an alert that matched all members, after
   half of them answered `/affected`: median latency. Floor for comparison: the same counts
   read with two plain SQL queries.
3. Daily digests: every member sends `/digest on`, then `--alerts` advisories below critical
   are held for every contact; `CoordinationJobs.release_digests()` at the digest hour.
4. Start-up rebuild of reminder jobs for `--meetings` upcoming meetings (each added by
   `/meeting add`): `CoordinationJobs.attach` on an AsyncIOScheduler that is not started.

The command service runs without its per-user rate limit (the coordinator sends hundreds of
commands in a few seconds); the limit is bench/flood.py's subject.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.domain.advisory import Advisory
from bot.domain.alerts import HubChannel
from bot.domain.matching import AdvisoryMatcher
from bot.domain.members import Network
from bot.domain.outbox_payload import AnnouncementMessage, payload_to_json
from bot.domain.product_csv import ProductLine
from bot.domain.products import ProductSpec
from bot.domain.queued_messages import NewMessage
from bot.domain.roles import parse_admins
from bot.domain.severity import Severity
from bot.jobs.coordination import CoordinationJobs
from bot.services import registrations
from bot.services.chat_commands import ChatCommands, Sender
from bot.services.command_rate import CommandRateLimit
from bot.services.hub_messages import HubPolicy, hub_channels, member_contacts
from bot.services.ingest import ingest_advisories
from bot.store.database import (
    create_db_engine,
    normalise_url,
    safe_url,
    temporary_schema,
    upgrade,
)
from bot.store.unit_of_work import SqlStore

START = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Berlin
DIGEST_HOUR = datetime(2026, 10, 21, 6, 0, tzinfo=UTC)  # 08:00 CEST the next day
ADMIN = Sender(Network.TELEGRAM, "9999", "9999")
POLICY = HubPolicy(admins=parse_admins("9999"), zone="Europe/Berlin", digest_hour=8)
HUB = [HubChannel(Network.TELEGRAM, "-100500"), HubChannel(Network.TELEGRAM, "-100501"),
       HubChannel(Network.MATRIX, "!hub:hub.test")]
PRODUCT = ProductSpec("Dräger", "Infinity Delta")
ANNOUNCEMENT = ("Tabletop exercise on Friday 10:00: every member's security contact please "
                "joins the call; the scenario is a ransomware outbreak in radiology.")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def member_name(i: int) -> str:
    return f"Hospital {i:05d}"


def telegram_of(i: int) -> Sender:
    address = str(200_000 + i)
    return Sender(Network.TELEGRAM, address, address)


def matrix_of(i: int) -> str:
    return f"@m{i:05d}:hub.test"


@dataclass
class Hub:
    """The command service on a real store, and what it did readable back."""

    store: SqlStore
    clock: Clock = field(default_factory=Clock)
    updates: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**9)))

    def __post_init__(self) -> None:
        self.service = ChatCommands(self.store, self.clock, rate_limit=CommandRateLimit(None),
                                    policy=POLICY)

    def say(self, sender: Sender, command: str) -> str:
        answer = self.service.handle(sender, command, f"bench-{next(self.updates)}")
        assert answer is not None, "an update handled twice"
        return answer

    def timed_say(self, sender: Sender, command: str) -> tuple[float, str]:
        t0 = time.perf_counter()
        answer = self.say(sender, command)
        return time.perf_counter() - t0, answer

    def count(self, sql: str, **params: Any) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar_one())

    def ingest(self, advisories: list[Advisory]) -> None:
        with self.store() as uow:
            matcher = AdvisoryMatcher(uow.products.all())
            ingest_advisories(uow, advisories, matcher, self.clock(), False)
            uow.commit()


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """The run's database: a temporary SQLite file, or a fresh schema dropped afterwards."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="hubbot-coordination-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'hubbot.db'}"
        return
    base = normalise_url(url)
    if base.startswith("sqlite"):
        yield base
        return
    with temporary_schema(base, prefix="bench_") as schema_url:
        yield schema_url


def median_of(repeats: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


Rows = list[tuple[str, str]]


def populate(hub: Hub, members: int) -> tuple[Sender, Rows]:
    """N members through the registrations, hub channels, and member 0 made coordinator."""
    t0 = time.perf_counter()
    for i in range(members):
        registrations.add_member(hub.store, member_name(i), [
            (Network.TELEGRAM, telegram_of(i).address), (Network.MATRIX, matrix_of(i))],
            hub.clock())
    # One import rather than N add_product transactions: the same rows, seconds less setup.
    registrations.import_products(hub.store, [ProductLine(i, member_name(i), PRODUCT)
                                          for i in range(members)], hub.clock(), False)
    with hub.store() as uow:
        for channel in HUB:
            uow.hub_channels.add(channel, hub.clock())
        uow.commit()
    granted = hub.say(ADMIN, f"/grant {member_name(0)} coordinator")
    assert "is now a coordinator" in granted, granted
    seconds = time.perf_counter() - t0
    contacts = hub.count("select count(*) from contact")
    products = hub.count("select count(*) from product")
    return telegram_of(0), [
        ("0. add_member, import_products (setup)",
         f"{hub.count('select count(*) from member'):,} members, {contacts:,} contacts, "
         f"{products:,} products read back, in {seconds:.1f} s")]


def announcement(hub: Hub, coordinator: Sender) -> Rows:
    preview_s, preview = hub.timed_say(coordinator, f"/announce --dm {ANNOUNCEMENT}")
    assert "Preview" in preview, preview
    before = hub.count("select count(*) from outbox where kind = 'announcement'")
    yes_s, answer = hub.timed_say(coordinator, "yes")
    queued = hub.count("select count(*) from outbox where kind = 'announcement'") - before
    assert f"on its way to {queued} addresses" in answer, answer

    with hub.store() as uow:
        recipients = hub_channels(uow, POLICY) + member_contacts(uow)
    payload = AnnouncementMessage(f"📣 Announcement from the hub\n\n{ANNOUNCEMENT}")
    t0 = time.perf_counter()
    for network, address in recipients:
        with hub.store() as uow:
            uow.outbox.add(NewMessage(network=network, address=address, kind="naive-announce",
                                      dedup_key=f"naive|{network.value}|{address}",
                                      payload=payload, priority=4), hub.clock())
            uow.commit()
    naive_s = time.perf_counter() - t0
    naive = hub.count("select count(*) from outbox where kind = 'naive-announce'")
    floor_s = bulk_insert(hub, recipients, payload)
    floor = hub.count("select count(*) from outbox where kind = 'floor-announce'")
    reach = preview.split("this goes to ", 1)[1].split(":", 1)[0]
    return [
        ("1. /announce --dm: preview", f"{preview_s * 1e3:,.0f} ms (reach: {reach})"),
        ("   yes: queue in one transaction",
         f"{yes_s:.2f} s, {queued:,} outbox rows read back = {queued / yes_s:,.0f} msg/s"),
        ("   naive: one commit per message",
         f"{naive_s:.2f} s, {naive:,} outbox rows read back = {naive / naive_s:,.0f} msg/s "
         f"({naive_s / yes_s:.1f}× slower)"),
        ("   floor: one multi-row INSERT",
         f"{floor_s * 1e3:,.0f} ms, {floor:,} outbox rows read back = "
         f"{floor / floor_s:,.0f} msg/s"),
    ]


def bulk_insert(hub: Hub, recipients: list[tuple[Network, str]],
                payload: AnnouncementMessage) -> float:
    """The same rows in one executemany, for scale: what the database alone needs."""
    now = hub.clock()
    body = payload_to_json(payload)
    rows = [{"created_at": now, "network": network.value, "address": address,
             "kind": "floor-announce", "dedup_key": f"floor|{network.value}|{address}",
             "payload": body, "priority": 4, "state": "pending", "attempts": 0,
             "next_attempt_at": now} for network, address in recipients]
    t0 = time.perf_counter()
    with hub.store.engine.begin() as conn:
        conn.execute(text(
            "insert into outbox (created_at, network, address, kind, dedup_key, payload, "
            "priority, state, attempts, next_attempt_at) values (:created_at, :network, "
            ":address, :kind, :dedup_key, :payload, :priority, :state, :attempts, "
            ":next_attempt_at)"), rows)
    return time.perf_counter() - t0


def situation(hub: Hub, coordinator: Sender, members: int, repeats: int) -> Rows:
    before = hub.count("select count(*) from outbox where kind = 'alert'")
    t0 = time.perf_counter()
    hub.ingest([Advisory("bench-critical", f"{PRODUCT.vendor} {PRODUCT.product}: "
                         "authentication bypass", "", "https://adv.example/0", "bench",
                         severity=Severity.HIGH)])
    ingest_s = time.perf_counter() - t0
    alerts = hub.count("select count(*) from outbox where kind = 'alert'") - before
    ref = hub.count("select ref from advisory_ref where advisory_id = 'bench-critical'")

    answered = members // 2
    affected_times = []
    for i in range(answered):
        seconds, answer = hub.timed_say(telegram_of(i), f"/affected {ref} "
                                        f"{('yes', 'no', 'patched')[i % 3]}")
        assert answer.startswith("Recorded"), answer
        affected_times.append(seconds)
    stored = hub.count("select count(*) from affected_answer where advisory_id = :a",
                       a="bench-critical")

    summary = hub.say(coordinator, f"/situation {ref}")
    assert f"Matched {members} members; {answered} answered" in summary, summary
    detail = hub.say(coordinator, f"/situation {ref} detail")
    names = sum(1 for line in detail.splitlines() if line.startswith("• "))
    plain = median_of(repeats, lambda: hub.say(coordinator, f"/situation {ref}"))
    detailed = median_of(repeats, lambda: hub.say(coordinator, f"/situation {ref} detail"))

    def floor() -> None:
        with hub.store.engine.connect() as conn:
            conn.execute(text("select count(distinct member_id) from advisory_match "
                              "where advisory_id = :a"), {"a": "bench-critical"}).scalar_one()
            conn.execute(text("select status, count(*) from affected_answer "
                              "where advisory_id = :a group by status"),
                         {"a": "bench-critical"}).all()

    floor_s = median_of(repeats, floor)
    return [
        ("   (ingest: one advisory matching all)",
         f"{ingest_s:.2f} s, {alerts:,} alert rows read back"),
        ("2. /affected by half the members",
         f"{stored:,} answers read back; median {statistics.median(affected_times) * 1e3:.1f}"
         f" ms per command"),
        ("   /situation <id>", f"median {plain * 1e3:.1f} ms of {repeats} "
         f"({len(summary):,} characters)"),
        ("   /situation <id> detail", f"median {detailed * 1e3:.1f} ms of {repeats} "
         f"({names:,} names, {len(detail):,} characters)"),
        ("   floor: the counts in 2 SQL queries", f"median {floor_s * 1e3:.2f} ms"),
    ]


def digests(hub: Hub, members: int, alerts: int) -> Rows:
    t0 = time.perf_counter()
    for i in range(members):
        answer = hub.say(telegram_of(i), "/digest on")
        assert answer.startswith("Digest on"), answer
    digest_on_s = time.perf_counter() - t0
    on = hub.count("select count(*) from member where digest_hour is not null")

    hub.clock.now = START + timedelta(hours=1)
    t0 = time.perf_counter()
    hub.ingest([Advisory(f"bench-digest-{n}", f"{PRODUCT.vendor} {PRODUCT.product}: "
                         f"weakness number {n}", "", f"https://adv.example/d{n}", "bench",
                         severity=(Severity.MEDIUM, Severity.HIGH, Severity.LOW)[n % 3])
                for n in range(alerts)])
    ingest_s = time.perf_counter() - t0
    held = hub.count("select count(*) from held_alert where released_at is null")

    hub.clock.now = DIGEST_HOUR
    jobs = CoordinationJobs(hub.store, POLICY, hub.clock)
    t0 = time.perf_counter()
    released = jobs.release_digests()
    release_s = time.perf_counter() - t0
    queued = hub.count("select count(*) from outbox where kind = 'digest'")
    released_rows = hub.count("select count(*) from held_alert where released_at is not null")
    waiting = hub.count("select count(*) from held_alert where released_at is null")
    assert released == released_rows, (released, released_rows)
    return [
        ("3. /digest on by every member",
         f"{on:,} members read back in {digest_on_s:.1f} s "
         f"({digest_on_s / members * 1e3:.1f} ms per command)"),
        (f"   (ingest: {alerts} alerts below critical)",
         f"{ingest_s:.1f} s, {held:,} alerts held read back ({ingest_s / alerts:.1f} s per "
         f"advisory, {ingest_s / max(held, 1) * 1e3:.2f} ms per held alert)"),
        ("   release_digests() at the hour",
         f"{release_s:.2f} s: {queued:,} digests queued = {queued / release_s:,.0f} "
         f"digests/s; {released_rows:,} held alerts released, {waiting} still held"),
    ]


def reminders(hub: Hub, coordinator: Sender, meetings: int) -> Rows:
    hub.clock.now = DIGEST_HOUR + timedelta(hours=1)
    first = (hub.clock.now + timedelta(days=2)).date()
    t0 = time.perf_counter()
    for n in range(meetings):
        day = first + timedelta(days=n // 8)
        answer = hub.say(coordinator, f"/meeting add {day:%Y-%m-%d} {9 + n % 8:02}:00 "
                                      f"Exercise {n}")
        assert f"Meeting {n + 1} scheduled" in answer, answer
    add_s = time.perf_counter() - t0
    upcoming = hub.count("select count(*) from meeting where not cancelled and starts_at > :t",
                         t=hub.clock.now)

    jobs = CoordinationJobs(hub.store, POLICY, hub.clock)
    scheduler = AsyncIOScheduler(timezone="UTC")
    t0 = time.perf_counter()
    jobs.attach(scheduler)
    attach_s = time.perf_counter() - t0
    scheduled = [j for j in scheduler.get_jobs() if j.id.startswith("reminder:")]
    covered = len({j.id.split(":")[1] for j in scheduled})
    return [
        ("4. /meeting add (setup)", f"{upcoming:,} upcoming meetings read back in {add_s:.1f} s "
         f"({add_s / meetings * 1e3:.1f} ms per command)"),
        ("   CoordinationJobs.attach (start-up)",
         f"{attach_s * 1e3:,.0f} ms: {len(scheduled):,} reminder jobs for {covered:,} "
         f"meetings (2 per upcoming meeting would be {2 * upcoming:,})"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--database-url", default=None,
                        help="default: a temporary SQLite file; PostgreSQL gets a fresh schema")
    parser.add_argument("--meetings", type=int, default=500)
    parser.add_argument("--alerts", type=int, default=20, help="held for each digest")
    parser.add_argument("--repeats", type=int, default=7, help="calls per /situation median")
    args = parser.parse_args()
    if args.members < 2:
        parser.error("--members must be at least 2")

    started = time.perf_counter()
    with database(args.database_url) as url:
        engine = create_db_engine(url)
        try:
            upgrade(engine)
            hub = Hub(SqlStore(engine))
            coordinator, rows = populate(hub, args.members)
            rows += announcement(hub, coordinator)
            rows += situation(hub, coordinator, args.members, args.repeats)
            rows += digests(hub, args.members, args.alerts)
            rows += reminders(hub, coordinator, args.meetings)
        finally:
            engine.dispose()
    where = safe_url(args.database_url) if args.database_url else "temporary SQLite file"
    print(f"Hub coordination on a real store ({where}): {args.members:,} members × 2 contacts, "
          f"{len(HUB)} hub channels")
    width = max(len(name) for name, _ in rows)
    for name, figure in rows:
        print(f"  {name:<{width}}  {figure}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = time.perf_counter() - started
    print(f"  {'peak RSS':<{width}}  {peak:,.0f} MiB; whole run {total:.0f} s")


if __name__ == "__main__":
    main()
