"""The health and metrics endpoint on loopback: `/healthz` (JSON) and `/metrics` (Prometheus)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.app.metrics import Metrics
from bot.services.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        metrics: Metrics,
        networks: Callable[[], dict[str, bool]],
        host: str,
        port: int,
    ) -> None:
        self._uow = uow_factory
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
        server = site._server
        if server is not None and server.sockets:  # type: ignore[union-attr]
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self._host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def snapshot(self) -> dict[str, Any]:
        """The bot's health as data: feeds, outbox backlog, networks."""
        with self._uow() as uow:
            feeds = uow.feeds.all()
            backlog = uow.outbox.backlog()
        self._metrics.record_backlog(backlog)
        networks = self._networks()
        for name, up in networks.items():
            self._metrics.connected.labels(name).set(1 if up else 0)
        outbox: dict[str, dict[str, int]] = {}
        for (network, state), count in backlog.items():
            outbox.setdefault(network, {})[state] = count
        failing = [f for f in feeds if f.consecutive_failures]
        healthy = all(networks.values()) and (not feeds or len(failing) < len(feeds))
        return {
            "status": "ok" if healthy and not failing else ("degraded" if healthy else "down"),
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

    async def _healthz(self, request: web.Request) -> web.Response:
        body = self.snapshot()
        return web.json_response(body, status=503 if body["status"] == "down" else 200)

    async def _prometheus(self, request: web.Request) -> web.Response:
        self.snapshot()
        return web.Response(body=generate_latest(self._metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})
