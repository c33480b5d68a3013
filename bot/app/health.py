"""The health and metrics endpoint on loopback: `/healthz` (JSON) and `/metrics` (Prometheus).

Both answer within a second whatever the database does: the store is read in a store worker
thread with a time budget. A store that does not answer in time (locked by another connection,
say) is reported as `"database": {"state": "busy"}` with the last figures it gave, and the bot
as degraded; one that has not answered for `STORE_DOWN_AFTER`, or fails, makes the bot down
(503) once that time is over, so a monitor alerts on a store that is really gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.app.metrics import Metrics
from bot.services.ports import UnitOfWorkFactory
from bot.services.store_boundary import StoreBoundary, store_boundary
from bot.services.store_health import STORE_DOWN_AFTER, StoreHealth, read_store_health

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(
        self,
        store: UnitOfWorkFactory | StoreBoundary,
        metrics: Metrics,
        networks: Callable[[], dict[str, bool]],
        host: str,
        port: int,
        *,
        budget: float = 0.5,
        down_after: timedelta = STORE_DOWN_AFTER,
    ) -> None:
        self._store = store_boundary(store)
        self._budget = budget
        self._down_after = down_after
        self._reading: asyncio.Future[StoreHealth] | None = None
        self._last = StoreHealth([], {})
        self._last_answer: datetime | None = None
        self._since = datetime.now(UTC)  # the store's silence is counted from the start
        self._failure: str | None = None
        self._metrics = metrics
        self._networks = networks
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._prometheus)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        if self._runner.addresses:  # the bound port when 0 was asked
            self.port = self._runner.addresses[0][1]
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self._host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def snapshot(self) -> dict[str, Any]:
        """The bot's health as data: database, feeds, outbox backlog, networks."""
        database = await self._read_store()
        feeds, backlog = self._last.feeds, self._last.backlog
        self._metrics.record_backlog(backlog)
        networks = self._networks()
        for name, up in networks.items():
            self._metrics.connected.labels(name).set(1 if up else 0)
        outbox: dict[str, dict[str, int]] = {}
        for queue, count in backlog.items():
            outbox.setdefault(queue.network.value, {})[queue.state.value] = count
        failing = [f for f in feeds if f.consecutive_failures]
        store_up = database["state"] == "ok" or database["silent_seconds"] < (
            self._down_after.total_seconds())
        healthy = all(networks.values()) and (not feeds or len(failing) < len(feeds)) and store_up
        fine = healthy and not failing and database["state"] == "ok"
        return {
            "status": "ok" if fine else ("degraded" if healthy else "down"),
            "database": database,
            "feeds": [
                {
                    "name": f.feed,
                    "healthy": f.healthy,
                    "consecutive_failures": f.consecutive_failures,
                    "last_success_at": f.last_success_at.isoformat() if f.last_success_at
                    else None,
                    "last_error": f.last_error,
                }
                for f in feeds
            ],
            "outbox": outbox,
            "networks": {name: {"connected": up} for name, up in networks.items()},
        }

    async def _read_store(self) -> dict[str, Any]:
        """Read the store within the time budget; a read still waiting is not started again."""
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._store.unit(read_store_health))
        done, _ = await asyncio.wait({self._reading}, timeout=self._budget)
        now = datetime.now(UTC)
        state = "busy"
        if done:
            reading, self._reading = self._reading, None
            try:
                self._last, self._last_answer, self._failure = reading.result(), now, None
                state = "ok"
            except Exception as exc:
                if self._failure is None:
                    log.warning("health: the database could not be read (%s)",
                                type(exc).__name__, exc_info=True)
                self._failure, state = type(exc).__name__, "error"
        since = self._last_answer or self._since
        silent = 0.0 if state == "ok" else (now - since).total_seconds()
        return {
            "state": state,
            "last_answer_at": self._last_answer.isoformat() if self._last_answer else None,
            "silent_seconds": round(silent, 1),
            **({"error": self._failure} if state == "error" else {}),
        }

    async def _healthz(self, request: web.Request) -> web.Response:
        body = await self.snapshot()
        return web.json_response(body, status=503 if body["status"] == "down" else 200)

    async def _prometheus(self, request: web.Request) -> web.Response:
        await self.snapshot()
        return web.Response(body=generate_latest(self._metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})
