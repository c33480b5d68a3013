"""A hub bot on the loopback Telegram Bot API server, with the people who talk to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest

from bot.app.bootstrap import Bot, build_bot
from bot.app.settings import Settings
from bot.domain.clock import utc_now
from bot.feeds.config import FeedConfig
from bot.services.invites import create_invite
from tests.support.feedserver import FeedServer, rss
from tests.support.telegram_server import TELEGRAM_TEST_TOKEN, SentMessage, TelegramServer


@dataclass
class TelegramHub:
    """The bot with `settings`, polling `feed_list`; stopped and started again on the same
    database by a test that restarts it."""

    settings: Settings
    telegram: TelegramServer
    feeds: FeedServer
    feed_list: list[FeedConfig]
    _bot: Bot | None = None
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def bot(self) -> Bot:
        assert self._bot is not None, "the bot is not running"
        return self._bot

    @property
    def running(self) -> bool:
        return self._bot is not None

    async def start(self) -> Bot:
        """Start the bot as `hubbot run` does (without its scheduler), its dispatchers running."""
        async with AsyncExitStack() as stack:
            bot = await build_bot(self.settings, stack, feeds=self.feed_list,
                                  receive_commands=True)
            self._stack = stack.pop_all()
        self._bot, self._stop = bot, asyncio.Event()
        self._tasks = [asyncio.create_task(d.run(self._stop)) for d in bot.dispatchers]
        # Running as from a restart: what the last stop left half-sent is pending again.
        await asyncio.gather(*(d.recovered.wait() for d in bot.dispatchers))
        return bot

    async def stop(self) -> None:
        bot, self._bot = self.bot, None
        for gateway in bot.gateways:
            await gateway.stop_receiving()
        self._stop.set()
        await asyncio.gather(*self._tasks)
        await self._stack.aclose()

    async def say(self, user: int, text: str, expect: int = 1, timeout: float = 8) -> str:
        """The user writes; returns the text of the bot's newest answer."""
        before = len(self.telegram.messages_to(user))
        self.telegram.user_sends(user, text)
        got = await self.telegram.wait_for_messages(user, before + expect, timeout)
        return got[-1].text or ""

    async def press(self, user: int, message: SentMessage, label: str) -> None:
        """The user presses the message's button with this label."""
        [command] = [b["callback_data"] for b in message.buttons if b["text"] == label]
        self.telegram.user_presses(user, message, command)

    async def link(self, user: int, member: str) -> str:
        """Links the user's chat to `member` with an invite code; returns the bot's answer."""
        code = create_invite(self.bot.store, member, utc_now())
        return await self.say(user, f"/start {code}")

    async def poll(self) -> None:
        """Every feed polled once, now."""
        await self.bot.poll_all()


@asynccontextmanager
async def running_telegram_hub(
    tmp_path: Path, telegram: TelegramServer, feeds: FeedServer, *,
    feed_list: list[FeedConfig] | None = None, **settings: Any,
) -> AsyncIterator[TelegramHub]:
    """The bot taking commands on `telegram`, its dispatchers running until the block ends (if
    it is running then). It polls `feed_list`, by default `/cisa.xml` of `feeds` (served empty
    at first); `settings` adds to its Settings."""
    if feed_list is None:
        feeds.serve("/cisa.xml", rss([]))
        feed_list = [FeedConfig("cisa", feeds.url("/cisa.xml"), timedelta(minutes=5))]
    config = Settings(**{
        "data_dir": tmp_path, "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
        "telegram_token": TELEGRAM_TEST_TOKEN, "telegram_base_url": telegram.bot_base_url,
        "telegram_timeout": 2.0, "console": False, "matrix_homeserver": None,
        # Stories of delivery: every entry of a first poll alerts (the backlog rule has its
        # own tests in tests/integration/test_first_poll.py).
        "backlog_days": 3650, **settings})
    hub = TelegramHub(config, telegram, feeds, feed_list)
    await hub.start()
    try:
        yield hub
    finally:
        if hub.running:
            await hub.stop()


class StartTelegramHub(Protocol):
    async def __call__(self, *, feed_list: list[FeedConfig] | None = None,
                       **settings: Any) -> TelegramHub: ...


@pytest.fixture
async def telegram_hub(tmp_path: Path, telegram_server: TelegramServer,
                       feed_server: FeedServer) -> AsyncIterator[StartTelegramHub]:
    """Starts the bot on the loopback Telegram server: `hub = await telegram_hub(**settings)`
    (see `running_telegram_hub`); every hub it started is stopped after the test."""
    async with AsyncExitStack() as stack:
        async def start(*, feed_list: list[FeedConfig] | None = None,
                        **settings: Any) -> TelegramHub:
            return await stack.enter_async_context(running_telegram_hub(
                tmp_path, telegram_server, feed_server, feed_list=feed_list, **settings))

        yield start


@pytest.fixture
async def telegram_server() -> AsyncIterator[TelegramServer]:
    """A started TelegramServer for TELEGRAM_TEST_TOKEN, Telegram's default flood limits.

    Wire ptb with `.base_url(server.bot_base_url).base_file_url(server.file_base_url)`.
    """
    async with TelegramServer(token=TELEGRAM_TEST_TOKEN) as server:
        yield server
