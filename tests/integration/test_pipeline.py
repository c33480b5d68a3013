"""Feeds on a loopback server → poller → store → outbox → console, as the running bot does it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app.bootstrap import Bot, build_bot
from bot.app.settings import Settings
from bot.domain.clock import utc_now
from bot.domain.members import Network
from bot.domain.products import ProductSpec
from bot.feeds.config import FeedConfig
from bot.services import registrations
from tests.support.feedserver import RSS_TYPE, FeedServer, Route, rss

DRAEGER_ITEM = """<item><title>Dräger Infinity Delta Patient Monitors</title>
<link>https://advisories.example.org/icsma-26-1</link><guid>https://advisories.example.org/icsma-26-1</guid>
<description>&lt;p&gt;Dräger Infinity Delta VF10.1 and prior: CVE-2026-90001, CVE-2026-90002.
CVSS v3.1 base score 8.1&lt;/p&gt;</description>
<pubDate>Tue, 14 Apr 2026 12:00:00 +0000</pubDate></item>"""

SAME_IN_GERMAN = """<item><title>[NEU] [hoch] Dräger Infinity Delta: Mehrere Schwachstellen</title>
<link>https://wid.example.org/?name=WID-SEC-2026-1</link>
<description>Schwachstellen in Dräger Infinity Delta (CVE-2026-90002, CVE-2026-90001).</description>
<category>hoch</category><pubDate>Tue, 14 Apr 2026 14:00:00 GMT</pubDate></item>"""

OTHER_ITEM = DRAEGER_ITEM.replace("icsma-26-1", "icsma-26-2").replace("90001", "90009")

UNRELATED_ITEM = """<item><title>Acme Polaris gateway</title><link>https://x.example/polaris</link>
<description>BD Polaris infusion gateway (near miss).</description></item>"""


def feed(server: FeedServer, name: str, **kw) -> FeedConfig:
    return FeedConfig(name=name, url=server.url(f"/{name}.xml"), interval=timedelta(minutes=5),
                      **kw)


@pytest.fixture
def fetch_timeout() -> float:
    """The hub's whole-fetch deadline; a test parametrizes it to say otherwise."""
    return 2.0


@pytest.fixture
async def hub(tmp_path: Path, feed_server: FeedServer, fetch_timeout: float):
    """Build the bot on a SQLite file with the console channel, and register one member."""
    feeds = [feed(feed_server, "cisa"), feed(feed_server, "certbund"),
             feed(feed_server, "broken")]
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'hub.db'}",
                        console=True, console_file=tmp_path / "alerts.jsonl",
                        fetch_timeout=fetch_timeout, telegram_token=None,
                        matrix_homeserver=None,
                        backlog_days=3650)  # every entry of a first poll alerts here
    async with AsyncExitStack() as stack:
        console = await asyncio.to_thread(open, tmp_path / "console.txt", "w", encoding="utf-8")
        stack.callback(console.close)
        bot = await build_bot(settings, stack, feeds=feeds, console_stream=console)
        registrations.add_member(bot.store, "Klinikum Nord", [(Network.TELEGRAM, "1001")],
                                 utc_now())
        draeger = ProductSpec("Drägerwerk", "Infinity Delta", vendor_aliases=("Dräger",))
        registrations.add_product(bot.store, "Klinikum Nord", draeger, utc_now())
        registrations.add_product(bot.store, "Klinikum Nord", ProductSpec("BD", "Alaris"),
                                  utc_now())
        yield bot


def alerts_written(bot: Bot) -> list[dict]:
    path = bot.channels[0]._path
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_member_receives_one_alert_for_an_advisory_published_by_two_feeds(
    hub: Bot, feed_server: FeedServer
) -> None:
    feed_server.serve("/cisa.xml", rss([DRAEGER_ITEM, UNRELATED_ITEM]), etag='"c1"')
    feed_server.serve("/certbund.xml", rss([SAME_IN_GERMAN]), etag='"b1"')
    feed_server.status("/broken.xml", 404)
    outcomes = {f.name: await hub.poller.poll(f) for f in hub.feeds}  # CISA first, then BSI
    assert outcomes["broken"].status == "failed"
    assert await hub.drain() == 1
    [alert] = alerts_written(hub)
    assert alert["member"] == "Klinikum Nord"
    assert alert["title"] == "Dräger Infinity Delta Patient Monitors"
    assert alert["cves"] == ["CVE-2026-90001", "CVE-2026-90002"]
    assert alert["severity"] == "high" and alert["cvss"] == 8.1
    assert "Infinity Delta" in alert["products"][0]["why"]
    assert outcomes["certbund"].merged + outcomes["cisa"].merged == 1
    with hub.store() as uow:
        assert sorted(uow.advisories.sources(alert["advisory_id"])) == ["certbund", "cisa"]
    # The Telegram contact's alert waits in the outbox (no Telegram channel here): not lost.
    with hub.store() as uow:
        assert uow.outbox.backlog()[("telegram", "pending")] == 1


