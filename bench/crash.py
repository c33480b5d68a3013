"""Crash-safety benchmark: `hubbot run` is SIGKILLed at random moments during a broadcast
and restarted; the receiving server counts what arrived.

    python bench/crash.py [--messages 2000] [--matrix-messages N] [--kills 6] [--seed 7]
                          [--networks telegram,matrix] [--queue-timeout 900]
                          [--stall-timeout 300]

One advisory on a loopback feed matches every member: N members with a Telegram contact and
(on Matrix) the first M of them with a Matrix contact too: N + M alert messages. The bench
first waits, reading the bot's database, until the broadcast is queued (the ingest that writes
the outbox rows has committed; it prints how long that took from the first start), then kills
the bot with SIGKILL at random moments while it sends (0.5-6 s after each run of the bot sent
its first message; `--kills` times, fewer if it finished first), restarting it each time, and
finally leaves it to finish for as long as it gets anywhere (it gives up after
`--stall-timeout` seconds in which no outbox row changed). The receiving servers then say, per
recipient, what arrived, judged against the alert rows the database committed:
- queued: recipients with a committed row; "not queued" ones are a failure of the ingest;
- lost: the row says sent, yet nothing arrived (what a crash must never cause);
- unfinished: still pending or sending when the bench stopped waiting (not a loss: late);
- failed: rows the bot gave up on;
- duplicated: alerts that arrived more than once.
It exits 1 unless every recipient was queued and delivered, nothing is unfinished or failed
and the duplicates stay within the bound, or if the broadcast was never queued within
`--queue-timeout` seconds.

- Telegram: the test server's delivery log (tests/support/telegram_server.py --log). Required:
  lost = 0; duplicated at most the messages in flight at each kill (the dispatcher sends up to 30 at
  once, so at most 30 per kill).
- Matrix: a real Synapse on loopback (.ci/synapse-setup + tests/support/homeserver.py); every
  room's timeline is read through Synapse's admin API (`/_synapse/admin/v1/rooms/<id>/messages`) and
  the bot's alerts are counted per invited member. Required: lost = 0 and duplicated = 0 (each
  send carries the outbox row's transaction id, which Synapse de-duplicates). The bot opens a
  direct room per member on its first alert; `--matrix-messages` (default: --messages) can be
  smaller when room creation dominates.

Without an installable Synapse the default (both networks) falls back to Telegram only, and says
so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loopback_feed import serve_feed  # noqa: E402 (beside this script)

from bot.domain.members import Network  # noqa: E402
from bot.domain.products import ProductSpec  # noqa: E402
from bot.store.database import create_db_engine, upgrade  # noqa: E402
from bot.store.unit_of_work import SqlStore  # noqa: E402

TOKEN = "123456:CRASH-token"
FIRST_USER = 100001
IN_FLIGHT = 30  # the Telegram dispatcher's concurrency


def feed() -> bytes:
    """The advisory, published now: an undated or old entry is a new feed's backlog and is recorded
    without alerting (HUBBOT_BACKLOG_DAYS), which left the bench waiting for a broadcast."""
    published = format_datetime(datetime.now(UTC), usegmt=True)
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>
<link>https://adv.example.org/</link><description>bench</description>
<item><title>Dräger Infinity Delta: remote code execution</title>
<link>https://adv.example.org/crash</link><guid>https://adv.example.org/crash</guid>
<pubDate>{published}</pubDate>
<description>CVSS v3.1 base score 9.8 (CVE-2026-90001)</description></item>
</channel></rss>""".encode()


