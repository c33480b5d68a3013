"""SQLModel tables: the schema that Alembic's migrations create."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class FeedStateRow(SQLModel, table=True):
    __tablename__ = "feed_state"

    feed: str = Field(primary_key=True, max_length=100)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    next_poll_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    entries_seen: int = 0
    following_since: datetime | None = None
    failing_since: datetime | None = None
    failure_reported: bool = False


class AdvisoryRow(SQLModel, table=True):
    __tablename__ = "advisory"
    __table_args__ = (Index("ix_advisory_cve_key", "cve_key"),)

    id: str = Field(primary_key=True, max_length=700)
    title: str = Field(sa_column=Column(Text, nullable=False))
    summary: str = Field(sa_column=Column(Text, nullable=False))
    link: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(max_length=100)
    published: datetime | None = None
    cves: str = Field(default="", sa_column=Column(Text, nullable=False))
    cve_key: str = Field(default="", max_length=700)
    cvss: float | None = None
    severity: int | None = None
    tlp: int = 0
    tags: str = Field(default="", max_length=1000)
    # The publisher's tracking id (ICSMA-24-123-01): RSS entry and CSAF document of one advisory.
    tracking_id: str | None = Field(default=None, max_length=200, index=True)
    first_seen_at: datetime


class AdvisorySourceRow(SQLModel, table=True):
    """A feed entry that was recognised as this advisory (its first feed or a later one)."""

    __tablename__ = "advisory_source"

    entry_id: str = Field(primary_key=True, max_length=700)
    advisory_id: str = Field(foreign_key="advisory.id", index=True, max_length=700)
    feed: str = Field(max_length=100)
    seen_at: datetime


class MemberRow(SQLModel, table=True):
    __tablename__ = "member"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    min_severity: int | None = None
    role: str = Field(default="member", max_length=20)
    # Alerts below critical wait for one daily message at this hour (hub time zone); None: off.
    digest_hour: int | None = None
    # An extra alert rule: "kev" (only known exploited) or "epss>=0.1"; None: severity only.
    alert_rule: str | None = Field(default=None, max_length=30)
    created_at: datetime


class ContactRow(SQLModel, table=True):
    __tablename__ = "contact"
    __table_args__ = (UniqueConstraint("network", "address", name="uq_contact_address"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    network: str = Field(max_length=20)
    address: str = Field(max_length=255)
    active: bool = True
    # Until then alerts arrive silently (Telegram's disable_notification), never dropped.
    muted_until: datetime | None = None
    # The IANA zone this person reads times in (/timezone); None: the hub's.
    timezone: str | None = Field(default=None, max_length=64)
    # The language this person chose (/language); None: their network's, else the hub's.
    language: str | None = Field(default=None, max_length=16)
    # The language their chat app last said they use (Telegram's language_code).
    network_language: str | None = Field(default=None, max_length=16)
    created_at: datetime


class ProductRow(SQLModel, table=True):
    __tablename__ = "product"
    __table_args__ = (
        UniqueConstraint("member_id", "vendor", "product", name="uq_product_member"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    vendor: str = Field(max_length=200)
    product: str = Field(max_length=300)
    aliases: str = Field(default="", sa_column=Column(Text, nullable=False))
    vendor_aliases: str = Field(default="", sa_column=Column(Text, nullable=False))
    distinctive: bool = False
    versions: str | None = Field(default=None, max_length=300)
    created_at: datetime


class MatchRow(SQLModel, table=True):
    __tablename__ = "advisory_match"
    __table_args__ = (
        UniqueConstraint("advisory_id", "product_id", name="uq_match_advisory_product"),
    )

    id: int | None = Field(default=None, primary_key=True)
    advisory_id: str = Field(foreign_key="advisory.id", index=True, max_length=700)
    product_id: int = Field(index=True)
    member_id: int = Field(index=True)
    why: str = Field(sa_column=Column(Text, nullable=False))
    # Version-aware decision from a CSAF document (affected, fixed, not_affected, ...); None
    # for a name-only match. The detail (reason, versions, fix links) is JSON.
    decision: str | None = Field(default=None, max_length=30)
    decision_detail: str = Field(default="", sa_column=Column(Text, nullable=False,
                                                              server_default=""))
    created_at: datetime


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_outbox_dedup"),
        Index("ix_outbox_due", "network", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime
    network: str = Field(max_length=20)
    address: str = Field(max_length=255)
    kind: str = Field(max_length=30)
    # The same fact never queues the same message twice for one address.
    dedup_key: str = Field(max_length=900)
    advisory_id: str | None = Field(default=None, max_length=700)
    member_id: int | None = None
    payload: str = Field(sa_column=Column(Text, nullable=False))
    priority: int = 0
    state: str = Field(default="pending", max_length=10)
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str | None = Field(default=None, max_length=1000)
    sent_at: datetime | None = None
    receipt: str | None = Field(default=None, max_length=255)


class InviteRow(SQLModel, table=True):
    """A one-time code linking a chat to a member; only its hash is kept."""

    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(unique=True, max_length=64)
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: str | None = Field(default=None, max_length=300)


class HubChannelRow(SQLModel, table=True):
    """A hub room or channel that receives every advisory that concerns a member."""

    __tablename__ = "hub_channel"
    __table_args__ = (UniqueConstraint("network", "address", name="uq_hub_channel"),)

    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(max_length=20)
    address: str = Field(max_length=255)
    min_severity: int | None = None
    max_tlp: int = 0
    language: str | None = Field(default=None, max_length=16)  # None: the hub's default
    created_at: datetime


class InboundUpdateRow(SQLModel, table=True):
    """Chat updates already handled, so a redelivered one is not handled twice."""

    __tablename__ = "inbound_update"

    network: str = Field(primary_key=True, max_length=20)
    update_key: str = Field(primary_key=True, max_length=255)
    received_at: datetime = Field(index=True)


class MatrixDirectRoomRow(SQLModel, table=True):
    """The direct room where the bot reaches a Matrix user (the user id is the contact address)."""

    __tablename__ = "matrix_direct_room"

    user_id: str = Field(primary_key=True, max_length=255)
    room_id: str = Field(max_length=255)
    updated_at: datetime


class AdvisoryRefRow(SQLModel, table=True):
    """The short number members and coordinators use for an advisory (/affected 17 yes)."""

    __tablename__ = "advisory_ref"

    ref: int | None = Field(default=None, primary_key=True)
    advisory_id: str = Field(unique=True, max_length=700)


class AffectedAnswerRow(SQLModel, table=True):
    """A member's answer to an alert: affected, not affected or patched (the latest counts)."""

    __tablename__ = "affected_answer"
    __table_args__ = (UniqueConstraint("advisory_id", "member_id", name="uq_affected_answer"),)

    id: int | None = Field(default=None, primary_key=True)
    advisory_id: str = Field(max_length=700, index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    status: str = Field(max_length=10)
    answered_by: str = Field(max_length=300)
    answered_at: datetime


class AuditRow(SQLModel, table=True):
    """What coordinators and admins did, and who: kept for the hub's accountability."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str = Field(max_length=300)
    action: str = Field(max_length=50)
    detail: str = Field(sa_column=Column(Text, nullable=False))


class PendingConfirmationRow(SQLModel, table=True):
    """An action shown as a preview that waits for its author's yes or no."""

    __tablename__ = "pending_confirmation"
    # Never reuse an id: a stale "yes 12" button must not confirm a newer preview.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(max_length=20)
    address: str = Field(max_length=255, index=True)
    action: str = Field(max_length=30)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime
    expires_at: datetime


class MeetingRow(SQLModel, table=True):
    __tablename__ = "meeting"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    starts_at: datetime = Field(index=True)
    zone: str = Field(max_length=64)
    link: str | None = Field(default=None, max_length=600)
    created_at: datetime
    created_by: str = Field(max_length=300)
    cancelled: bool = False
    # Reminders queued or skipped, comma-separated ("24h,1h"): each is sent at most once.
    reminders_done: str = Field(default="", max_length=100)


class RsvpRow(SQLModel, table=True):
    __tablename__ = "meeting_rsvp"
    __table_args__ = (UniqueConstraint("meeting_id", "network", "address", name="uq_rsvp"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    network: str = Field(max_length=20)
    address: str = Field(max_length=255)
    member_id: int | None = None
    answer: str = Field(max_length=10)
    answered_at: datetime


class HeldAlertRow(SQLModel, table=True):
    """An alert waiting for its contact's daily digest; released into the outbox at the hour."""

    __tablename__ = "held_alert"
    __table_args__ = (
        UniqueConstraint("advisory_id", "network", "address", name="uq_held_alert"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    network: str = Field(max_length=20)
    address: str = Field(max_length=255)
    advisory_id: str = Field(max_length=700)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    held_at: datetime
    released_at: datetime | None = Field(default=None, index=True)


class CsafDocumentRow(SQLModel, table=True):
    """The CSAF document version an advisory was last decided on (revisions re-decide)."""

    __tablename__ = "csaf_document"
    __table_args__ = (UniqueConstraint("advisory_id", name="uq_csaf_document_advisory"),)

    id: int | None = Field(default=None, primary_key=True)
    advisory_id: str = Field(max_length=700)
    tracking_id: str = Field(max_length=200, index=True)
    version: str = Field(max_length=50)
    url: str = Field(sa_column=Column(Text, nullable=False))
    document: str = Field(sa_column=Column(Text, nullable=False))  # the parsed model, as JSON
    seen_at: datetime


class CsafSeenRow(SQLModel, table=True):
    """Per CSAF feed, each document URL and the `updated` stamp last fetched."""

    __tablename__ = "csaf_seen"

    feed: str = Field(primary_key=True, max_length=100)
    url: str = Field(primary_key=True, max_length=700)
    updated: str = Field(max_length=100)


class KevEntryRow(SQLModel, table=True):
    """A CVE in CISA's Known Exploited Vulnerabilities catalog."""

    __tablename__ = "kev_entry"

    cve: str = Field(primary_key=True, max_length=30)
    date_added: date | None = None
    vendor: str = Field(default="", max_length=300)
    product: str = Field(default="", max_length=300)
    name: str = Field(default="", max_length=500)
    ransomware: bool = False
    seen_at: datetime


class EpssScoreRow(SQLModel, table=True):
    """FIRST's EPSS score of a CVE: the probability of exploitation in the next 30 days."""

    __tablename__ = "epss_score"

    cve: str = Field(primary_key=True, max_length=30)
    epss: float
    percentile: float
    score_date: date | None = None
    fetched_at: datetime


class ReportDraftRow(SQLModel, table=True):
    """A member's report (or a coordinator's edit) half-way through its conversation: one per
    person, kept across restarts until it is filed, cancelled or expires."""

    __tablename__ = "report_draft"
    __table_args__ = (UniqueConstraint("network", "address", name="uq_report_draft"),)

    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(max_length=20)
    address: str = Field(max_length=255)
    data: str = Field(sa_column=Column(Text, nullable=False))
    started_at: datetime
    updated_at: datetime = Field(index=True)


class ReportRow(SQLModel, table=True):
    """A member's filed report; the reporter's identity is read by coordinators only."""

    __tablename__ = "report"
    # Never reuse an id: an old "/seen R12" must not count for a newer report.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    reporter_network: str = Field(max_length=20)
    reporter_address: str = Field(max_length=255)
    language: str | None = Field(default=None, max_length=10)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    vendor: str | None = Field(default=None, max_length=200)
    product: str | None = Field(default=None, max_length=200)
    tlp: str = Field(max_length=20)
    sharing: str = Field(max_length=20)
    status: str = Field(max_length=20, index=True)
    created_at: datetime = Field(index=True)
    decided_at: datetime | None = None
    decided_by: str | None = Field(default=None, max_length=300)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    edited: bool = False


class ReportIndicatorRow(SQLModel, table=True):
    """An indicator of a report: the reporter's, or added by a member's sighting."""

    __tablename__ = "report_indicator"
    __table_args__ = (UniqueConstraint("report_id", "kind", "value", name="uq_report_indicator"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    kind: str = Field(max_length=10)
    value: str = Field(max_length=2100)
    flag: str | None = Field(default=None, max_length=20)
    added_by_member_id: int | None = None  # None: the reporter's own


class ReportSightingRow(SQLModel, table=True):
    """A member's answer to a relayed report: "we see this too" or "not here" (the latest)."""

    __tablename__ = "report_sighting"
    __table_args__ = (UniqueConstraint("report_id", "member_id", name="uq_report_sighting"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    seen: bool
    indicators_added: int = 0
    at: datetime
