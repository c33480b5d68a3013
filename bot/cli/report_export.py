"""A member's report as the hub's other tools read it: a MISP event and a STIX 2.1 bundle.

Pure builders, no I/O; `hubbot export misp|stix REPORT_ID` writes what they return.

The reporter's chat address and network never leave the hub. The organisation appears only
when the reporter chose to be named, and nothing in an anonymous or coordinators-only export
is derived from it (object ids are derived from the hub's name and the report's ref), so it
cannot be guessed back from an id either.

Identifiers are deterministic: exporting a report again yields the same MISP uuids and STIX
ids, so a tool that imported it before updates the event instead of holding two copies.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import stix2
from pymisp import MISPEvent, MISPOrganisation

from bot.domain.reports import (
    Indicator,
    IndicatorFlag,
    IndicatorKind,
    Report,
    ReportStatus,
    Sharing,
)
from bot.domain.tlp import Tlp

# The root of every id this module makes (uuid5): fixed, so ids stay the same across exports.
_NAMESPACE = uuid.UUID("0a82fb59-6013-4102-8251-023e74025c0c")
_TITLE_CHARS = 120

# --- MISP ---------------------------------------------------------------------------------

# MISP's distribution levels.
_YOUR_ORGANISATION_ONLY, _THIS_COMMUNITY, _CONNECTED_COMMUNITIES, _ALL_COMMUNITIES = 0, 1, 2, 3
_INHERIT_EVENT = 5
_THREAT_LEVEL_UNDEFINED = 4  # a report carries no severity; coordinators set one in MISP
_ANALYSIS = {ReportStatus.FILED: 0, ReportStatus.APPROVED: 2, ReportStatus.REJECTED: 2}

# A MISP attribute type and category per kind. Addresses are `ip-dst`: in MISP's reading an
# observed attacker address a member's systems talked to (C2, phishing host) is a destination,
# and ip-dst is what IDS and block-list exports take. E-mail addresses in incident reports are
# senders of what a member received, hence `email-src`.
_MISP_TYPES: dict[IndicatorKind, tuple[str, str]] = {
    IndicatorKind.IPV4: ("ip-dst", "Network activity"),
    IndicatorKind.IPV6: ("ip-dst", "Network activity"),
    IndicatorKind.DOMAIN: ("domain", "Network activity"),
    IndicatorKind.URL: ("url", "Network activity"),
    IndicatorKind.EMAIL: ("email-src", "Payload delivery"),
    IndicatorKind.MD5: ("md5", "Payload delivery"),
    IndicatorKind.SHA1: ("sha1", "Payload delivery"),
    IndicatorKind.SHA256: ("sha256", "Payload delivery"),
    IndicatorKind.CVE: ("vulnerability", "External analysis"),
}

_FLAG_NOTES = {
    IndicatorFlag.PRIVATE: "private address: inside someone's network, not the attacker's",
    IndicatorFlag.DOCUMENTATION: "documentation value: quoted from a text, not seen in an attack",
}

# FIRST's Information Exchange Policy, a MISP taxonomy: may recipients name the provider?
_IEP_ATTRIBUTION = {
    Sharing.NAMED: 'iep:provider-attribution="MAY"',
    Sharing.ANONYMOUS: 'iep:provider-attribution="MUST NOT"',
    Sharing.COORDINATORS: 'iep:provider-attribution="MUST NOT"',
}


def misp_event(report: Report, hub_name: str = "hubbot") -> dict[str, Any]:
    """The report as a MISP event, JSON-ready: `{"Event": {...}}` as MISP imports it."""
    event = MISPEvent(strict_validation=True)
    event_uuid = _uuid(hub_name, report.ref, "misp-event")
    event.uuid = str(event_uuid)
    event.info = _title(report)
    event.date = _utc(report.created_at).date()
    event.threat_level_id = _THREAT_LEVEL_UNDEFINED
    event.analysis = _ANALYSIS[report.status]
    event.distribution = _misp_distribution(report)
    # The hub is the creator: it vetted and may have edited the report. A named organisation
    # is an attribute instead: as Orgc it would become a new local organisation in MISP on
    # import (one per member), and it would claim the coordinators' edits as its own.
    orgc = MISPOrganisation()
    orgc.name = hub_name
    orgc.uuid = str(_uuid(hub_name, "organisation"))
    event.Orgc = orgc
    for tag in _misp_tags(report):
        event.add_tag(tag)

    def attribute(key: str, type_: str, category: str, value: str, comment: str,
                  to_ids: bool = False) -> None:
        event.add_attribute(type_, value, category=category, to_ids=to_ids, comment=comment,
                            distribution=_INHERIT_EVENT, uuid=str(uuid.uuid5(event_uuid, key)))

    attribute("ref", "text", "Internal reference", report.ref, f"{hub_name} report reference")
    if report.summary.strip():
        attribute("summary", "text", "Other", report.summary, "summary")
    if report.product is not None:
        attribute("product", "text", "Other", report.product.display, "product concerned")
    if report.sharing is Sharing.NAMED:
        attribute("organisation", "text", "Other", report.member,
                  "reporting organisation, named at its request")
    for indicator in report.indicators:
        type_, category = _MISP_TYPES[indicator.kind]
        # A flagged value (RFC 1918, documentation range) is no sign of the attacker: blocking
        # or alerting on it would hit someone's own network, so it is context, not for IDS.
        # A CVE names a weakness, not something to detect (MISP's default for the type).
        to_ids = indicator.flag is None and indicator.kind is not IndicatorKind.CVE
        attribute(f"indicator/{indicator.kind.value}/{indicator.value}", type_, category,
                  _misp_value(indicator), _flag_note(indicator), to_ids)
    return {"Event": json.loads(event.to_json())}


def misp_event_json(report: Report, hub_name: str = "hubbot") -> str:
    """`misp_event` as JSON text, for `MISPEvent().load` or MISP's "import from MISP JSON"."""
    return json.dumps(misp_event(report, hub_name), ensure_ascii=False, indent=2)


