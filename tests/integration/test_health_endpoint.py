"""What an operator's monitor reads from `/healthz` and `/metrics` when the store is slow and
when the event loop was held up."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app.health import HealthServer
from bot.app.metrics import Metrics
from bot.services.store_boundary import StoreBoundary
from bot.store.unit_of_work import SqlStore

HANG_GUARD = 30.0


@pytest.fixture
async def one_worker(store: SqlStore) -> AsyncIterator[tuple[StoreBoundary, threading.Event]]:
    """A boundary with one store worker, and a way to keep that worker busy until set."""
    boundary = StoreBoundary(store, ThreadPoolExecutor(1))
    free = threading.Event()
    yield boundary, free
    free.set()
    boundary.close()


async def get(server: HealthServer, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}",
                                 timeout=HANG_GUARD) as client:
        return await client.get(path)


async def test_healthz_answers_while_the_store_is_busy_and_says_so(
    one_worker: tuple[StoreBoundary, threading.Event],
) -> None:
    boundary, free = one_worker
    health = HealthServer(boundary, Metrics(), lambda: {"telegram": True}, "127.0.0.1", 0,
                          down_after=timedelta(hours=1))
    await health.start()
    try:
        assert (await get(health, "/healthz")).json()["database"]["state"] == "ok"
        busy = asyncio.ensure_future(boundary.call(free.wait, HANG_GUARD))
        answer = await get(health, "/healthz")
        assert not free.is_set()  # answered while every store worker was taken
        assert answer.status_code == 200
        body = answer.json()
        assert body["status"] == "degraded"
        assert body["database"]["state"] == "busy"
        assert body["database"]["last_answer_at"] is not None
        assert body["outbox"] == {}  # the last figures the store gave
        free.set()
        await busy
        deadline = time.monotonic() + HANG_GUARD
        while (body := (await get(health, "/healthz")).json())["database"]["state"] != "ok":
            assert time.monotonic() < deadline
        assert body["status"] == "ok"
    finally:
        await health.stop()


async def test_a_store_silent_for_longer_than_allowed_makes_the_bot_down(
    one_worker: tuple[StoreBoundary, threading.Event],
) -> None:
    boundary, free = one_worker
    health = HealthServer(boundary, Metrics(), lambda: {"telegram": True}, "127.0.0.1", 0,
                          down_after=timedelta(0))
    await health.start()
    try:
        busy = asyncio.ensure_future(boundary.call(free.wait, HANG_GUARD))
        answer = await get(health, "/healthz")
        assert answer.status_code == 503
        assert answer.json()["status"] == "down"
        assert answer.json()["database"]["state"] == "busy"
        free.set()
        await busy
    finally:
        await health.stop()


async def test_metrics_show_how_long_the_event_loop_was_held_up(store: SqlStore) -> None:
    metrics = Metrics()
    watcher = asyncio.create_task(metrics.watch_event_loop(interval=0.05))
    health = HealthServer(store, metrics, lambda: {}, "127.0.0.1", 0)
    await health.start()
    try:
        await asyncio.sleep(0.2)  # the watcher is measuring
        assert lag(await get(health, "/metrics")) >= 0.0
        time.sleep(0.5)  # noqa: ASYNC251  (blocking the loop on purpose: what the gauge shows)
        await asyncio.sleep(0.2)
        assert lag(await get(health, "/metrics")) >= 0.45
    finally:
        watcher.cancel()
        await health.stop()


def lag(answer: httpx.Response) -> float:
    [family] = [f for f in text_string_to_metric_families(answer.text)
                if f.name == "hubbot_event_loop_lag_seconds"]
    return family.samples[0].value
