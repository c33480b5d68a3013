"""Known exploitation end to end over Telegram: an advisory alerted to a member and the hub
channel, then CISA adds its CVE to the KEV catalog (served on loopback in the catalog's real
format): both get "now exploited in the wild" once. EPSS scores from a loopback API show in
alerts. Real ptb Application, fake Bot API server, real SQLite store."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from bot.domain.alerts import HubChannel
from bot.domain.clock import utc_now
from bot.domain.members import Network
from bot.domain.products import ProductSpec
from bot.feeds.config import FeedConfig
from bot.services import registrations
from tests.support.feedserver import FeedServer, rss
from tests.support.stories import kev_catalog as catalog
from tests.support.telegram_hub import StartTelegramHub, TelegramHub
from tests.support.telegram_server import TelegramServer

ALICE = 100001
HUB_GROUP = -1001234567890
CVE = "CVE-2026-31337"
ENTRY = (f"<item><title>Dräger Infinity Delta: authentication bypass</title>"
         f"<link>https://adv.example.org/1</link><guid>https://adv.example.org/1</guid>"
         f"<description>Dräger Infinity Delta: authentication bypass ({CVE}).</description>"
         f"<pubDate>Tue, 24 Nov 2026 12:00:00 +0000</pubDate></item>")


@pytest.fixture
async def hub(telegram_server: TelegramServer, feed_server: FeedServer,
              telegram_hub: StartTelegramHub) -> TelegramHub:
    telegram_server.add_private_chat(ALICE, first_name="Alice")
    telegram_server.add_group(HUB_GROUP, "Hub alerts", type="supergroup")
    feed_server.serve("/cisa.xml", rss([ENTRY]))
    feed_server.serve("/kev.json", catalog(), content_type="application/json")
    feed_server.serve("/epss", json.dumps({"status": "OK", "data": [
        {"cve": CVE, "epss": "0.734120000", "percentile": "0.991230000",
         "date": "2026-11-25"}]}).encode(), content_type="application/json")
    feeds = [FeedConfig("cisa", feed_server.url("/cisa.xml"), timedelta(hours=1)),
             FeedConfig("kev", feed_server.url("/kev.json"), timedelta(days=1), type="kev"),
             FeedConfig("epss", feed_server.url("/epss"), timedelta(days=1), type="epss")]
    hub = await telegram_hub(feed_list=feeds)
    registrations.add_member(hub.bot.store, "Klinikum Nord", [(Network.TELEGRAM, str(ALICE))],
                         utc_now())
    registrations.add_product(hub.bot.store, "Klinikum Nord",
                          ProductSpec("Dräger", "Infinity Delta"), utc_now())
    with hub.bot.store() as uow:
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(HUB_GROUP)), utc_now())
        uow.commit()
    return hub


async def test_a_cve_newly_known_exploited_escalates_the_alerts_already_sent(
        hub: TelegramHub) -> None:
    assert hub.bot.exploitation is not None
    assert await hub.bot.exploitation.refresh_kev() == 0  # first load: nothing alerted yet
    await hub.bot.poll_all()
    [alert] = await hub.telegram.wait_for_messages(ALICE, 1)
    assert "Dräger Infinity Delta: authentication bypass" in (alert.text or "")
    assert "EPSS 73.4%" in (alert.text or "")  # scored before the alert was written
    assert "KNOWN EXPLOITED" not in (alert.text or "")
    await hub.telegram.wait_for_messages(HUB_GROUP, 1)

    hub.feeds.serve("/kev.json", catalog(CVE), content_type="application/json")
    assert await hub.bot.exploitation.refresh_kev() == 2
    _, escalation = await hub.telegram.wait_for_messages(ALICE, 2)
    text = escalation.text or ""
    assert text.startswith(f"🚨 Now exploited in the wild: {CVE}")
    assert "ransomware" in text and "/affected" in text
    _, channel_escalation = await hub.telegram.wait_for_messages(HUB_GROUP, 2)
    assert (channel_escalation.text or "").startswith("🚨 Now exploited in the wild")
    assert "Klinikum" not in (channel_escalation.text or "")  # a channel never learns who

    # The same catalog again (and again after a restart of the job): nothing more.
    assert await hub.bot.exploitation.refresh_kev() == 0
    await asyncio.sleep(1.5)
    assert len(hub.telegram.messages_to(ALICE)) == 2
