"""TLP end to end over Telegram (issue 14, cases 1 and 2): feeds with configured TLPs and a CSAF
provider on the loopback feed server, hub groups of different clearances, a member, a
coordinator and an admin, the real ptb Application against the loopback Bot API server, a real
SQLite store. Nothing labelled above a chat's clearance reaches it, by any route."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.alerts import HubChannel
from bot.domain.clock import utc_now
from bot.domain.members import Network, Role
from bot.domain.products import ProductSpec
from bot.domain.tlp import Tlp
from bot.feeds.config import FeedConfig
from bot.services import registrations
from tests.support.feedserver import FeedServer, rss
from tests.support.shared_data import require_shared_data
from tests.support.stories import item
from tests.support.stories import kev_catalog as catalog
from tests.support.telegram_hub import StartTelegramHub, TelegramHub
from tests.support.telegram_server import SentMessage, TelegramServer

ALICE, CISO, ADMIN = 100001, 100002, 100003  # a member, the hub office's coordinator, an admin
CLEAR_GROUP, GREEN_GROUP = -1001000000001, -1001000000002
CVE = "CVE-2026-31337"
RED_ENTRY = item(1, "Dräger Infinity Delta: partner analysis RED-ONLY-WORDS",
                 "Exploit details for the hub only.", CVE).replace(
    "adv.example.org", "partner.example.org")
PUBLIC_ENTRY = item(2, "Dräger Infinity Delta: authentication bypass", "Public notice.", CVE)


def feed(name: str, feeds: FeedServer, tlp: Tlp, kind: str = "rss") -> FeedConfig:
    return FeedConfig(name, feeds.url(f"/{name}"), timedelta(hours=1), tlp=tlp, type=kind)


@pytest.fixture
async def hub(telegram_server: TelegramServer, feed_server: FeedServer,
              telegram_hub: StartTelegramHub) -> TelegramHub:
    for user in (ALICE, CISO, ADMIN):
        telegram_server.add_private_chat(user, first_name=f"user{user}")
    for group, title in ((CLEAR_GROUP, "Hub (CLEAR)"), (GREEN_GROUP, "Hub (GREEN)")):
        telegram_server.add_group(group, title, type="supergroup")
    for name in ("partner", "cisa", "amber-psirt"):
        feed_server.serve(f"/{name}", rss([]))
    feed_server.serve("/kev", catalog(), content_type="application/json")
    feed_server.serve("/amber-csaf", json.dumps({"feed": {"entry": []}}).encode(),
                      content_type="application/json")
    feeds = [feed("partner", feed_server, Tlp.RED), feed("cisa", feed_server, Tlp.CLEAR),
             feed("amber-psirt", feed_server, Tlp.AMBER),
             feed("amber-csaf", feed_server, Tlp.AMBER, "csaf"),
             feed("kev", feed_server, Tlp.CLEAR, "kev")]
    hub = await telegram_hub(feed_list=feeds,
                             admins=str(ADMIN))
    store, now = hub.bot.store, utc_now()
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, str(ALICE))], now)
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Dräger", "Infinity Delta"),
                          now)
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Philips", "IntelliVue MX40"),
                          now)
    registrations.add_member(store, "Hub Office", [(Network.TELEGRAM, str(CISO))], now)
    with store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(CLEAR_GROUP)), now)
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(GREEN_GROUP),
                                        max_tlp=Tlp.GREEN), now)
        uow.commit()
    assert hub.bot.exploitation is not None
    assert await hub.bot.exploitation.refresh_kev() == 0  # the catalog, before our CVE
    return hub


def texts(hub: TelegramHub, chat: int) -> list[str]:
    return [m.text or "" for m in hub.telegram.messages_to(chat)]


async def settled(hub: TelegramHub) -> None:
    """Everything queued has been sent (the dispatchers run on their own)."""
    for _ in range(100):
        with hub.bot.store() as uow:
            if not any(uow.outbox.backlog().get(("telegram", state))
                       for state in ("pending", "sending")):
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the outbox did not drain")


async def test_case_1_a_red_advisory_seen_again_in_a_clear_feed_then_known_exploited(
        hub: TelegramHub) -> None:
    hub.feeds.serve("/partner", rss([RED_ENTRY]))
    await hub.poll()
    [told] = await hub.telegram.wait_for_messages(CISO, 1)
    assert "RED-ONLY-WORDS" in told.text and "TLP:RED" in told.text
    assert "Matched 1 member, who was not sent it" in told.text
    assert "Klinikum" not in told.text and "Your product" not in told.text
    await hub.telegram.wait_for_messages(ADMIN, 1)

    hub.feeds.serve("/cisa", rss([PUBLIC_ENTRY]))  # the same CVE set: the same advisory
    await hub.poll()
    hub.feeds.serve("/kev", catalog(CVE), content_type="application/json")
    assert await hub.bot.exploitation.refresh_kev() == 2  # the coordinator and the admin
    _, escalation = await hub.telegram.wait_for_messages(CISO, 2)
    assert escalation.text.startswith(f"🚨 Now exploited in the wild: {CVE}")
    await hub.telegram.wait_for_messages(ADMIN, 2)
    await settled(hub)
    for chat in (CLEAR_GROUP, GREEN_GROUP, ALICE):
        assert not [t for t in texts(hub, chat)
                    if "RED-ONLY-WORDS" in t or "partner.example.org" in t], chat
    assert texts(hub, CLEAR_GROUP) == [] and texts(hub, ALICE) == []


async def test_case_1_reversed_a_red_copy_merged_after_a_clear_alert_is_not_escalated_below(
        hub: TelegramHub) -> None:
    hub.feeds.serve("/cisa", rss([PUBLIC_ENTRY]))
    await hub.poll()
    await hub.telegram.wait_for_messages(CLEAR_GROUP, 1)
    await hub.telegram.wait_for_messages(ALICE, 1)
    hub.feeds.serve("/partner", rss([RED_ENTRY]))
    await hub.poll()
    hub.feeds.serve("/kev", catalog(CVE), content_type="application/json")
    await hub.bot.exploitation.refresh_kev()
    messages = await hub.telegram.wait_for_messages(CISO, 2)
    escalation = messages[-1].text
    assert "Now exploited in the wild" in escalation
    assert "Not sent to 3 chats alerted earlier: the advisory is now TLP:RED" in escalation
    await settled(hub)
    assert len(texts(hub, CLEAR_GROUP)) == 1 and len(texts(hub, ALICE)) == 1
    assert not [t for chat in (CLEAR_GROUP, GREEN_GROUP, ALICE) for t in texts(hub, chat)
                if "RED-ONLY-WORDS" in t or "exploited" in t]


async def test_case_2_a_red_feeds_tlp_green_entry_never_reaches_a_green_channel(
        hub: TelegramHub) -> None:
    hub.feeds.serve("/partner", rss([item(5, "TLP:GREEN Dräger Infinity Delta: partner note",
                                          "Marked TLP:GREEN by its author.", "CVE-2026-5")]))
    await hub.poll()
    [told] = await hub.telegram.wait_for_messages(CISO, 1)
    assert "TLP:RED" in told.text and "partner note" in told.text
    await settled(hub)
    assert texts(hub, GREEN_GROUP) == [] and texts(hub, ALICE) == []


async def test_case_2_tlp_clear_in_an_amber_feed_stays_amber(hub: TelegramHub) -> None:
    hub.feeds.serve("/amber-psirt", rss([item(6, "TLP:CLEAR Dräger Infinity Delta: update",
                                              "Labelled TLP:CLEAR.", "CVE-2026-6")]))
    await hub.poll()
    [alert] = await hub.telegram.wait_for_messages(ALICE, 1)  # its own match: AMBER is fine
    assert "TLP:AMBER" in alert.text and "Dräger Infinity Delta: update" in alert.text
    await settled(hub)
    assert texts(hub, CLEAR_GROUP) == [] and texts(hub, GREEN_GROUP) == []


def unlabelled_document(feeds: FeedServer) -> None:
    """A real CISA document (Philips IntelliVue MX40) without its TLP label, released today,
    listed in the AMBER provider's ROLIE feed with its SHA-512."""
    data = json.loads((require_shared_data("csaf") / "icsma-17-255-01.json").read_text())
    del data["document"]["distribution"]["tlp"]
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data["document"]["tracking"]["initial_release_date"] = today
    data["document"]["tracking"]["current_release_date"] = today
    for revision in data["document"]["tracking"]["revision_history"]:
        revision["date"] = today
    body = json.dumps(data).encode()
    feeds.serve("/docs/icsma-17-255-01.json", body, content_type="application/json")
    feeds.serve("/docs/icsma-17-255-01.json.sha512",
                hashlib.sha512(body).hexdigest().encode() + b"  icsma-17-255-01.json\n",
                content_type="text/plain")
    document = feeds.url("/docs/icsma-17-255-01.json")
    feeds.serve("/amber-csaf", json.dumps({"feed": {"entry": [{
        "id": "ICSMA-17-255-01", "updated": today, "content": {"src": document},
        "link": [{"rel": "hash", "href": document + ".sha512"}]}]}}).encode(),
        content_type="application/json")


async def test_case_2_an_amber_providers_unlabelled_document_never_reaches_a_clear_channel(
        hub: TelegramHub) -> None:
    unlabelled_document(hub.feeds)
    await hub.poll()
    [alert] = await hub.telegram.wait_for_messages(ALICE, 1)
    assert "ICSMA-17-255-01" in alert.text and "TLP:AMBER" in alert.text
    await settled(hub)
    assert texts(hub, CLEAR_GROUP) == [] and texts(hub, GREEN_GROUP) == []
    assert "ICSMA-17-255-01" in (await member_asks(hub, "/latest")).text  # its own: AMBER


async def member_asks(hub: TelegramHub, command: str) -> SentMessage:
    before = len(hub.telegram.messages_to(ALICE))
    hub.telegram.user_sends(ALICE, command)
    return (await hub.telegram.wait_for_messages(ALICE, before + 1))[-1]
