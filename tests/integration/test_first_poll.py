"""A feed the hub has just begun to follow: its backlog is recorded, not alerted; a passing
network error costs minutes, not hours; an empty feed is healthy; admins hear of a long outage."""

from __future__ import annotations

import email.utils
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.domain.members import Network
from bot.domain.products import ProductSpec
from bot.feeds.config import FeedConfig
from bot.feeds.fetch import FeedFetcher
from bot.feeds.parse import parse_feed
from bot.services import registrations
from bot.services.polling import FeedPoller
from bot.store.tables import OutboxRow
from bot.store.unit_of_work import SqlStore
from tests.support.feedserver import FeedServer, Route, rss

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ADMIN = (Network.TELEGRAM, "4242")


def item(number: int, published: datetime | None, cve: str | None = None) -> str:
    date = f"<pubDate>{email.utils.format_datetime(published)}</pubDate>" if published else ""
    cves = f" ({cve})" if cve else ""
    return (f"<item><title>SSA-{number:06d}: Siemens SCALANCE X-200 flaw {number}</title>"
            f"<link>https://cert.example/ssa-{number:06d}.html</link>"
            f"<description>SCALANCE X-200 switches are affected{cves}.</description>"
            f"{date}</item>")


def alerted(store: SqlStore, kind: str = "alert") -> list[dict[str, Any]]:
    import json
    with Session(store.engine) as s:
        rows = s.exec(select(OutboxRow).where(OutboxRow.kind == kind)
                      .order_by(OutboxRow.id)).all()
    return [{"address": r.address, **json.loads(r.payload)} for r in rows]


def titles(store: SqlStore) -> list[str]:
    return sorted(p["advisory"]["title"].split(":")[0] for p in alerted(store))


@pytest.fixture
async def hub(store: SqlStore, feed_server: FeedServer):
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, "1001")], NOW)
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Siemens", "SCALANCE X-200"), NOW)
    clock = [NOW]
    async with FeedFetcher() as fetcher:
        poller = FeedPoller(store, fetcher, parse_feed, console=False, clock=lambda: clock[0],
                            admins=[ADMIN])
        feed = FeedConfig("siemens", feed_server.url("/siemens.xml"), timedelta(minutes=30))
        yield poller, feed, clock


async def test_first_poll_records_the_backlog_and_alerts_only_recent_or_exploited_entries(
        hub, store: SqlStore, feed_server: FeedServer,
        caplog: pytest.LogCaptureFixture) -> None:
    poller, feed, clock = hub
    with store() as uow:  # an old advisory whose CVE is now known exploited
        uow.exploitation.kev_add("CVE-2019-10001", None, "Siemens", "SCALANCE", "flaw", False,
                                 NOW)
        uow.commit()
    years_ago = NOW - timedelta(days=700)
    feed_server.serve("/siemens.xml", rss([
        item(1, years_ago), item(2, NOW - timedelta(days=40)), item(3, None),
        item(4, NOW - timedelta(days=1)), item(5, years_ago, cve="CVE-2019-10001"),
    ]))
    with caplog.at_level(logging.INFO, logger="bot.services.polling"):
        outcome = await poller.poll(feed, force=True)
    assert (outcome.new, outcome.backlog) == (5, 3)
    assert titles(store) == ["SSA-000004", "SSA-000005"]  # a day old; known exploited
    with store() as uow:  # every entry is recorded and matched: /latest shows all five
        assert len(uow.matches.latest_for_member("Klinikum Nord", 10)) == 5
    [line] = [r.getMessage() for r in caplog.records if "without alerting" in r.getMessage()]
    assert "3 entries" in line and "first poll" in line and "2 alerts" in line
    assert "SCALANCE" not in caplog.text  # counts, never what the members run

    # Later polls alert what is new, an entry without a date included.
    clock[0] = NOW + timedelta(minutes=30)
    feed_server.serve("/siemens.xml", rss([item(6, None), item(1, years_ago)]))
    outcome = await poller.poll(feed, force=True)
    assert (outcome.new, outcome.backlog) == (1, 0)
    assert "SSA-000006" in titles(store)


async def test_a_feed_polled_again_after_a_long_pause_does_not_flood(
        hub, store: SqlStore, feed_server: FeedServer) -> None:
    poller, feed, clock = hub
    feed_server.serve("/siemens.xml", rss([item(1, NOW - timedelta(hours=1))]))
    await poller.poll(feed, force=True)
    # Disabled for two weeks; meanwhile the publisher listed two more advisories.
    clock[0] = NOW + timedelta(days=14)
    feed_server.serve("/siemens.xml", rss([
        item(1, NOW - timedelta(hours=1)), item(2, NOW + timedelta(days=5)),
        item(3, NOW + timedelta(days=13)), item(4, None)]))
    outcome = await poller.poll(feed, force=True)
    assert (outcome.new, outcome.backlog) == (3, 2)
    assert titles(store) == ["SSA-000001", "SSA-000003"]


