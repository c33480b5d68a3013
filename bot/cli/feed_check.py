"""`hubbot feeds check NAME`: fetch one feed now and show what hubbot makes of it."""

from __future__ import annotations

from collections.abc import Callable

from bot.app.settings import Settings
from bot.domain.csaf import CsafError, parse_csaf
from bot.domain.feed_config import FeedConfig
from bot.feeds.csaf_source import CsafSource
from bot.feeds.exploitation_sources import EpssClient, KevSource
from bot.feeds.fetch import FeedFetcher, FetchLimits
from bot.feeds.parse import parse_feed
from bot.services.ports.feeds import Fetched, FetchFailed


async def check_feed(
    feed: FeedConfig, settings: Settings, show: int, echo: Callable[[str], None]
) -> bool:
    """Fetch without validators (always a full answer); True when entries were parsed."""
    limits = FetchLimits(total=settings.fetch_timeout, max_bytes=settings.max_feed_bytes)
    allow_private = settings.feeds_allow_private
    if feed.type == "csaf":
        return await _check_csaf(feed, limits, allow_private, show, echo)
    if feed.type in ("kev", "epss"):
        return await _check_exploitation(feed, limits, allow_private, echo)
    async with FeedFetcher(limits=limits, allow_private=allow_private) as fetcher:
        result = await fetcher.fetch(feed)
    if isinstance(result, FetchFailed):
        kind = "temporary" if result.transient else "permanent"
        echo(f"{feed.name}: fetch failed ({kind}): {result.reason}")
        return False
    if not isinstance(result, Fetched):
        echo(f"{feed.name}: server answered 304 Not Modified to an unconditional request")
        return False
    parsed = parse_feed(feed, result.body, result.headers)
    echo(f"{feed.name}: {len(result.body):,} bytes, {len(parsed.advisories)} entries, "
         f"ETag {'yes' if result.etag else 'no'}, Last-Modified "
         f"{'yes' if result.last_modified else 'no'}")
    for problem in parsed.problems:
        echo(f"  problem: {problem}")
    for a in parsed.advisories[:show]:
        severity = a.severity.label if a.severity else "-"
        published = a.published.isoformat() if a.published else "no date"
        echo(f"- {a.title}\n    id {a.id}\n    {published}  severity {severity}  "
             f"cvss {a.cvss if a.cvss is not None else '-'}  {a.tlp.label}  "
             f"CVEs {', '.join(a.cves[:5]) or '-'}\n    {a.link}")
    return bool(parsed.advisories)


async def _check_csaf(
    feed: FeedConfig, limits: FetchLimits, allow_private: bool, show: int,
    echo: Callable[[str], None],
) -> bool:
    """Discover the provider's documents and read the newest `show` of them."""
    async with FeedFetcher(limits=limits, allow_private=allow_private) as fetcher:
        polled = await CsafSource(fetcher, max_documents=show).poll(feed, {})
    if polled.error is not None:
        echo(f"{feed.name}: {polled.error}")
        return False
    echo(f"{feed.name}: {polled.listed} CSAF documents listed; the newest {show} read")
    for problem in polled.problems:
        echo(f"  problem: {problem}")
    for fetched in polled.documents:
        try:
            doc = parse_csaf(fetched.document)
        except CsafError as exc:
            echo(f"- {fetched.url}: {exc}")
            continue
        tlp = doc.to_advisory(feed.name, feed.tlp).tlp  # the provider's TLP is a floor
        echo(f"- {doc.tracking_id} v{doc.version}: {doc.title}\n    {len(doc.products)} "
             f"products, CVEs {', '.join(doc.cves[:5]) or '-'}, {tlp.label}")
    return bool(polled.documents)


async def _check_exploitation(
    feed: FeedConfig, limits: FetchLimits, allow_private: bool, echo: Callable[[str], None]
) -> bool:
    async with FeedFetcher(limits=limits, allow_private=allow_private) as fetcher:
        if feed.type == "kev":
            catalog = await KevSource(fetcher, feed.url).fetch()
            if catalog is None:
                echo(f"{feed.name}: the KEV catalog could not be read (see the log)")
                return False
            echo(f"{feed.name}: KEV catalog {catalog.version}, {len(catalog.listings)} CVEs"
                 + (f", {catalog.skipped} malformed entries skipped" if catalog.skipped else ""))
            return True
        scores = await EpssClient(fetcher, feed.url).scores(["CVE-2021-44228"])
        echo(f"{feed.name}: " + (f"EPSS of CVE-2021-44228 is {scores['CVE-2021-44228'].epss}"
                                 if scores else "no score received (see the log)"))
        return bool(scores)
