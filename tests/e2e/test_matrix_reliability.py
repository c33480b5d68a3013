"""Matrix delivery that must be trustworthy: TLP limits on hub rooms, and an outage of the
homeserver. The real bot against a real Synapse on 127.0.0.1 (the session's `synapse`),
people as plain matrix-nio clients, feeds from the loopback feed server.

The outage is a loopback TCP proxy between the bot and Synapse that the test cuts (the
listening socket is closed, open connections are reset: connection refused, as with a stopped
homeserver) and restores on the same port; the people keep talking to Synapse directly, so the
session's Synapse, shared with the other Matrix tests, is never stopped.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.app.health import HealthServer
from bot.domain.clock import utc_now
from bot.domain.tlp import Tlp
from bot.services import registrations
from tests.support.feedserver import rss
from tests.support.homeserver import Synapse
from tests.support.matrix_hub import Hub


def item(n: int, title: str, body: str = "") -> str:
    return (f"<item><title>{title}</title><link>https://adv.example.org/{n}</link>"
            f"<guid>https://adv.example.org/{n}</guid><description>{body}</description>"
            "<pubDate>Tue, 14 Apr 2026 12:00:00 +0000</pubDate></item>")


class TcpProxy:
    """127.0.0.1:port → target; `cut()` refuses and resets connections, `restore()` undoes it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


async def _started(hub: Hub, homeserver: str | None) -> Hub:
    hub.homeserver = homeserver
    bot = await hub.start()
    registrations.add_member(bot.store, "Klinikum Nord", [], utc_now())
    return hub


@pytest.fixture
async def hub(matrix_hub: Hub) -> Hub:
    return await _started(matrix_hub, None)


async def test_tlp_amber_reaches_the_member_directly_but_only_amber_hub_rooms(hub: Hub) -> None:
    coordinator = await hub.person()
    alice = await hub.person()
    clear_room = await hub.hub_room(coordinator, "Hub alerts", Tlp.CLEAR)
    amber_room = await hub.hub_room(coordinator, "Hub partners (AMBER)", Tlp.AMBER)
    dm = await hub.member_subscribed(alice)
    hub.feeds.serve("/cisa.xml", rss([item(11, "TLP:AMBER Dräger Infinity Delta: partner notice")]))
    assert hub.bot is not None
    await hub.bot.poll_all()
    alert = (await alice.wait_for_messages(dm, 3))[2]
    assert "TLP:AMBER" in alert.body and "partner notice" in alert.body
    assert "Your product: Dräger | Infinity Delta" in alert.body

    def bot_posts(room: str) -> list[str]:
        return [m.body for m in coordinator.messages_in(room) if m.sender == hub.bot_id]

    [post] = await coordinator.wait_until(lambda: bot_posts(amber_room))
    assert "partner notice" in post and "Klinikum" not in post
    await asyncio.sleep(1.5)
    await coordinator.sync()
    assert bot_posts(clear_room) == []  # a TLP:CLEAR room never sees it
    assert len(bot_posts(amber_room)) == 1
    await alice.sync()
    assert len(alice.messages_in(dm)) == 3


@pytest.fixture
async def hub_behind_proxy(synapse: Synapse, matrix_hub: Hub):
    proxy = TcpProxy(synapse.port)
    await proxy.start()
    hub = await _started(matrix_hub, proxy.url)
    try:
        yield hub, proxy
    finally:
        if not proxy.listening:
            await proxy.restore()
        await hub.stop()
        await proxy.cut()


async def test_a_homeserver_outage_queues_alerts_and_delivers_them_once_when_it_is_back(
    hub_behind_proxy: tuple[Hub, TcpProxy], caplog: pytest.LogCaptureFixture
) -> None:
    hub, proxy = hub_behind_proxy
    assert hub.bot is not None
    health = HealthServer(hub.bot.boundary, hub.bot.metrics, hub.bot.networks_connected,
                          "127.0.0.1", 0)
    alice = await hub.person()
    dm = await hub.member_subscribed(alice)
    # Alice has read both answers; the bot records them as sent once Synapse's reply is in.
    await _health_until(health, lambda h: h["outbox"]["matrix"].get("sent") == 2)
    assert (await health.snapshot())["networks"]["matrix"] == {"connected": True}
    await proxy.cut()  # Synapse is unreachable for the bot from here on
    started = time.monotonic()
    hub.feeds.serve("/cisa.xml", rss([
        item(1, "Dräger Infinity Delta: remote code execution", "CVSS v3.1 base score 9.8"),
        item(2, "Dräger Infinity Delta: second")]))
    await hub.bot.poll_all()
    await _health_until(health, lambda h: "retry in" in caplog.text
                 and h["networks"]["matrix"] == {"connected": False})
    await asyncio.sleep(max(0.0, 5 - (time.monotonic() - started)))  # an outage of 5 s at least
    during = await health.snapshot()
    assert during["networks"]["matrix"] == {"connected": False}
    assert during["outbox"]["matrix"].get("pending", 0) == 2, during["outbox"]
    assert during["status"] == "down"
    await alice.sync()
    assert len(alice.messages_in(dm)) == 2  # nothing got through
    await proxy.restore()
    outage = time.monotonic() - started
    # The backoff grows with the outage, and a loaded machine makes the outage longer.
    messages = await alice.wait_for_messages(dm, 4, timeout=120)
    titles = sorted(m.body.splitlines()[0] for m in messages[2:])
    assert titles == ["[CRITICAL (CVSS 9.8)] Dräger Infinity Delta: remote code execution",
                      "[SEVERITY UNKNOWN] Dräger Infinity Delta: second"], titles
    await _health_until(health, lambda h: h["outbox"]["matrix"].get("sent") == 4)
    await asyncio.sleep(1.5)
    await alice.sync()
    assert len(alice.messages_in(dm)) == 4, [m.body for m in alice.messages_in(dm)]  # once each
    after = await health.snapshot()
    assert after["networks"]["matrix"] == {"connected": True}
    assert after["outbox"]["matrix"].get("pending", 0) == 0
    assert after["outbox"]["matrix"]["sent"] == 4
    assert outage >= 5


async def _health_until(health: HealthServer, holds, timeout: float = 120) -> None:
    """Wait until the health snapshot satisfies `holds`; the timeout only guards a hang."""
    deadline = time.monotonic() + timeout
    while not holds(await health.snapshot()):
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.05)

