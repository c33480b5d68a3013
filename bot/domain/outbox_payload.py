"""What an outbox message carries: one typed model per kind of message, and its stored form.

`payload_to_json` and `payload_from_json` are the only way a payload is written to or read
from a row (of the outbox, or of a member's alerts held for the digest). The stored form is
JSON with the keys rows have always had; version 1 (every row written before there was a
version) carries no "version" key and reads like version 2, which only adds it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from bot.domain.advisory import Advisory
from bot.domain.alerts import Alert, MatchedProduct
from bot.domain.language import Phrase, phrase_from_json
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp

PAYLOAD_VERSION = 2
MAX_BUTTON_COMMAND_BYTES = 64  # Telegram's callback_data limit


class PayloadError(ValueError):
    """A stored payload this version cannot read (the reason never quotes its text)."""


@dataclass(frozen=True)
class Button:
    """Pressing it sends `command` (a chat command such as "/rsvp 3 yes") as if typed.
    Telegram shows inline buttons; networks without buttons show the commands as hints."""

    label: str
    command: str


@dataclass(frozen=True)
class Attachment:
    """A small text file sent after the message (a meeting's .ics)."""

    filename: str
    mime_type: str
    text: str


Buttons = tuple[tuple[Button, ...], ...]


def button_rows(rows: list[list[Button]]) -> Buttons:
    return tuple(tuple(row) for row in rows if row)


@dataclass(frozen=True)
class AlertMessage:
    """An advisory as one reader sees it; `ref` is its short number (/affected, /situation)."""

    kind: ClassVar[str] = "alert"
    alert: Alert
    ref: int | None = None
    silent: bool = False  # a muted contact: delivered without a sound
    zone: str | None = None  # the reader's time zone; None: the hub's
    language: str | None = None  # the reader's language; None: the hub's default
    buttons: Buttons = ()


@dataclass(frozen=True)
class TextMessage:
    """A text written in the reader's language when it was queued."""

    kind: ClassVar[str] = "text"
    text: str
    language: str | None = None
    buttons: Buttons = ()
    attachment: Attachment | None = None


@dataclass(frozen=True)
class ReplyMessage(TextMessage):
    """The answer to a chat command."""

    kind: ClassVar[str] = "reply"


@dataclass(frozen=True)
class AnnouncementMessage(TextMessage):
    kind: ClassVar[str] = "announcement"


@dataclass(frozen=True)
class MeetingMessage(TextMessage):
    """A meeting's notice (with RSVP buttons) or its cancellation, each with its .ics."""

    kind: ClassVar[str] = "meeting"


@dataclass(frozen=True)
class ReminderMessage(TextMessage):
    kind: ClassVar[str] = "reminder"


@dataclass(frozen=True)
class DigestMessage(TextMessage):
    """A member's alerts below critical, released once a day."""

    kind: ClassVar[str] = "digest"


@dataclass(frozen=True)
class SummaryMessage(TextMessage):
    """The coordinators' weekly summary."""

    kind: ClassVar[str] = "summary"


@dataclass(frozen=True)
class DeliveryNotice(TextMessage):
    """Tells the coordinators that an address can no longer receive."""

    kind: ClassVar[str] = "notice"


@dataclass(frozen=True)
class FeedHealthMessage(TextMessage):
    """Tells the admins that a feed fails, or works again."""

    kind: ClassVar[str] = "feed_health"


@dataclass(frozen=True)
class EscalationMessage(TextMessage):
    """An alerted advisory is now known to be exploited; `ref` is the alert's short number."""

    kind: ClassVar[str] = "escalation"
    ref: int | None = None


@dataclass(frozen=True)
class ReportMessage(TextMessage):
    """A member's report relayed by the hub (anonymised unless its reporter chose otherwise)."""

    kind: ClassVar[str] = "report"


@dataclass(frozen=True)
class TriageMessage(TextMessage):
    """A filed member report put before the coordinators, with approve / edit / reject."""

    kind: ClassVar[str] = "triage"


@dataclass(frozen=True)
class ReportNotice(TextMessage):
    """Tells a reporter about their own report: the decision, how many others see it."""

    kind: ClassVar[str] = "report_notice"


# A text kind is one of the subclasses of TextMessage above, tagged by `kind` when stored.
OutboxPayload = AlertMessage | TextMessage

TEXT_KINDS: dict[str, type[TextMessage]] = {cls.kind: cls for cls in (
    ReplyMessage, AnnouncementMessage, MeetingMessage, ReminderMessage, DigestMessage,
    SummaryMessage, DeliveryNotice, FeedHealthMessage, EscalationMessage, ReportMessage,
    TriageMessage, ReportNotice)}


def text_message(kind: str, text: str, language: str | None = None, buttons: Buttons = (),
                 attachment: Attachment | None = None) -> TextMessage:
    """The text message of this kind (a hub-wide message names its kind when queued)."""
    cls = TEXT_KINDS.get(kind)
    if cls is None:
        raise ValueError(f"no text message of kind {kind!r}")
    return cls(text, language, buttons, attachment)


def payload_to_json(payload: OutboxPayload) -> str:
    """The stored form of a payload (the current version)."""
    return json.dumps(_to_data(payload), ensure_ascii=False)


def payload_from_json(stored: str, kind: str | None = None) -> OutboxPayload:
    """A stored payload of any version up to the current one; `kind` (the row's) for one
    that does not name its own. Raises PayloadError when it cannot be read."""
    try:
        data = json.loads(stored)
    except ValueError as exc:
        raise PayloadError("not JSON") from exc
    if not isinstance(data, dict):
        raise PayloadError("not a JSON object")
    version = data.get("version", 1)
    if not isinstance(version, int) or not 1 <= version <= PAYLOAD_VERSION:
        raise PayloadError(f"version {version!r}: this bot reads 1 to {PAYLOAD_VERSION}")
    found = data.get("kind") or kind
    try:
        if found == AlertMessage.kind:
            return _alert_message(data)
        if found in TEXT_KINDS:
            return _text_message(TEXT_KINDS[found], data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PayloadError(f"a field of the {found} payload is missing or malformed "
                           f"({type(exc).__name__})") from exc
    raise PayloadError(f"unknown kind {found!r}")


def alert_message_from_json(stored: str) -> AlertMessage:
    """A stored alert (one held for a member's digest); PayloadError if it is anything else."""
    found = payload_from_json(stored, AlertMessage.kind)
    if not isinstance(found, AlertMessage):
        raise PayloadError(f"a {found.kind} payload where an alert was expected")
    return found


def _to_data(payload: OutboxPayload) -> dict[str, Any]:
    data: dict[str, Any] = {"version": PAYLOAD_VERSION}
    if isinstance(payload, AlertMessage):
        data.update(_alert_data(payload.alert))
        data.update(silent=payload.silent, ref=payload.ref, zone=payload.zone,
                    language=payload.language)
    else:
        if payload.kind not in TEXT_KINDS:
            raise ValueError(f"no text message of kind {payload.kind!r}: it could not be read")
        data.update(kind=payload.kind, text=str(payload.text), language=payload.language)
        if isinstance(payload, EscalationMessage):
            data["ref"] = payload.ref
        if payload.attachment is not None:
            a = payload.attachment
            data["attachment"] = {"filename": a.filename, "mime_type": a.mime_type,
                                  "text": a.text}
    if payload.buttons:
        data["buttons"] = [[{"label": b.label, "command": b.command} for b in row]
                           for row in payload.buttons]
    return data


def _alert_message(data: dict[str, Any]) -> AlertMessage:
    ref = data.get("ref")
    zone = data.get("zone")
    return AlertMessage(_alert(data), ref if isinstance(ref, int) else None,
                        bool(data.get("silent")), zone if isinstance(zone, str) else None,
                        _language(data), _buttons(data))


def _text_message(cls: type[TextMessage], data: dict[str, Any]) -> TextMessage:
    text = data.get("text")
    fields: dict[str, Any] = {"text": text if isinstance(text, str) else "",
                              "language": _language(data), "buttons": _buttons(data),
                              "attachment": _attachment(data)}
    if cls is EscalationMessage:
        ref = data.get("ref")
        fields["ref"] = ref if isinstance(ref, int) else None
    return cls(**fields)


def _language(data: dict[str, Any]) -> str | None:
    found = data.get("language")
    return found if isinstance(found, str) else None


def _buttons(data: dict[str, Any]) -> Buttons:
    """The rows of buttons in order; malformed entries are left out."""
    rows = []
    for row in data.get("buttons") or []:
        if not isinstance(row, list):
            continue
        buttons = tuple(Button(str(b["label"]), str(b["command"])) for b in row
                        if isinstance(b, dict) and b.get("label") and b.get("command"))
        if buttons:
            rows.append(buttons)
    return tuple(rows)


def _attachment(data: dict[str, Any]) -> Attachment | None:
    found = data.get("attachment")
    if not isinstance(found, dict) or not found.get("filename") or not isinstance(
            found.get("text"), str):
        return None
    return Attachment(str(found["filename"]), str(found.get("mime_type") or "text/plain"),
                      found["text"])


def _alert_data(alert: Alert) -> dict[str, Any]:
    a = alert.advisory
    return {
        "kind": AlertMessage.kind,
        "member": alert.member,
        "advisory": {
            "id": a.id,
            "title": a.title,
            "summary": a.summary,
            "link": a.link,
            "source": a.source,
            "published": a.published.isoformat() if a.published else None,
            "cves": list(a.cves),
            "cvss": a.cvss,
            "severity": a.severity.label if a.severity else None,
            "tlp": a.tlp.name,
            "tags": list(a.tags),
        },
        "products": [
            {"vendor": p.vendor, "product": p.product, "why": p.why, "decision": p.decision,
             "note": p.note, **_phrases(why=p.why, note=p.note)}
            for p in alert.products
        ],
        "exploited": alert.exploited,
        "epss": alert.epss,
        "change": alert.change,
        **_phrases(change=alert.change),
        **({"withheld": alert.withheld} if alert.withheld else {}),
    }


def _phrases(**texts: str | None) -> dict[str, object]:
    """Reasons that can be written again in each reader's language, kept beside the English."""
    return {f"{key}_phrase": text.to_json() for key, text in texts.items()
            if isinstance(text, Phrase)}


def _phrase(data: dict[str, Any], key: str) -> str | None:
    """The phrase kept beside the English text, else (an older payload) the English text."""
    found = phrase_from_json(data.get(f"{key}_phrase"))
    return found if found is not None else data.get(key)


def _alert(data: dict[str, Any]) -> Alert:
    a = data["advisory"]
    advisory = Advisory(
        id=a["id"],
        title=a["title"],
        summary=a["summary"],
        link=a["link"],
        source=a["source"],
        published=datetime.fromisoformat(a["published"]) if a["published"] else None,
        cves=tuple(a["cves"]),
        cvss=a["cvss"],
        severity=Severity[a["severity"].upper()] if a["severity"] else None,
        tlp=Tlp[a["tlp"]],
        tags=tuple(a["tags"]),
    )
    products = tuple(
        MatchedProduct(p["vendor"], p["product"], _phrase(p, "why") or "", p.get("decision"),
                       _phrase(p, "note"))
        for p in data["products"])
    return Alert(advisory, data["member"], products, bool(data.get("exploited")),
                 data.get("epss"), _phrase(data, "change"), int(data.get("withheld") or 0))
