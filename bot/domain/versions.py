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
- first_affected, last_affected, first_fixed with one version: every version from (up to)
  it, in the generic ordering; a first affected version ends at a later first fixed one.
- anything else (`<May 2018`, `A10 < A11`): undecidable; the member is alerted as without a
  version, and the reason says so.

Several statuses covering one version: affected, then under investigation, then fixed, then
not affected.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from univers.version_range import RANGE_CLASS_BY_SCHEMES, VersionRange
from univers.versions import InvalidVersion, MavenVersion

from bot.domain.csaf import CsafDocument, CsafProduct, ProductStatus
from bot.domain.language import N_, Phrase

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

    def __init__(self, reason: Phrase) -> None:
        super().__init__(reason)
        self.reason = reason


# The statuses as a reason names them ("version 2.1 is listed as known affected").
_STATUS_WORDS = {
    # TRANSLATORS: CSAF product statuses (this and the next seven), shown in a reason as
    # "version 2.1 is listed as {status}".
    ProductStatus.KNOWN_AFFECTED: N_("known affected"),
    ProductStatus.FIRST_AFFECTED: N_("first affected"),
    ProductStatus.LAST_AFFECTED: N_("last affected"),
    ProductStatus.FIXED: N_("fixed"),
    ProductStatus.FIRST_FIXED: N_("first fixed"),
    ProductStatus.RECOMMENDED: N_("recommended"),
    ProductStatus.KNOWN_NOT_AFFECTED: N_("known not affected"),
    ProductStatus.UNDER_INVESTIGATION: N_("under investigation"),
}


def status_words(status: ProductStatus) -> Phrase:
    """A CSAF product status as a reason names it: 'known affected'."""
    return Phrase(_STATUS_WORDS[status])


def decide(member_versions: str | None, document: CsafDocument,
           product_ids: Sequence[str]) -> VersionDecision:
    """The decision for a member's product (the document's `product_ids` that name it).

    When several statuses cover the member's version (one per vulnerability), affected beats
    under investigation beats fixed beats not affected: a member is never told "fixed" while
    another vulnerability of the same advisory may still concern them."""
    candidates = _candidates(document, product_ids)
    affected = tuple(dict.fromkeys(_label(p) for _, p, s in candidates if s.affected))
    fixed = tuple(dict.fromkeys(_label(p) for _, p, s in candidates if s.fixed))
    fix_urls = _fix_urls(document, product_ids)
    facts = {"affected_versions": affected, "fixed_versions": fixed, "fix_urls": fix_urls}
    if not candidates:
        return VersionDecision(
            Decision.UNKNOWN_VERSION,
            Phrase(N_("the advisory gives no status for this product")), **facts)
    if member_versions is None or not member_versions.strip():
        return VersionDecision(Decision.UNKNOWN_VERSION, Phrase(N_("no version registered")),
                               **facts)
    member = member_versions.strip()
    covering: dict[Decision, tuple[int, Phrase]] = {}  # decision: (vulnerability, reason)
    undecided: list[tuple[int, ProductStatus, Phrase]] = []
    for index, product, status in candidates:
        try:
            reason = _covering_reason(member, product, status, candidates)
        except Undecidable as exc:
            undecided.append((index, status, exc.reason))
            continue
        if reason is not None:
            covering.setdefault(_DECISION_OF[_kind(status)], (index, reason))
    for decision in _PRIORITY:
        if decision not in covering:
            continue
        index, reason = covering[decision]
        # An unreadable affected range of another vulnerability may still cover the member.
        doubt = next((why for i, s, why in undecided if i != index
                      and _PRIORITY.index(_DECISION_OF[_kind(s)]) < _PRIORITY.index(decision)),
                     None)
        if doubt is not None:
            # TRANSLATORS: {reason} says why a status applies, {doubt} why another could not
            # be read; {member} is the version the member registered.
            return VersionDecision(Decision.UNKNOWN_VERSION, Phrase(N_(
                "{reason}, but could not compare version {member} for another vulnerability: "
                "{doubt}"), reason=reason, member=member, doubt=doubt), **facts)
        return VersionDecision(decision, reason, **facts)
    if undecided:
        return VersionDecision(Decision.UNKNOWN_VERSION, Phrase(
            N_("could not compare version {member}: {doubt}"), member=member,
            doubt=undecided[0][2]), **facts)
    if not affected:
        return VersionDecision(Decision.NOT_AFFECTED, Phrase(
            N_("version {member} is not among the versions listed (none affected)"),
            member=member), **facts)
    return VersionDecision(Decision.NOT_AFFECTED, Phrase(
        N_("version {member} is not among the versions listed ({versions})"), member=member,
        versions=", ".join(affected[:5])), **facts)


