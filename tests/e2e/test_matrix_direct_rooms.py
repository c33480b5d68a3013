"""A member's direct room on Matrix stays private: when it gains a third member (invited or
joined), the bot stops using it for the member, says why, leaves it, and reaches the member in a
new direct room. The real bot against a real Synapse on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from nio import RoomCreateResponse, RoomPreset

from bot.channels.matrix_sync import NO_LONGER_PRIVATE
from bot.domain.clock import utc_now
from bot.domain.members import Network
from bot.domain.products import ProductSpec
from bot.services import registrations
from tests.support.feedserver import rss
from tests.support.homeserver import MatrixUser
from tests.support.matrix_hub import Hub
from tests.support.stories import item

DRAEGER = item(1, "Dräger Infinity Delta: remote code execution",
               "CVSS v3.1 base score 9.8", "CVE-2026-90001")


@pytest.fixture
async def hub(matrix_hub: Hub) -> Hub:
    bot = await matrix_hub.start()
    registrations.add_member(bot.store, "Klinikum Nord", [], utc_now())
    return matrix_hub


async def _bot_left(hub: Hub, user: MatrixUser, room: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while await user.membership(room, hub.bot_id) != "leave":
        assert time.monotonic() < deadline, "the bot stayed in the shared room"
        await asyncio.sleep(0.2)


async def _alert_reaches_only_a_new_direct_room(hub: Hub, alice: MatrixUser, old_room: str,
                                                mallory: MatrixUser) -> None:
    """The next alert opens a new direct room with alice; the old room (mallory in it now)
    gets nothing of hers, and commands are answered in the new room."""
    assert hub.bot is not None
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.bot.poll_all()
    new_room = await alice.wait_for_invite()
    assert new_room != old_room
    await alice.join(new_room)
    [alert] = await alice.wait_for_messages(new_room, 1)
    assert "Dräger Infinity Delta: remote code execution" in alert.body
    assert "Klinikum Nord's products (1)" in await hub.say(alice, new_room, "!products")
    await asyncio.sleep(1)
    await mallory.sync()
    await alice.sync()
    # In the old room: the two answers before, the goodbye, and nothing since.
    from_bot = [m.body for m in alice.messages_in(old_room) if m.sender == hub.bot_id]
    assert len(from_bot) == 3 and from_bot[2] == NO_LONGER_PRIVATE, from_bot
    assert not any("remote code execution" in m.body for m in mallory.messages_in(old_room))


async def test_a_member_inviting_someone_into_the_direct_room_moves_the_bot_out(
        hub: Hub) -> None:
    alice, mallory = await hub.person(), await hub.person()
    room = await hub.member_subscribed(alice)  # linked, following Dräger Infinity Delta
    await alice.invite(room, mallory.user_id)  # only invited: already more than two
    await _bot_left(hub, alice, room)
    [*_, told] = await alice.wait_for_messages(room, 3)
    assert told.body == NO_LONGER_PRIVATE and told.sender == hub.bot_id
    await mallory.join(room)
    await alice.send(room, "!products")  # the bot is gone: nothing answers here any more
    await _alert_reaches_only_a_new_direct_room(hub, alice, room, mallory)
    assert hub.bot is not None
    with hub.bot.store() as uow:
        assert uow.matrix_rooms.room_for(alice.user_id) not in (None, room)


async def test_a_room_that_gained_a_member_while_the_bot_was_down_is_left_at_start(
        hub: Hub) -> None:
    alice, mallory = await hub.person(), await hub.person()
    room = await hub.member_subscribed(alice)
    await hub.stop()
    await alice.invite(room, mallory.user_id)
    await mallory.join(room)  # joined, not only invited, while no one watched
    await hub.start()
    await _bot_left(hub, alice, room)
    await _alert_reaches_only_a_new_direct_room(hub, alice, room, mallory)


async def test_a_direct_chat_opened_with_a_third_person_invited_is_never_the_members(
        hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.matrix_sync")
    alice, mallory = await hub.person(), await hub.person()
    assert hub.bot is not None
    registrations.add_member(hub.bot.store, "Klinik Süd", [(Network.MATRIX, alice.user_id)],
                         utc_now())
    registrations.add_product(hub.bot.store, "Klinik Süd", ProductSpec("Dräger", "Infinity Delta"),
                          utc_now())
    answer = await alice.client.room_create(
        is_direct=True, invite=[hub.bot_id, mallory.user_id],
        preset=RoomPreset.trusted_private_chat)
    assert isinstance(answer, RoomCreateResponse)
    room = answer.room_id
    await _bot_left(hub, alice, room)
    # Left as soon as it joined, before any sync could show the room to it: never the
    # member's room, not even for a moment.
    assert any("has more than two members; leaving it" in m for m in caplog.messages)
    assert not any("gained another member" in m for m in caplog.messages)
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.bot.poll_all()
    new_room = await alice.wait_for_invite()
    assert new_room != room
    await alice.join(new_room)
    [alert] = await alice.wait_for_messages(new_room, 1)
    assert "Dräger Infinity Delta: remote code execution" in alert.body
    await mallory.join(room)
    assert not any("remote code" in m.body for m in mallory.messages_in(room))


async def test_a_direct_room_opened_just_before_a_crash_is_taken_up_not_opened_again(
        hub: Hub) -> None:
    """The bot was killed after the homeserver made the member's direct room and before the
    bot noted it: after the restart the member is reached in that room, not in a second one."""
    alice = await hub.person()
    assert hub.bot is not None
    registrations.add_member(hub.bot.store, "Labor Süd", [(Network.MATRIX, alice.user_id)],
                         utc_now())
    registrations.add_product(hub.bot.store, "Labor Süd", ProductSpec("Dräger", "Infinity Delta"),
                          utc_now())
    opened = await hub.gateway.session.client.room_create(
        is_direct=True, invite=[alice.user_id], preset=RoomPreset.trusted_private_chat)
    assert isinstance(opened, RoomCreateResponse)
    await hub.stop()  # as if killed: the room exists, the bot's database does not know it
    await hub.start()
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.bot.poll_all()
    assert await alice.wait_for_invite() == opened.room_id
    await alice.join(opened.room_id)
    [alert] = await alice.wait_for_messages(opened.room_id, 1)
    assert "Dräger Infinity Delta: remote code execution" in alert.body
    await alice.sync()
    assert set(alice.client.rooms) == {opened.room_id}  # no second room, joined or invited
