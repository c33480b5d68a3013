"""An operator's backup, migration or long report locks the database for a while: the bot keeps
answering `/healthz` and reading Telegram updates, and the commands it read are answered once
the lock is gone (the event loop never waits on the database)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.app.health import HealthServer
from bot.domain.clock import utc_now
from bot.services import registrations
from bot.store.database import normalise_url, temporary_schema
from tests.support.feedserver import FeedServer, rss
from tests.support.stories import item
from tests.support.telegram_hub import TelegramHub, running_telegram_hub
from tests.support.telegram_server import TelegramServer

ALICE = 100001
LOCK_SECONDS = 10.0
HANG_GUARD = 60.0
POSTGRES_ENV = "HUBBOT_TEST_POSTGRES_URL"
DRAEGER = item(1, "Dräger Infinity Delta: remote code execution",
               "CVSS v3.1 base score 9.8", "CVE-2026-90001")


class HeldLock:
    """A lock another connection holds for LOCK_SECONDS of wall time, released by a timer
    thread: a bot whose event loop waited on the database could not release it sooner."""

    def __init__(self, release: Callable[[], None]) -> None:
        self.released = threading.Event()

        def let_go() -> None:
            release()
            self.released.set()

        self._timer = threading.Timer(LOCK_SECONDS, let_go)
        self._timer.start()

    def held(self) -> bool:
        return not self.released.is_set()

    def wait_released(self) -> None:
        self._timer.join()


@contextmanager
def sqlite_write_lock(database: Path) -> Iterator[HeldLock]:
    """Another process's write transaction on the hub's SQLite file (in WAL mode, the strongest
    lock there is while the bot has it open: its writers wait, its readers read on)."""
    locker = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("UPDATE feed_state SET etag = etag")
    lock = HeldLock(lambda: locker.execute("COMMIT"))
    try:
        yield lock
    finally:
        lock.wait_released()
        locker.close()


@contextmanager
def postgres_outbox_lock(url: str) -> Iterator[HeldLock]:
    """Another session's LOCK TABLE on the outbox: every read and write of it waits."""
    engine = create_engine(normalise_url(url))
    connection = engine.connect()
    connection.begin()
    connection.execute(text("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE"))
    lock = HeldLock(connection.commit)
    try:
        yield lock
    finally:
        lock.wait_released()
        connection.close()
        engine.dispose()


def postgres_url_or_skip() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"{POSTGRES_ENV} must be set in CI: the PostgreSQL lock test must run")
    pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL lock test skipped")


async def linked_hub_with_health(hub: TelegramHub) -> HealthServer:
    registrations.add_member(hub.bot.store, "Klinikum Nord", [], utc_now())
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    health = HealthServer(hub.bot.boundary, hub.bot.metrics, hub.bot.networks_connected,
                          "127.0.0.1", 0)
    await health.start()
    return health


async def an_alert_is_queued(hub: TelegramHub) -> None:
    """An advisory for Alice's product is polled: the dispatcher is woken to send it, and
    (the caller locking the store before it awaits anything) finds the store locked."""
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.poll()


async def the_bot_stays_responsive(hub: TelegramHub, health: HealthServer,
                                   lock: HeldLock) -> dict:
    """While `lock` is held: /healthz answers and Alice's command is read (confirmed to the Bot
    API server); her answer and the alert come after the lock is released. Returns the health
    answer."""
    answers_before = len(hub.telegram.messages_to(ALICE))
    hub.telegram.user_sends(ALICE, "/status")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{health.port}",
                                 timeout=HANG_GUARD) as client:
        asked = time.monotonic()
        answer = await client.get("/healthz")
        took = time.monotonic() - asked
    assert lock.held(), f"/healthz answered only after the lock was released ({took:.1f} s)"
    deadline = time.monotonic() + HANG_GUARD
    while hub.telegram.pending_updates():
        assert time.monotonic() < deadline, "the update was never read"
        await asyncio.sleep(0.05)
    assert lock.held(), "the Telegram update was read only after the lock was released"
    assert len(hub.telegram.messages_to(ALICE)) == answers_before  # it waits for the store
    messages = await hub.telegram.wait_for_messages(ALICE, answers_before + 2, HANG_GUARD)
    assert not lock.held()
    assert any("Dräger Infinity Delta" in (m.text or "") for m in messages[answers_before:])
    return {"status_code": answer.status_code, **answer.json()}


async def test_a_locked_sqlite_database_stops_neither_health_nor_telegram(
    tmp_path: Path, telegram_server: TelegramServer, feed_server: FeedServer
) -> None:
    telegram_server.add_private_chat(ALICE, first_name="Alice")
    async with running_telegram_hub(tmp_path, telegram_server, feed_server) as hub:
        health = await linked_hub_with_health(hub)
        try:
            await an_alert_is_queued(hub)
            with sqlite_write_lock(tmp_path / "hub.db") as lock:
                body = await the_bot_stays_responsive(hub, health, lock)
        finally:
            await health.stop()
    assert body["status_code"] == 200
    assert body["networks"] == {"telegram": {"connected": True}}


async def test_a_locked_postgresql_outbox_stops_neither_health_nor_telegram(
    tmp_path: Path, telegram_server: TelegramServer, feed_server: FeedServer
) -> None:
    telegram_server.add_private_chat(ALICE, first_name="Alice")
    with temporary_schema(postgres_url_or_skip(), prefix="lock_") as url:
        async with running_telegram_hub(tmp_path, telegram_server, feed_server,
                                database_url=url) as hub:
            health = await linked_hub_with_health(hub)
            try:
                await an_alert_is_queued(hub)
                with postgres_outbox_lock(url) as lock:
                    body = await the_bot_stays_responsive(hub, health, lock)
            finally:
                await health.stop()
            after = await health.snapshot()
    # The outbox could not be read in time: the last figures, and the bot degraded (not down:
    # a store silent for seconds is busy, one silent for a minute is down).
    assert body["status_code"] == 200
    assert body["status"] == "degraded"
    assert body["database"]["state"] == "busy"
    assert after["database"]["state"] == "ok" and after["status"] == "ok"