_PRIORITY = (Decision.AFFECTED, Decision.UNDER_INVESTIGATION, Decision.FIXED,
             Decision.NOT_AFFECTED)
_DECISION_OF = {"affected": Decision.AFFECTED, "investigating": Decision.UNDER_INVESTIGATION,
                "fixed": Decision.FIXED, "not_affected": Decision.NOT_AFFECTED}


def _kind(status: ProductStatus) -> str:
    if status.affected:
        return "affected"
    if status.fixed:
        return "fixed"
    return "not_affected" if status.not_affected else "investigating"


def _covering_reason(member: str, product: CsafProduct, status: ProductStatus,
                     candidates: Sequence[tuple[int, CsafProduct, ProductStatus]]
                     ) -> Phrase | None:
    """Why the product's status applies to the member's version, or None when it does not.

    first_affected, last_affected and first_fixed name one version and mean every version
    from (or up to) it; they are read with the generic ordering when both are single."""
    if status in _ORDERED and not member.startswith("vers:") and product.version is not None \
            and product.version_range is None and len(_alternatives(product.version)) == 1:
        return _ordered_reason(member, product, status, candidates)
    rule = covers(member, product)
    if rule is None:
        return None
    # TRANSLATORS: {status} is a status word ("known affected"), {rule} the rule that read
    # the version ("B.06.12: the same version", "< 8.2.2 read as maven").
    return Phrase(N_("version {member} is listed as {status} ({rule})"), member=member,
                  status=status_words(status), rule=rule)


_ORDERED = {ProductStatus.FIRST_AFFECTED, ProductStatus.LAST_AFFECTED,
            ProductStatus.FIRST_FIXED}


def _ordered_reason(member: str, product: CsafProduct, status: ProductStatus,
                    candidates: Sequence[tuple[int, CsafProduct, ProductStatus]]
                    ) -> Phrase | None:
    assert product.version is not None
    listed = product.version.strip()
    if _normal(listed) == _normal(member):
        return Phrase(N_("version {member} is listed as {status}"), member=member,
                      status=status_words(status))
    mine, theirs = _maven(member), _maven(listed)
    if status is ProductStatus.LAST_AFFECTED:
        if mine <= theirs:
            return Phrase(N_("{member} is at or below the last affected version {listed}"),
                          member=member, listed=listed)
        return None
    if mine < theirs:
        return None
    if status is ProductStatus.FIRST_FIXED:
        return Phrase(N_("{member} is at or above the first fixed version {listed}"),
                      member=member, listed=listed)
    # First affected: until a later first fixed version of the same product.
    for _, other, other_status in candidates:
        if other_status is ProductStatus.FIRST_FIXED and other.name == product.name and \
                other.version is not None and other.version_range is None:
            fix = _maven(other.version.strip())
            if theirs < fix <= mine:
                return None
    return Phrase(N_("{member} is at or above the first affected version {listed} "
                     "(generic ordering)"), member=member, listed=listed)


def _maven(text: str) -> MavenVersion:
    try:
        return MavenVersion(_normal(text))
    except Exception:  # noqa: BLE001 (univers raises many types for one meaning)
        raise Undecidable(Phrase(N_("{version} cannot be ordered as a version"),
                                 version=repr(text))) from None


def covers(member_versions: str, product: CsafProduct) -> Phrase | None:
    """The rule by which the product's version (or range) includes the member's version, or
    None when it does not; Undecidable when no rule can tell."""
    member = member_versions.strip()
    spec = product.version_range or product.version
    if spec is None or spec.strip() in {"vers:all/*", "*"}:
        if not spec:
            return Phrase(N_("no version given: every version"))
        return _every_version(spec)
    if member.startswith("vers:"):
        return _member_range_covers(member, product)
    if product.version_range is not None:
        return _range_contains(product.version_range, member)
    assert product.version is not None
    return _single_matches(product.version, member)


def _every_version(listed: str) -> Phrase:
    # TRANSLATORS: {listed} is a version range that includes all versions ("vers:all/*").
    return Phrase(N_("{listed}: every version"), listed=listed)


