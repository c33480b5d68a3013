"""Members and coordinators use hubbot in Telegram: the real ptb Application against the
loopback Bot API server, feeds from the loopback feed server, a real SQLite store."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.domain.clock import utc_now
from bot.domain.members import Network, Role
from bot.domain.products import ProductSpec
from bot.services import registrations
from bot.services.chat_commands import NOT_LINKED
from tests.support.feedserver import rss
from tests.support.stories import item
from tests.support.telegram_hub import StartTelegramHub, TelegramHub
from tests.support.telegram_server import RateLimits, TelegramServer

ALICE = 100001
CISO = 100002  # the hub office's coordinator
HUB_GROUP = -1001234567890
DRAEGER = item(1, "Dräger Infinity Delta: remote code execution",
               "CVSS v3.1 base score 9.8", "CVE-2026-90001")


@pytest.fixture
async def hub(telegram_server: TelegramServer, telegram_hub: StartTelegramHub) -> TelegramHub:
    for user in (ALICE, CISO):
        telegram_server.add_private_chat(user, first_name=f"user{user}")
    telegram_server.add_group(HUB_GROUP, "Hub alerts", type="supergroup")
    hub = await telegram_hub()
    registrations.add_member(hub.bot.store, "Klinikum Nord", [], utc_now())
    registrations.add_member(hub.bot.store, "Hub Office", [(Network.TELEGRAM, str(CISO))],
                         utc_now())
    with hub.bot.store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.commit()
    return hub


async def test_member_links_subscribes_and_receives_the_alert(hub: TelegramHub) -> None:
    assert await hub.say(ALICE, "/help") == NOT_LINKED  # nothing of members' commands yet
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    assert "Added Dräger | Infinity Delta" in await hub.say(
        ALICE, "/subscribe Dräger | Infinity Delta")
    hub.feeds.serve("/cisa.xml", rss([DRAEGER, item(2, "Philips IntelliVue flaw")]))
    await hub.poll()
    [alert] = (await hub.telegram.wait_for_messages(ALICE, 4))[3:]
    assert alert.parse_mode == "HTML"
    assert "CRITICAL · CVSS 9.8" in alert.text
    assert "Dräger Infinity Delta: remote code execution" in alert.text
    assert "Your product: Dräger | Infinity Delta" in alert.text
    assert 'matched: product "Infinity Delta" in the title' in alert.text
    assert "Alert ID 1 · affected? /affected 1 yes|no|patched" in alert.text
    assert alert.buttons == [
        {"text": "Affected", "callback_data": "/affected 1 yes"},
        {"text": "Not affected", "callback_data": "/affected 1 no"},
        {"text": "Patched", "callback_data": "/affected 1 patched"},
        {"text": "Open the advisory", "url": "https://adv.example.org/1"},
    ]
    assert not alert.disable_notification
    await asyncio.sleep(1.5)
    assert len(hub.telegram.messages_to(ALICE)) == 4  # IntelliVue is not theirs
    # Pressing "Patched" answers the hub's question for the organisation.
    hub.telegram.user_presses(ALICE, alert, "/affected 1 patched")
    [answer] = (await hub.telegram.wait_for_messages(ALICE, 5))[4:]
    assert "Recorded: Klinikum Nord has patched alert 1" in answer.text


async def test_command_menu_is_registered_at_start(hub: TelegramHub) -> None:
    names = [c["command"] for c in hub.telegram.commands()]
    # Members' commands; coordinators' and admins' are in their /help, not everyone's menu.
    assert names == ["start", "help", "subscribe", "unsubscribe", "products", "severity",
                     "mute", "status", "latest", "affected", "digest", "meetings", "timezone",
                     "language", "report", "seen", "skip", "cancel", "rsvp"]


async def test_unlinked_user_is_politely_refused(hub: TelegramHub) -> None:
    assert await hub.say(ALICE, "/products") == NOT_LINKED
    assert "That invite code is not valid" in await hub.say(ALICE, "/start WRONGCODE123")
    # Only the refusal: no list of members' commands, no usage lines, no unknown command.
    for text in ("/help", "/frobnicate", "/subscribe", "/announce Hi"):
        assert await hub.say(ALICE, text) == NOT_LINKED


async def test_no_member_ever_sees_another_members_products(hub: TelegramHub) -> None:
    registrations.add_product(hub.bot.store, "Hub Office", ProductSpec("BD", "Alaris 8015"),
                          utc_now())
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    mine = await hub.say(ALICE, "/products")
    assert "Infinity Delta" in mine and "Alaris" not in mine
    theirs = await hub.say(CISO, "/products")
    assert "Alaris" in theirs and "Infinity" not in theirs


async def test_groups_are_not_answered_but_hub_channels_get_posts(hub: TelegramHub) -> None:
    with hub.bot.store() as uow:
        from bot.domain.alerts import HubChannel
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(HUB_GROUP)), utc_now())
        uow.commit()
    hub.telegram.user_sends(ALICE, "/products", chat_id=HUB_GROUP)
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.poll()
    [post] = await hub.telegram.wait_for_messages(HUB_GROUP, 1)
    assert "Dräger Infinity Delta: remote code execution" in post.text
    assert "Your product" not in post.text and "Klinikum" not in post.text
    await asyncio.sleep(1)
    assert len(hub.telegram.messages_to(HUB_GROUP)) == 1  # the group's /products: ignored


async def test_a_429_is_waited_out_and_nothing_is_lost(hub: TelegramHub) -> None:
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    hub.telegram.fail_next(ALICE, 429, retry_after=2)
    started = time.monotonic()
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.poll()
    messages = await hub.telegram.wait_for_messages(ALICE, 3, timeout=10)
    assert time.monotonic() - started >= 2
    assert "Infinity Delta" in messages[2].text
    assert hub.telegram.stats.too_many_requests == 1


async def test_the_servers_429s_are_waited_out_with_one_warning_a_wait_and_no_error(
        hub: TelegramHub, caplog: pytest.LogCaptureFixture) -> None:
    users = hub.telegram.add_private_chats(8, first_id=200001)
    for n, user in enumerate(users):
        registrations.add_member(hub.bot.store, f"Hospital {n}", [(Network.TELEGRAM, str(user))],
                             utc_now())
        registrations.add_product(hub.bot.store, f"Hospital {n}",
                              ProductSpec("Dräger", "Infinity Delta"), utc_now())
    # Stricter than Telegram: two messages at once, then one a second; the bot sends faster.
    hub.telegram.set_limits(RateLimits(overall_burst=2, overall_per_second=1.0))
    caplog.set_level(logging.DEBUG)
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.poll()
    for user in users:
        [alert] = await hub.telegram.wait_for_messages(user, 1, timeout=60)
        assert "Infinity Delta" in (alert.text or "")
    told = hub.telegram.stats.too_many_requests
    waits = [r.getMessage() for r in caplog.records
             if r.levelno == logging.WARNING and "429" in r.getMessage()]
    assert told >= 2 and 1 <= len(waits) < told, (told, waits)  # several sends told, one line
    assert waits[0].startswith("telegram: the server asks to slow down (429); sending waits")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


async def test_blocked_bot_marks_contact_inactive_and_tells_coordinators(
        hub: TelegramHub) -> None:
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    hub.telegram.block(ALICE)
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.poll()
    [notice] = await hub.telegram.wait_for_messages(CISO, 1, timeout=10)
    assert "A telegram contact of Klinikum Nord can no longer receive" in notice.text
    with hub.bot.store() as uow:
        assert uow.members.contact(Network.TELEGRAM, str(ALICE)).active is False
    hub.telegram.unblock(ALICE)
    assert "linked to Klinikum Nord" in await hub.say(ALICE, "/start")
    with hub.bot.store() as uow:
        assert uow.members.contact(Network.TELEGRAM, str(ALICE)).active is True


@pytest.mark.parametrize(("fault", "kwargs"), [
    ("status", {"status": 502, "description": "Bad Gateway"}),
    ("status", {"status": 500, "description": "Internal Server Error"}),
    ("drop", {}),
])
async def test_server_errors_and_lost_connections_are_retried(
        hub: TelegramHub, fault, kwargs) -> None:
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    if fault == "drop":
        hub.telegram.drop_connection_next(1)
    else:
        hub.telegram.fail_next(ALICE, times=2, **kwargs)
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.poll()
    messages = await hub.telegram.wait_for_messages(ALICE, 3, timeout=15)
    assert "Infinity Delta" in messages[2].text
    await asyncio.sleep(1)
    assert len(hub.telegram.messages_to(ALICE)) == 3  # delivered exactly once


async def test_a_send_that_times_out_is_retried_and_not_lost(hub: TelegramHub) -> None:
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    hub.telegram.delay(3)  # longer than the bot's 2 s timeout: it gives up and retries
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.poll()
    await asyncio.sleep(2.5)
    hub.telegram.delay(0)
    messages = await hub.telegram.wait_for_messages(ALICE, 3, timeout=15)
    await asyncio.sleep(2)
    alerts = [m for m in hub.telegram.messages_to(ALICE) if "Infinity Delta: remote" in m.text]
    # Telegram may have delivered the timed-out send too: at least once, at most twice.
    assert 1 <= len(alerts) <= 2 and "Infinity Delta" in messages[2].text
    with hub.bot.store() as uow:
        assert uow.outbox.backlog()[("telegram", "sent")] >= 3


async def test_alert_to_a_chat_telegram_does_not_know_is_given_up(hub: TelegramHub) -> None:
    registrations.add_member(hub.bot.store, "Ghost", [(Network.TELEGRAM, "999999")], utc_now())
    registrations.add_product(hub.bot.store, "Ghost", ProductSpec("Dräger", "Infinity Delta"),
                          utc_now())
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.poll()
    [notice] = await hub.telegram.wait_for_messages(CISO, 1, timeout=10)
    assert "contact of Ghost" in notice.text and "Chat not found" in notice.text


async def test_hostile_titles_are_shown_literally(hub: TelegramHub) -> None:
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    hostile = item(7, "Dräger Infinity Delta &lt;script&gt;alert(1)&lt;/script&gt; AT&amp;amp;T "
                      "*bold* _x_ [a](b) &lt;b&gt;unclosed &lt; 7")
    hub.feeds.serve("/cisa.xml", rss([hostile]))
    await hub.poll()
    alert = (await hub.telegram.wait_for_messages(ALICE, 3))[2]
    title = alert.text.splitlines()[1]
    assert title == "Dräger Infinity Delta AT&T *bold* _x_ [a](b) unclosed < 7"
    assert hub.telegram.stats.errors.get(400, 0) == 0  # Telegram accepted the HTML


async def test_an_alert_naming_many_products_is_split_and_complete(hub: TelegramHub) -> None:
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    models = [f"Infinity M{i:03d} Monitor" for i in range(60)]
    for model in models:
        registrations.add_product(hub.bot.store, "Klinikum Nord", ProductSpec("Dräger", model),
                              utc_now())
    hub.feeds.serve("/cisa.xml", rss([item(9, "Dräger monitors", ", ".join(models))]))
    await hub.poll()
    deadline = time.monotonic() + 15
    while not any(m.buttons for m in hub.telegram.messages_to(ALICE)):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    alert_parts = hub.telegram.messages_to(ALICE)[1:]
    assert len(alert_parts) >= 2
    text = "\n".join(p.text for p in alert_parts)
    assert all(model in text for model in models)
    assert alert_parts[-1].buttons and not alert_parts[0].buttons


async def test_an_alert_whose_link_telegram_refuses_as_a_button_comes_without_it(
        hub: TelegramHub) -> None:
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    hub.telegram.fail_next(ALICE, 400, "Bad Request: BUTTON_URL_INVALID")
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.poll()
    alert = (await hub.telegram.wait_for_messages(ALICE, 3, timeout=15))[2]
    assert "Dräger Infinity Delta: remote code execution" in (alert.text or "")
    assert [b["text"] for b in alert.buttons] == ["Affected", "Not affected", "Patched"]
    assert hub.telegram.stats.errors.get(400) == 1


async def test_muted_chat_gets_alerts_silently(hub: TelegramHub) -> None:
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    assert "silently until" in await hub.say(ALICE, "/mute 2h")
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.poll()
    alert = (await hub.telegram.wait_for_messages(ALICE, 4))[3]
    assert "Infinity Delta" in alert.text and alert.disable_notification


async def test_status_and_latest(hub: TelegramHub) -> None:
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.poll()
    await hub.telegram.wait_for_messages(ALICE, 3)
    status = await hub.say(ALICE, "/status")
    assert "Feeds: 1 of 1 healthy" in status and "Messages waiting for this chat: 0" in status
    latest = await hub.say(ALICE, "/latest")
    assert "Dräger Infinity Delta: remote code execution" in latest


async def test_tlp_amber_reaches_members_directly_but_only_amber_channels(
        hub: TelegramHub) -> None:
    from bot.domain.alerts import HubChannel
    from bot.domain.tlp import Tlp

    amber_group = -1009999
    hub.telegram.add_group(amber_group, "Hub partners (AMBER)", type="supergroup")
    with hub.bot.store() as uow:
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(HUB_GROUP)), utc_now())
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(amber_group), max_tlp=Tlp.AMBER),
                             utc_now())
        uow.commit()
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    amber = item(11, "TLP:AMBER Dräger Infinity Delta: partner notice")
    hub.feeds.serve("/cisa.xml", rss([amber]))
    await hub.poll()
    dm = (await hub.telegram.wait_for_messages(ALICE, 3))[2]
    assert "TLP:AMBER" in dm.text and "partner notice" in dm.text
    [post] = await hub.telegram.wait_for_messages(amber_group, 1)
    assert "partner notice" in post.text
    await asyncio.sleep(1.5)
    assert hub.telegram.messages_to(HUB_GROUP) == []  # a TLP:CLEAR channel never sees it


async def test_an_outage_queues_alerts_and_delivers_them_when_telegram_is_back(
    hub: TelegramHub, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.app.health import HealthServer

    health = HealthServer(hub.bot.boundary, hub.bot.metrics, hub.bot.networks_connected,
                          "127.0.0.1", 0)
    assert "now linked" in await hub.link(ALICE, "Klinikum Nord")
    await hub.say(ALICE, "/subscribe Dräger | Infinity Delta")
    hub.telegram.set_down(True)  # every Bot API call answers 502 Bad Gateway
    hub.feeds.serve("/cisa.xml", rss([DRAEGER, item(3, "Dräger Infinity Delta: second")]))
    await hub.poll()
    await asyncio.sleep(3)
    during = await health.snapshot()
    assert during["outbox"]["telegram"].get("pending", 0) >= 1
    assert during["networks"]["telegram"] == {"connected": False}
    assert "retry in" in caplog.text
    hub.telegram.set_down(False)
    messages = await hub.telegram.wait_for_messages(ALICE, 4, timeout=30)
    titles = [m.text.splitlines()[1] for m in messages[2:]]
    assert sorted(titles) == ["Dräger Infinity Delta: remote code execution",
                              "Dräger Infinity Delta: second"]
    assert (await health.snapshot())["networks"]["telegram"] == {"connected": True}