def _misp_tags(report: Report) -> list[str]:
    """The event's tags: TLP (MISP's tlp taxonomy), whether the provider may be named (IEP),
    and the reporter's exact sharing choice, which no published taxonomy expresses."""
    return [
        report.tlp.label.lower(),
        _IEP_ATTRIBUTION[report.sharing],
        f'hubbot:sharing="{report.sharing.value}"',
    ]


def _misp_distribution(report: Report) -> int:
    """Who in MISP sees the event mirrors who the hub tells in chat: nobody beyond the
    coordinators until a report is approved for members (and never a TLP:RED or
    coordinators-only one); the members of this instance for AMBER; for GREEN and CLEAR, as
    far as the label lets recipients pass it on."""
    if not report.relayed_to_members:
        return _YOUR_ORGANISATION_ONLY
    if report.tlp is Tlp.CLEAR:
        return _ALL_COMMUNITIES
    if report.tlp is Tlp.GREEN:
        return _CONNECTED_COMMUNITIES
    return _THIS_COMMUNITY


def _misp_value(indicator: Indicator) -> str:
    return indicator.value.upper() if indicator.kind is IndicatorKind.CVE else indicator.value


def _flag_note(indicator: Indicator) -> str:
    return _FLAG_NOTES[indicator.flag] if indicator.flag is not None else ""


# --- STIX 2.1 -----------------------------------------------------------------------------

# TLP 2.0's AMBER+STRICT as OASIS publishes it (cti-stix-common-objects, extension
# definition 60a3c5c5): stix2 3.x ships only the TLP 1.0 markings.
_TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
_TLP_AMBER_STRICT = stix2.MarkingDefinition(
    id="marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    created="2022-10-01T00:00:00.000Z",
    name="TLP:AMBER+STRICT",
    extensions={_TLP2_EXTENSION: {"extension_type": "property-extension",
                                  "tlp_2_0": "amber+strict"}},
)
# stix2's TLP 1.0 markings are the ones every STIX tool knows. WHITE is TLP 2.0's CLEAR
# renamed; GREEN and RED kept their meaning; 1.0's AMBER (the recipient's organisation only)
# is at least as strict as 2.0's. AMBER+STRICT carries 1.0's AMBER as well, so a tool that
# knows no TLP 2.0 still reads a restriction and not an unmarked object.
_STIX_MARKINGS: dict[Tlp, tuple[stix2.MarkingDefinition, ...]] = {
    Tlp.CLEAR: (stix2.TLP_WHITE,),
    Tlp.GREEN: (stix2.TLP_GREEN,),
    Tlp.AMBER: (stix2.TLP_AMBER,),
    Tlp.AMBER_STRICT: (_TLP_AMBER_STRICT, stix2.TLP_AMBER),
    Tlp.RED: (stix2.TLP_RED,),
}

# The object path a value is compared with in a STIX pattern.
_STIX_PATHS = {
    IndicatorKind.IPV4: "ipv4-addr:value",
    IndicatorKind.IPV6: "ipv6-addr:value",
    IndicatorKind.DOMAIN: "domain-name:value",
    IndicatorKind.URL: "url:value",
    IndicatorKind.EMAIL: "email-addr:value",
    IndicatorKind.MD5: "file:hashes.MD5",
    IndicatorKind.SHA1: "file:hashes.'SHA-1'",
    IndicatorKind.SHA256: "file:hashes.'SHA-256'",
}

