"""Telegram, webhook mode: the HTTP server Telegram POSTs updates to.

python-telegram-bot's own webhook server compares the secret token with `!=` (not in constant
time) and logs every request body at DEBUG, so the bot serves the webhook itself (aiohttp, as
ptb's custom-webhook examples do): a request without the right
`X-Telegram-Bot-Api-Secret-Token` is answered 403 before its body is read, and never reaches the
Application's update queue or the command service.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PATH = "/telegram"
MAX_BODY = 1024 * 1024  # an update is a few KB; Telegram never sends more
# A refused request is logged at most this often (with a count), so a flood cannot fill the log.
REFUSAL_LOG_INTERVAL = 60.0


class TelegramWebhook:
    """Takes Telegram's POSTs on `listen:port` + PATH and queues their updates."""

    def __init__(self, application: Application, listen: str, port: int,  # type: ignore[type-arg]
                 secret: str) -> None:
        if not secret:
            raise ValueError("the webhook needs its secret token")
        self._application = application
        self._listen, self.port = listen, port
        self._secret = secret.encode()
        self._runner: web.AppRunner | None = None
        self._refused = 0
        self._refusal_logged_at: float | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(PATH, self._on_post)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._listen, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def _on_post(self, request: web.Request) -> web.Response:
        supplied = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(supplied, self._secret):
            self._log_refusal(request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            data: Any = json.loads(await request.read())
            update = Update.de_json(data, self._application.bot)
        except web.HTTPRequestEntityTooLarge:
            raise
        except Exception:
            log.warning("Telegram webhook: a request with the right secret held no readable "
                        "update; ignored")
            return web.Response(status=400, text="not an update")
        if update is not None:
            await self._application.update_queue.put(update)
        return web.Response(status=200, text="ok")

    def _log_refusal(self, remote: str | None) -> None:
        self._refused += 1
        now = time.monotonic()
        if (self._refusal_logged_at is not None
                and now - self._refusal_logged_at < REFUSAL_LOG_INTERVAL):
            return
        log.warning("Telegram webhook: refused %d request(s) without the right secret token "
                    "(the latest from %s); nothing of them was read", self._refused,
                    remote or "?")
        self._refused, self._refusal_logged_at = 0, now
