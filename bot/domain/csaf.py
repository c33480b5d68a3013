"""CSAF 2.0 documents as hubbot reads them: products with versions, and what each
vulnerability says about each product (affected, fixed, not affected) and its fixes.

Pure: a validated JSON document (a dict) in, frozen dataclasses out. The fetching adapter
checks the schema first; this module still never trusts a field's type and reports the path of
anything it cannot use.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.domain.advisory import Advisory
from bot.domain.products import ProductSpec, product_names, vendor_names
from bot.domain.severity import Severity
from bot.domain.text import folded_words, spelling_variants
from bot.domain.tlp import Tlp

_SUMMARY_NOTES = ("summary", "description", "general")
_MAX_PRODUCT_LINES = 200
# Real product trees are a handful of levels deep; far deeper is hostile, not a product.
_MAX_BRANCH_DEPTH = 30


class CsafError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


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
class CsafProduct:
    product_id: str
    vendor: str
    name: str  # the product's name (family and name as the tree gives them)
    version: str | None  # product_version
    version_range: str | None  # product_version_range: "vers:…" or the publisher's own text
    full_name: str


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
    tlp: Tlp
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

    def to_advisory(self, source: str) -> Advisory:
        """The advisory the name matcher reads: the title, the summary and every product line
        (vendor, name, version), so a member's product is found as in an RSS entry."""
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
            tlp=self.tlp,
            tracking_id=self.tracking_id.upper(),
        )


def parse_csaf(document: Mapping[str, Any]) -> CsafDocument:
    """Read a CSAF 2.0 document; CsafError names the path of what cannot be used."""
    doc = _dict(document, "$")
    meta = _dict(doc.get("document"), "$.document")
    tracking = _dict(meta.get("tracking"), "$.document.tracking")
    tracking_id = _str(tracking.get("id"), "$.document.tracking.id")
    version = _str(tracking.get("version"), "$.document.tracking.version")
    title = _str(meta.get("title"), "$.document.title")
    publisher = _dict(meta.get("publisher", {}), "$.document.publisher")
    distribution = _dict(meta.get("distribution", {}), "$.document.distribution")
    tlp_label = _dict(distribution.get("tlp", {}), "$.document.distribution.tlp").get("label")
    products = _products(doc.get("product_tree", {}))
    groups = _groups(doc.get("product_tree", {}))
    vulnerabilities = tuple(
        _vulnerability(v, f"$.vulnerabilities[{i}]", groups)
        for i, v in enumerate(_list(doc.get("vulnerabilities", []), "$.vulnerabilities"))
    )
    return CsafDocument(
        tracking_id=tracking_id,
        version=version,
        title=title,
        publisher=str(publisher.get("name") or ""),
        tlp=_tlp(tlp_label),
        initial_release=_date(tracking.get("initial_release_date")),
        current_release=_date(tracking.get("current_release_date")),
        link=_link(meta.get("references", [])),
        summary=_summary(meta.get("notes", [])),
        products=products,
        vulnerabilities=vulnerabilities,
    )


def products_named(document: CsafDocument, spec: ProductSpec) -> list[str]:
    """The document's product ids that are the member's product: the same vendor (any of its
    names; the product's full name when the tree gives no vendor) and a product whose name
    contains one of the member's product names as whole words, spelt as the matcher allows
    ("MX40" = "MX 40")."""
    vendors = vendor_names(spec.vendor, spec.vendor_aliases)
    names: set[tuple[str, ...]] = set().union(
        *(spelling_variants(n) for n in product_names(spec)))
    found = []
    for product_id, p in document.products.items():
        if not spec.distinctive and \
                not _has_any(folded_words(p.vendor or p.full_name), vendors):
            continue
        forms = spelling_variants(folded_words(p.name)) | \
            spelling_variants(folded_words(p.full_name))
        if any(_has_any(words, names) for words in forms):
            found.append(product_id)
    return found


def _has_any(words: tuple[str, ...], names: set[tuple[str, ...]]) -> bool:
    for name in names:
        n = len(name)
        if any(words[i:i + n] == name for i in range(len(words) - n + 1)):
            return True
    return False


# The product tree


def _products(tree: Any) -> dict[str, CsafProduct]:
    tree = _dict(tree, "$.product_tree")
    products: dict[str, CsafProduct] = {}
    for path, context, product in _branch_products(
            _list(tree.get("branches", []), "$.product_tree.branches"),
            "$.product_tree.branches", {}):
        products[product["product_id"]] = _product(product, context, path)
    for i, fpn in enumerate(_list(tree.get("full_product_names", []),
                                  "$.product_tree.full_product_names")):
        path = f"$.product_tree.full_product_names[{i}]"
        product = _dict(fpn, path)
        pid = _str(product.get("product_id"), f"{path}.product_id")
        products.setdefault(pid, _product(product, {}, path))
    for i, rel in enumerate(_list(tree.get("relationships", []),
                                  "$.product_tree.relationships")):
        path = f"$.product_tree.relationships[{i}]"
        relation = _dict(rel, path)
        fpn = _dict(relation.get("full_product_name"), f"{path}.full_product_name")
        pid = _str(fpn.get("product_id"), f"{path}.full_product_name.product_id")
        base = products.get(str(relation.get("product_reference", "")))
        if base is not None:
            # "firmware X installed on device Y" is X's vendor, name and version.
            products[pid] = CsafProduct(pid, base.vendor, base.name, base.version,
                                        base.version_range, str(fpn.get("name") or base.name))
        else:
            products[pid] = _product(fpn, {}, path)
    return products


