"""Matrix fan-out benchmark: one alert to N members' direct rooms through hubbot's outbox, on the
test Synapse (tests/support/homeserver.py: 127.0.0.1, its own cached venv), with the bot's message
rate limited by the admin API (default 50 messages/s, burst 50) so that 429s can happen.

    python bench/matrix_fanout.py [--users 500] [--rate 50]

Prints for hubbot's dispatcher (8 sends in flight, every 429 pauses all sends for its
retry_after, the outbox reschedules the message): the first alert (direct rooms opened on the way)
and a second alert to the existing rooms; and, in the same run to the same rooms, a naive sender:
nio's defaults (it sleeps and retries each 429 itself) with all N sends in flight at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nio import AsyncClient, AsyncClientConfig, RoomSendError, RoomSendResponse  # noqa: E402

from bot.channels.matrix import MatrixChannel, message_content  # noqa: E402
from bot.channels.matrix_client import MatrixConfig, MatrixSession  # noqa: E402
from bot.domain.advisory import Advisory  # noqa: E402
from bot.domain.clock import utc_now  # noqa: E402
from bot.domain.matching import AdvisoryMatcher  # noqa: E402
from bot.domain.members import Network  # noqa: E402
from bot.domain.products import ProductSpec  # noqa: E402
from bot.domain.queued_messages import OutboxItem  # noqa: E402
from bot.domain.severity import Severity  # noqa: E402
from bot.outbox.channel import DeliveryError  # noqa: E402
from bot.outbox.dispatcher import OutboxDispatcher  # noqa: E402
from bot.services.ingest import ingest_advisories  # noqa: E402
from bot.store.database import create_db_engine, upgrade  # noqa: E402
from bot.store.unit_of_work import SqlStore  # noqa: E402
from tests.support.homeserver import Synapse, start_synapse  # noqa: E402


class CountingChannel(MatrixChannel):
    """hubbot's channel, counting the 429s the homeserver answered."""

    too_many = 0

    async def send(self, item: OutboxItem) -> str | None:
        try:
            return await super().send(item)
        except DeliveryError as exc:
            if exc.retry_after is not None:
                self.too_many += 1
            raise


def advisory(n: int) -> Advisory:
    return Advisory(f"https://adv.example.org/{n}", f"Dräger Infinity Delta: flaw {n}",
                    "CVSS v3.1 base score 9.8. Update to VF10.2.", f"https://adv.example.org/{n}",
                    "bench", cves=("CVE-2026-90001",), cvss=9.8, severity=Severity.CRITICAL)


def store_with_users(path: Path, user_ids: list[str]) -> SqlStore:
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    store = SqlStore(engine)
    now = datetime.now(UTC)
    with store() as uow:
        for i, user_id in enumerate(user_ids):
            name = f"Hospital {i:05d}"
            uow.members.add(name, now)
            uow.members.add_contact(name, Network.MATRIX, user_id, now)
            uow.products.add(name, ProductSpec("Dräger", "Infinity Delta"), now)
        uow.commit()
    return store


async def hubbot_alert(store: SqlStore, channel: CountingChannel, n: int) -> dict[str, float]:
    with store() as uow:
        report = ingest_advisories(uow, [advisory(n)], AdvisoryMatcher(uow.products.all()),
                                   utc_now(), console=False)
        uow.commit()
    dispatcher = OutboxDispatcher(store, channel, batch_size=40, concurrency=8)
    before = channel.too_many
    with store() as uow:
        sent_before = uow.outbox.backlog().get(("matrix", "sent"), 0)
    t0 = time.perf_counter()
    while True:
        await dispatcher.drain()
        with store() as uow:
            backlog = uow.outbox.backlog()
        if backlog.get(("matrix", "pending"), 0) == 0:
            break
        await asyncio.sleep(0.05)  # a retry is scheduled: wait for it
    elapsed = time.perf_counter() - t0
    return {"messages": report.messages, "elapsed": elapsed, "sent": backlog.get(
        ("matrix", "sent"), 0) - sent_before, "failed": backlog.get(("matrix", "failed"), 0),
        "429": channel.too_many - before}


async def naive_alert(server: Synapse, bot_id: str, password: str,
                      rooms: list[str]) -> dict[str, float]:
    client = AsyncClient(server.url, bot_id, config=AsyncClientConfig())  # nio's defaults
    await client.login(password)
    too_many = 0

    async def count(response: RoomSendError) -> None:
        nonlocal too_many
        if response.status_code == "M_LIMIT_EXCEEDED":
            too_many += 1

    client.add_response_callback(count, RoomSendError)  # nio calls it before each retry
    content = message_content({"kind": "reply", "text": "naive"})
    t0 = time.perf_counter()
    answers = await asyncio.gather(*(client.room_send(r, "m.room.message", content)
                                     for r in rooms))
    elapsed = time.perf_counter() - t0
    await client.close()
    sent = sum(isinstance(a, RoomSendResponse) for a in answers)
    return {"messages": len(rooms), "elapsed": elapsed, "sent": sent, "429": too_many}


def line(name: str, r: dict[str, float]) -> str:
    return (f"  {name}: {int(r['sent'])}/{int(r['messages'])} delivered in {r['elapsed']:.1f} s "
            f"= {r['sent'] / r['elapsed']:.0f} messages/s; 429s received: {int(r['429'])}"
            + (f"; failed: {int(r['failed'])}" if r.get("failed") else ""))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rate", type=int, default=50,
                        help="the bot's messages/s and burst at the server (0: unlimited)")
    args = parser.parse_args()
    # nio logs each 429 it sleeps on, the outbox each retry: the summary counts them instead.
    logging.getLogger("nio").setLevel(logging.CRITICAL)
    logging.getLogger("bot").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        server = start_synapse(work / "synapse")
        try:
            bot = server.register("hubbot")
            with ThreadPoolExecutor(16) as pool:
                users = list(pool.map(lambda i: server.register(f"member{i:05d}").user_id,
                                      range(args.users)))
            if args.rate:
                server.override_ratelimit(bot.user_id, args.rate, args.rate)
            print(f"Synapse up, {args.users} users registered in {time.perf_counter() - t0:.1f}"
                  " s", file=sys.stderr)
            store = store_with_users(work / "bench.db", users)
            session = MatrixSession(MatrixConfig(server.url, bot.user_id, work / "matrix",
                                                 password=bot.password))
            await session.connect()
            channel = CountingChannel(session, store, utc_now)
            first = await hubbot_alert(store, channel, 1)
            await asyncio.sleep(2)  # let the rate limiter's bucket refill between runs
            second = await hubbot_alert(store, channel, 2)
            await session.close()
            with store() as uow:
                rooms = [uow.matrix_rooms.room_for(u) for u in users]
            await asyncio.sleep(2)
            naive = await naive_alert(server, bot.user_id, bot.password,
                                      [r for r in rooms if r])
        finally:
            server.stop()
    limit = f"{args.rate} messages/s, burst {args.rate}" if args.rate else "no limit"
    print(f"Matrix fan-out: one critical alert to {args.users} direct rooms on a loopback "
          f"Synapse (the bot's limit: {limit})")
    print(line("hubbot, first alert (opens each direct room)", first))
    print(line("hubbot, second alert (rooms exist)", second))
    print(line(f"naive nio sender ({len(rooms)} sends in flight, nio retries 429s)", naive))


if __name__ == "__main__":
    asyncio.run(main())
