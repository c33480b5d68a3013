"""Version-aware decisions: is the version a member runs affected by a CSAF document?

Versions and ranges are compared with univers (the `vers:` range specification). What the real
documents write is messier than the specification, so each form has a stated rule, and the
reason of every decision says which rule decided:

- `vers:all/*` (and a bare `*`): every version.
- `vers:<scheme>/…` of a scheme univers knows: univers's own ordering, except `all`, `generic`
  and `intdot`, which are read with Maven's ordering (numbers compare as numbers, letters as
  qualifiers: 1.7.9 < 1.7.15, B.06.17 < B.06.18, L80 < L81). CISA writes `vers:all/<V4.3.8`,
  which univers refuses, and univers 32's intdot ordering puts 1.7.15 before 1.7.9.
- the publisher's own text (`< 8.2.2`, `<=2.3.5`, `>= 2003 | <= 2006`): read as such a range.
- single versions (`B.06.18`, `1.10 | 1.11`, `2.X`): equal (case and a leading v ignored), or
  the same prefix for an `X` wildcard.
- anything else (`<May 2018`, `A10 < A11`): undecidable; the member is alerted as without a
  version, and the reason says so.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from univers.version_range import RANGE_CLASS_BY_SCHEMES, VersionRange
from univers.versions import InvalidVersion, MavenVersion

from bot.domain.csaf import CsafDocument, CsafProduct, ProductStatus

_ALL = object()
_READ_AS_MAVEN = {"all", "generic", "intdot"}
_CONSTRAINT = re.compile(r"^(<=|>=|<|>|!=|=)?\s*([0-9A-Za-z][0-9A-Za-z._+~-]*)$")
_WILDCARD = re.compile(r"^(.*?)[.]?[xX*]$")


class Decision(enum.StrEnum):
    AFFECTED = "affected"
    FIXED = "fixed"
    NOT_AFFECTED = "not_affected"
    UNDER_INVESTIGATION = "under_investigation"
    UNKNOWN_VERSION = "unknown_version"


@dataclass(frozen=True)
class VersionDecision:
    decision: Decision
    reason: str
    affected_versions: tuple[str, ...] = ()
    fixed_versions: tuple[str, ...] = ()
    fix_urls: tuple[str, ...] = ()


class Undecidable(ValueError):
    """A version or range no rule can compare; the message says which."""


def decide(member_versions: str | None, document: CsafDocument,
           product_ids: Sequence[str]) -> VersionDecision:
    """The decision for a member's product (the document's `product_ids` that name it)."""
    candidates = _candidates(document, product_ids)
    affected = tuple(dict.fromkeys(_label(p) for p, s in candidates if s.affected))
    fixed = tuple(dict.fromkeys(_label(p) for p, s in candidates if s.fixed))
    fix_urls = _fix_urls(document, product_ids)
    facts = {"affected_versions": affected, "fixed_versions": fixed, "fix_urls": fix_urls}
    if not candidates:
        return VersionDecision(Decision.UNKNOWN_VERSION,
                               "the advisory gives no status for this product", **facts)
    if member_versions is None:
        return VersionDecision(Decision.UNKNOWN_VERSION, "no version registered", **facts)
    covering: dict[ProductStatus, tuple[CsafProduct, str]] = {}
    undecided: list[str] = []
    for product, status in candidates:
        try:
            rule = covers(member_versions, product)
        except Undecidable as exc:
            undecided.append(str(exc))
            continue
        if rule is not None and status not in covering:
            covering[status] = (product, rule)
    for wanted, decision in ((_affected, Decision.AFFECTED), (_fixed, Decision.FIXED),
                             (_not_affected, Decision.NOT_AFFECTED),
                             (_investigating, Decision.UNDER_INVESTIGATION)):
        hit = next(((s, covering[s]) for s in covering if wanted(s)), None)
        if hit is not None:
            status, (product, rule) = hit
            reason = (f"version {member_versions} is listed as {status.value.replace('_', ' ')}"
                      f" ({rule})")
            return VersionDecision(decision, reason, **facts)
    if undecided:
        return VersionDecision(Decision.UNKNOWN_VERSION,
                               f"could not compare version {member_versions}: {undecided[0]}",
                               **facts)
    return VersionDecision(Decision.NOT_AFFECTED,
                           f"version {member_versions} is not among the versions listed "
                           f"({', '.join(affected[:5]) or 'none affected'})", **facts)


def covers(member_versions: str, product: CsafProduct) -> str | None:
    """The rule by which the product's version (or range) includes the member's version, or
    None when it does not; Undecidable when no rule can tell."""
    member = member_versions.strip()
    spec = product.version_range or product.version
    if spec is None or spec.strip() in {"vers:all/*", "*"}:
        return f"{spec or 'no version given'}: every version"
    if member.startswith("vers:"):
        return _member_range_covers(member, product)
    if product.version_range is not None:
        return _range_contains(product.version_range, member)
    assert product.version is not None
    return _single_matches(product.version, member)


def _range_contains(text: str, version: str) -> str | None:
    scheme, rng = _parse_range(text)
    if rng is _ALL:
        return f"{text}: every version"
    assert isinstance(rng, VersionRange)
    try:
        inside = _version(rng, version) in rng
    except (InvalidVersion, ValueError, TypeError):
        raise Undecidable(f"{version!r} is not a {scheme} version") from None
    return f"{text} read as {scheme}" if inside else None


def _member_range_covers(member: str, product: CsafProduct) -> str | None:
    if product.version_range is not None:
        raise Undecidable(f"both are ranges ({member} and {product.version_range})")
    assert product.version is not None
    scheme, rng = _parse_range(member)
    if rng is _ALL:
        return f"{member}: every version"
    assert isinstance(rng, VersionRange)
    for alternative in _alternatives(product.version):
        try:
            if _version(rng, alternative) in rng:
                return f"{alternative} is within {member} read as {scheme}"
        except (InvalidVersion, ValueError, TypeError):
            raise Undecidable(f"{alternative!r} is not a {scheme} version") from None
    return None


def _single_matches(listed: str, member: str) -> str | None:
    wanted = _normal(member)
    for alternative in _alternatives(listed):
        if _normal(alternative) == wanted:
            return f"{alternative}: the same version"
        wildcard = _WILDCARD.match(alternative)
        if wildcard and wildcard.group(1) and \
                (wanted + ".").startswith(_normal(wildcard.group(1)) + "."):
            return f"{alternative}: the same major version"
    return None


def _parse_range(text: str) -> tuple[str, object]:
    """(scheme read with, VersionRange or _ALL); Undecidable when no rule reads it."""
    text = text.strip()
    if text.startswith("vers:"):
        scheme, _, constraints = text[5:].partition("/")
        scheme = scheme.lower()
        if constraints.strip() == "*":
            return scheme, _ALL
        if scheme in _READ_AS_MAVEN or scheme not in RANGE_CLASS_BY_SCHEMES:
            scheme = "maven"
    else:
        constraints, scheme = _plain_constraints(text), "maven"
    constraints = constraints.replace(" ", "")
    try:
        return scheme, VersionRange.from_string(  # type: ignore[no-untyped-call]
            f"vers:{scheme}/{constraints}")
    except Exception:  # noqa: BLE001 (univers raises many types for one meaning)
        raise Undecidable(f"the range {text!r} cannot be read") from None


def _version(rng: VersionRange, text: str) -> object:
    """The version in the range's own scheme (InvalidVersion when it is not one)."""
    make = getattr(rng, "version_class")  # noqa: B009 (univers types it as None on the base)
    return make(text)


