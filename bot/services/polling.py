"""Poll one feed: fetch conditionally, parse, ingest, and remember the feed's state."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain.advisory import Advisory
from bot.domain.csaf import CsafError, parse_csaf
from bot.domain.feed_state import FeedState
from bot.feeds.backoff import next_poll_delay
from bot.feeds.config import FeedConfig
from bot.feeds.csaf_source import CsafPoll, CsafSource, where
from bot.feeds.fetch import Fetched, FetchFailed, FetchResult, NotModified
from bot.feeds.parse import FeedRejected
from bot.services.csaf_ingest import CsafItem, ingest_csaf, raw_digest
from bot.services.ingest import MatcherCache, ingest_advisories
from bot.services.outgoing import Address
from bot.services.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)

# A CSAF document released this long before the provider was first polled is archive: recorded
# (decisions, /latest), not alerted.
CSAF_ARCHIVE_AGE = timedelta(days=30)
# Past this many failures in a row a feed is reported as an error, not a warning.
FAILURE_STREAK_ALARM = 3


class Fetcher(Protocol):
    async def fetch(
        self, feed: FeedConfig, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...


class ParsedEntries(Protocol):
    advisories: list[Advisory]
    problems: list[str]


Parser = Callable[[FeedConfig, bytes, Mapping[str, str]], ParsedEntries]


@dataclass
class PollOutcome:
    feed: str
    status: str  # fetched | not-modified | failed | skipped
    new: int = 0
    merged: int = 0
    known: int = 0
    messages: int = 0
    withheld: int = 0  # kept by the TLP gate from readers not cleared for them
    problems: list[str] = field(default_factory=list)
    error: str | None = None


class FeedPoller:
    """Polls feeds; one slow or broken feed never holds up another."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        fetcher: Fetcher,
        parse: Parser,
        *,
        console: bool,
        clock: Callable[[], datetime],
        on_queued: Callable[[], None] | None = None,
        csaf: CsafSource | None = None,
        enrich: Callable[[list[str]], Awaitable[None]] | None = None,
        admins: Collection[Address] = frozenset(),
    ) -> None:
        self._uow = uow_factory
        self._fetcher = fetcher
        self._parse = parse
        self._console = console
        self._clock = clock
        self._on_queued = on_queued
        self._csaf = csaf
        # Called with the CVEs of fetched entries before they are ingested (EPSS scores).
        self._enrich = enrich
        self._admins = admins  # their direct chats read TLP:RED (the TLP gate)
        self._matchers = MatcherCache()
        # Ingests run in worker threads (parsing a big feed must not stall the event loop);
        # one at a time, so two feeds never race to store the same advisory.
        self._write_lock = threading.Lock()

    async def poll(self, feed: FeedConfig, *, force: bool = False) -> PollOutcome:
        """Poll `feed` unless it is backing off after failures (or `force`)."""
        with self._uow() as uow:
            state = uow.feeds.get(feed.name)
        now = self._clock()
        if not force and state.next_poll_at is not None and state.next_poll_at > now:
            return PollOutcome(feed.name, "skipped")
        if feed.type == "csaf":
            return await self._poll_csaf(feed, state)
        result = await self._fetcher.fetch(feed, state.etag, state.last_modified)
        state.last_attempt_at = self._clock()
        if isinstance(result, NotModified):
            return self._succeeded(feed, state, PollOutcome(feed.name, "not-modified"))
        if isinstance(result, FetchFailed):
            return self._failed(feed, state, result.reason, result.retry_after)
        parsed = await asyncio.to_thread(self._parse_entries, feed, state, result)
        if isinstance(parsed, PollOutcome):
            return parsed
        if self._enrich is not None:
            await self._enrich([c for a in parsed.advisories for c in a.cves])
        outcome = await asyncio.to_thread(self._ingest, feed, state, result, parsed)
        if outcome.messages and self._on_queued is not None:
            self._on_queued()
        return outcome

    def _parse_entries(
        self, feed: FeedConfig, state: FeedState, fetched: Fetched
    ) -> ParsedEntries | PollOutcome:
        try:
            parsed = self._parse(feed, fetched.body, fetched.headers)
        except FeedRejected as exc:
            return self._failed(feed, state, f"rejected: {exc}", None)
        except Exception as exc:
            log.exception("feed %s: parser raised", feed.name)
            return self._failed(feed, state, f"cannot parse: {type(exc).__name__}", None)
        for problem in parsed.problems:
            log.warning("feed %s: %s", feed.name, problem)
        if not parsed.advisories and parsed.problems:
            return self._failed(feed, state, "; ".join(parsed.problems)[:500], None)
        return parsed

    def _ingest(self, feed: FeedConfig, state: FeedState, fetched: Fetched,
                parsed: ParsedEntries) -> PollOutcome:
        outcome = PollOutcome(feed.name, "fetched", problems=list(parsed.problems))
        with self._write_lock, self._uow() as uow:
            now = self._clock()
            report = ingest_advisories(
                uow, parsed.advisories, self._matchers.get(uow), now, console=self._console,
                admins=self._admins,
            )
            state.etag, state.last_modified = fetched.etag, fetched.last_modified
            state.entries_seen = len(parsed.advisories)
            self._mark_success(feed, state, now)
            uow.feeds.save(state)
            uow.commit()
        outcome.new, outcome.merged = len(report.new), len(report.merged)
        outcome.known, outcome.messages = report.known, report.messages
        outcome.withheld = report.withheld
        log.info(
            "feed %s: %d entries, %d new, %d merged by CVE set, %d messages queued",
            feed.name, len(parsed.advisories), outcome.new, outcome.merged, outcome.messages,
        )
        return outcome

    async def _poll_csaf(self, feed: FeedConfig, state: FeedState) -> PollOutcome:
        if self._csaf is None:
            return self._failed(feed, state, "CSAF sources are not configured here", None)
        with self._uow() as uow:
            seen = uow.csaf.seen(feed.name)
        polled = await self._csaf.poll(feed, seen)
        state.last_attempt_at = self._clock()
        if polled.error is not None:
            return self._failed(feed, state, polled.error, None)
        if self._enrich is not None:
            await self._enrich([str(v.get("cve")) for d in polled.documents
                                for v in d.document.get("vulnerabilities", [])
                                if isinstance(v, dict) and v.get("cve")])
        outcome = await asyncio.to_thread(self._ingest_csaf, feed, state, polled)
        if outcome.messages and self._on_queued is not None:
            self._on_queued()
        return outcome

    def _ingest_csaf(self, feed: FeedConfig, state: FeedState, polled: CsafPoll) -> PollOutcome:
        items, problems = [], list(polled.problems)
        for fetched in polled.documents:
            try:
                items.append(CsafItem(fetched.url, parse_csaf(fetched.document),
                                      raw_digest(fetched.body)))
            except CsafError as exc:
                problems.append(f"{where(fetched.url)}: {exc}")
                log.error("CSAF %s: %s: %s; document skipped", feed.name, where(fetched.url),
                          exc)
        outcome = PollOutcome(feed.name, "fetched", problems=problems)
        with self._write_lock, self._uow() as uow:
            now = self._clock()
            # A provider's archive comes over its first polls (newest first, a few hundred
            # documents each): what it released well before we began to follow it is
            # recorded, never alerted; what it released since always alerts (a late poll
            # after an outage too).
            since = state.following_since or now
            report = ingest_csaf(uow, items, self._matchers.get(uow), now,
                                 console=self._console, source=feed.name,
                                 alert_since=since - CSAF_ARCHIVE_AGE, tlp=feed.tlp,
                                 admins=self._admins)
            for url, updated in polled.seen.items():
                uow.csaf.set_seen(feed.name, url, updated)
            state.entries_seen = polled.listed
            self._mark_success(feed, state, now)
            uow.feeds.save(state)
            uow.commit()
        outcome.new, outcome.merged = len(report.new), len(report.merged)
        outcome.known, outcome.messages = report.known, report.messages
        outcome.withheld = report.withheld
        log.info("CSAF %s: %d documents listed, %d fetched, %d new advisories, %d merged, "
                 "%d messages queued%s", feed.name, polled.listed, len(items), outcome.new,
                 outcome.merged, outcome.messages,
                 f"; {report.archived} from the provider's archive recorded without alerting "
                 f"(released over {CSAF_ARCHIVE_AGE.days} days before it was first polled)"
                 if report.archived else "")
        return outcome

    def _succeeded(self, feed: FeedConfig, state: FeedState, outcome: PollOutcome) -> PollOutcome:
        with self._uow() as uow:
            self._mark_success(feed, state, self._clock())
            uow.feeds.save(state)
            uow.commit()
        return outcome

    def _mark_success(self, feed: FeedConfig, state: FeedState, now: datetime) -> None:
        if state.consecutive_failures:
            log.info("feed %s: recovered after %d failed polls", feed.name,
                     state.consecutive_failures)
        state.consecutive_failures = 0
        state.last_error = None
        state.last_success_at = now
        state.following_since = state.following_since or now
        state.next_poll_at = now + feed.interval - timedelta(seconds=1)

    def _failed(
        self, feed: FeedConfig, state: FeedState, reason: str, retry_after: float | None
    ) -> PollOutcome:
        state.consecutive_failures += 1
        state.last_error = reason[:1000]
        delay = next_poll_delay(feed.interval, state.consecutive_failures, retry_after)
        state.next_poll_at = self._clock() + delay
        level = logging.ERROR if state.consecutive_failures == FAILURE_STREAK_ALARM else (
            logging.WARNING if state.consecutive_failures == 1 else logging.INFO
        )
        log.log(level, "feed %s: poll failed (%d in a row): %s; next try in %.0f s",
                feed.name, state.consecutive_failures, reason, delay.total_seconds())
        with self._uow() as uow:
            uow.feeds.save(state)
            uow.commit()
        return PollOutcome(feed.name, "failed", error=reason)
