"""Download a feed over HTTP: conditional, bounded in time and size, never raising."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from bot.domain.feed_config import FeedConfig
from bot.feeds.addresses import (
    AddressRefused,
    GuardedBackend,
    Resolver,
    internal,
    may_reach_internal,
    refuse_non_public,
    resolve,
    system_resolver,
)
from bot.feeds.content_encoding import BoundedDecoder, UnsupportedEncoding
from bot.services.ports.feeds import Fetched, FetchFailed, FetchResult, NotModified

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


class FeedFetcher:
    """Fetches feeds with httpx; pass `client` or `transport` in tests, else it builds its own.

    A redirect, or a URL fetched on a feed's behalf (what a CSAF provider lists), may not lead
    to a non-public address (see `bot.feeds.addresses`) unless the feed's own configured host
    is one or `allow_private`. `resolver` names the hosts (the system's by default).
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: FetchLimits | None = None,
        user_agent: str = USER_AGENT,
        resolver: Resolver | None = None,
        allow_private: bool = False,
    ) -> None:
        if client is not None and transport is not None:
            raise ValueError("pass either a client or a transport, not both")
        self.limits = limits or FetchLimits()
        self._user_agent = user_agent
        self._resolver = resolver or system_resolver
        self._allow_private = allow_private
        self._owns_client = client is None
        if client is None and transport is None:
            transport = GuardedTransport(GuardedBackend(self._resolver))
        # trust_env: an HTTP(S)_PROXY from the environment is used for its URLs; the proxy then
        # connects, so only the fetcher's own check of each host applies there.
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
        self, feed: FeedConfig, etag: str | None = None, last_modified: str | None = None,
        *, url: str | None = None,
    ) -> FetchResult:
        """GET the feed (or `url`, fetched on its behalf), sending the validators; never raises
        for network or server trouble."""
        started = time.monotonic()
        url = url or feed.url
        try:
            async with asyncio.timeout(self.limits.total):
                result = await self._fetch(feed, url, etag, last_modified)
        except AddressRefused as exc:  # at connect time: the name changed its address
            result = FetchFailed(f"refused: {exc} (it resolved to a public one a moment "
                                 "before)", transient=False)
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
                _host(url),
                elapsed,
                result.reason,
            )
        else:
            log.debug(
                "feed %s (%s): %s in %.1f s", feed.name, _host(url), type(result).__name__,
                elapsed,
            )
        return result

    async def _fetch(
        self, feed: FeedConfig, url: str, etag: str | None, last_modified: str | None
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
        rule = _AddressRule(feed, self._resolver, self._allow_private)
        for hop in range(self.limits.max_redirects + 1):
            what = "the redirect to" if hop else "the listed URL on"
            allowed = await rule.may_reach_internal(url, what)
            if isinstance(allowed, FetchFailed):
                return allowed
            reset = may_reach_internal.set(allowed)
            try:
                async with self._client.stream(
                    "GET", url, headers=headers, timeout=timeout, follow_redirects=False
                ) as response:
                    answer = await self._hop(feed, url, response, hop)
            finally:
                may_reach_internal.reset(reset)
            if not isinstance(answer, str):
                return answer
            url = answer
        return FetchFailed(
            f"more than {self.limits.max_redirects} redirects (a redirect loop?)", transient=False
        )

    async def _hop(self, feed: FeedConfig, url: str, response: httpx.Response,
                   hop: int) -> FetchResult | str:
        """The result, or the URL a redirect leads to."""
        status = response.status_code
        if status not in _REDIRECTS:
            return await self._answer(response, url)
        target = response.headers.get("location", "").strip()
        if not target:
            return FetchFailed(f"HTTP {status} redirect without a Location", False)
        next_url = str(urljoin(url, target))
        if urlsplit(next_url).scheme not in ("http", "https"):
            return FetchFailed(f"HTTP {status} redirect to a non-HTTP URL", False)
        log.info("feed %s: HTTP %d redirect from %s to %s (hop %d)", feed.name, status,
                 _host(url), _host(next_url), hop + 1)
        return next_url

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


class _AddressRule:
    """Whether one fetch's requests may reach non-public addresses: always to the feed's own
    configured host (the admin chose it), anywhere when that host is itself internal (an
    intranet feed) or the admin allows it; else only public addresses."""

    def __init__(self, feed: FeedConfig, resolver: Resolver, allow_private: bool) -> None:
        self._feed, self._resolver, self._allow = feed, resolver, allow_private
        self._feed_internal: bool | None = None

    async def may_reach_internal(self, url: str, what: str) -> bool | FetchFailed:
        """True/False for the request to `url`, or why it must not be made."""
        host, own = _host(url).lower().rstrip("."), self._feed.host.lower().rstrip(".")
        if self._allow or host == own:
            return True
        if self._feed_internal is None:
            self._feed_internal = await internal(own, _port(self._feed.url), self._resolver)
        if self._feed_internal:
            return True
        try:
            refuse_non_public(host, await resolve(host, _port(url), self._resolver))
        except AddressRefused as exc:
            return FetchFailed(
                f"refused: {what} {exc}; a feed may lead there only when its own configured "
                "host is such an address (or with HUBBOT_FEEDS_ALLOW_PRIVATE=true)",
                transient=False)
        except OSError as exc:
            return FetchFailed(f"network error: cannot resolve {host} ({exc})", transient=True)
        return False


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose connections are made by `backend`.

    httpx 0.28 takes no network backend, so the pool it builds is replaced (`_pool`, the one
    attribute its request handling uses); test_address_rule_loopback proves the backend is
    used.
    """

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        super().__init__(trust_env=True)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=True),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


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


def _port(url: str) -> int:
    parts = urlsplit(url)
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return 80


def _kind(exc: Exception) -> str:
    return type(exc).__name__


def _safe_message(exc: Exception) -> str:
    # Exception texts may quote the URL, whose query can hold an access token.
    return _URL_IN_TEXT.sub("<url>", str(exc)) or _kind(exc)