def _plain_constraints(text: str) -> str:
    parts = []
    for part in text.split("|"):
        match = _CONSTRAINT.match(part.strip())
        if match is None:
            raise Undecidable(f"the range {text!r} cannot be read")
        op, version = match.group(1) or "", match.group(2)
        parts.append(f"{op}{version}")
    if not any(p[0] in "<>!=" for p in parts):
        raise Undecidable(f"{text!r} is not a range")
    return "|".join(parts)


def _alternatives(listed: str) -> list[str]:
    return [a.strip() for a in listed.split("|") if a.strip()]


def _normal(version: str) -> str:
    version = version.strip().casefold()
    for prefix in ("version ", "ver. ", "ver ", "v"):
        if version.startswith(prefix) and len(version) > len(prefix) and \
                version[len(prefix)].isdigit():
            return version[len(prefix):]
    return version


def _candidates(document: CsafDocument,
                product_ids: Sequence[str]) -> list[tuple[CsafProduct, ProductStatus]]:
    found = []
    for vulnerability in document.vulnerabilities:
        for pid in product_ids:
            status = vulnerability.statuses.get(pid)
            product = document.products.get(pid)
            if status is not None and product is not None:
                found.append((product, status))
    return found


def _fix_urls(document: CsafDocument, product_ids: Sequence[str]) -> tuple[str, ...]:
    wanted = set(product_ids)
    urls = [r.url for v in document.vulnerabilities for r in v.remediations
            if r.category == "vendor_fix" and r.url and wanted & set(r.product_ids)]
    return tuple(dict.fromkeys(urls))


def _label(product: CsafProduct) -> str:
    return product.version_range or product.version or "all versions"


def _affected(status: ProductStatus) -> bool:
    return status.affected


def _fixed(status: ProductStatus) -> bool:
    return status.fixed


def _not_affected(status: ProductStatus) -> bool:
    return status is ProductStatus.KNOWN_NOT_AFFECTED


def _investigating(status: ProductStatus) -> bool:
    return status is ProductStatus.UNDER_INVESTIGATION


def maven_order_sample(versions: Sequence[str]) -> list[str]:
    """The versions sorted as the fallback rule orders them (for tests and the benchmark)."""
    return sorted(versions, key=MavenVersion)
