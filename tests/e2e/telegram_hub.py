"""A hub bot on the loopback Telegram Bot API server, with the people who talk to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from feedserver import FeedServer, rss
from telegram_server import TELEGRAM_TEST_TOKEN, TelegramServer

from bot.app import Bot, build_bot
from bot.feeds.config import FeedConfig
from bot.outbox import utc_now
from bot.services.invites import create_invite
from bot.settings import Settings


def item(n: int, title: str, body: str = "", cves: str = "") -> str:
    return (f"<item><title>{title}</title><link>https://adv.example.org/{n}</link>"
            f"<guid>https://adv.example.org/{n}</guid><description>{body} {cves}</description>"
            "<pubDate>Tue, 14 Apr 2026 12:00:00 +0000</pubDate></item>")


@dataclass
class TelegramHub:
    bot: Bot
    telegram: TelegramServer
    feeds: FeedServer

    async def say(self, user: int, text: str, expect: int = 1, timeout: float = 8) -> str:
        """The user writes; returns the text of the bot's newest answer."""
        before = len(self.telegram.messages_to(user))
        self.telegram.user_sends(user, text)
        got = await self.telegram.wait_for_messages(user, before + expect, timeout)
        return got[-1].text or ""

    async def link(self, user: int, member: str) -> str:
        """Links the user's chat to `member` with an invite code; returns the bot's answer."""
        code = create_invite(self.bot.store, member, utc_now())
        return await self.say(user, f"/start {code}")


@asynccontextmanager
async def telegram_hub(
    tmp_path: Path, telegram: TelegramServer, feeds: FeedServer, **settings: Any,
) -> AsyncIterator[TelegramHub]:
    """The bot taking commands on `telegram`, polling `/cisa.xml` of `feeds` (empty at first),
    its dispatchers running until the block ends; `settings` adds to its Settings."""
    feeds.serve("/cisa.xml", rss([]))
    config = Settings(**{
        "data_dir": tmp_path, "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
        "telegram_token": TELEGRAM_TEST_TOKEN, "telegram_base_url": telegram.bot_base_url,
        "telegram_timeout": 2.0, "console": False, "matrix_homeserver": None, **settings})
    feed_list = [FeedConfig("cisa", feeds.url("/cisa.xml"), timedelta(minutes=5))]
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        bot = await build_bot(config, stack, feeds=feed_list, receive_commands=True)
        tasks = [asyncio.create_task(d.run(stop)) for d in bot.dispatchers]
        try:
            yield TelegramHub(bot, telegram, feeds)
        finally:
            for gateway in bot.gateways:
                await gateway.stop_receiving()
            stop.set()
            await asyncio.gather(*tasks)
