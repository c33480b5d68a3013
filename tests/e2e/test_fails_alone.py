"""A message fails alone (issue 14): what no network would take — a feed link of kilobytes, a
line of `&` that grows fivefold when escaped, a stranger's flood of `&` — is made to fit or
failed with its reason, and never holds back the messages after it. One bot on both networks,
as `hubbot run` starts it: the loopback Bot API server for Telegram, the session's Synapse
for Matrix, the loopback feed server; a member with a chat on each, a hub channel on each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from xml.sax.saxutils import escape as xml_escape

import pytest

from bot.domain.alerts import HubChannel
from bot.domain.clock import utc_now
from bot.domain.members import Network
from bot.domain.products import ProductSpec
from bot.domain.tlp import Tlp
from bot.services import registrations
from tests.support.feedserver import rss
from tests.support.homeserver import MatrixUser, Message
from tests.support.matrix_hub import Hub
from tests.support.stories import item
from tests.support.telegram_server import TELEGRAM_TEST_TOKEN, SentMessage, TelegramServer

ALICE = 100001  # Klinikum Nord's member on Telegram
ADMIN = 100002  # the hub's admin, on Telegram
STRANGER = 100003  # linked to nobody
HUB_GROUP = -1001234567890
# A tracking link as some feeds carry them: 6,000 characters, full of `&`.
LONG_LINK = "https://adv.example.org/track?" + "&".join(f"utm_{i}=hub" for i in range(600))
CRITICAL = item(2, "Dräger Infinity Delta: remote code execution",
                "CVSS v3.1 base score 9.8", "CVE-2026-90001")
ARRIVES = 60.0  # seconds: generous, so that a loaded machine does not fail the test


def long_link_item() -> str:
    return (f"<item><title>Dräger Infinity Delta: tracking link</title>"
            f"<link>{xml_escape(LONG_LINK)}</link><guid>urn:adv:1</guid>"
            "<description>CVSS v3.1 base score 9.8 CVE-2026-90000</description>"
            "<pubDate>Tue, 14 Apr 2026 12:00:00 +0000</pubDate></item>")


@dataclass
class TwoNetworks:
    hub: Hub
    telegram: TelegramServer
    alice: MatrixUser  # Klinikum Nord's member on Matrix, in a direct room with the bot
    alice_dm: str
    coordinator: MatrixUser  # reads the Matrix hub room
    hub_room: str

    async def telegram_message(self, chat: int, has: Callable[[str], bool]) -> SentMessage:
        """The first message to `chat` whose text passes `has`, waiting for it."""
        deadline = time.monotonic() + ARRIVES
        while not (found := [m for m in self.telegram.messages_to(chat) if has(m.text or "")]):
            assert time.monotonic() < deadline, [m.text for m in self.telegram.messages_to(chat)]
            await asyncio.sleep(0.1)
        return found[0]

    async def matrix_message(self, user: MatrixUser, room: str,
                             has: Callable[[str], bool]) -> Message:
        found = await user.wait_until(
            lambda: [m for m in user.messages_in(room) if has(m.body)], ARRIVES)
        return found[0]

    async def critical_alert_everywhere(self) -> None:
        """The critical alert reaches both of Alice's chats and both hub channels."""
        critical = "Dräger Infinity Delta: remote code execution"
        await self.telegram_message(ALICE, lambda t: critical in t)
        await self.telegram_message(HUB_GROUP, lambda t: critical in t)
        await self.matrix_message(self.alice, self.alice_dm, lambda b: critical in b)
        await self.matrix_message(self.coordinator, self.hub_room, lambda b: critical in b)

    def outbox(self) -> dict[tuple[str, str], int]:
        assert self.hub.bot is not None
        with self.hub.bot.store() as uow:
            return uow.outbox.backlog()


@pytest.fixture
async def both(matrix_hub: Hub, telegram_server: TelegramServer) -> TwoNetworks:
    for user in (ALICE, ADMIN, STRANGER):
        telegram_server.add_private_chat(user, first_name=f"user{user}")
    telegram_server.add_group(HUB_GROUP, "Hub alerts", type="supergroup")
    hub = matrix_hub
    hub.extra_settings = {"telegram_token": TELEGRAM_TEST_TOKEN,
                          "telegram_base_url": telegram_server.bot_base_url,
                          "telegram_timeout": 2.0, "admins": str(ADMIN)}
    bot = await hub.start()
    registrations.add_member(bot.store, "Klinikum Nord", [(Network.TELEGRAM, str(ALICE))],
                         utc_now())
    alice, coordinator = await hub.person(), await hub.person()
    alice_dm = await hub.member_subscribed(alice)  # Klinikum Nord, Dräger Infinity Delta
    hub_room = await hub.hub_room(coordinator, "Hub alerts", Tlp.CLEAR)
    with bot.store() as uow:
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(HUB_GROUP)), utc_now())
        uow.commit()
    return TwoNetworks(hub, telegram_server, alice, alice_dm, coordinator, hub_room)


