"""Telegram fan-out benchmark: one alert to N linked users through the outbox, against the
loopback Bot API server enforcing Telegram's limits (30 messages/s overall).

    python bench/telegram_fanout.py [--users 5000] [--naive-users 600]

Prints messages/s, the 429s the server gave, and the ratio to the 30 msg/s ceiling, for
hubbot's dispatcher (ptb's AIORateLimiter just under the ceiling, 429s handed to the outbox)
and, in the same run, for a naive sender (the same Bot, no rate limiter, 30 sends in flight,
retrying each 429 after its retry_after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram import Bot  # noqa: E402
from telegram.error import RetryAfter  # noqa: E402

from bot.channels.telegram import TelegramChannel  # noqa: E402
from bot.channels.telegram_updates import TelegramConfig, build_application  # noqa: E402
from bot.domain.advisory import Advisory  # noqa: E402
from bot.domain.matching import AdvisoryMatcher  # noqa: E402
from bot.domain.members import Network  # noqa: E402
from bot.domain.products import ProductSpec  # noqa: E402
from bot.domain.severity import Severity  # noqa: E402
from bot.outbox.dispatcher import OutboxDispatcher  # noqa: E402
from bot.services.ingest import ingest_advisories  # noqa: E402
from bot.store.database import create_db_engine, upgrade  # noqa: E402
from bot.store.unit_of_work import SqlStore  # noqa: E402

TOKEN = "123456:BENCH-token"
FIRST_USER = 100001
CEILING = 30.0


async def start_server(users: int, log: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "tests" / "support" / "telegram_server.py"), "--port", "0",
        "--token", TOKEN, "--users", str(users), "--log", str(log), stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    url = re.search(r"http://127\.0\.0\.1:\d+", line)
    if url is None:
        raise SystemExit(f"the Telegram test server did not start: {line!r}")
    return proc, url.group()


async def server_stats(base: str) -> dict:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{base}/control/stats")).json()["result"]


def store_with_users(path: Path, users: int) -> SqlStore:
    """`users` member organisations, each with one Telegram contact and the same product."""
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    store = SqlStore(engine)
    now = datetime.now(UTC)
    with store() as uow:
        for i in range(users):
            name = f"Hospital {i:05d}"
            uow.members.add(name, now)
            uow.members.add_contact(name, Network.TELEGRAM, str(FIRST_USER + i), now)
            uow.products.add(name, ProductSpec("Dräger", "Infinity Delta"), now)
        uow.commit()
    return store


async def hubbot_fanout(base: str, users: int, workdir: Path) -> dict:
    store = store_with_users(workdir / "bench.db", users)
    advisory = Advisory("https://adv.example.org/1", "Dräger Infinity Delta: remote code "
                        "execution", "CVSS v3.1 base score 9.8. Update to VF10.2.",
                        "https://adv.example.org/1", "bench", cves=("CVE-2026-90001",),
                        cvss=9.8, severity=Severity.CRITICAL)
    t0 = time.perf_counter()
    with store() as uow:
        report = ingest_advisories(uow, [advisory], AdvisoryMatcher(uow.products.all()),
                                   datetime.now(UTC), console=False)
        uow.commit()
    queued_in = time.perf_counter() - t0
    app = build_application(TelegramConfig(token=TOKEN, base_url=f"{base}/bot",
                                           base_file_url=f"{base}/file/bot"))
    await app.initialize()
    dispatcher = OutboxDispatcher(store, TelegramChannel(app.bot), batch_size=60,
                                  concurrency=30)
    before = await server_stats(base)
    t0 = time.perf_counter()
    while True:
        await dispatcher.drain()
        with store() as uow:
            backlog = uow.outbox.backlog()
        if backlog.get(("telegram", "pending"), 0) == 0:
            break
        await asyncio.sleep(0.05)  # a retry is scheduled: wait for it
    elapsed = time.perf_counter() - t0
    await app.shutdown()
    after = await server_stats(base)
    return {"messages": report.messages, "queued_in": queued_in, "elapsed": elapsed,
            "sent": backlog.get(("telegram", "sent"), 0),
            "failed": backlog.get(("telegram", "failed"), 0),
            "429": after["too_many_requests"] - before["too_many_requests"]}


async def naive_fanout(base: str, users: int) -> dict:
    bot = Bot(TOKEN, base_url=f"{base}/bot")
    await bot.initialize()
    before = await server_stats(base)
    semaphore = asyncio.Semaphore(30)
    retries = 0

    async def send(chat_id: int) -> None:
        nonlocal retries
        async with semaphore:
            while True:
                try:
                    await bot.send_message(chat_id, "Dräger Infinity Delta: remote code execution")
                    return
                except RetryAfter as exc:
                    retries += 1
                    await asyncio.sleep(float(exc._retry_after.total_seconds()))

    t0 = time.perf_counter()
    await asyncio.gather(*(send(FIRST_USER + i) for i in range(users)))
    elapsed = time.perf_counter() - t0
    await bot.shutdown()
    after = await server_stats(base)
    return {"elapsed": elapsed, "429": after["too_many_requests"] - before["too_many_requests"]}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--naive-users", type=int, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hubbot-bench-") as tmp:
        work = Path(tmp)
        log = work / "deliveries.jsonl"
        proc, base = await start_server(max(args.users, args.naive_users), log)
        try:
            ours = await hubbot_fanout(base, args.users, work)
            delivered = [json.loads(x) for x in log.read_text().splitlines()]
            chats = {d["chat_id"] for d in delivered}
            await asyncio.sleep(1.1)  # let the server's bucket refill between the two runs
            naive = await naive_fanout(base, args.naive_users)
        finally:
            proc.terminate()
            await proc.wait()
    rate = ours["sent"] / ours["elapsed"]
    print(f"Telegram fan-out: one critical alert to {args.users:,} linked users "
          f"(server: 30 msg/s token bucket, 20/min per group, 1/s per private chat)")
    print(f"  hubbot outbox: {ours['messages']:,} messages queued in {ours['queued_in']:.2f} s;"
          f" {ours['sent']:,} delivered in {ours['elapsed']:.1f} s = {rate:.2f} msg/s, "
          f"{rate / CEILING:.1%} of the 30 msg/s ceiling; 429s received: {ours['429']}; "
          f"failed: {ours['failed']}")
    print(f"  at the server: {len(delivered):,} messages logged to {len(chats):,} distinct "
          f"chats (duplicates: {len(delivered) - len(chats)})")
    naive_rate = args.naive_users / naive["elapsed"]
    print(f"  naive sender (no limiter, 30 in flight, retry on 429): {args.naive_users} "
          f"messages in {naive['elapsed']:.1f} s = {naive_rate:.2f} msg/s; 429s received: "
          f"{naive['429']}")
    print("  target: ≥ 95 % of the ceiling and zero 429s")


if __name__ == "__main__":
    asyncio.run(main())
