"""Members' reports to the hub: what a member saw, its indicators, how it may be shared.

A report is filed by a member's contact through the `/report` conversation, triaged by a
coordinator (approved, its summary edited, or rejected) and, once approved, relayed to the
other members without naming the reporter unless they chose to be named. Members answer with
sightings (`/seen`). Nothing here does I/O.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.members import Network
from bot.domain.tlp import Tlp

# A half-finished report is dropped when nothing was answered for this long.
DRAFT_LIFETIME = timedelta(hours=24)
# The "what happened" text and a coordinator's edited summary.
MAX_SUMMARY_CHARS = 4000
DEFAULT_TLP = Tlp.AMBER
_REF = re.compile(r"^[Rr]-?(\d{1,9})$")


class Sharing(enum.StrEnum):
    """How the reporter allows the hub to share the report."""

    COORDINATORS = "coordinators"  # the hub's coordinators only
    ANONYMOUS = "anonymous"  # members, without naming the organisation
    NAMED = "named"  # members, with the organisation named


class ReportStatus(enum.StrEnum):
    FILED = "filed"  # waiting for a coordinator
    APPROVED = "approved"
    REJECTED = "rejected"


class IndicatorKind(enum.StrEnum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    DOMAIN = "domain"
    URL = "url"
    EMAIL = "email"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    CVE = "cve"


class IndicatorFlag(enum.StrEnum):
    """Why an indicator may not point at the attacker: shown to reporter and readers."""

    PRIVATE = "private"  # RFC 1918, loopback, link-local, unique local: inside someone's network
    DOCUMENTATION = "documentation"  # RFC 5737 / 3849 / example.* : from a text, not an attack


@dataclass(frozen=True, order=True)
class Indicator:
    kind: IndicatorKind
    value: str  # normalised (re-fanged, lower-case where case does not matter)
    flag: IndicatorFlag | None = None


@dataclass(frozen=True)
class ProductName:
    """A product the report concerns, as the hub's members registered it (its name only)."""

    vendor: str
    product: str

    @property
    def display(self) -> str:
        return f"{self.vendor} {self.product}"


@dataclass(frozen=True)
class Report:
    """A filed report. `member` and `reporter_*` identify the reporter: coordinators only."""

    id: int
    member: str
    reporter_network: Network
    reporter_address: str
    language: str | None  # the reporter's language when filed, to tell them the decision
    summary: str
    product: ProductName | None
    tlp: Tlp
    sharing: Sharing
    status: ReportStatus
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None  # a rejection's reason, for the reporter
    edited: bool = False
    indicators: tuple[Indicator, ...] = ()

    @property
    def ref(self) -> str:
        return report_ref(self.id)

    @property
    def relayed_to_members(self) -> bool:
        """Whether members were (or will be) told of it: approved, shared, not TLP:RED."""
        return (self.status is ReportStatus.APPROVED and self.sharing is not Sharing.COORDINATORS
                and self.tlp < Tlp.RED)


@dataclass(frozen=True)
class Sighting:
    member: str
    seen: bool
    at: datetime
    indicators_added: int = 0


@dataclass(frozen=True)
class SightingCounts:
    seen: int
    not_seen: int
    indicators_added: int
    members_seen: tuple[str, ...] = field(default=(), compare=False)
    members_not_seen: tuple[str, ...] = field(default=(), compare=False)


def report_ref(report_id: int) -> str:
    """How members and coordinators name a report: R17."""
    return f"R{report_id}"


def parse_report_ref(text: str) -> int | None:
    """17 from "R17", "r17" or "R-17"; None for anything else."""
    match = _REF.match(text.strip())
    return int(match.group(1)) if match else None
