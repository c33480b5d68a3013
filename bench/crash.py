"""Crash-safety benchmark: `hubbot run` is SIGKILLed at random moments during a broadcast
and restarted; the receiving server counts what arrived.

    python bench/crash.py [--messages 2000] [--kills 6] [--seed 7]

One advisory on a loopback feed matches every one of N members, each with a Telegram contact:
N alert messages. The bot is killed with SIGKILL at random moments (at least `--kills` times)
while it sends, restarted each time, and finally left to finish. The Telegram test server's
delivery log then says, per chat, how many alerts arrived: delivered / lost / duplicated.
Required: lost = 0; duplicated at most the messages in flight at each kill (the dispatcher
sends up to 30 at once, so at most 30 per kill).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.members import Network  # noqa: E402
from bot.domain.products import ProductSpec  # noqa: E402
from bot.store.database import create_db_engine, upgrade  # noqa: E402
from bot.store.unit_of_work import SqlStore  # noqa: E402

TOKEN = "123456:CRASH-token"
FIRST_USER = 100001
IN_FLIGHT = 30  # the Telegram dispatcher's concurrency
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>
<link>https://adv.example.org/</link><description>bench</description>
<item><title>Dr\xc3\xa4ger Infinity Delta: remote code execution</title>
<link>https://adv.example.org/crash</link><guid>https://adv.example.org/crash</guid>
<description>CVSS v3.1 base score 9.8 (CVE-2026-90001)</description></item>
</channel></rss>"""


class _Feed(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(FEED)))
        self.end_headers()
        self.wfile.write(FEED)

    def log_message(self, *args: object) -> None:
        return None


def prepare(home: Path, members: int) -> None:
    engine = create_db_engine(f"sqlite:///{home / 'data' / 'hubbot.db'}")
    upgrade(engine)
    store = SqlStore(engine)
    now = datetime.now(UTC)
    with store() as uow:
        for i in range(members):
            name = f"Hospital {i:05d}"
            uow.members.add(name, now)
            uow.members.add_contact(name, Network.TELEGRAM, str(FIRST_USER + i), now)
            uow.products.add(name, ProductSpec("Dräger", "Infinity Delta"), now)
        uow.commit()
    engine.dispose()


def outbox_counts(home: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(home / "data" / "hubbot.db") as conn:
        return dict(conn.execute("select state, count(*) from outbox group by state").fetchall())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    feed_server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    threading.Thread(target=feed_server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="hubbot-crash-") as tmp:
        home = Path(tmp)
        (home / "data").mkdir()
        log = home / "deliveries.jsonl"
        server = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "tests" / "telegram_server.py"), "--port", "0",
            "--token", TOKEN, "--users", str(args.messages), "--log", str(log),
            stdout=asyncio.subprocess.PIPE)
        assert server.stdout is not None
        line = (await server.stdout.readline()).decode()
        base = re.search(r"http://127\.0\.0\.1:\d+", line).group()  # type: ignore[union-attr]
        (home / "feeds.yaml").write_text(
            f"feeds:\n  - name: bench\n    url: http://127.0.0.1:{feed_server.server_port}/"
            "feed.xml\n    interval: 1h\n", encoding="utf-8")
        prepare(home, args.messages)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUBBOT_")}
        env.update(HUBBOT_DATA_DIR=str(home / "data"), HUBBOT_FEEDS_FILE=str(home / "feeds.yaml"),
                   HUBBOT_TELEGRAM_TOKEN=TOKEN, HUBBOT_TELEGRAM_BASE_URL=f"{base}/bot",
                   HUBBOT_HEALTH_PORT="0", HUBBOT_LOG_LEVEL="WARNING")

        def delivered() -> int:
            return sum(1 for _ in log.open()) if log.exists() else 0

        started = time.monotonic()
        kills = []
        try:
            for _ in range(args.kills):
                bot = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", env=env, cwd=home,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
                await asyncio.sleep(rng.uniform(3.0, 9.0))
                bot.send_signal(signal.SIGKILL)
                await bot.wait()
                kills.append(delivered())
            bot = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, cwd=home,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            deadline = time.monotonic() + args.messages / 20 + 120
            while outbox_counts(home).get("pending", 0) + outbox_counts(home).get("sending", 0):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(1)
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 20)
        finally:
            server.send_signal(signal.SIGTERM)
            await server.wait()
            feed_server.shutdown()
        per_chat: dict[int, int] = {}
        for record in map(json.loads, log.read_text().splitlines()):
            if "Infinity Delta" in (record.get("text") or ""):
                per_chat[record["chat_id"]] = per_chat.get(record["chat_id"], 0) + 1
        expected = set(range(FIRST_USER, FIRST_USER + args.messages))
        lost = len(expected - per_chat.keys())
        duplicated = sum(n - 1 for n in per_chat.values())
        counts = outbox_counts(home)
    elapsed = time.monotonic() - started
    print(f"Crash safety: {args.messages:,} alert messages on Telegram, hubbot run SIGKILLed "
          f"{len(kills)} times at random moments (deliveries counted at each kill: "
          f"{', '.join(map(str, kills))}), then left to finish; {elapsed:.0f} s in all")
    print(f"  telegram: delivered {len(per_chat):,} / lost {lost} / duplicated {duplicated} "
          f"(bound: {IN_FLIGHT} in flight × {len(kills)} kills = {IN_FLIGHT * len(kills)}); "
          f"outbox at the end: {counts}")


if __name__ == "__main__":
    asyncio.run(main())
