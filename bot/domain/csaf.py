"""CSAF 2.0 documents as hubbot reads them: products with versions, and what each
vulnerability says about each product (affected, fixed, not affected) and its fixes. The
product tree is read, and a member's product found in it, by bot.domain.csaf_products.

Pure: a validated JSON document (a dict) in, frozen dataclasses out. The fetching adapter
checks the schema first; this module still never trusts a field's type and reports the path of
anything it cannot use.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.domain.advisory import Advisory
from bot.domain.csaf_fields import CsafError, expect_list, expect_object, expect_text
from bot.domain.csaf_products import CsafProduct, products_named, read_groups, read_products
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp, highest

# The product tree and which product is a member's live in csaf_products; their names stay
# importable from here, where callers have always found them.
__all__ = [
    "CsafDocument", "CsafError", "CsafProduct", "CsafVulnerability", "ProductStatus",
    "Remediation", "parse_csaf", "products_named",
]

_SUMMARY_NOTES = ("summary", "description", "general")
_MAX_PRODUCT_LINES = 200


class ProductStatus(enum.StrEnum):
    KNOWN_AFFECTED = "known_affected"
    FIRST_AFFECTED = "first_affected"
    LAST_AFFECTED = "last_affected"
    FIXED = "fixed"
    FIRST_FIXED = "first_fixed"
    RECOMMENDED = "recommended"
    KNOWN_NOT_AFFECTED = "known_not_affected"
    UNDER_INVESTIGATION = "under_investigation"

    @property
    def affected(self) -> bool:
        return self in {ProductStatus.KNOWN_AFFECTED, ProductStatus.FIRST_AFFECTED,
                        ProductStatus.LAST_AFFECTED}

    @property
    def fixed(self) -> bool:
        return self in {ProductStatus.FIXED, ProductStatus.FIRST_FIXED,
                        ProductStatus.RECOMMENDED}

    @property
    def not_affected(self) -> bool:
        return self is ProductStatus.KNOWN_NOT_AFFECTED

    @property
    def investigating(self) -> bool:
        return self is ProductStatus.UNDER_INVESTIGATION


@dataclass(frozen=True)
class Remediation:
    category: str  # vendor_fix, mitigation, workaround, none_available, no_fix_planned
    details: str
    url: str | None
    product_ids: tuple[str, ...]


@dataclass(frozen=True)
class CsafVulnerability:
    cve: str | None
    title: str | None
    statuses: Mapping[str, ProductStatus]
    remediations: tuple[Remediation, ...] = ()
    cvss_v3: float | None = None
    cvss_v4: float | None = None
    threats: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CsafDocument:
    tracking_id: str
    version: str
    title: str
    publisher: str
    tlp: Tlp | None  # None: the document carries no TLP label (its provider's TLP applies)
    initial_release: datetime | None
    current_release: datetime | None
    link: str
    summary: str
    products: Mapping[str, CsafProduct]
    vulnerabilities: tuple[CsafVulnerability, ...] = field(default=())

    @property
    def cves(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.cve for v in self.vulnerabilities if v.cve))

    @property
    def max_cvss(self) -> float | None:
        scores = [s for v in self.vulnerabilities for s in (v.cvss_v3, v.cvss_v4)
                  if s is not None]
        return max(scores) if scores else None

    @property
    def severity(self) -> Severity | None:
        return Severity.from_cvss(self.max_cvss) if self.max_cvss is not None else None

    def to_advisory(self, source: str, provider_tlp: Tlp = Tlp.CLEAR) -> Advisory:
        """The advisory the name matcher reads: the title, the summary and every product line
        (vendor, name, version), so a member's product is found as in an RSS entry. Its TLP is
        the higher of the document's label and the TLP configured for its provider."""
        lines = [self.summary] if self.summary else []
        seen: set[str] = set()
        for p in self.products.values():
            line = " ".join(part for part in (p.vendor, p.name, p.version or p.version_range)
                            if part)
            if line not in seen and len(seen) < _MAX_PRODUCT_LINES:
                seen.add(line)
                lines.append(f"Affected product: {line}")
        return Advisory(
            id=f"{source}:{self.tracking_id}",
            title=self.title,
            summary="\n".join(lines),
            link=self.link,
            source=source,
            published=self.initial_release or self.current_release,
            cves=self.cves,
            cvss=self.max_cvss,
            severity=self.severity,
            tlp=highest([provider_tlp, self.tlp]),
            tracking_id=self.tracking_id.upper(),
        )