def prepare(home: Path, members: int, matrix_users: list[str]) -> None:
    engine = create_db_engine(f"sqlite:///{home / 'data' / 'hubbot.db'}")
    upgrade(engine)
    store = SqlStore(engine)
    now = datetime.now(UTC)
    with store() as uow:
        for i in range(max(members, len(matrix_users))):
            name = f"Hospital {i:05d}"
            uow.members.add(name, now)
            if i < members:
                uow.members.add_contact(name, Network.TELEGRAM, str(FIRST_USER + i), now)
            if i < len(matrix_users):
                uow.members.add_contact(name, Network.MATRIX, matrix_users[i], now)
            uow.products.add(name, ProductSpec("Dräger", "Infinity Delta"), now)
        uow.commit()
    engine.dispose()


def _read(home: Path, query: str) -> list[tuple[str, ...]]:
    import sqlite3

    conn = sqlite3.connect(home / "data" / "hubbot.db", timeout=30)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def outbox_counts(home: Path) -> dict[tuple[str, str], int]:
    rows = _read(home, "select network, state, count(*) from outbox group by network, state")
    return {(network, state): count for network, state, count in rows}


def queued_alerts(home: Path) -> dict[str, dict[str, str]]:
    """Per network, the state of the committed alert row of each address (empty until the
    broadcast is queued)."""
    queued: dict[str, dict[str, str]] = {}
    rows = _read(home, "select network, address, state from outbox where kind = 'alert'")
    for network, address, state in rows:
        queued.setdefault(network, {})[address] = state
    return queued


def progress(home: Path) -> tuple[object, ...]:
    """Changes whenever the bot gets anywhere: a row changes state or is tried again."""
    rows = _read(home, "select state, count(*), coalesce(sum(attempts), 0) from outbox "
                       "group by state order by state")
    return tuple(rows)


def unfinished(counts: dict[tuple[str, str], int]) -> int:
    return sum(n for (_, state), n in counts.items() if state in {"pending", "sending"})


def by_network(counts: dict[tuple[str, str], int], network: str) -> dict[str, int]:
    return {state: n for (net, state), n in counts.items() if net == network}


@dataclass(frozen=True)
class Verdict:
    """One network's alerts, judged against the rows the database committed."""

    queued: int  # recipients with a committed alert row
    not_queued: int  # recipients the ingest never queued: its failure, not the outbox's
    delivered: int  # recipients that received the alert at least once
    lost: int  # the outbox says sent, nothing arrived: what a crash must never cause
    unfinished: int  # still pending or sending when the bench stopped waiting
    failed_rows: int  # given up by the bot (a permanent error)

    @property
    def failed(self) -> bool:
        return bool(self.not_queued or self.lost or self.unfinished or self.failed_rows)

    def __str__(self) -> str:
        return (f"queued {self.queued:,} (not queued {self.not_queued}) / delivered "
                f"{self.delivered:,} / lost {self.lost} / unfinished {self.unfinished} / failed "
                f"{self.failed_rows}")


def judge(rows: dict[str, str], received: set[str], expected: set[str]) -> Verdict:
    """`rows`: the state of each recipient's committed alert row; `received`: the recipients
    the receiving server saw an alert for; `expected`: every recipient the advisory matches."""
    return Verdict(
        queued=len(rows), not_queued=len(expected - rows.keys()),
        delivered=len(received & rows.keys()),
        lost=sum(1 for a, state in rows.items() if state == "sent" and a not in received),
        unfinished=sum(1 for a, state in rows.items()
                       if state in {"pending", "sending"} and a not in received),
        failed_rows=sum(1 for a, state in rows.items() if state == "failed" and a not in received),
    )


