"""Fetch real feeds from the loopback server and parse them, as the poller does."""

from datetime import timedelta
from pathlib import Path

import pytest

from bot.feeds.config import FeedConfig
from bot.feeds.fetch import FeedFetcher, Fetched, NotModified
from bot.feeds.parse import FeedRejected, parse_feed
from tests.support.feedserver import FeedServer

EXAMPLES = Path(__file__).resolve().parents[2] / "bot" / "cli" / "examples" / "feeds"


def xml_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.xml"))


async def test_real_feeds_fetched_over_http_parse_like_from_disk(
    feed_server: FeedServer, shared_feeds_dir: Path
) -> None:
    files = xml_files(shared_feeds_dir)
    async with FeedFetcher() as fetcher:
        for file in files:
            feed_server.serve_file(f"/{file.name}", file, gzip=True, content_type="text/xml")
            feed = FeedConfig(file.stem, feed_server.url(f"/{file.name}"), timedelta(hours=1))
            fetched = await fetcher.fetch(feed)
            assert isinstance(fetched, Fetched), file.name
            over_http = parse_feed(feed, fetched.body, fetched.headers)
            from_disk = parse_feed(feed, file.read_bytes(), {})
            assert over_http == from_disk, file.name
            assert over_http.advisories, file.name
            again = await fetcher.fetch(feed, fetched.etag, fetched.last_modified)
            assert again == NotModified(), file.name


async def test_hostile_feed_served_over_http_is_rejected(feed_server: FeedServer) -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><item><title>&xxe;</title></item></channel></rss>'
    )
    feed_server.serve("/xxe.xml", body)
    feed = FeedConfig("xxe", feed_server.url("/xxe.xml"), timedelta(hours=1))
    async with FeedFetcher() as fetcher:
        fetched = await fetcher.fetch(feed)
    assert isinstance(fetched, Fetched)
    with pytest.raises(FeedRejected):
        parse_feed(feed, fetched.body, fetched.headers)


async def test_bundled_example_feeds_serve_and_parse(feed_server: FeedServer) -> None:
    async with FeedFetcher() as fetcher:
        for file in xml_files(EXAMPLES):
            feed_server.serve_file(f"/{file.name}", file)
            feed = FeedConfig(file.stem, feed_server.url(f"/{file.name}"), timedelta(hours=1))
            fetched = await fetcher.fetch(feed)
            assert isinstance(fetched, Fetched)
            parsed = parse_feed(feed, fetched.body, fetched.headers)
            assert len(parsed.advisories) == 2 and parsed.problems == [], file.name
