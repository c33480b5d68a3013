"""Members and coordinators use hubbot in Matrix: the real bot against a real Synapse on
127.0.0.1, people as plain matrix-nio clients, feeds from the loopback feed server."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.domain.alerts import HubChannel
from bot.domain.clock import utc_now
from bot.domain.members import Network
from bot.services import registrations
from bot.services.chat_commands import NOT_LINKED
from tests.support.feedserver import rss
from tests.support.matrix_hub import Hub
from tests.support.stories import item

DRAEGER = item(1, "Dräger Infinity Delta: remote code execution",
               "CVSS v3.1 base score 9.8", "CVE-2026-90001")
# A hostile title: markup in a feed must reach members as text, never as HTML.
HOSTILE = item(3, "Dräger Infinity Delta &lt;script&gt;alert(1)&lt;/script&gt; AT&amp;amp;T "
               "&lt;a href=&quot;https://evil.example&quot;&gt;x&lt;/a&gt; "
               "&lt;b&gt;unclosed &lt; 7")


@pytest.fixture
async def hub(matrix_hub: Hub) -> Hub:
    bot = await matrix_hub.start()
    registrations.add_member(bot.store, "Klinikum Nord", [], utc_now())
    return matrix_hub


async def test_member_links_in_a_direct_chat_subscribes_and_receives_the_alert(hub: Hub) -> None:
    alice = await hub.person()
    room = await hub.dm(alice)
    await hub.link(alice, room, "Klinikum Nord")
    assert "Added Dräger | Infinity Delta" in await hub.say(
        alice, room, "!subscribe Dräger | Infinity Delta")  # "!" as well as "/"
    hub.feeds.serve("/cisa.xml", rss([DRAEGER, item(2, "Philips IntelliVue flaw"), HOSTILE]))
    assert hub.bot is not None
    await hub.bot.poll_all()
    messages = await alice.wait_for_messages(room, 4)
    alerts = sorted(messages[2:], key=lambda m: m.body)
    assert len(alerts) == 2, [m.body for m in messages]
    draeger, hostile = (alerts if "remote code" in alerts[0].body else alerts[::-1])
    assert draeger.content["msgtype"] == "m.text"
    assert draeger.content["format"] == "org.matrix.custom.html"
    assert draeger.body.startswith("[CRITICAL (CVSS 9.8)] Dräger Infinity Delta: remote code")
    assert "Your product: Dräger | Infinity Delta" in draeger.body
    html = draeger.formatted_body or ""
    assert "<b>CRITICAL · CVSS 9.8</b>" in html
    assert '<a href="https://adv.example.org/1">Read the advisory</a>' in html
    # The hostile title is shown literally: escaped in HTML, untouched in the plain body.
    # Feed markup is stripped to text by the parser; what is left is text, escaped in HTML.
    assert "Dräger Infinity Delta AT&T x unclosed < 7" in hostile.body
    hostile_html = hostile.formatted_body or ""
    assert "<b>Dräger Infinity Delta AT&amp;T x unclosed &lt; 7</b>" in hostile_html
    assert "<script" not in hostile_html and "evil.example" not in hostile_html
    await asyncio.sleep(1)
    assert len(alice.messages_in(room)) == 4  # IntelliVue is not theirs


async def test_unlinked_user_is_politely_refused(hub: Hub) -> None:
    eve = await hub.person()
    room = await hub.dm(eve)
    # On Matrix the bot writes its commands with "!" (Element runs "/…" itself).
    assert await hub.say(eve, room, "/products") == NOT_LINKED.replace("/start", "!start")
    assert "That invite code is not valid" in await hub.say(eve, room, "/start WRONGCODE123")
    # Only the refusal: no list of members' commands, no usage lines, no unknown command.
    for text in ("!help", "!frobnicate", "!subscribe"):
        assert await hub.say(eve, room, text) == NOT_LINKED.replace("/start", "!start")
    await eve.send(room, "hello, anybody there?")  # plain text is not answered
    await asyncio.sleep(1)
    await eve.sync()
    assert len(eve.messages_in(room)) == 5


async def test_member_added_by_matrix_id_gets_alerts_in_a_room_the_bot_opens(hub: Hub) -> None:
    bob = await hub.person()
    assert hub.bot is not None
    registrations.add_member(hub.bot.store, "Klinik Süd", [(Network.MATRIX, bob.user_id)],
                         utc_now())
    registrations.add_product(hub.bot.store, "Klinik Süd", _spec("Dräger", "Infinity Delta"),
                          utc_now())
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.bot.poll_all()
    room = await bob.wait_for_invite()
    await bob.join(room)
    [alert] = await bob.wait_for_messages(room, 1)
    assert "Dräger Infinity Delta: remote code execution" in alert.body
    assert "linked to Klinik Süd" in await hub.say(bob, room, "/start")


async def test_hub_room_gets_posts_and_is_never_answered(hub: Hub) -> None:
    coordinator = await hub.person()
    alice = await hub.person()
    room = await coordinator.create_room(invite=(alice.user_id,), name="Hub alerts")
    assert hub.bot is not None
    with hub.bot.store() as uow:  # `hubbot channel add matrix ROOM`, then the invite
        uow.hub_channels.add(HubChannel(Network.MATRIX, room), utc_now())
        uow.commit()
    await coordinator.invite(room, hub.bot_id)
    await coordinator.wait_until(lambda: hub._joined(coordinator, room))
    await alice.join(await alice.wait_for_invite())
    await alice.send(room, "/products")
    dm = await hub.dm(alice)
    await hub.link(alice, dm, "Klinikum Nord")
    await hub.say(alice, dm, "/subscribe Dräger | Infinity Delta")
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.bot.poll_all()
    posts = await coordinator.wait_until(
        lambda: [m for m in coordinator.messages_in(room) if m.sender == hub.bot_id])
    assert "Dräger Infinity Delta: remote code execution" in posts[0].body
    assert "Klinikum" not in posts[0].body and "Your product" not in posts[0].body
    assert "Klinikum" not in (posts[0].formatted_body or "")
    await asyncio.sleep(1)
    await coordinator.sync()
    from_bot = [m for m in coordinator.messages_in(room) if m.sender == hub.bot_id]
    assert len(from_bot) == 1  # alice's /products in the hub room was not answered


async def test_invite_to_an_unconfigured_room_is_declined(hub: Hub) -> None:
    stranger = await hub.person()
    room = await stranger.create_room(invite=(hub.bot_id,), name="Random chat")
    deadline = time.monotonic() + 10
    while await stranger.membership(room, hub.bot_id) != "leave":
        assert time.monotonic() < deadline, "the bot did not decline the invite"
        await asyncio.sleep(0.2)


async def test_restart_neither_replays_old_commands_nor_misses_new_ones(hub: Hub) -> None:
    alice = await hub.person()
    room = await hub.dm(alice)
    await hub.link(alice, room, "Klinikum Nord")
    await hub.say(alice, room, "/subscribe Dräger | Infinity Delta")
    await hub.stop()
    # While the bot is down, a command is sent ...
    await alice.send(room, "/subscribe BD | Alaris 8015")
    await hub.start()
    # ... and answered once after the restart; nothing before it is answered again.
    await alice.wait_for_messages(room, 3)
    assert "Klinikum Nord's products (2)" in await hub.say(alice, room, "/products")
    await asyncio.sleep(1)
    await alice.sync()
    bodies = [m.body for m in alice.messages_in(room)]
    assert len(bodies) == 4, bodies
    assert "Added BD | Alaris 8015" in bodies[2]


async def test_a_429_is_waited_out_and_nothing_is_lost(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await hub.person()
    room = await hub.dm(alice)
    await hub.link(alice, room, "Klinikum Nord")
    await hub.say(alice, room, "/subscribe Dräger | Infinity Delta")
    hub.synapse.override_ratelimit(hub.bot_id, per_second=1, burst_count=1)
    feed = [item(10 + n, f"Dräger Infinity Delta issue {n}") for n in range(4)]
    hub.feeds.serve("/cisa.xml", rss(feed))
    started = time.monotonic()
    assert hub.bot is not None
    await hub.bot.poll_all()
    messages = await alice.wait_for_messages(room, 6, timeout=30)
    assert time.monotonic() - started >= 2  # the server's retry-after was honoured
    titles = sorted(m.body.splitlines()[0] for m in messages[2:])
    assert titles == [f"[SEVERITY UNKNOWN] Dräger Infinity Delta issue {n}" for n in range(4)]
    with hub.bot.store() as uow:
        assert uow.outbox.backlog().get(("matrix", "sent")) == 6
    waits = [r for r in caplog.messages if "matrix: the server asks to slow down (429)" in r]
    assert waits, "expected at least one 429 from the low rate limit"
    await asyncio.sleep(1)
    await alice.sync()
    assert len(alice.messages_in(room)) == 6  # each exactly once


async def test_a_retried_send_with_the_same_transaction_id_is_delivered_once(hub: Hub) -> None:
    alice = await hub.person()
    room = await hub.dm(alice)
    client = hub.gateway.session.client
    content = {"msgtype": "m.text", "body": "once"}
    first = await client.room_send(room, "m.room.message", content, tx_id="hubbot-777")
    again = await client.room_send(room, "m.room.message", content, tx_id="hubbot-777")
    assert first.event_id == again.event_id
    await asyncio.sleep(0.5)
    assert [m.body for m in await alice.wait_for_messages(room, 1)] == ["once"]
    await asyncio.sleep(1)
    await alice.sync()
    assert len(alice.messages_in(room)) == 1


def _spec(vendor: str, product: str):  # type: ignore[no-untyped-def]
    from bot.domain.products import ProductSpec

    return ProductSpec(vendor, product)