# An identity is one object in every export (fixed id and creation time), so a consumer
# keeps one per organisation rather than one per report.
_IDENTITY_CREATED = datetime(2025, 1, 1, tzinfo=UTC)


def stix_bundle(report: Report, hub_name: str = "hubbot") -> stix2.Bundle:
    """The report as a STIX 2.1 bundle: Report, Indicators, Vulnerabilities for CVEs, the
    product as Software, its author's Identity and the TLP marking definitions used."""
    markings = _STIX_MARKINGS[report.tlp]
    author = _stix_author(report, hub_name, markings)
    common = {
        "created_by_ref": author.id,
        "created": _utc(report.created_at),
        "modified": _utc(report.decided_at or report.created_at),
        "object_marking_refs": [m.id for m in markings],
    }
    related: list[Any] = [_stix_indicator(report, hub_name, i, common)
                          for i in report.indicators]
    if report.product is not None:
        related.append(stix2.Software(name=report.product.product, vendor=report.product.vendor,
                                      object_marking_refs=common["object_marking_refs"]))
    stix_report = stix2.Report(
        id=f"report--{_uuid(hub_name, report.ref, 'stix-report')}",
        name=_title(report),
        description=report.summary or None,
        published=_utc(report.decided_at or report.created_at),
        report_types=["threat-report"],
        # Never empty, as STIX requires, even for a report without indicators.
        object_refs=[author.id, *(o.id for o in related)],
        external_references=[{"source_name": hub_name, "external_id": report.ref}],
        **common,
    )
    return stix2.Bundle(*markings, author, *related, stix_report,
                        id=f"bundle--{_uuid(hub_name, report.ref, 'stix-bundle')}")


def stix_bundle_json(report: Report, hub_name: str = "hubbot") -> str:
    """`stix_bundle` as JSON text, for `stix2.parse` or any STIX 2.1 consumer."""
    text: str = stix_bundle(report, hub_name).serialize(pretty=True, ensure_ascii=False)
    return text


def _stix_pattern(indicator: Indicator) -> str:
    """The STIX pattern matching the indicator's value, quotes and backslashes escaped."""
    literal = indicator.value.replace("\\", "\\\\").replace("'", "\\'")
    return f"[{_STIX_PATHS[indicator.kind]} = '{literal}']"


def _stix_author(report: Report, hub_name: str,
                 markings: Sequence[stix2.MarkingDefinition]) -> stix2.Identity:
    """The named organisation when the reporter chose to be named (STIX's own way to credit a
    source), the hub otherwise: an anonymous report says only that it came through the hub."""
    name = report.member if report.sharing is Sharing.NAMED else hub_name
    key = ("identity", "member", name) if report.sharing is Sharing.NAMED else ("identity",)
    return stix2.Identity(
        id=f"identity--{_uuid(hub_name, *key)}",
        name=name,
        identity_class="organization",
        created=_IDENTITY_CREATED,
        modified=_IDENTITY_CREATED,
        object_marking_refs=[m.id for m in markings],
    )


def _stix_indicator(report: Report, hub_name: str, indicator: Indicator,
                    common: dict[str, Any]) -> Any:
    object_id = _uuid(hub_name, report.ref, indicator.kind.value, indicator.value)
    if indicator.kind is IndicatorKind.CVE:
        cve = indicator.value.upper()
        return stix2.Vulnerability(
            id=f"vulnerability--{object_id}", name=cve,
            external_references=[{"source_name": "cve", "external_id": cve}], **common)
    return stix2.Indicator(
        id=f"indicator--{object_id}",
        name=indicator.value,
        description=_flag_note(indicator) or None,
        # STIX has no "not for detection" switch: a flagged value is marked as unusual
        # activity instead of malicious, with the reason in its description.
        indicator_types=["anomalous-activity" if indicator.flag else "malicious-activity"],
        pattern=_stix_pattern(indicator),
        pattern_type="stix",
        valid_from=_utc(report.created_at),
        **common,
    )


# --- shared -------------------------------------------------------------------------------


def _title(report: Report) -> str:
    """"R17: " and the summary's first line, shortened: MISP's info, STIX's report name."""
    first = next((line.strip() for line in report.summary.splitlines() if line.strip()), "")
    if len(first) > _TITLE_CHARS:
        first = first[: _TITLE_CHARS - 1].rstrip() + "…"
    return f"{report.ref}: {first}" if first else f"{report.ref}: report to the hub"


def _uuid(*parts: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, "/".join(parts))


def _utc(moment: datetime) -> datetime:
    """Aware UTC; a naive time (as some stores return) is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
