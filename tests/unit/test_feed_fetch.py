"""FeedFetcher against httpx.MockTransport: status handling without any socket."""

import gzip
import logging
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.feeds.config import FeedConfig
from bot.feeds.fetch import FeedFetcher, Fetched, FetchFailed, NotModified, parse_retry_after


class RawStream(httpx.AsyncByteStream):
    """A body httpx has not read yet, as from a real connection."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self):
        yield self.data


FEED = FeedConfig("mock", "https://feeds.example.org/rss.xml?token=s3cret", timedelta(hours=1))


async def fetch_with(handler: Callable[[httpx.Request], httpx.Response], **kwargs: str | None):
    async with FeedFetcher(transport=httpx.MockTransport(handler)) as fetcher:
        return await fetcher.fetch(FEED, **kwargs)


async def test_feed_body_and_validators_are_returned() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"ETag": '"v1"', "Last-Modified": "Thu, 27 Aug 2026 12:00:00 GMT"}
        return httpx.Response(200, content=b"<rss/>", headers=headers)

    result = await fetch_with(handler)
    assert result == Fetched(
        body=b"<rss/>",
        headers=result.headers,
        etag='"v1"',
        last_modified="Thu, 27 Aug 2026 12:00:00 GMT",
        final_url=FEED.url,
    )
    assert result.headers["etag"] == '"v1"'


async def test_request_names_hubbot_and_asks_for_feeds() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(304)

    assert await fetch_with(handler, etag='"v1"', last_modified="Tue, 1 Sep 2026 00:00:00 GMT") \
        == NotModified()  # fmt: skip
    headers = seen[0].headers
    assert headers["user-agent"].startswith("hubbot/")
    assert "application/rss+xml" in headers["accept"]
    assert headers["if-none-match"] == '"v1"'
    assert headers["if-modified-since"] == "Tue, 1 Sep 2026 00:00:00 GMT"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
async def test_server_trouble_is_transient(status: int) -> None:
    result = await fetch_with(lambda r: httpx.Response(status, headers={"Retry-After": "120"}))
    assert result == FetchFailed(f"HTTP {status} from feeds.example.org", True, 120.0)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 451])
async def test_client_errors_are_permanent(status: int) -> None:
    result = await fetch_with(lambda r: httpx.Response(status))
    assert result == FetchFailed(f"HTTP {status} from feeds.example.org", False)


async def test_network_error_is_transient_and_never_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    result = await fetch_with(handler)
    assert isinstance(result, FetchFailed) and result.transient
    assert "ConnectError" in result.reason


async def test_url_token_never_reaches_logs_or_reasons(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError(f"connection to {request.url} broke", request=request)

    caplog.set_level(logging.DEBUG)
    result = await fetch_with(handler)
    assert isinstance(result, FetchFailed)
    assert "s3cret" not in result.reason
    assert "mock" in caplog.text and "feeds.example.org" in caplog.text
    assert "s3cret" not in caplog.text


async def test_redirect_without_location_is_permanent() -> None:
    result = await fetch_with(lambda r: httpx.Response(302))
    assert result == FetchFailed("HTTP 302 redirect without a Location", False)


async def test_redirect_to_a_non_http_scheme_is_refused() -> None:
    result = await fetch_with(lambda r: httpx.Response(301, headers={"Location": "file:///etc/x"}))
    assert result == FetchFailed("HTTP 301 redirect to a non-HTTP URL", False)


@pytest.mark.parametrize(
    ("encoding", "packed"),
    [
        ("gzip", gzip.compress(b"<rss/>")),
        ("deflate", zlib.compress(b"<rss/>")),
        ("deflate", zlib.compress(b"<rss/>")[2:-4]),  # raw deflate, as some servers send it
        ("identity", b"<rss/>"),
    ],
)
async def test_compressed_bodies_are_decoded(encoding: str, packed: bytes) -> None:
    result = await fetch_with(
        lambda r: httpx.Response(
            200, stream=RawStream(packed), headers={"Content-Encoding": encoding}
        )
    )
    assert isinstance(result, Fetched) and result.body == b"<rss/>"


@pytest.mark.parametrize("stream", [False, True])
async def test_corrupt_gzip_is_a_permanent_failure(stream: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"stream": RawStream(b"not gzip")} if stream else {"content": b"not gzip"}
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, **body)

    result = await fetch_with(handler)
    assert isinstance(result, FetchFailed) and not result.transient
    assert result.reason.startswith("compressed body is corrupt")


async def test_encoding_we_did_not_ask_for_is_refused() -> None:
    result = await fetch_with(
        lambda r: httpx.Response(200, stream=RawStream(b"..."), headers={"Content-Encoding": "br"})
    )
    assert result == FetchFailed("unsupported Content-Encoding 'br'", False)


def test_retry_after_is_read_as_seconds_or_http_date() -> None:
    now = datetime(2026, 8, 27, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Thu, 27 Aug 2026 12:05:00 GMT", now=now) == 300.0
    assert parse_retry_after("Thu, 27 Aug 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_client_and_transport_are_exclusive() -> None:
    with pytest.raises(ValueError):
        FeedFetcher(
            httpx.AsyncClient(), transport=httpx.MockTransport(lambda r: httpx.Response(200))
        )