class MatrixSide:
    """The Synapse the bot sends to, its users, and the count of what arrived in their rooms."""

    def __init__(self, work: Path, users: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from tests.support.homeserver import start_synapse

        t0 = time.monotonic()
        self.server = start_synapse(work / "synapse")
        self.bot = self.server.register("hubbot")
        with ThreadPoolExecutor(16) as pool:
            self.users = list(pool.map(
                lambda i: self.server.register(f"member{i:05d}").user_id, range(users)))
        self.setup_seconds = time.monotonic() - t0

    def env(self) -> dict[str, str]:
        return {"HUBBOT_MATRIX_HOMESERVER": self.server.url,
                "HUBBOT_MATRIX_USER": self.bot.user_id,
                "HUBBOT_MATRIX_PASSWORD": self.bot.password}

    async def count(self) -> tuple[dict[str, int], dict[str, int]]:
        """Per member: the bot's alerts in their rooms, and how many rooms the bot opened."""
        import httpx

        admin = self.server.admin()
        alerts: dict[str, int] = {}
        rooms_of: dict[str, int] = {}
        async with httpx.AsyncClient(
            base_url=f"{self.server.url}/_synapse/admin/v1", timeout=60,
            headers={"Authorization": f"Bearer {admin.access_token}"},
        ) as http:
            rooms: list[str] = []
            start = 0
            while True:
                page = (await http.get("/rooms", params={"from": start, "limit": 500})).json()
                rooms += [r["room_id"] for r in page["rooms"]]
                if "next_batch" not in page:
                    break
                start = page["next_batch"]
            limit = asyncio.Semaphore(16)

            async def one(room_id: str) -> None:
                async with limit:
                    state = (await http.get(f"/rooms/{room_id}/state")).json()["state"]
                    invited = [e["state_key"] for e in state if e["type"] == "m.room.member"
                               and e["state_key"] != self.bot.user_id]
                    sent = 0
                    token: str | None = None
                    while True:
                        params = {"dir": "f", "limit": 1000} | ({"from": token} if token else {})
                        page = (await http.get(f"/rooms/{room_id}/messages",
                                               params=params)).json()
                        sent += sum(1 for e in page["chunk"] if e["type"] == "m.room.message"
                                    and e["sender"] == self.bot.user_id
                                    and "Infinity Delta" in e["content"].get("body", ""))
                        token = page.get("end")
                        if not page["chunk"] or not token:
                            break
                for user in invited:
                    alerts[user] = alerts.get(user, 0) + sent
                    rooms_of[user] = rooms_of.get(user, 0) + 1

            await asyncio.gather(*(one(r) for r in rooms))
        return alerts, rooms_of

    def stop(self) -> None:
        self.server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="Telegram alert messages")
    parser.add_argument("--matrix-messages", type=int, default=None,
                        help="Matrix alert messages (default: --messages)")
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--queue-timeout", type=float, default=900,
                        help="seconds from the first start for the broadcast to be queued")
    parser.add_argument("--stall-timeout", type=float, default=300,
                        help="after the kills, give up waiting after this many seconds in "
                             "which no outbox row changed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--networks", default=None,
                        help="telegram,matrix (default; Matrix only when Synapse can be set up)")
    args = parser.parse_args()
    networks = [n.strip() for n in (args.networks or "telegram,matrix").split(",") if n.strip()]
    unknown = set(networks) - {"telegram", "matrix"}
    if unknown or not networks:
        parser.error(f"--networks: telegram and/or matrix, not {sorted(unknown)}")
    tg_messages = args.messages if "telegram" in networks else 0
    mx_messages = (args.matrix_messages if args.matrix_messages is not None
                   else args.messages) if "matrix" in networks else 0
    rng = random.Random(args.seed)
    feed_server = serve_feed(feed())
    with tempfile.TemporaryDirectory(prefix="hubbot-crash-") as tmp:
        home = Path(tmp)
        (home / "data").mkdir()
        matrix: MatrixSide | None = None
        if mx_messages:
            from tests.support.homeserver import SynapseUnavailable

            try:
                matrix = await asyncio.to_thread(MatrixSide, home, mx_messages)
            except SynapseUnavailable as exc:
                if args.networks:
                    raise SystemExit(f"Matrix asked for, but no Synapse here: {exc}") from exc
                print(f"No Synapse here ({exc}); running Telegram only.", file=sys.stderr)
                mx_messages = 0
            else:
                print(f"Synapse up and {mx_messages:,} Matrix users registered in "
                      f"{matrix.setup_seconds:.0f} s", file=sys.stderr)
        log = home / "deliveries.jsonl"
        server = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "tests" / "support" / "telegram_server.py"), "--port", "0",
            "--token", TOKEN, "--users", str(max(tg_messages, 1)), "--log", str(log),
            stdout=asyncio.subprocess.PIPE)
        assert server.stdout is not None
        line = (await server.stdout.readline()).decode()
        base = re.search(r"http://127\.0\.0\.1:\d+", line).group()  # type: ignore[union-attr]
        (home / "feeds.yaml").write_text(
            f"feeds:\n  - name: bench\n    url: http://127.0.0.1:{feed_server.server_port}/"
            "feed.xml\n    interval: 1h\n", encoding="utf-8")
        prepare(home, tg_messages, matrix.users if matrix else [])
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUBBOT_")}
        env.update(HUBBOT_DATA_DIR=str(home / "data"), HUBBOT_FEEDS_FILE=str(home / "feeds.yaml"),
                   HUBBOT_HEALTH_PORT="0", HUBBOT_LOG_LEVEL="WARNING")
        if tg_messages:
            env.update(HUBBOT_TELEGRAM_TOKEN=TOKEN, HUBBOT_TELEGRAM_BASE_URL=f"{base}/bot")
        if matrix:
            env.update(matrix.env())

        def delivered() -> int:
            return sum(1 for _ in log.open()) if log.exists() else 0

        def sent_matrix() -> int:
            return outbox_counts(home).get(("matrix", "sent"), 0)

        async def start_bot() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, cwd=home,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

        async def stop_bot(bot: asyncio.subprocess.Process, sig: signal.Signals) -> None:
            if bot.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    bot.send_signal(sig)
            await asyncio.wait_for(bot.wait(), 20)

        async def wait_until_queued(bot: asyncio.subprocess.Process, until: float) -> bool:
            """True once the broadcast's rows are committed; False if the bot exited first or
            `until` (monotonic) passed."""
            while not queued_alerts(home):
                if bot.returncode is not None or time.monotonic() > until:
                    return False
                await asyncio.sleep(0.1)
            return True

        def sent_so_far() -> tuple[int, int]:
            counts = outbox_counts(home)
            return delivered(), sum(n for (_, state), n in counts.items() if state == "sent")

        async def wait_until_sending(bot: asyncio.subprocess.Process) -> None:
            """Until this run of the bot has sent something (or has nothing left to send,
            exited, or got nowhere for --stall-timeout seconds)."""
            before, since = sent_so_far(), time.monotonic()
            while sent_so_far() == before and unfinished(outbox_counts(home)):
                if bot.returncode is not None or time.monotonic() - since > args.stall_timeout:
                    return
                await asyncio.sleep(0.1)

        started = time.monotonic()
        first_queued: float | None = None
        kills: list[str] = []
        finished_early = False
        stalled = False
        try:
            for _ in range(args.kills):
                bot = await start_bot()
                if not await wait_until_queued(bot, started + args.queue_timeout):
                    await stop_bot(bot, signal.SIGKILL)
                    break
                if first_queued is None:
                    first_queued = time.monotonic() - started
                await wait_until_sending(bot)  # a kill during start-up sends nothing to lose
                if not unfinished(outbox_counts(home)):
                    finished_early = True
                    await stop_bot(bot, signal.SIGKILL)
                    break
                await asyncio.sleep(rng.uniform(0.5, 6.0))
                await stop_bot(bot, signal.SIGKILL)
                kills.append(f"{time.monotonic() - started:.0f} s, " + "/".join(
                    ([f"tg {delivered()}"] if tg_messages else [])
                    + ([f"mx {sent_matrix()}"] if matrix else [])))
            bot = await start_bot()
            if await wait_until_queued(bot, started + args.queue_timeout):
                if first_queued is None:
                    first_queued = time.monotonic() - started
                # However slow the machine: wait while the bot gets anywhere.
                last, last_change = (), time.monotonic()
                while unfinished(outbox_counts(home)):
                    now, seen = time.monotonic(), (progress(home), delivered())
                    if seen != last:
                        last, last_change = seen, now
                    elif now - last_change > args.stall_timeout:
                        stalled = True
                        break
                    await asyncio.sleep(0.5)
                await asyncio.sleep(1)
            await stop_bot(bot, signal.SIGTERM)
            exit_code = bot.returncode
            elapsed = time.monotonic() - started
            per_chat: dict[int, int] = {}
            for record in map(json.loads, log.read_text().splitlines() if log.exists() else []):
                if "Infinity Delta" in (record.get("text") or ""):
                    per_chat[record["chat_id"]] = per_chat.get(record["chat_id"], 0) + 1
            mx_alerts, mx_rooms = await matrix.count() if matrix else ({}, {})
        finally:
            server.send_signal(signal.SIGTERM)
            await server.wait()
            feed_server.shutdown()
            if matrix:
                matrix.stop()
        counts = outbox_counts(home)
        queued = queued_alerts(home)
    total = " + ".join(([f"{tg_messages:,} on Telegram"] if tg_messages else [])
                       + ([f"{mx_messages:,} on Matrix"] if mx_messages else []))
    if first_queued is None:
        print(f"Crash safety: {total} alert messages; the broadcast was never queued (no alert "
              f"row committed) within {args.queue_timeout:.0f} s of the first start or before "
              f"the bot exited (last exit code {exit_code}), so nothing was judged; "
              f"{elapsed:.0f} s in all. FAILED")
        raise SystemExit(1)
    ending = (f"it finished before kill {len(kills) + 1}, then was started once more"
              if finished_early else "then left to finish")
    print(f"Crash safety: {total} alert messages; broadcast queued {first_queued:.1f} s after "
          f"the first start (first committed alert row); hubbot run SIGKILLed {len(kills)} times "
          f"at random moments while it sent (each kill: time from the first start, sent so far: "
          f"{'; '.join(kills) or 'none'}), {ending}; {elapsed:.0f} s in all")
    failed = False
    stall_note = (f" (still queued when the bench gave up: no row changed for "
                  f"{args.stall_timeout:.0f} s)" if stalled else "")
    if tg_messages:
        rows = queued.get("telegram", {})
        expected = {str(FIRST_USER + i) for i in range(tg_messages)}
        got = {str(chat) for chat in per_chat}
        verdict = judge(rows, got, expected)
        duplicated = sum(n - 1 for n in per_chat.values())
        bound = IN_FLIGHT * len(kills)
        failed |= verdict.failed or duplicated > bound
        print(f"  telegram: {verdict}{stall_note if verdict.unfinished else ''} / duplicated "
              f"{duplicated} (bound: {IN_FLIGHT} in flight × {len(kills)} kills = {bound}); "
              f"outbox at the end: {by_network(counts, 'telegram')}")
    if matrix:
        rows = queued.get("matrix", {})
        got_mx = {u for u, n in mx_alerts.items() if n}
        verdict = judge(rows, got_mx, set(matrix.users))
        duplicated = sum(n - 1 for n in mx_alerts.values() if n)
        extra_rooms = sum(n - 1 for n in mx_rooms.values() if n > 1)
        failed |= verdict.failed or duplicated > 0
        note = (f"; {mx_messages:,} rather than {args.messages:,}: opening a direct room per "
                "member dominates" if mx_messages < args.messages else "")
        print(f"  matrix: {verdict}{stall_note if verdict.unfinished else ''} / duplicated "
              f"{duplicated} (required 0: transaction ids); direct rooms opened twice: "
              f"{extra_rooms}; outbox at the end: {by_network(counts, 'matrix')}{note}")
    print("  verdict: " + ("FAILED" if failed else "ok"))
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
