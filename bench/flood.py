"""Command-flood benchmark: 10,000 commands in a burst from 1,000 users through the real Telegram
gateway (`hubbot run` against tests/support/telegram_server.py, both processes).

    python bench/flood.py [--commands 10000] [--users 1000] [--noisy 100] [--telegram-limits]

The users are linked members. A few are noisy: `--noisy` users send most of the burst (the rest
send `--commands` evenly between them), so the per-user command rate limit (HUBBOT_COMMAND_RATE,
default 20/minute) has someone to slow down. Every command is `POST /control/user_sends` to the
test server, as fast as the loopback allows; in the middle of the burst a quiet user (not part of
the flood) sends /help and the time until its answer reaches the server is measured.

Printed per run: time until the bot handled every command (its inbound table), replies queued
and delivered, users told to slow down, the bot process's peak RSS (VmHWM), the quiet user's
wait. The same flood runs twice: with the limit, and the naive baseline with
HUBBOT_COMMAND_RATE=off (every command answered).

By default the test server has no flood limits, so the bot's own throughput is measured;
`--telegram-limits` applies Telegram's (30 messages/s per bot), where the replies queue behind
the server's rate and take minutes to deliver.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loopback_feed import serve_feed  # noqa: E402 (beside this script)

from bot.domain.members import Network  # noqa: E402
from bot.domain.products import ProductSpec  # noqa: E402
from bot.services.command_rate import SLOW_DOWN  # noqa: E402
from bot.store.database import create_db_engine, upgrade  # noqa: E402
from bot.store.unit_of_work import SqlStore  # noqa: E402

TOKEN = "123456:FLOOD-token"
FIRST_USER = 100001
COMMANDS = ["/products", "/status", "/latest", "/help", "/severity"]
FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>'
        b"<link>https://adv.example.org/</link><description>bench</description></channel></rss>")


def prepare(home: Path, users: int) -> None:
    engine = create_db_engine(f"sqlite:///{home / 'data' / 'hubbot.db'}")
    upgrade(engine)
    store = SqlStore(engine)
    now = datetime.now(UTC)
    with store() as uow:
        for i in range(users + 1):  # the last one is the quiet user
            name = f"Hospital {i:05d}"
            uow.members.add(name, now)
            uow.members.add_contact(name, Network.TELEGRAM, str(FIRST_USER + i), now)
            uow.products.add(name, ProductSpec("Dräger", "Infinity Delta"), now)
        uow.commit()
    engine.dispose()


def plan(commands: int, users: int, noisy: int) -> list[int]:
    """Who sends each command: the noisy users half of them, the other users the rest."""
    heavy = min(commands // 2 // max(noisy, 1), commands) if noisy else 0
    quiet_share = commands - heavy * noisy
    senders: list[int] = []
    for i in range(noisy):
        senders += [FIRST_USER + i] * heavy
    rest = users - noisy
    for n in range(quiet_share):
        senders.append(FIRST_USER + noisy + n % rest)
    # Interleave like a real burst: the heavy users' commands spread over the whole burst.
    return [s for _, s in sorted(enumerate(senders), key=lambda p: (p[0] * 7919) % len(senders))]


def db_count(home: Path, sql: str) -> int:
    try:
        with sqlite3.connect(home / "data" / "hubbot.db", timeout=5) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return -1


def peak_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def one_run(rate: str, args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hubbot-flood-") as tmp:
        home = Path(tmp)
        (home / "data").mkdir()
        log = home / "sent.jsonl"
        quiet = FIRST_USER + args.users
        limits = [] if args.telegram_limits else ["--no-limits"]
        server = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "tests" / "support" / "telegram_server.py"), "--port", "0",
            "--token", TOKEN, "--users", str(args.users + 1), "--log", str(log), *limits,
            stdout=asyncio.subprocess.PIPE)
        assert server.stdout is not None
        line = (await server.stdout.readline()).decode()
        base = re.search(r"http://127\.0\.0\.1:\d+", line).group()  # type: ignore[union-attr]
        (home / "feeds.yaml").write_text(
            f"feeds:\n  - name: bench\n    url: http://127.0.0.1:{args.feed_port}/feed.xml\n"
            "    interval: 1h\n", encoding="utf-8")
        prepare(home, args.users)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUBBOT_")}
        env.update(HUBBOT_DATA_DIR=str(home / "data"), HUBBOT_FEEDS_FILE=str(home / "feeds.yaml"),
                   HUBBOT_TELEGRAM_TOKEN=TOKEN, HUBBOT_TELEGRAM_BASE_URL=f"{base}/bot",
                   HUBBOT_HEALTH_PORT="0", HUBBOT_LOG_LEVEL="ERROR", HUBBOT_COMMAND_RATE=rate)
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=home,
            stdout=asyncio.subprocess.DEVNULL, stderr=(home / "bot.log").open("wb"))
        senders = plan(args.commands, args.users, args.noisy)
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                # The bot is up once it answers a first command (not counted in the flood).
                http_ok = await http.post("/control/user_sends",
                                          json={"user_id": quiet, "text": "/start"})
                http_ok.raise_for_status()
                while not log.exists() or quiet_replies(log, quiet) < 1:
                    if bot.returncode is not None:
                        raise SystemExit("hubbot run exited:\n"
                                         + (home / "bot.log").read_text()[-2000:])
                    await asyncio.sleep(0.05)
                rss_before = peak_rss_kb(bot.pid)
                inbound_before = db_count(home, "select count(*) from inbound_update")
                # Replies to the flooding users only: the quiet user is measured on its own.
                flood_rows = f"select count(*) from outbox where address != '{quiet}'"
                outbox_before = db_count(home, flood_rows)
                slots = asyncio.Semaphore(64)
                quiet_sent_at: list[float] = []

                async def send(n: int, user: int) -> None:
                    async with slots:
                        answer = await http.post("/control/user_sends", json={
                            "user_id": user, "text": COMMANDS[n % len(COMMANDS)]})
                        answer.raise_for_status()
                    if n == len(senders) // 2:
                        quiet_sent_at.append(time.monotonic())
                        await http.post("/control/user_sends",
                                        json={"user_id": quiet, "text": "/help"})

                t0 = time.monotonic()
                burst = asyncio.gather(*(send(n, u) for n, u in enumerate(senders)))
                posted: list[float] = []
                burst.add_done_callback(lambda _: posted.append(time.monotonic() - t0))
                quiet_wait = None
                handled_at = sent_at = None
                deadline = t0 + args.timeout
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    now = time.monotonic()
                    if quiet_wait is None and quiet_sent_at and quiet_replies(log, quiet) >= 2:
                        quiet_wait = now - quiet_sent_at[0]
                    if handled_at is None and db_count(
                            home, "select count(*) from inbound_update"
                    ) - inbound_before >= len(senders) + 1:
                        handled_at = now
                    if handled_at and quiet_wait is not None and db_count(
                            home, "select count(*) from outbox where state in "
                            "('pending', 'sending')") == 0:
                        sent_at = now
                        break
                await burst
                burst_seconds = posted[0]
                rss = peak_rss_kb(bot.pid)
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 30)
            server.send_signal(signal.SIGTERM)
            await server.wait()
        records = [json.loads(r) for r in log.read_text().splitlines()]
        flood_chats = set(senders)
        replies = [r for r in records if r["chat_id"] in flood_chats]
        slowed = {r["chat_id"] for r in replies if r["text"] == SLOW_DOWN}
        queued = db_count(home, flood_rows) - outbox_before
        return {
            "commands": len(senders), "users": len(flood_chats), "burst": burst_seconds,
            "handled": (handled_at - t0) if handled_at else float("nan"),
            "delivered_all": (sent_at - t0) if sent_at else float("nan"),
            "queued": queued, "delivered": len(replies), "slowed": len(slowed),
            "rss_before": rss_before / 1024, "rss": rss / 1024,
            "quiet_wait": quiet_wait if quiet_wait is not None else float("nan"),
        }


def quiet_replies(log: Path, quiet: int) -> int:
    marker = f'"chat_id": {quiet},'
    with log.open(encoding="utf-8") as f:
        return sum(1 for line in f if marker in line)


def report(name: str, r: dict[str, float]) -> str:
    return (f"  {name}: {int(r['commands']):,} commands from {int(r['users']):,} users posted "
            f"in {r['burst']:.1f} s; all handled after {r['handled']:.1f} s "
            f"({r['commands'] / r['handled']:.0f} commands/s); replies queued "
            f"{int(r['queued']):,}, delivered {int(r['delivered']):,} (all out after "
            f"{r['delivered_all']:.1f} s); users told to slow down: {int(r['slowed'])}; "
            f"bot peak RSS {r['rss']:.0f} MiB (before the flood {r['rss_before']:.0f} MiB); "
            f"a quiet user's /help mid-flood answered in {r['quiet_wait']:.2f} s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--noisy", type=int, default=100,
                        help="users who send half the burst between them")
    parser.add_argument("--rate", default="20/minute", help="HUBBOT_COMMAND_RATE of the run")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--telegram-limits", action="store_true",
                        help="the test server applies Telegram's flood limits")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    feed_server = serve_feed(FEED)
    args.feed_port = feed_server.server_port
    limited = await one_run(args.rate, args)
    baseline = None if args.no_baseline else await one_run("off", args)
    limits = "Telegram's flood limits" if args.telegram_limits else "no server flood limits"
    print("Command flood through the Telegram gateway (hubbot run + "
          f"tests/support/telegram_server.py, {limits}); {args.noisy} noisy users send half "
          "the burst")
    print(report(f"rate limit {args.rate} per user", limited))
    if baseline:
        print(report("baseline, HUBBOT_COMMAND_RATE=off", baseline))


if __name__ == "__main__":
    asyncio.run(main())
