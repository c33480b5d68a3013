"""A hub bot on the test Synapse, with the people who talk to it: the `synapse` and
`matrix_hub` fixtures of the Matrix tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app.bootstrap import Bot, build_bot
from bot.app.settings import Settings
from bot.channels.matrix_sync import MatrixGateway
from bot.domain.alerts import HubChannel
from bot.domain.clock import utc_now
from bot.domain.members import Network
from bot.domain.tlp import Tlp
from bot.feeds.config import FeedConfig
from bot.services.invites import create_invite
from tests.support.feedserver import FeedServer, rss
from tests.support.homeserver import (
    Account,
    MatrixUser,
    Synapse,
    SynapseUnavailable,
    in_ci,
    start_synapse,
)


@dataclass
class Hub:
    synapse: Synapse
    feeds: FeedServer
    home: Path
    bot_account: Account
    homeserver: str | None = None  # default: the Synapse itself (tests may put a proxy between)
    # More settings for the bot, e.g. {"admins": "@admin:…", "timezone": "Europe/Berlin"}.
    extra_settings: dict[str, Any] = field(default_factory=dict)
    bot: Bot | None = None
    stack: AsyncExitStack | None = None
    users: list[MatrixUser] = field(default_factory=list)
    _stop: asyncio.Event | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def bot_id(self) -> str:
        return self.bot_account.user_id

    @property
    def settings(self) -> Settings:
        base: dict[str, Any] = dict(
            data_dir=self.home, database_url=f"sqlite:///{self.home / 'hub.db'}",
            console=False, telegram_token=None,
            matrix_homeserver=self.homeserver or self.synapse.url,
            matrix_user=self.bot_id, matrix_password=self.bot_account.password,
            # These stories are about delivery: every entry of a first poll alerts here (the
            # backlog rule has its own tests in tests/integration/test_first_poll.py).
            backlog_days=3650,
        )
        return Settings(**(base | self.extra_settings))

    @property
    def gateway(self) -> MatrixGateway:
        assert self.bot is not None
        [gateway] = self.bot.gateways
        assert isinstance(gateway, MatrixGateway)
        return gateway

    async def start(self) -> Bot:
        self.stack = AsyncExitStack()
        feeds = [FeedConfig("cisa", self.feeds.url("/cisa.xml"), timedelta(minutes=5))]
        self.bot = await build_bot(self.settings, self.stack, feeds=feeds,
                                   receive_commands=True)
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(d.run(self._stop)) for d in self.bot.dispatchers]
        return self.bot

    async def stop(self) -> None:
        if self.bot is None or self.stack is None or self._stop is None:
            return
        for gateway in self.bot.gateways:
            await gateway.stop_receiving()
        self._stop.set()
        await asyncio.gather(*self._tasks)
        await self.stack.aclose()
        self.bot = None

    async def person(self) -> MatrixUser:
        user = self.synapse.user()
        self.users.append(user)
        return user

    async def dm(self, user: MatrixUser) -> str:
        """The user opens a direct chat with the bot; returns the room once the bot joined."""
        room = await user.create_dm(self.bot_id)
        await user.wait_until(lambda: self._joined(user, room))
        return room

    def _joined(self, user: MatrixUser, room: str) -> bool:
        members = user.client.rooms.get(room)
        return members is not None and self.bot_id in members.users and not members.users[
            self.bot_id].invited

    async def say(self, user: MatrixUser, room: str, text: str, timeout: float = 30) -> str:
        """The user writes in the room; returns the body of the bot's answer."""
        before = len(user.messages_in(room))
        await user.send(room, text)
        got = await user.wait_for_messages(room, before + 1, timeout)
        return got[-1].body

    async def link(self, user: MatrixUser, room: str, member: str) -> None:
        assert self.bot is not None
        code = create_invite(self.bot.store, member, utc_now())
        assert "now linked" in await self.say(user, room, f"/start {code}")

    async def member_subscribed(self, user: MatrixUser) -> str:
        """`user` links to Klinikum Nord in a direct chat and follows Dräger Infinity Delta."""
        assert self.bot is not None
        room = await self.dm(user)
        code = create_invite(self.bot.store, "Klinikum Nord", utc_now())
        assert "now linked" in await self.say(user, room, f"/start {code}")
        assert "Added Dräger | Infinity Delta" in await self.say(
            user, room, "/subscribe Dräger | Infinity Delta")
        return room

    async def hub_room(self, coordinator: MatrixUser, name: str, max_tlp: Tlp,
                       language: str | None = None) -> str:
        """A hub room configured with `max_tlp` (and `language`) that the bot was invited to
        and joined."""
        assert self.bot is not None
        room = await coordinator.create_room(name=name)
        with self.bot.store() as uow:
            uow.hub_channels.add(HubChannel(Network.MATRIX, room, max_tlp=max_tlp,
                                            language=language), utc_now())
            uow.commit()
        await coordinator.invite(room, self.bot_id)
        await coordinator.wait_until(lambda: self._joined(coordinator, room))
        return room


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """A started Synapse for the whole session: `register()`, `user()`, `override_ratelimit()`.

    Outside CI a machine that cannot install Synapse skips the Matrix tests; under CI=true
    they fail, so a broken install never passes unnoticed.
    """
    try:
        server: Synapse = start_synapse(tmp_path_factory.mktemp("synapse"))
    except SynapseUnavailable as exc:
        if in_ci():
            pytest.fail(f"CI needs Synapse for the Matrix tests: {exc}", pytrace=False)
        pytest.skip(f"no Synapse here: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def matrix_hub(tmp_path: Path, synapse: Synapse,
                     feed_server: FeedServer) -> AsyncIterator[Hub]:
    """The bot's own new account on Synapse, polling `/cisa.xml` of `feed_server` (served empty
    at first), its data in `tmp_path / "hub"`; not started: set `extra_settings` or
    `homeserver`, then `await matrix_hub.start()`. Stopped, its people signed out, afterwards."""
    feed_server.serve("/cisa.xml", rss([]))
    home = tmp_path / "hub"
    home.mkdir()
    hub = Hub(synapse, feed_server, home, synapse.register(synapse.unique_name("hubbot")))
    try:
        yield hub
    finally:
        await hub.stop()
        for user in hub.users:
            await user.close()
