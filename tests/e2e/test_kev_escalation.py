"""Known exploitation end to end over Telegram: an advisory alerted to a member and the hub
channel, then CISA adds its CVE to the KEV catalog (served on loopback in the catalog's real
format): both get "now exploited in the wild" once. EPSS scores from a loopback API show in
alerts. Real ptb Application, fake Bot API server, real SQLite store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer, rss
from shared_data import require_shared_data
from telegram_server import TELEGRAM_TEST_TOKEN, TelegramServer

from bot.app import Bot, build_bot
from bot.domain.alerts import HubChannel
from bot.domain.members import Network
from bot.domain.products import ProductSpec
from bot.feeds.config import FeedConfig
from bot.outbox import utc_now
from bot.services import catalogue
from bot.settings import Settings

ALICE = 100001
HUB_GROUP = -1001234567890
CVE = "CVE-2026-31337"
ENTRY = (f"<item><title>Dräger Infinity Delta: authentication bypass</title>"
         f"<link>https://adv.example.org/1</link><guid>https://adv.example.org/1</guid>"
         f"<description>Dräger Infinity Delta: authentication bypass ({CVE}).</description>"
         f"<pubDate>Tue, 24 Nov 2026 12:00:00 +0000</pubDate></item>")


def catalog(*cves: str) -> bytes:
    """A KEV catalog in the real format, with the real catalog's first entry and these CVEs."""
    real = json.loads((require_shared_data("kev") /
                       "known_exploited_vulnerabilities.json").read_text(encoding="utf-8"))
    first = real["vulnerabilities"][0]
    entries = [first] + [{**first, "cveID": cve, "vendorProject": "Dräger",
                          "product": "Infinity Delta", "dateAdded": "2026-11-25",
                          "knownRansomwareCampaignUse": "Known"} for cve in cves]
    return json.dumps({**real, "count": len(entries), "vulnerabilities": entries}).encode()


@dataclass
class Hub:
    bot: Bot
    telegram: TelegramServer
    feeds: FeedServer


@pytest.fixture
async def hub(tmp_path: Path, telegram_server: TelegramServer,
              feed_server: FeedServer) -> AsyncIterator[Hub]:
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
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        telegram_token=TELEGRAM_TEST_TOKEN, telegram_base_url=telegram_server.bot_base_url,
        telegram_timeout=2.0, console=False, matrix_homeserver=None,
    )
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        bot = await build_bot(settings, stack, feeds=feeds, receive_commands=True)
        tasks = [asyncio.create_task(d.run(stop)) for d in bot.dispatchers]
        catalogue.add_member(bot.store, "Klinikum Nord", [(Network.TELEGRAM, str(ALICE))],
                             utc_now())
        catalogue.add_product(bot.store, "Klinikum Nord",
                              ProductSpec("Dräger", "Infinity Delta"), utc_now())
        with bot.store() as uow:
            uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(HUB_GROUP)), utc_now())
            uow.commit()
        try:
            yield Hub(bot, telegram_server, feed_server)
        finally:
            for gateway in bot.gateways:
                await gateway.stop_receiving()
            stop.set()
            await asyncio.gather(*tasks)


async def test_a_cve_newly_known_exploited_escalates_the_alerts_already_sent(hub: Hub) -> None:
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