async def test_an_over_long_link_then_a_critical_alert_reaches_every_chat_and_channel(
        both: TwoNetworks) -> None:
    assert both.hub.bot is not None
    both.hub.feeds.serve("/cisa.xml", rss([long_link_item()]))
    await both.hub.bot.poll_all()
    both.hub.feeds.serve("/cisa.xml", rss([long_link_item(), CRITICAL]))
    await both.hub.bot.poll_all()
    await both.critical_alert_everywhere()

    # The long link's alert came too: its link shown as the host, the whole link one press
    # (Telegram's button) or one click (Matrix's anchor) away.
    for chat in (ALICE, HUB_GROUP):
        alert = await both.telegram_message(chat, lambda t: "tracking link" in t)
        assert "Read the advisory on adv.example.org: button “Open the advisory”" in (
            alert.text or "")
        assert {"text": "Open the advisory", "url": LONG_LINK} in alert.buttons
    for user, room in ((both.alice, both.alice_dm), (both.coordinator, both.hub_room)):
        alert = await both.matrix_message(user, room, lambda b: "tracking link" in b)
        assert f'<a href="{escape(LONG_LINK)}">adv.example.org</a>' in (
            alert.formatted_body or "")
    assert set(both.outbox()) == {("telegram", "sent"), ("matrix", "sent")}  # none retried


async def test_an_announcement_of_ampersands_reaches_everyone_whole_then_the_next_alert(
        both: TwoNetworks) -> None:
    assert both.hub.bot is not None
    flood = "&" * 2900  # 14,500 characters escaped: four Telegram messages
    both.telegram.user_sends(ADMIN, f"/announce --dm {flood}")
    await both.telegram_message(ADMIN, lambda t: "Send it?" in t)
    preview = [m.text or "" for m in both.telegram.messages_to(ADMIN)]
    assert len(preview) >= 4 and preview[0].startswith("Preview")
    assert "".join(preview).count("&") == len(flood)
    both.telegram.user_sends(ADMIN, "yes")
    await both.telegram_message(ADMIN, lambda t: t.startswith("Sent: the announcement"))
    both.hub.feeds.serve("/cisa.xml", rss([CRITICAL]))
    await both.hub.bot.poll_all()
    await both.critical_alert_everywhere()

    for chat in (ALICE, HUB_GROUP):  # the whole announcement, in order, then the alert
        texts = [m.text or "" for m in both.telegram.messages_to(chat)]
        first = next(i for i, t in enumerate(texts) if t.startswith("📣"))
        alert = next(i for i, t in enumerate(texts) if "remote code execution" in t)
        assert first + 4 <= alert and "".join(texts[first:alert]).count("&") == len(flood)
    for user, room in ((both.alice, both.alice_dm), (both.coordinator, both.hub_room)):
        post = await both.matrix_message(user, room, lambda b: b.startswith("📣"))
        assert post.body.count("&") == len(flood)
        assert post.formatted_body is not None and escape(flood) in post.formatted_body


async def test_a_stranger_cannot_jam_their_own_chat_with_a_flood_of_ampersands(
        both: TwoNetworks) -> None:
    def answered_last(texts: list[str]) -> bool:
        """Both commands answered: the answer to /help (naming /start) came last."""
        return len(texts) >= 2 and "start" in texts[-1]

    both.telegram.user_sends(STRANGER, "/timezone " + "&" * 2900)
    both.telegram.user_sends(STRANGER, "/help")
    deadline = time.monotonic() + ARRIVES
    while not answered_last([m.text or "" for m in both.telegram.messages_to(STRANGER)]):
        assert time.monotonic() < deadline, both.telegram.messages_to(STRANGER)
        await asyncio.sleep(0.1)

    stranger = await both.hub.person()
    dm = await both.hub.dm(stranger)
    await stranger.send(dm, "!timezone " + "&" * 2900)
    await stranger.send(dm, "!help")
    await stranger.wait_until(
        lambda: answered_last([m.body for m in stranger.messages_in(dm)]), ARRIVES)
    assert not any(state == "pending" for _, state in both.outbox())


async def test_a_reply_too_big_for_one_matrix_event_arrives_whole_in_several(
        both: TwoNetworks) -> None:
    assert both.hub.bot is not None
    models = [f"Monitor M{i:03d}" for i in range(99)]
    for model in models:  # 99 products, each name 300 characters of `&` and spaces more
        registrations.add_product(both.hub.bot.store, "Klinikum Nord",
                              ProductSpec("Dräger & Co", f"{model} " + "& " * 150), utc_now())
    alice, dm = both.alice, both.alice_dm
    await alice.sync()
    before = len(alice.messages_in(dm))
    await alice.send(dm, "!products")

    def answer() -> list[Message]:
        got = alice.messages_in(dm)[before:]
        return got if all(model in "".join(m.body for m in got) for model in models) else []

    parts = await alice.wait_until(answer, ARRIVES)  # about 150 KB: beyond one event
    assert len(parts) >= 2 and parts[0].body.startswith("Klinikum Nord's products (100):")
    html = "".join(p.formatted_body or "" for p in parts)
    assert all(escape((f"{model} " + "& " * 150).strip()) in html for model in models)
