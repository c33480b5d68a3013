"""Version-aware decisions: is the version a member runs affected by a CSAF document?

Each form publishers write has a stated rule, and the reason of every decision says which:

- `vers:all/*`, `*`, "All versions …": every version (the words after them shown).
- `vers:<scheme>/…` of a scheme univers knows (pypi, npm, …): univers decides.
- `vers:all`, `vers:generic`, `vers:intdot`, unknown schemes and the publisher's own text
  (`< 8.2.2`, `>= 2003 | <= 2006`, `1.32|1.33|1.35`, `V15, V15.1 and V16`, `2.X`, `2.3.6 and
  below`): read by bot.domain.version_text into intervals and single versions, ordered with
  univers's Maven ordering. The version ends where the publisher's words begin
  (`<V4.00_Utilizes_Wibu-Systems_CodeMeter_7.60c` is `< V4.00`), and the reason shows the
  words set aside.
- several upper bounds of one product (`<9.6.3.13` and `<9.6.4.1`): one range per release
  branch (bot.domain.version_branches).
- first_affected, last_affected, first_fixed with one version: every version from (up to)
  it; a first affected version ends at a later first fixed one.
- anything else (`<May 2018`, serial numbers, versions numbered otherwise than the member's):
  undecidable; the member is alerted as without a version, and the reason says why.

Several statuses covering one version: affected, then under investigation, then fixed, then
not affected.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from univers.versions import MavenVersion

from bot.domain.csaf import CsafDocument, CsafProduct, ProductStatus
from bot.domain.language import N_, Phrase
from bot.domain.version_branches import BranchFix, branch_fixes, branches_of
from bot.domain.version_grammar import Bound
from bot.domain.version_order import (
    NumberedOtherwise,
    Undecidable,
    numbering,
    ordered,
    otherwise_numbered,
)
from bot.domain.version_rules import covers, scheme_of
from bot.domain.version_text import Reading, read_listed, version_key

__all__ = ["Decision", "Undecidable", "VersionDecision", "covers", "decide",
           "maven_order_sample", "status_words"]

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
    branches = _member_branches(member, candidates)
    covering: dict[Decision, tuple[int, Phrase]] = {}  # decision: (vulnerability, reason)
    undecided: list[tuple[int, ProductStatus, Phrase]] = []
    otherwise: list[tuple[int, ProductStatus, Phrase]] = []  # numbered unlike the member's
    compared = False
    for index, product, status in candidates:
        skip = _other_branches(branches.get(product.name.casefold(), ()))
        try:
            reason = _covering_reason(member, product, status, candidates, skip)
        except NumberedOtherwise as exc:
            otherwise.append((index, status, exc.reason))
            continue
        except Undecidable as exc:
            undecided.append((index, status, exc.reason))
            continue
        compared = True
        if reason is not None:
            covering.setdefault(_DECISION_OF[_kind(status)], (index, reason))
    if not compared:
        # Another listed product numbered like the member's version says more than these.
        undecided += otherwise
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
    return VersionDecision(Decision.NOT_AFFECTED,
                           _not_listed(member, candidates, affected, branches), **facts)


def _not_listed(member: str, candidates: Sequence[tuple[int, CsafProduct, ProductStatus]],
                affected: tuple[str, ...], branches: dict[str, tuple[list[BranchFix],
                                                                     list[BranchFix]]]
                ) -> Phrase:
    """Why the member's version is not affected: not listed, in a fixed branch, or outside
    what was read once the publisher's words were set aside."""
    if not affected:
        return Phrase(N_("version {member} is not among the versions listed (none affected)"),
                      member=member)
    versions = ", ".join(affected[:5])
    for _, mine in branches.values():
        if mine:
            # TRANSLATORS: {fix} is a range such as "<9.6.3.13", {branch} a release branch
            # ("9.6.3"), {versions} the advisory's ranges.
            return Phrase(N_("version {member} is outside {fix}, the range of its release "
                             "branch {branch} (the advisory gives one range per branch: "
                             "{versions})"), member=member, fix=_bound_text(mine[0]),
                          branch=mine[0].name, versions=versions)
    aside = [w for _, p, s in candidates if s.affected for w in _set_aside(p)]
    if aside:
        # TRANSLATORS: {words} are the publisher's words after a version, set aside when
        # reading it ("'_Utilizes_Wibu-Systems_CodeMeter_7.60c'").
        return Phrase(N_("version {member} is not among the versions listed ({versions}), "
                         "read without the publisher's words {words}"), member=member,
                      versions=versions, words=", ".join(repr(w) for w in aside[:3]))
    return Phrase(N_("version {member} is not among the versions listed ({versions})"),
                  member=member, versions=versions)


