"""Download a feed over HTTP: conditional, bounded in time and size, never raising."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx

from bot.feeds.config import FeedConfig
from bot.feeds.content_encoding import BoundedDecoder, UnsupportedEncoding

log = logging.getLogger(__name__)

USER_AGENT = "hubbot/0.1 (advisory feed poller of a healthcare cyber-security hub)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


@dataclass(frozen=True)
class FetchLimits:
    """Time and size bounds for one fetch; `total` covers connect, redirects and the whole body."""

    connect: float = 10.0
    read: float = 30.0
    total: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5


@dataclass(frozen=True)
class NotModified:
    """The server answered 304: the feed has not changed since the validators were issued."""


@dataclass(frozen=True)
class Fetched:
    """A complete, decoded feed body and what is needed to fetch it conditionally next time."""

    body: bytes
    headers: Mapping[str, str] = field(repr=False)
    etag: str | None
    last_modified: str | None
    final_url: str = field(repr=False)


@dataclass(frozen=True)
class FetchFailed:
    """No body this time; `transient`: worth retrying, not before `retry_after` seconds."""

    reason: str
    transient: bool
    retry_after: float | None = None


FetchResult = NotModified | Fetched | FetchFailed


class FeedFetcher:
    """Fetches feeds with httpx; pass `client` or `transport` in tests, else it builds its own."""

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: FetchLimits | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        if client is not None and transport is not None:
            raise ValueError("pass either a client or a transport, not both")
        self.limits = limits or FetchLimits()
        self._user_agent = user_agent
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(transport=transport, trust_env=True)

    async def __aenter__(self) -> FeedFetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this fetcher built it."""
        if self._owns_client:
            await self._client.aclose()

    async def fetch(
        self, feed: FeedConfig, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET the feed, sending the validators; never raises for network or server trouble."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.limits.total):
                result = await self._fetch(feed, etag, last_modified)
        except TimeoutError:
            result = FetchFailed(
                f"no complete answer within {self.limits.total:g} s", transient=True
            )
        except httpx.TimeoutException as exc:
            result = FetchFailed(f"timed out ({_kind(exc)})", transient=True)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            result = FetchFailed(f"unusable URL: {_safe_message(exc)}", transient=False)
        except httpx.TransportError as exc:
            result = FetchFailed(f"network error ({_kind(exc)}): {_safe_message(exc)}", True)
        except (zlib.error, httpx.DecodingError) as exc:
            result = FetchFailed(f"compressed body is corrupt: {exc}", transient=False)
        except UnsupportedEncoding as exc:
            result = FetchFailed(str(exc), transient=False)
        except httpx.HTTPError as exc:
            result = FetchFailed(f"HTTP error ({_kind(exc)}): {_safe_message(exc)}", True)
        elapsed = time.monotonic() - started
        if isinstance(result, FetchFailed):
            # INFO: the poller decides when a failure streak deserves a warning.
            log.info(
                "feed %s (%s): fetch failed after %.1f s: %s",
                feed.name,
                feed.host,
                elapsed,
                result.reason,
            )
        else:
            log.debug(
                "feed %s (%s): %s in %.1f s", feed.name, feed.host, type(result).__name__, elapsed
            )
        return result

    async def _fetch(
        self, feed: FeedConfig, etag: str | None, last_modified: str | None
    ) -> FetchResult:
        headers = {
            "User-Agent": self._user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        timeout = httpx.Timeout(self.limits.read, connect=self.limits.connect)
        url = feed.url
        for hop in range(self.limits.max_redirects + 1):
            async with self._client.stream(
                "GET", url, headers=headers, timeout=timeout, follow_redirects=False
            ) as response:
                status = response.status_code
                if status in _REDIRECTS:
                    target = response.headers.get("location", "").strip()
                    if not target:
                        return FetchFailed(f"HTTP {status} redirect without a Location", False)
                    next_url = urljoin(url, target)
                    if urlsplit(next_url).scheme not in ("http", "https"):
                        return FetchFailed(f"HTTP {status} redirect to a non-HTTP URL", False)
                    log.info(
                        "feed %s: HTTP %d redirect from %s to %s (hop %d)",
                        feed.name,
                        status,
                        _host(url),
                        _host(next_url),
                        hop + 1,
                    )
                    url = next_url
                    continue
                return await self._answer(response, url)
        return FetchFailed(
            f"more than {self.limits.max_redirects} redirects (a redirect loop?)", transient=False
        )

    async def _answer(self, response: httpx.Response, url: str) -> FetchResult:
        status = response.status_code
        if status == 304:
            return NotModified()
        if 200 <= status < 300:
            return await self._read_body(response, url)
        host = _host(url)
        if status in (408, 429) or 500 <= status < 600:
            return FetchFailed(
                f"HTTP {status} from {host}",
                transient=True,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        return FetchFailed(f"HTTP {status} from {host}", transient=False)

    async def _read_body(self, response: httpx.Response, url: str) -> FetchResult:
        cap = self.limits.max_bytes
        if response.is_stream_consumed:
            # Built in memory and already decoded (httpx.MockTransport in tests does this).
            if len(response.content) > cap:
                return _oversize(cap, "body")
            return _fetched(response, response.content, url)
        decoder = BoundedDecoder(response.headers.get("content-encoding"))
        declared = response.headers.get("content-length", "")
        identity = not response.headers.get("content-encoding")
        if identity and declared.isdigit() and int(declared) > cap:
            return _oversize(cap, f"Content-Length {int(declared):,} bytes")
        chunks: list[bytes] = []
        size = 0
        async for raw in response.aiter_raw():
            for piece in decoder.decode(raw):
                size += len(piece)
                if size > cap:
                    return _oversize(cap, "body")
                chunks.append(piece)
        for piece in decoder.flush():
            size += len(piece)
            if size > cap:
                return _oversize(cap, "body")
            chunks.append(piece)
        return _fetched(response, b"".join(chunks), url)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP-date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _fetched(response: httpx.Response, body: bytes, url: str) -> Fetched:
    return Fetched(
        body=body,
        headers={key.lower(): value for key, value in response.headers.items()},
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        final_url=url,
    )


def _oversize(cap: int, what: str) -> FetchFailed:
    return FetchFailed(
        f"{what} larger than the {cap:,}-byte cap; not read further (fails again next poll "
        "unless the feed shrinks or the cap is raised)",
        transient=False,
    )


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"


def _kind(exc: Exception) -> str:
    return type(exc).__name__


def _safe_message(exc: Exception) -> str:
    # Exception texts may quote the URL, whose query can hold an access token.
    return _URL_IN_TEXT.sub("<url>", str(exc)) or _kind(exc)
