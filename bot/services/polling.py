"""Poll one feed: fetch conditionally, parse, ingest, and remember the feed's state."""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.csaf import CsafError, parse_csaf
from bot.domain.feed_config import FeedConfig, where
from bot.domain.feed_state import AlertWindow, FeedState, alert_window
from bot.domain.language import _, moment_text
from bot.domain.outbox_payload import FeedHealthMessage
from bot.domain.poll_backoff import next_poll_delay
from bot.services.csaf_ingest import CsafItem, ingest_csaf, raw_digest
from bot.services.hub_messages import queue_to
from bot.services.ingest import IngestReport, MatcherCache, ingest_advisories
from bot.services.outgoing import Address
from bot.services.ports import (
    CsafPoll,
    CsafProvider,
    FeedParser,
    FeedRejected,
    Fetched,
    Fetcher,
    FetchFailed,
    NotModified,
    ParsedFeed,
    UnitOfWork,
    UnitOfWorkFactory,
)
from bot.services.store_boundary import StoreBoundary, store_boundary

log = logging.getLogger(__name__)

# On a feed's first poll, entries published this long ago or less still alert; older ones are
# its backlog: recorded (matched, /latest) without alerting. HUBBOT_BACKLOG_DAYS.
DEFAULT_BACKLOG = timedelta(days=3)
# Past this many failures in a row a feed is reported as an error, not a warning.
FAILURE_STREAK_ALARM = 3
# A failure streak this long is told to the admins (once), and so is its end.
FAILURE_REPORT_AFTER = timedelta(hours=1)
FEED_HEALTH_PRIORITY = 1


@dataclass
class PollOutcome:
    feed: str
    status: str  # fetched | not-modified | failed | skipped
    new: int = 0
    merged: int = 0
    known: int = 0
    messages: int = 0
    backlog: int = 0  # recorded without alerting (published before the feed was followed)
    withheld: int = 0  # kept by the TLP gate from readers not cleared for them
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    next_poll_at: datetime | None = None  # when the feed wants its next poll


