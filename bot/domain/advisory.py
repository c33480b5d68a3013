"""The advisory as hubbot understands it, whatever feed it came from."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.severity import Severity
from bot.domain.tlp import Tlp

_CVE = re.compile(r"\bCVE-(\d{4})-(\d{4,7})\b", re.IGNORECASE)
# Publishers' advisory ids that name one advisory in every format it is published in (RSS, CSAF):
# CISA ICS(M)A-24-123-01, Siemens SSA-123456, BSI WID-SEC-2024-1234, CERT@VDE VDE-2024-012.
_TRACKING = re.compile(
    r"\b(ICSM?A-\d{2}-\d{3}-\d{2}[A-Z]?|SSA-\d{6}|WID-SEC-\d{4}-\d{4}|VDE-\d{4}-\d{3,5})\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Advisory:
    """One security advisory, normalised from a feed entry.

    `id` is stable across polls: the entry's guid, else its link, else a hash of its content,
    always prefixed with the feed's name so two feeds' guids never collide.
    """

    id: str
    title: str
    summary: str
    link: str
    source: str
    published: datetime | None = None
    cves: tuple[str, ...] = ()
    cvss: float | None = None
    severity: Severity | None = None
    tlp: Tlp = Tlp.CLEAR
    tags: tuple[str, ...] = field(default=())
    tracking_id: str | None = None  # the publisher's id, shared by its RSS entry and CSAF file

    @property
    def cve_key(self) -> str:
        """The CVE set as one comparable string (empty when the advisory names none)."""
        return ",".join(sorted(self.cves))

    @property
    def text(self) -> str:
        """What the matcher reads: title and summary."""
        return f"{self.title}\n{self.summary}"


def extract_cves(text: str) -> tuple[str, ...]:
    """CVE ids in `text`, upper-cased, de-duplicated, in order of first appearance."""
    seen: dict[str, None] = {}
    for year, number in _CVE.findall(text):
        seen.setdefault(f"CVE-{year}-{number}", None)
    return tuple(seen)


def find_tracking_id(*texts: str) -> str | None:
    """The first publisher advisory id in the texts (title first), upper-cased."""
    for text in texts:
        found = _TRACKING.search(text or "")
        if found:
            return found.group(1).upper()
    return None


def tracking_scheme(tracking_id: str) -> str:
    """The publisher family of a tracking id: ICSA and ICSMA are CISA's, SSA Siemens's …"""
    prefix = re.split(r"\d", tracking_id, maxsplit=1)[0].rstrip("-").upper()
    return "ICS" if prefix in ("ICSA", "ICSMA") else prefix


def same_advisory(existing: str | None, arriving: str | None) -> bool:
    """Whether an advisory found by its CVE set is the arriving one: not when both carry
    their publisher's id, of one publisher, and the ids differ (two advisories of one vendor
    may name the same CVEs); a CERT's copy of a vendor's advisory carries another scheme."""
    if not existing or not arriving or existing == arriving:
        return True
    return tracking_scheme(existing) != tracking_scheme(arriving)


def stable_advisory_id(
    source: str, guid: str | None, link: str | None, title: str, summary: str
) -> str:
    """guid, else link, else a hash of the content.

    Absolute URLs are global (two feeds of one publisher share them); any other guid is only
    unique within its feed, so it is prefixed with the feed's name.
    """
    guid = (guid or "").strip()
    link = (link or "").strip()
    if guid:
        return guid if _is_absolute_url(guid) else f"{source}:{guid}"
    if link:
        return link if _is_absolute_url(link) else f"{source}:{link}"
    digest = hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()[:32]
    return f"{source}:sha256:{digest}"


def _is_absolute_url(text: str) -> bool:
    return text.startswith(("https://", "http://")) and " " not in text
