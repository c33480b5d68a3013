"""The feed ports: what a fetcher, a feed parser and a CSAF provider give the polling service."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.domain.advisory import Advisory
from bot.domain.exploitation import EpssScore, KevCatalog
from bot.domain.feed_config import FeedConfig


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


class Fetcher(Protocol):
    async def fetch(
        self, feed: FeedConfig, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...


class FeedRejected(ValueError):
    """The body is hostile XML (entity declarations); it was not parsed."""


@dataclass(frozen=True)
class ParsedFeed:
    """The advisories read from one feed body, and what was wrong with it (empty when nothing)."""

    advisories: list[Advisory]
    problems: list[str] = field(default_factory=list)


FeedParser = Callable[[FeedConfig, bytes, Mapping[str, str]], ParsedFeed]


@dataclass(frozen=True)
class CsafFetched:
    url: str
    updated: str
    body: bytes
    document: dict[str, Any]


@dataclass
class CsafPoll:
    """What one poll of a CSAF provider brought: documents, problems, and what to remember."""

    documents: list[CsafFetched] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)  # url → updated, to remember
    error: str | None = None  # the provider itself could not be read
    transient: bool = False  # the error is worth retrying soon (network, timeout, 5xx)
    listed: int = 0


class CsafProvider(Protocol):
    async def poll(self, feed: FeedConfig, seen: Mapping[str, str]) -> CsafPoll: ...


class KevFeed(Protocol):
    async def fetch(self) -> KevCatalog | None: ...


class EpssFeed(Protocol):
    async def scores(self, cves: list[str]) -> dict[str, EpssScore]: ...