def _branch_products(
    branches: list[Any], path: str, context: dict[str, str], depth: int = 0
) -> Iterator[tuple[str, dict[str, str], dict[str, Any]]]:
    if depth > _MAX_BRANCH_DEPTH and branches:
        raise CsafError(path, f"branches nested deeper than {_MAX_BRANCH_DEPTH} levels")
    for i, raw in enumerate(branches):
        here = f"{path}[{i}]"
        branch = _dict(raw, here)
        category = str(branch.get("category") or "")
        name = str(branch.get("name") or "").strip()
        inner = dict(context)
        if category == "product_family":
            inner["family"] = f"{context.get('family', '')} {name}".strip()
        elif category:
            inner[category] = name
        if "product" in branch:
            product = _dict(branch["product"], f"{here}.product")
            _str(product.get("product_id"), f"{here}.product.product_id")
            yield f"{here}.product", inner, product
        yield from _branch_products(_list(branch.get("branches", []), f"{here}.branches"),
                                    f"{here}.branches", inner, depth + 1)


def _product(product: dict[str, Any], context: dict[str, str], path: str) -> CsafProduct:
    pid = _str(product.get("product_id"), f"{path}.product_id")
    full_name = str(product.get("name") or "").strip()
    name = context.get("product_name") or context.get("family") or full_name
    if context.get("product_name") and context.get("family") and \
            context["family"].casefold() not in name.casefold():
        name = f"{context['family']} {name}"
    return CsafProduct(
        product_id=pid,
        vendor=context.get("vendor", ""),
        name=name,
        version=context.get("product_version") or None,
        version_range=context.get("product_version_range") or None,
        full_name=full_name or name,
    )


def _groups(tree: Any) -> dict[str, tuple[str, ...]]:
    groups: dict[str, tuple[str, ...]] = {}
    if not isinstance(tree, dict):
        return groups
    for i, raw in enumerate(_list(tree.get("product_groups", []),
                                  "$.product_tree.product_groups")):
        path = f"$.product_tree.product_groups[{i}]"
        group = _dict(raw, path)
        gid = _str(group.get("group_id"), f"{path}.group_id")
        groups[gid] = tuple(str(p) for p in _list(group.get("product_ids", []),
                                                  f"{path}.product_ids"))
    return groups


# Vulnerabilities


def _vulnerability(raw: Any, path: str, groups: dict[str, tuple[str, ...]]) -> CsafVulnerability:
    v = _dict(raw, path)
    statuses: dict[str, ProductStatus] = {}
    status_lists = _dict(v.get("product_status", {}), f"{path}.product_status")
    # Later categories override earlier ones for the same product: affected wins.
    for status in (ProductStatus.KNOWN_NOT_AFFECTED, ProductStatus.RECOMMENDED,
                   ProductStatus.FIXED, ProductStatus.FIRST_FIXED,
                   ProductStatus.UNDER_INVESTIGATION, ProductStatus.LAST_AFFECTED,
                   ProductStatus.FIRST_AFFECTED, ProductStatus.KNOWN_AFFECTED):
        for pid in _list(status_lists.get(status.value, []),
                         f"{path}.product_status.{status.value}"):
            statuses[str(pid)] = status
    remediations = []
    for i, raw_rem in enumerate(_list(v.get("remediations", []), f"{path}.remediations")):
        rem = _dict(raw_rem, f"{path}.remediations[{i}]")
        ids = [str(p) for p in _list(rem.get("product_ids", []),
                                     f"{path}.remediations[{i}].product_ids")]
        for gid in _list(rem.get("group_ids", []), f"{path}.remediations[{i}].group_ids"):
            ids += groups.get(str(gid), ())
        url = rem.get("url")
        remediations.append(Remediation(str(rem.get("category") or ""),
                                        str(rem.get("details") or ""),
                                        url if isinstance(url, str) else None,
                                        tuple(dict.fromkeys(ids))))
    v3, v4 = _scores(v.get("scores", []), f"{path}.scores")
    threats = tuple(
        (str(t.get("category") or ""), str(t.get("details") or ""))
        for t in _list(v.get("threats", []), f"{path}.threats") if isinstance(t, dict)
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
    for score in _list(raw, path):
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


# Small readers


def _dict(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CsafError(path, f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise CsafError(path, f"expected a list, got {type(value).__name__}")
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CsafError(path, "expected a non-empty string")
    return value.strip()


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tlp(label: Any) -> Tlp:
    if not isinstance(label, str):
        return Tlp.CLEAR
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
