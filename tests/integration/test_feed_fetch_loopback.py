"""The real FeedFetcher against the real loopback FeedServer."""

import asyncio
import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.feeds.config import FeedConfig
from bot.feeds.fetch import FeedFetcher, Fetched, FetchFailed, FetchLimits, NotModified
from tests.support.feedserver import RSS_TYPE, FeedServer, Route, rss

BODY = rss(["<item><title>Alaris PC Unit</title><link>https://example.org/a/1</link></item>"])
MIB = 1024 * 1024


def feed_at(server: FeedServer, path: str) -> FeedConfig:
    return FeedConfig(path.strip("/").replace("/", "-") or "root", server.url(path),
                      timedelta(minutes=15))  # fmt: skip


async def fetch(server: FeedServer, path: str, limits: FetchLimits | None = None, **validators):
    async with FeedFetcher(limits=limits) as fetcher:
        return await fetcher.fetch(feed_at(server, path), **validators)


async def test_unchanged_feed_is_not_downloaded_again(feed_server: FeedServer) -> None:
    feed_server.serve("/feed.xml", BODY, etag='"v1"', last_modified="Thu, 27 Aug 2026 12:00:00 GMT")
    first = await fetch(feed_server, "/feed.xml")
    assert isinstance(first, Fetched) and first.body == BODY
    assert (first.etag, first.last_modified) == ('"v1"', "Thu, 27 Aug 2026 12:00:00 GMT")

    second = await fetch(
        feed_server, "/feed.xml", etag=first.etag, last_modified=first.last_modified
    )
    assert second == NotModified()
    sent = feed_server.requests_for("/feed.xml")[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Thu, 27 Aug 2026 12:00:00 GMT"


async def test_feed_with_only_last_modified_is_fetched_conditionally(
    feed_server: FeedServer,
) -> None:
    feed_server.serve("/lm.xml", BODY, last_modified="Thu, 27 Aug 2026 12:00:00 GMT")
    first = await fetch(feed_server, "/lm.xml")
    assert isinstance(first, Fetched) and first.etag is None
    assert await fetch(feed_server, "/lm.xml", last_modified=first.last_modified) == NotModified()
    assert "if-none-match" not in feed_server.requests_for("/lm.xml")[1].headers


async def test_changed_feed_is_downloaded_with_its_new_validator(feed_server: FeedServer) -> None:
    route = feed_server.serve("/feed.xml", BODY, etag='"v1"')
    route.body, route.etag = BODY + b"\n", '"v2"'
    result = await fetch(feed_server, "/feed.xml", etag='"v1"')
    assert isinstance(result, Fetched) and result.etag == '"v2"'


async def test_first_request_sends_no_validators_and_names_hubbot(feed_server: FeedServer) -> None:
    feed_server.serve("/feed.xml", BODY, etag='"v1"')
    await fetch(feed_server, "/feed.xml")
    headers = feed_server.requests_for("/feed.xml")[0].headers
    assert "if-none-match" not in headers and "if-modified-since" not in headers
    assert headers["user-agent"].startswith("hubbot/")
    assert headers["accept-encoding"] == "gzip, deflate"


async def test_server_that_never_answers_fails_transiently_within_the_deadline(
    feed_server: FeedServer,
) -> None:
    feed_server.hang("/hang.xml")
    result = await fetch(feed_server, "/hang.xml", FetchLimits(read=0.3, total=3600))
    # The read timeout ended it: the total deadline would say "no complete answer within".
    assert isinstance(result, FetchFailed) and result.transient
    assert result.reason == "timed out (ReadTimeout)"


async def test_trickling_server_is_cut_off_by_the_total_deadline(feed_server: FeedServer) -> None:
    # Each byte arrives well within the read timeout; only the total deadline can stop it.
    feed_server.trickle("/slow.xml", BODY, chunk_size=8, delay=0.1)
    started = time.monotonic()
    result = await fetch(feed_server, "/slow.xml", FetchLimits(read=5, total=0.8))
    assert time.monotonic() - started > 0.7  # not given up early (a slow machine only adds)
    # The whole trickle takes about 3 s: only the deadline can have ended it.
    assert result == FetchFailed("no complete answer within 0.8 s", transient=True)


async def test_endless_body_is_cut_at_the_size_cap(feed_server: FeedServer) -> None:
    feed_server.endless("/endless.xml")
    result = await fetch(feed_server, "/endless.xml", FetchLimits(max_bytes=MIB, total=10))
    assert isinstance(result, FetchFailed) and not result.transient
    assert "larger than the 1,048,576-byte cap" in result.reason


async def test_50_mb_body_is_cut_at_the_cap_and_memory_stays_low(feed_server: FeedServer) -> None:
    feed_server.large("/big.xml", 50 * MIB)  # no Content-Length: only counting can stop it
    tracemalloc.start()
    try:
        result = await fetch(feed_server, "/big.xml", FetchLimits(max_bytes=10 * MIB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(result, FetchFailed) and not result.transient
    assert "larger than the 10,485,760-byte cap" in result.reason
    assert peak < 25 * MIB


async def test_declared_oversize_body_is_refused_before_reading(feed_server: FeedServer) -> None:
    feed_server.large("/big.xml", 50 * MIB, send_length=True)
    result = await fetch(feed_server, "/big.xml", FetchLimits(max_bytes=MIB))
    # Judged by the header: counting the body would have said "larger than the ... cap".
    assert isinstance(result, FetchFailed)
    assert result.reason.startswith("Content-Length 52,428,800 bytes larger than")


async def test_gzip_bomb_is_stopped_at_the_cap(feed_server: FeedServer) -> None:
    feed_server.gzip_bomb("/bomb.xml", 50 * MIB)
    tracemalloc.start()
    try:
        result = await fetch(feed_server, "/bomb.xml", FetchLimits(max_bytes=2 * MIB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(result, FetchFailed) and not result.transient
    assert "larger than the 2,097,152-byte cap" in result.reason
    assert peak < 16 * MIB  # httpx decoding a chunk at once peaks near 130 MiB here


async def test_gzip_feed_is_decoded(feed_server: FeedServer) -> None:
    feed_server.serve("/gz.xml", BODY, gzip=True)
    result = await fetch(feed_server, "/gz.xml")
    assert isinstance(result, Fetched) and result.body == BODY


async def test_redirects_are_followed_and_the_final_url_reported(feed_server: FeedServer) -> None:
    feed_server.redirect("/old.xml", "/moved.xml", status=301)
    feed_server.redirect("/moved.xml", feed_server.url("/feed.xml"), status=307)
    feed_server.serve("/feed.xml", BODY, etag='"v1"')
    result = await fetch(feed_server, "/old.xml", etag='"v0"')
    assert isinstance(result, Fetched) and result.final_url == feed_server.url("/feed.xml")
    # the validators travel along the redirects
    assert feed_server.requests_for("/feed.xml")[0].headers["if-none-match"] == '"v0"'


async def test_redirect_loop_is_bounded(feed_server: FeedServer) -> None:
    feed_server.redirect("/a.xml", "/b.xml")
    feed_server.redirect("/b.xml", "/a.xml")
    result = await fetch(feed_server, "/a.xml", FetchLimits(max_redirects=5))
    assert result == FetchFailed("more than 5 redirects (a redirect loop?)", transient=False)
    assert len(feed_server.requests) == 6


@pytest.mark.parametrize(
    ("status", "headers", "transient", "retry_after"),
    [
        (503, {"Retry-After": "120"}, True, 120.0),
        (429, {"Retry-After": "30"}, True, 30.0),
        (500, {}, True, None),
        (404, {}, False, None),
        (403, {}, False, None),
        (410, {}, False, None),
    ],
)
async def test_http_errors_are_classified(
    feed_server: FeedServer, status: int, headers: dict[str, str], transient: bool,
    retry_after: float | None,
) -> None:  # fmt: skip
    feed_server.status("/feed.xml", status, headers=headers)
    result = await fetch(feed_server, "/feed.xml")
    assert result == FetchFailed(f"HTTP {status} from 127.0.0.1", transient, retry_after)


async def test_unreachable_server_is_a_transient_failure(feed_server: FeedServer) -> None:
    port = feed_server.port
    await feed_server.stop()
    feed = FeedConfig("gone", f"http://127.0.0.1:{port}/feed.xml", timedelta(minutes=15))
    async with FeedFetcher() as fetcher:
        result = await fetcher.fetch(feed)
    assert isinstance(result, FetchFailed) and result.transient
    assert result.reason.startswith("network error (ConnectError)")


async def test_many_feeds_fetch_concurrently(feed_server: FeedServer) -> None:
    # No feed answers until all 20 requests have arrived: one fetch at a time would wait out
    # its read timeout instead.
    all_arrived = asyncio.Event()

    async def answer_when_all_arrived() -> AsyncIterator[bytes]:
        if len(feed_server.requests) == 20:
            all_arrived.set()
        await all_arrived.wait()
        yield BODY

    for n in range(20):
        feed_server.route(f"/f{n}.xml", Route(headers={"Content-Type": RSS_TYPE},
                                              stream=answer_when_all_arrived))
    async with FeedFetcher(limits=FetchLimits(read=60, total=60)) as fetcher:
        results = await asyncio.wait_for(asyncio.gather(
            *(fetcher.fetch(feed_at(feed_server, f"/f{n}.xml")) for n in range(20))
        ), 120)
    assert all(isinstance(r, Fetched) and r.body == BODY for r in results)