def parse_csaf(document: Mapping[str, Any]) -> CsafDocument:
    """Read a CSAF 2.0 document; CsafError names the path of what cannot be used."""
    doc = expect_object(document, "$")
    meta = expect_object(doc.get("document"), "$.document")
    tracking = expect_object(meta.get("tracking"), "$.document.tracking")
    tracking_id = expect_text(tracking.get("id"), "$.document.tracking.id")
    version = expect_text(tracking.get("version"), "$.document.tracking.version")
    title = expect_text(meta.get("title"), "$.document.title")
    publisher = expect_object(meta.get("publisher", {}), "$.document.publisher")
    distribution = expect_object(meta.get("distribution", {}), "$.document.distribution")
    tlp = expect_object(distribution.get("tlp", {}), "$.document.distribution.tlp")
    products = read_products(doc.get("product_tree", {}))
    groups = read_groups(doc.get("product_tree", {}))
    vulnerabilities = tuple(
        _vulnerability(v, f"$.vulnerabilities[{i}]", groups)
        for i, v in enumerate(expect_list(doc.get("vulnerabilities", []), "$.vulnerabilities"))
    )
    return CsafDocument(
        tracking_id=tracking_id,
        version=version,
        title=title,
        publisher=str(publisher.get("name") or ""),
        tlp=_tlp(tlp.get("label")),
        initial_release=_date(tracking.get("initial_release_date")),
        current_release=_date(tracking.get("current_release_date")),
        link=_link(meta.get("references", [])),
        summary=_summary(meta.get("notes", [])),
        products=products,
        vulnerabilities=vulnerabilities,
    )


# Vulnerabilities


def _vulnerability(raw: Any, path: str, groups: dict[str, tuple[str, ...]]) -> CsafVulnerability:
    v = expect_object(raw, path)
    statuses: dict[str, ProductStatus] = {}
    status_lists = expect_object(v.get("product_status", {}), f"{path}.product_status")
    # Later categories override earlier ones for the same product: affected wins.
    for status in (ProductStatus.KNOWN_NOT_AFFECTED, ProductStatus.RECOMMENDED,
                   ProductStatus.FIXED, ProductStatus.FIRST_FIXED,
                   ProductStatus.UNDER_INVESTIGATION, ProductStatus.LAST_AFFECTED,
                   ProductStatus.FIRST_AFFECTED, ProductStatus.KNOWN_AFFECTED):
        for pid in expect_list(status_lists.get(status.value, []),
                               f"{path}.product_status.{status.value}"):
            statuses[str(pid)] = status
    remediations = []
    for i, raw_rem in enumerate(expect_list(v.get("remediations", []),
                                            f"{path}.remediations")):
        here = f"{path}.remediations[{i}]"
        rem = expect_object(raw_rem, here)
        ids = [str(p) for p in expect_list(rem.get("product_ids", []), f"{here}.product_ids")]
        for gid in expect_list(rem.get("group_ids", []), f"{here}.group_ids"):
            ids += groups.get(str(gid), ())
        url = rem.get("url")
        remediations.append(Remediation(str(rem.get("category") or ""),
                                        str(rem.get("details") or ""),
                                        url if isinstance(url, str) else None,
                                        tuple(dict.fromkeys(ids))))
    v3, v4 = _scores(v.get("scores", []), f"{path}.scores")
    threats = tuple(
        (str(t.get("category") or ""), str(t.get("details") or ""))
        for t in expect_list(v.get("threats", []), f"{path}.threats") if isinstance(t, dict)
    )
    cve = v.get("cve")
    title = v.get("title")
    return CsafVulnerability(
        cve=cve.strip().upper() if isinstance(cve, str) and cve.strip() else None,
        title=title if isinstance(title, str) else None,
        statuses=statuses,
        remediations=tuple(remediations),
        cvss_v3=v3,
        cvss_v4=v4,
        threats=threats,
    )


def _scores(raw: Any, path: str) -> tuple[float | None, float | None]:
    v3: float | None = None
    v4: float | None = None
    for score in expect_list(raw, path):
        if not isinstance(score, dict):
            continue
        for key in ("cvss_v3", "cvss_v4"):
            data = score.get(key)
            value = _base_score(data.get("baseScore") if isinstance(data, dict) else None)
            if value is not None:
                if key == "cvss_v3":
                    v3 = value if v3 is None else max(v3, value)
                else:
                    v4 = value if v4 is None else max(v4, value)
    return v3, v4


def _base_score(raw: Any) -> float | None:
    """A CVSS base score (0-10); a bool, NaN or out-of-range number is no score."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    return float(raw) if 0.0 <= raw <= 10.0 else None


# The document's metadata


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tlp(label: Any) -> Tlp | None:
    if label is None:
        return None
    if not isinstance(label, str):
        return Tlp.AMBER  # not a label: assume restricted, never share more widely
    try:
        return Tlp.parse(label)
    except ValueError:
        return Tlp.AMBER  # an unknown label: assume restricted, never share more widely


def _link(references: Any) -> str:
    refs = [r for r in references if isinstance(r, dict)] if isinstance(references, list) else []
    self_refs = [r for r in refs if r.get("category") == "self" and isinstance(r.get("url"), str)]
    # A human-readable page beats the JSON file itself.
    pages = [r["url"] for r in self_refs if not str(r["url"]).endswith(".json")]
    if pages:
        return str(pages[0])
    if self_refs:
        return str(self_refs[0]["url"])
    urls = [r["url"] for r in refs if isinstance(r.get("url"), str)]
    return str(urls[0]) if urls else ""


def _summary(notes: Any) -> str:
    items = [n for n in notes if isinstance(n, dict)] if isinstance(notes, list) else []
    for category in _SUMMARY_NOTES:
        for note in items:
            if note.get("category") == category and isinstance(note.get("text"), str):
                return " ".join(str(note["text"]).split())
    return ""