class FeedPoller:
    """Polls feeds; one slow or broken feed never holds up another."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory | StoreBoundary,
        fetcher: Fetcher,
        parse: FeedParser,
        *,
        console: bool,
        clock: Callable[[], datetime],
        on_queued: Callable[[], None] | None = None,
        csaf: CsafProvider | None = None,
        enrich: Callable[[list[str]], Awaitable[None]] | None = None,
        backlog: timedelta = DEFAULT_BACKLOG,
        admins: Collection[Address] = frozenset(),
    ) -> None:
        self._uow = uow_factory
        self._store = store_boundary(uow_factory)  # what async code here awaits
        self._fetcher = fetcher
        self._parse = parse
        self._console = console
        self._clock = clock
        self._on_queued = on_queued
        self._csaf = csaf
        # Called with the CVEs of fetched entries before they are ingested (EPSS scores).
        self._enrich = enrich
        self._backlog = backlog
        # Their direct chats read TLP:RED (the TLP gate); told of long failure streaks too.
        self._admins = admins
        self._matchers = MatcherCache()
        # Ingests run in worker threads (parsing a big feed must not stall the event loop);
        # one at a time, so two feeds never race to store the same advisory.
        self._write_lock = threading.Lock()

    async def poll(self, feed: FeedConfig, *, force: bool = False) -> PollOutcome:
        """Poll `feed` unless it is backing off after failures (or `force`)."""
        state = await self._store.unit(lambda uow: uow.feeds.get(feed.name))
        now = self._clock()
        if not force and state.next_poll_at is not None and state.next_poll_at > now:
            return PollOutcome(feed.name, "skipped", next_poll_at=state.next_poll_at)
        previous_attempt = state.last_attempt_at
        if feed.type == "csaf":
            outcome = await self._poll_csaf(feed, state, previous_attempt)
        else:
            outcome = await self._poll_entries(feed, state, previous_attempt)
        outcome.next_poll_at = state.next_poll_at
        if outcome.messages and self._on_queued is not None:
            self._on_queued()
        return outcome

    async def _poll_entries(self, feed: FeedConfig, state: FeedState,
                            previous_attempt: datetime | None) -> PollOutcome:
        result = await self._fetcher.fetch(feed, state.etag, state.last_modified)
        state.last_attempt_at = self._clock()
        if isinstance(result, NotModified):
            return await self._store.call(self._succeeded, feed, state,
                                          PollOutcome(feed.name, "not-modified"))
        if isinstance(result, FetchFailed):
            return await self._store.call(self._failed, feed, state, result.reason,
                                          result.retry_after, transient=result.transient)
        parsed = await self._store.call(self._parse_entries, feed, state, result)
        if isinstance(parsed, PollOutcome):
            return parsed
        if self._enrich is not None:
            await self._enrich([c for a in parsed.advisories for c in a.cves])
        return await self._store.call(self._ingest, feed, state, result, parsed,
                                      previous_attempt)

    def _parse_entries(
        self, feed: FeedConfig, state: FeedState, fetched: Fetched
    ) -> ParsedFeed | PollOutcome:
        try:
            parsed = self._parse(feed, fetched.body, fetched.headers)
        except FeedRejected as exc:
            return self._failed(feed, state, f"rejected: {exc}", None, transient=False)
        except Exception as exc:
            log.exception("feed %s: parser raised", feed.name)
            return self._failed(feed, state, f"cannot parse: {type(exc).__name__}", None,
                                transient=False)
        for problem in parsed.problems:
            log.warning("feed %s: %s", feed.name, problem)
        if not parsed.advisories and parsed.problems:
            return self._failed(feed, state, "; ".join(parsed.problems)[:500], None,
                                transient=False)
        return parsed

    def _ingest(self, feed: FeedConfig, state: FeedState, fetched: Fetched,
                parsed: ParsedFeed, previous_attempt: datetime | None) -> PollOutcome:
        outcome = PollOutcome(feed.name, "fetched", problems=list(parsed.problems))
        with self._write_lock, self._uow() as uow:
            now = self._clock()
            window = alert_window(state, now, self._backlog, previous_attempt)
            report = ingest_advisories(
                uow, parsed.advisories, self._matchers.get(uow), now, console=self._console,
                window=window, admins=self._admins,
            )
            state.etag, state.last_modified = fetched.etag, fetched.last_modified
            state.entries_seen = len(parsed.advisories)
            self._mark_success(uow, feed, state, now)
            uow.feeds.save(state)
            uow.commit()
        self._count(outcome, report)
        log.info(
            "feed %s: %d entries, %d new, %d merged by CVE set, %d messages queued",
            feed.name, len(parsed.advisories), outcome.new, outcome.merged, outcome.messages,
        )
        self._log_backlog(f"feed {feed.name}", window, report)
        return outcome

    @staticmethod
    def _count(outcome: PollOutcome, report: IngestReport) -> None:
        outcome.new, outcome.merged = len(report.new), len(report.merged)
        outcome.known, outcome.messages = report.known, report.messages
        outcome.backlog, outcome.withheld = report.archived, report.withheld

    def _log_backlog(self, what: str, window: AlertWindow, report: IngestReport) -> None:
        if report.archived:
            log.info("%s: %d entries recorded without alerting (%s: published before %s, "
                     "and none known exploited); %d alerts for the recent ones", what,
                     report.archived, window.reason or "backlog",
                     window.since.strftime("%Y-%m-%d %H:%M UTC"), report.alerts)

    async def _poll_csaf(self, feed: FeedConfig, state: FeedState,
                         previous_attempt: datetime | None) -> PollOutcome:
        if self._csaf is None:
            return await self._store.call(self._failed, feed, state,
                                          "CSAF sources are not configured here", None,
                                          transient=False)
        seen = await self._store.unit(lambda uow: uow.csaf.seen(feed.name))
        polled = await self._csaf.poll(feed, seen)
        state.last_attempt_at = self._clock()
        if polled.error is not None:
            return await self._store.call(self._failed, feed, state, polled.error, None,
                                          transient=polled.transient)
        if self._enrich is not None:
            await self._enrich([str(v.get("cve")) for d in polled.documents
                                for v in d.document.get("vulnerabilities", [])
                                if isinstance(v, dict) and v.get("cve")])
        return await self._store.call(self._ingest_csaf, feed, state, polled, previous_attempt)

    def _ingest_csaf(self, feed: FeedConfig, state: FeedState, polled: CsafPoll,
                     previous_attempt: datetime | None) -> PollOutcome:
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
            # documents each): what it released before the window of the first poll is
            # recorded, never alerted; what it released since always alerts (a late poll
            # after an outage too).
            window = alert_window(state, now, self._backlog, previous_attempt)
            report = ingest_csaf(uow, items, self._matchers.get(uow), now,
                                 console=self._console, source=feed.name, window=window,
                                 tlp=feed.tlp, admins=self._admins)
            for url, updated in polled.seen.items():
                uow.csaf.set_seen(feed.name, url, updated)
            state.entries_seen = polled.listed
            self._mark_success(uow, feed, state, now)
            uow.feeds.save(state)
            uow.commit()
        self._count(outcome, report)
        log.info("CSAF %s: %d documents listed, %d fetched, %d new advisories, %d merged, "
                 "%d messages queued", feed.name, polled.listed, len(items), outcome.new,
                 outcome.merged, outcome.messages)
        self._log_backlog(f"CSAF {feed.name}", window, report)
        return outcome

    def _succeeded(self, feed: FeedConfig, state: FeedState, outcome: PollOutcome) -> PollOutcome:
        with self._uow() as uow:
            self._mark_success(uow, feed, state, self._clock())
            uow.feeds.save(state)
            uow.commit()
        return outcome

    def _mark_success(self, uow: UnitOfWork, feed: FeedConfig, state: FeedState,
                      now: datetime) -> None:
        if state.consecutive_failures:
            log.info("feed %s: recovered after %d failed polls", feed.name,
                     state.consecutive_failures)
        if state.failure_reported and state.failing_since is not None:
            self._tell_admins(uow, feed.name, state, now, recovered=True)
        state.consecutive_failures = 0
        state.last_error = None
        state.failing_since, state.failure_reported = None, False
        state.last_success_at = now
        state.following_since = state.following_since or now
        state.next_poll_at = now + feed.interval - timedelta(seconds=1)

    def _failed(
        self, feed: FeedConfig, state: FeedState, reason: str, retry_after: float | None,
        *, transient: bool,
    ) -> PollOutcome:
        now = self._clock()
        state.consecutive_failures += 1
        state.last_error = reason[:1000]
        state.failing_since = state.failing_since or now
        delay = next_poll_delay(feed.interval, state.consecutive_failures, retry_after,
                                transient=transient)
        state.next_poll_at = now + delay
        level = logging.ERROR if state.consecutive_failures == FAILURE_STREAK_ALARM else (
            logging.WARNING if state.consecutive_failures == 1 else logging.INFO
        )
        log.log(level, "feed %s: poll failed (%d in a row, %s): %s; next try in %.0f s",
                feed.name, state.consecutive_failures, "transient" if transient else "permanent",
                reason, delay.total_seconds())
        with self._uow() as uow:
            if not state.failure_reported and now - state.failing_since >= FAILURE_REPORT_AFTER:
                self._tell_admins(uow, feed.name, state, now, recovered=False)
                state.failure_reported = True
            uow.feeds.save(state)
            uow.commit()
        return PollOutcome(feed.name, "failed", error=reason)

    def _tell_admins(self, uow: UnitOfWork, feed: str, state: FeedState, now: datetime,
                     *, recovered: bool) -> None:
        """Once per failure streak past an hour, and once at its end; admins only."""
        assert state.failing_since is not None
        since, tries, reason = state.failing_since, state.consecutive_failures, state.last_error
        if recovered:
            def text() -> str:
                return _("✅ Feed {feed} works again (it failed from {moment}, {count} tries)."
                         ).format(feed=feed, moment=moment_text(since, None), count=tries)
        else:
            def text() -> str:
                return _("⚠️ Feed {feed} has failed since {moment} ({count} tries): {reason}\n"
                         "Its advisories wait until it works again; /status shows every feed."
                         ).format(feed=feed, moment=moment_text(since, None), count=tries,
                                  reason=reason)
        queue_to(uow, sorted(self._admins),
                 key=f"{feed}|{since.isoformat()}|{'up' if recovered else 'down'}",
                 payload=lambda: FeedHealthMessage(text()), priority=FEED_HEALTH_PRIORITY, now=now,
                 admins=self._admins)
