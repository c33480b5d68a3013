"""A feed as configured: where it is, how often to poll it, how to label what it brings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from bot.domain.tlp import Tlp

FEED_TYPES = ("rss", "csaf", "kev", "epss")


@dataclass(frozen=True)
class FeedConfig:
    """One advisory feed: where it is, how often to poll it, how to label what it brings."""

    name: str
    url: str
    interval: timedelta
    tlp: Tlp = Tlp.CLEAR
    tags: tuple[str, ...] = ()
    enabled: bool = True
    # rss: an RSS/Atom feed; csaf: a CSAF provider's provider-metadata.json or a ROLIE feed;
    # kev: CISA's Known Exploited Vulnerabilities catalog; epss: FIRST's EPSS API
    type: str = "rss"

    @property
    def advisories(self) -> bool:
        """A source of advisories (polled as a feed), not of exploitation data."""
        return self.type in ("rss", "csaf")

    @property
    def host(self) -> str:
        """The feed's host, safe to log (a URL's path or query may carry a token)."""
        return urlsplit(self.url).hostname or "?"


def where(url: str) -> str:
    """Host and file name: what a log line may show of a URL."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}/…/{parts.path.rsplit('/', 1)[-1]}"