def _range_contains(text: str, version: str) -> Phrase | None:
    scheme, rng = _parse_range(text)
    if rng is _ALL:
        return _every_version(text)
    assert isinstance(rng, VersionRange)
    try:
        inside = _version(rng, version) in rng
    except InvalidVersion:
        raise _not_a_version(version, scheme) from None
    except Exception:  # noqa: BLE001 (univers checks a range's constraints only when used)
        raise _not_comparable(text) from None
    return _read_as(text, scheme) if inside else None


def _read_as(listed: str, scheme: str) -> Phrase:
    # TRANSLATORS: {scheme} names a version ordering (maven, semver, pypi, ...).
    return Phrase(N_("{listed} read as {scheme}"), listed=listed, scheme=scheme)


def _not_a_version(version: str, scheme: str) -> Undecidable:
    # TRANSLATORS: {scheme} names a version ordering (maven, semver, pypi, ...).
    return Undecidable(Phrase(N_("{version} is not a {scheme} version"), version=repr(version),
                              scheme=scheme))


def _not_comparable(text: str) -> Undecidable:
    return Undecidable(Phrase(N_("the range {listed} cannot be compared"), listed=repr(text)))


def _unreadable(text: str) -> Undecidable:
    return Undecidable(Phrase(N_("the range {listed} cannot be read"), listed=repr(text)))


def _member_range_covers(member: str, product: CsafProduct) -> Phrase | None:
    if product.version_range is not None:
        raise Undecidable(Phrase(N_("both are ranges ({member} and {listed})"), member=member,
                                 listed=product.version_range))
    assert product.version is not None
    scheme, rng = _parse_range(member)
    if rng is _ALL:
        return _every_version(member)
    assert isinstance(rng, VersionRange)
    for alternative in _alternatives(product.version):
        try:
            inside = _version(rng, alternative) in rng
        except InvalidVersion:
            raise _not_a_version(alternative, scheme) from None
        except Exception:  # noqa: BLE001 (univers checks a range's constraints only when used)
            raise _not_comparable(member) from None
        if inside:
            # TRANSLATORS: {member} is the member's range, {scheme} a version ordering.
            return Phrase(N_("{listed} is within {member} read as {scheme}"), listed=alternative,
                          member=member, scheme=scheme)
    return None


def _single_matches(listed: str, member: str) -> Phrase | None:
    wanted = _normal(member)
    for alternative in _alternatives(listed):
        if _normal(alternative) == wanted:
            return Phrase(N_("{listed}: the same version"), listed=alternative)
        wildcard = _WILDCARD.match(alternative)
        if wildcard and wildcard.group(1) and \
                (wanted + ".").startswith(_normal(wildcard.group(1)) + "."):
            return Phrase(N_("{listed}: the same major version"), listed=alternative)
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
        raise _unreadable(text) from None


def _version(rng: VersionRange, text: str) -> object:
    """The version in the range's own scheme (InvalidVersion when it is not one)."""
    make = getattr(rng, "version_class")  # noqa: B009 (univers types it as None on the base)
    return make(text)


def _plain_constraints(text: str) -> str:
    parts = []
    for part in text.split("|"):
        match = _CONSTRAINT.match(part.strip())
        if match is None:
            raise _unreadable(text)
        op, version = match.group(1) or "", match.group(2)
        parts.append(f"{op}{version}")
    if not any(p[0] in "<>!=" for p in parts):
        raise Undecidable(Phrase(N_("{listed} is not a range"), listed=repr(text)))
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


def _candidates(document: CsafDocument, product_ids: Sequence[str]
                ) -> list[tuple[int, CsafProduct, ProductStatus]]:
    """(vulnerability index, product, status) for each status the document gives them."""
    found = []
    for index, vulnerability in enumerate(document.vulnerabilities):
        for pid in product_ids:
            status = vulnerability.statuses.get(pid)
            product = document.products.get(pid)
            if status is not None and product is not None:
                found.append((index, product, status))
    return found


def _fix_urls(document: CsafDocument, product_ids: Sequence[str]) -> tuple[str, ...]:
    wanted = set(product_ids)
    urls = [r.url for v in document.vulnerabilities for r in v.remediations
            if r.category == "vendor_fix" and r.url and wanted & set(r.product_ids)]
    return tuple(dict.fromkeys(urls))


def _label(product: CsafProduct) -> str:
    return product.version_range or product.version or "all versions"


def maven_order_sample(versions: Sequence[str]) -> list[str]:
    """The versions sorted as the fallback rule orders them (for tests and the benchmark)."""
    return sorted(versions, key=MavenVersion)