async def test_unchanged_feeds_are_fetched_conditionally_and_alert_nothing_new(
    hub: Bot, feed_server: FeedServer
) -> None:
    feed_server.serve("/cisa.xml", rss([DRAEGER_ITEM]), etag='"c1"',
                      last_modified="Tue, 14 Apr 2026 12:00:00 GMT")
    feed_server.serve("/certbund.xml", rss([]), etag='"b1"')
    feed_server.status("/broken.xml", 404)
    await hub.poll_all()
    await hub.drain()
    again = {o.feed: o.status for o in await hub.poll_all()}
    assert again["cisa"] == "not-modified"
    second = feed_server.requests_for("/cisa.xml")[-1]
    assert second.headers.get("if-none-match") == '"c1"'
    assert second.headers.get("if-modified-since") == "Tue, 14 Apr 2026 12:00:00 GMT"
    assert await hub.drain() == 0
    assert len(alerts_written(hub)) == 1


async def test_changed_feed_with_the_same_entries_sends_nothing_twice(
    hub: Bot, feed_server: FeedServer
) -> None:
    no_guid = DRAEGER_ITEM.replace("<guid>https://advisories.example.org/icsma-26-1</guid>", "")
    no_guid_no_link = UNRELATED_ITEM.replace("<link>https://x.example/polaris</link>", "")
    feed_server.serve("/cisa.xml", rss([no_guid, no_guid_no_link]), etag='"v1"')
    feed_server.serve("/certbund.xml", rss([]))
    feed_server.status("/broken.xml", 404)
    await hub.poll_all()
    feed_server.serve("/cisa.xml", rss([no_guid_no_link, no_guid]), etag='"v2"')
    outcome = {o.feed: o for o in await hub.poll_all()}["cisa"]
    assert (outcome.status, outcome.new, outcome.known) == ("fetched", 0, 2)
    await hub.drain()
    assert len(alerts_written(hub)) == 1


async def test_failing_feed_backs_off_and_keeps_what_was_stored(
    hub: Bot, feed_server: FeedServer
) -> None:
    feed_server.serve("/cisa.xml", rss([DRAEGER_ITEM]))
    feed_server.serve("/certbund.xml", rss([]))
    feed_server.serve("/broken.xml", rss([OTHER_ITEM]))
    await hub.poll_all()
    feed_server.status("/broken.xml", 503, headers={"Retry-After": "120"})
    broken = next(f for f in hub.feeds if f.name == "broken")
    outcome = await hub.poller.poll(broken, force=True)
    assert outcome.status == "failed" and "503" in (outcome.error or "")
    with hub.store() as uow:
        state = uow.feeds.get("broken")
        assert state.consecutive_failures == 1 and "503" in (state.last_error or "")
        assert state.next_poll_at - utc_now() >= timedelta(seconds=119)
        assert uow.advisories.count() == 2
    # While backing off, the scheduled poll skips the feed instead of hammering it.
    assert (await hub.poller.poll(broken)).status == "skipped"
    feed_server.serve("/broken.xml", b"<rss><channel><item><title>unterminated")
    outcome = await hub.poller.poll(broken, force=True)
    with hub.store() as uow:
        assert uow.advisories.count() == 2
        assert uow.feeds.get("broken").consecutive_failures == 2


@pytest.mark.parametrize("fetch_timeout", [3600.0])  # the test, not a deadline, ends the hang
async def test_a_hanging_feed_does_not_hold_up_the_others(
    hub: Bot, feed_server: FeedServer
) -> None:
    release = asyncio.Event()

    async def hang_until_released() -> AsyncIterator[bytes]:
        await release.wait()
        yield rss([])

    feed_server.route("/broken.xml", Route(headers={"Content-Type": RSS_TYPE},
                                           stream=hang_until_released))
    feed_server.serve("/cisa.xml", rss([DRAEGER_ITEM]))
    feed_server.serve("/certbund.xml", rss([]))
    polls = {f.name: asyncio.create_task(hub.poller.poll(f, force=True)) for f in hub.feeds}
    try:
        await asyncio.wait_for(_drain_until_alert(hub), 120)
        assert not polls["broken"].done()  # the alert left while the broken feed still hangs
    finally:
        release.set()
    outcomes = {name: await poll for name, poll in polls.items()}
    assert {name: o.status for name, o in outcomes.items()} == {
        "cisa": "fetched", "certbund": "fetched", "broken": "fetched"}
    assert len(alerts_written(hub)) == 1


async def _drain_until_alert(bot: Bot) -> None:
    while not alerts_written(bot):
        await bot.drain()
        await asyncio.sleep(0.05)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss version="2.0"><channel><title>&lol3;</title><item><title>Draeger Infinity Delta &lol3;</title>
<link>https://evil.example/1</link></item></channel></rss>"""


async def test_hostile_feed_is_refused_and_nothing_stored_is_lost(
    hub: Bot, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    feed_server.serve("/cisa.xml", rss([DRAEGER_ITEM]))
    feed_server.serve("/certbund.xml", rss([]))
    feed_server.serve("/broken.xml", rss([]))
    await hub.poll_all()
    feed_server.serve("/broken.xml", BILLION_LAUGHS)
    outcomes = {o.feed: o for o in await hub.poll_all()}
    assert outcomes["broken"].status == "failed"
    assert "rejected" in (outcomes["broken"].error or "")
    assert "feed broken: poll failed" in caplog.text and "lollol" not in caplog.text
    with hub.store() as uow:
        assert uow.advisories.count() == 1
    assert await hub.drain() == 1