async def test_the_backlog_window_is_the_admins_setting(
        store: SqlStore, feed_server: FeedServer) -> None:
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, "1001")], NOW)
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Siemens", "SCALANCE X-200"), NOW)
    feed_server.serve("/siemens.xml", rss([item(1, NOW - timedelta(days=40)),
                                           item(2, NOW - timedelta(days=400))]))
    async with FeedFetcher() as fetcher:
        poller = FeedPoller(store, fetcher, parse_feed, console=False, clock=lambda: NOW,
                            backlog=timedelta(days=60))
        feed = FeedConfig("siemens", feed_server.url("/siemens.xml"), timedelta(minutes=30))
        await poller.poll(feed, force=True)
    assert titles(store) == ["SSA-000001"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", None])
async def test_an_empty_feed_is_a_healthy_poll_whatever_its_content_type(
        hub, store: SqlStore, feed_server: FeedServer, content_type: str | None) -> None:
    poller, feed, clock = hub
    headers = {"Content-Type": content_type} if content_type else {}
    feed_server.route("/siemens.xml", Route(body=rss([]), headers=headers))
    outcome = await poller.poll(feed)
    assert outcome.status == "fetched" and outcome.error is None
    with store() as uow:
        state = uow.feeds.get("siemens")
    assert state.healthy and state.last_error is None
    assert state.next_poll_at == NOW + feed.interval - timedelta(seconds=1)  # no backoff
    # The first advisory it then lists alerts on the next regular poll.
    clock[0] = NOW + feed.interval
    feed_server.route("/siemens.xml", Route(body=rss([item(7, clock[0])]), headers=headers))
    outcome = await poller.poll(feed)
    assert outcome.status == "fetched" and outcome.new == 1
    assert titles(store) == ["SSA-000007"]


async def test_a_passing_network_error_is_retried_within_minutes_not_hours(
        hub, store: SqlStore, feed_server: FeedServer) -> None:
    poller, feed, clock = hub
    feed_server.status("/siemens.xml", 503)
    waits = []
    for _ in range(6):
        outcome = await poller.poll(feed, force=True)
        assert outcome.status == "failed"
        waits.append(outcome.next_poll_at - clock[0])
    # 1, 2, 4, 8, 16 minutes (each jittered down by up to a fifth), then the 30-minute interval
    for wait, ceiling in zip(waits, [1, 2, 4, 8, 16, 30], strict=True):
        assert timedelta(minutes=ceiling * 0.8) <= wait <= timedelta(minutes=ceiling)
    feed_server.status("/siemens.xml", 503, headers={"Retry-After": "3600"})
    outcome = await poller.poll(feed, force=True)
    assert outcome.next_poll_at - clock[0] == timedelta(hours=1)  # the server's wish is kept


async def test_a_broken_feed_backs_off_beyond_its_interval(
        hub, store: SqlStore, feed_server: FeedServer) -> None:
    poller, feed, clock = hub
    feed_server.status("/siemens.xml", 404)
    outcome = await poller.poll(feed, force=True)
    assert outcome.next_poll_at - clock[0] >= feed.interval
    feed_server.serve("/siemens.xml", b"<html><body>Moved to our new portal</body></html>",
                      content_type="text/html")
    outcome = await poller.poll(feed, force=True)
    assert "not a feed" in (outcome.error or "")
    assert outcome.next_poll_at - clock[0] >= feed.interval


async def test_admins_hear_once_of_a_streak_over_an_hour_and_once_of_its_end(
        hub, store: SqlStore, feed_server: FeedServer) -> None:
    poller, feed, clock = hub
    feed_server.status("/siemens.xml", 503)
    for minutes in (0, 1, 3, 7, 15, 31, 61, 91, 121):
        clock[0] = NOW + timedelta(minutes=minutes)
        await poller.poll(feed, force=True)
    [down] = alerted(store, "feed_health")
    assert down["address"] == ADMIN[1]  # the admin's chat; members hear nothing of it
    assert "siemens" in down["text"] and "HTTP 503" in down["text"]
    feed_server.serve("/siemens.xml", rss([]))
    clock[0] = NOW + timedelta(minutes=150)
    await poller.poll(feed, force=True)
    await poller.poll(feed, force=True)
    down, up = alerted(store, "feed_health")
    assert "works again" in up["text"] and up["address"] == ADMIN[1]
    # A new streak shorter than an hour is not worth a message.
    feed_server.status("/siemens.xml", 503)
    for minutes in (200, 201, 203, 207):
        clock[0] = NOW + timedelta(minutes=minutes)
        await poller.poll(feed, force=True)
    assert len(alerted(store, "feed_health")) == 2
