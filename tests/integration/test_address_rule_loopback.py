"""The fetcher's real connections go only where its resolver said and the address rule allows:
a name that turns internal between the check and the connection (DNS rebinding) is refused at
connect time. The test's resolver sends every name to the loopback feed server or nowhere."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.domain.clock import utc_now
from bot.domain.feed_state import FeedState
from bot.feeds.config import FeedConfig
from bot.feeds.fetch import FeedFetcher, Fetched, FetchFailed
from bot.feeds.parse import parse_feed
from bot.services.polling import FeedPoller
from bot.store.database import create_db_engine, upgrade
from bot.store.unit_of_work import SqlStore
from tests.support.feedserver import FeedServer, rss

BODY = rss(["<item><title>Alaris PC Unit</title><link>https://example.org/a/1</link></item>"])


class Rebinding:
    """Names answer with a public address the first time they are asked, loopback after."""

    def __init__(self) -> None:
        self.asked: dict[str, int] = {}

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked[host] = self.asked.get(host, 0) + 1
        return ["93.184.216.34"] if self.asked[host] == 1 else ["127.0.0.1"]


async def loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


async def test_a_name_that_turns_internal_after_the_check_is_refused_at_connect(
    feed_server: FeedServer,
) -> None:
    feed_server.serve("/doc.json", b"{}")
    provider = FeedConfig("csaf", "https://csaf.example.org/provider-metadata.json",
                          timedelta(hours=1), type="csaf")
    listed = f"http://rebind.example.org:{feed_server.port}/doc.json"
    dns = Rebinding()
    async with FeedFetcher(resolver=dns) as fetcher:
        result = await fetcher.fetch(provider, url=listed)
    assert isinstance(result, FetchFailed) and not result.transient
    assert "rebind.example.org (127.0.0.1) is a loopback address" in result.reason
    assert dns.asked["rebind.example.org"] == 2  # checked, then resolved again to connect
    assert feed_server.requests_for("/doc.json") == []  # the connection was never made


async def test_the_connection_goes_to_the_address_the_resolver_gave(
    feed_server: FeedServer,
) -> None:
    feed_server.serve("/feed.xml", BODY)
    # feeds.invalid exists in no DNS: only the fetcher's own resolver can name it.
    feed = FeedConfig("named", f"http://feeds.invalid:{feed_server.port}/feed.xml",
                      timedelta(hours=1))
    async with FeedFetcher(resolver=loopback) as fetcher:
        result = await fetcher.fetch(feed)
    assert isinstance(result, Fetched) and result.body == BODY


async def test_a_loopback_feed_still_follows_its_redirects(feed_server: FeedServer) -> None:
    feed_server.serve("/feed.xml", BODY)
    feed_server.redirect("/old.xml", f"http://alias.invalid:{feed_server.port}/feed.xml")
    feed = FeedConfig("local", feed_server.url("/old.xml"), timedelta(hours=1))
    async with FeedFetcher(resolver=loopback) as fetcher:
        result = await fetcher.fetch(feed)
    assert isinstance(result, Fetched) and result.body == BODY


async def test_a_refused_redirect_fails_the_feed_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """The admin sees why in the feed's log line and in its state, which /status counts and
    /healthz shows. (The public feed is answered by httpx's MockTransport: no traffic.)"""
    feed = FeedConfig("cert", "https://cert.example.org/rss.xml", timedelta(hours=1))

    def web(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "cert.example.org"
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})

    async def dns(host: str, port: int) -> list[str]:
        return {"cert.example.org": ["93.184.216.34"]}[host]

    engine = create_db_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(engine)
    store = SqlStore(engine)
    async with FeedFetcher(transport=httpx.MockTransport(web), resolver=dns) as fetcher:
        poller = FeedPoller(store, fetcher, parse_feed, console=False, clock=utc_now)
        with caplog.at_level(logging.INFO):
            outcome = await poller.poll(feed)
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.startswith(
        "refused: the redirect to 169.254.169.254 is a link-local address")
    [line] = [r.getMessage() for r in caplog.records if "poll failed" in r.getMessage()]
    assert line.startswith("feed cert: poll failed (1 in a row, permanent): refused: the "
                           "redirect to 169.254.169.254 is a link-local address")
    with store() as uow:
        state: FeedState = uow.feeds.get("cert")
    assert not state.healthy and state.last_error == outcome.error
    engine.dispose()