def _bound_text(fix: BranchFix) -> str:
    return ("<= " if fix.bound.inclusive else "< ") + fix.bound.shown.strip()


def _set_aside(product: CsafProduct) -> tuple[str, ...]:
    reading = _publisher_reading(product)
    return reading.set_aside if reading is not None else ()


def _publisher_reading(product: CsafProduct) -> Reading | None:
    """The product's versions as the publisher reading reads them; None when univers decides
    them or no rule reads them."""
    spec = product.version_range or product.version
    if spec is None:
        return None
    scheme, text = scheme_of(spec)
    if scheme is not None:
        return None
    try:
        return read_listed(text, spec.strip())
    except Undecidable:
        return None


def _member_branches(member: str, candidates: Sequence[tuple[int, CsafProduct, ProductStatus]]
                     ) -> dict[str, tuple[list[BranchFix], list[BranchFix]]]:
    """Per product name: (every branch fix its affected ranges give, those of the member's
    branch), where the ranges are upper bounds of several release branches."""
    if member.startswith("vers:"):
        return {}
    key = version_key(member)
    bounds: dict[str, list[Bound]] = defaultdict(list)
    for _, product, status in candidates:
        reading = _publisher_reading(product) if status.affected else None
        if reading is None:
            continue
        bounds[product.name.casefold()] += [
            p.high for p in reading.pieces if p.low is None and p.high is not None
            and not p.high.stem and numbering(p.high.key) == numbering(key)]
    found = {}
    for name, upper in bounds.items():
        fixes = branch_fixes(upper)
        mine = branches_of(key, fixes)
        if mine:
            found[name] = (fixes, mine)
    return found


def _other_branches(branches: tuple[list[BranchFix], list[BranchFix]] | tuple[()]
                    ) -> frozenset[str]:
    """The bounds of branches other than the member's, which say nothing about it."""
    if not branches:
        return frozenset()
    fixes, mine = branches
    return frozenset(f.bound.key for f in fixes if f not in mine)


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
                     candidates: Sequence[tuple[int, CsafProduct, ProductStatus]],
                     other_branches: frozenset[str]) -> Phrase | None:
    """Why the product's status applies to the member's version, or None when it does not.

    first_affected, last_affected and first_fixed name one version and mean every version
    from (or up to) it; they are read with the generic ordering when both are single."""
    if status in _ORDERED and not member.startswith("vers:") and _one_version(product):
        return _ordered_reason(member, product, status, candidates)
    rule = covers(member, product, other_branches)
    if rule is None:
        return None
    # TRANSLATORS: {status} is a status word ("known affected"), {rule} the rule that read
    # the version ("B.06.12: the same version", "< 8.2.2 read as maven").
    return Phrase(N_("version {member} is listed as {status} ({rule})"), member=member,
                  status=status_words(status), rule=rule)


_ORDERED = {ProductStatus.FIRST_AFFECTED, ProductStatus.LAST_AFFECTED,
            ProductStatus.FIRST_FIXED}


def _one_version(product: CsafProduct) -> bool:
    """True when the product names exactly one version (no range, list or wildcard)."""
    if product.version is None or product.version_range is not None:
        return False
    reading = _publisher_reading(product)
    return reading is not None and len(reading.pieces) == 1 and reading.pieces[0].single \
        and reading.pieces[0].low is not None and not reading.pieces[0].low.stem


def _ordered_reason(member: str, product: CsafProduct, status: ProductStatus,
                    candidates: Sequence[tuple[int, CsafProduct, ProductStatus]]
                    ) -> Phrase | None:
    assert product.version is not None
    listed = product.version.strip()
    if version_key(listed) == version_key(member):
        return Phrase(N_("version {member} is listed as {status}"), member=member,
                      status=status_words(status))
    mine, theirs = _maven(member, listed), _maven(listed, member)
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
            fix = _maven(other.version.strip(), member)
            if theirs < fix <= mine:
                return None
    return Phrase(N_("{member} is at or above the first affected version {listed} "
                     "(generic ordering)"), member=member, listed=listed)


def _maven(text: str, against: str) -> MavenVersion:
    """The version in Maven ordering, when it is numbered as the one it is compared with."""
    key, other = version_key(text), version_key(against)
    if numbering(key) != numbering(other):
        raise otherwise_numbered(against, text)
    return ordered(key)


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
