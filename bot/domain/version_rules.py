"""The rules that read a listed version or range and say whether it includes a member's
version: univers for `vers:` schemes it knows, the publisher reading (bot.domain.version_text)
for `vers:all`, `generic`, `intdot`, unknown schemes and plain text, equality of the whole
text, and a member's own `vers:` range against listed versions. Each returns the rule as a
phrase for the reason, None when the version is not included, or raises Undecidable."""

from __future__ import annotations

from univers.version_range import RANGE_CLASS_BY_SCHEMES, VersionRange
from univers.versions import InvalidVersion

from bot.domain.csaf_products import CsafProduct
from bot.domain.language import N_, Phrase
from bot.domain.version_compare import find_piece
from bot.domain.version_order import Undecidable
from bot.domain.version_text import (
    MAX_VERSION_TEXT,
    Piece,
    Reading,
    read_listed,
    version_key,
)

_ALL = object()
_READ_AS_MAVEN = {"all", "generic", "intdot"}


def covers(member_versions: str, product: CsafProduct,
           other_branches: frozenset[str] = frozenset()) -> Phrase | None:
    """The rule by which the product's version (or range) includes the member's version, or
    None when it does not; Undecidable when no rule can tell. `other_branches`: fixed
    versions of other release branches, which say nothing about the member's version."""
    member = member_versions.strip()
    spec = product.version_range or product.version
    if spec is None or not spec.strip():
        return Phrase(N_("no version given: every version"))
    if len(spec) > MAX_VERSION_TEXT:
        read_listed(spec)  # refused, with the reason
    if member.startswith("vers:"):
        if spec.strip() in {"vers:all/*", "*"}:
            return _every_version(spec.strip())
        return _member_range_covers(member, product)
    wanted = version_key(member)
    same = next((a for a in (spec, *spec.split("|")) if version_key(a) == wanted), None)
    if same is not None:
        return Phrase(N_("{listed}: the same version"), listed=same.strip())
    scheme, text = scheme_of(spec)
    if scheme is not None:
        return _univers_contains(spec, scheme, text, member)
    reading = read_listed(text, spec.strip())
    piece = find_piece(reading, member, other_branches)
    if reading.every:
        return _rule(spec, reading, None)
    return None if piece is None else _rule(spec, reading, piece)


def _rule(listed: str, reading: Reading, piece: Piece | None) -> Phrase:
    """The rule that read the listed text, with the publisher's words it set aside."""
    if piece is None:
        rule = _every_version(listed.strip())
    elif piece.single and piece.low is not None and piece.low.stem:
        rule = Phrase(N_("{listed}: the same major version"), listed=piece.low.shown.strip())
    elif piece.single and piece.low is not None:
        rule = Phrase(N_("{listed}: the same version"), listed=piece.low.shown.strip())
    else:
        rule = _read_as(listed.strip(), "maven")
    if not reading.set_aside:
        return rule
    # TRANSLATORS: {rule} says how a version text was read; {words} are the publisher's
    # words that were set aside ("'_Utilizes_Wibu-Systems_CodeMeter_7.60c'").
    return Phrase(N_("{rule}, setting aside {words}"), rule=rule, words=_words(reading))


def _words(reading: Reading) -> str:
    return ", ".join(repr(w) for w in reading.set_aside[:3])


def scheme_of(spec: str) -> tuple[str | None, str]:
    """(the univers scheme that decides, constraints), or (None, the text the publisher
    reading reads): `vers:all`, `generic`, `intdot`, unknown schemes and plain text."""
    text = spec.strip()
    if not text.startswith("vers:"):
        return None, text
    scheme, _, constraints = text[5:].partition("/")
    scheme = scheme.lower()
    if scheme in _READ_AS_MAVEN or scheme not in RANGE_CLASS_BY_SCHEMES:
        return None, constraints
    return scheme, constraints


def _every_version(listed: str) -> Phrase:
    # TRANSLATORS: {listed} is a version range that includes all versions ("vers:all/*").
    return Phrase(N_("{listed}: every version"), listed=listed)


def _univers_contains(listed: str, scheme: str, constraints: str, version: str) -> Phrase | None:
    if constraints.strip() == "*":
        return _every_version(listed.strip())
    try:
        rng = VersionRange.from_string(  # type: ignore[no-untyped-call]
            f"vers:{scheme}/{constraints.replace(' ', '')}")
    except Exception:
        raise _unreadable(listed) from None
    try:
        inside = _version(rng, version) in rng
    except InvalidVersion:
        raise _not_a_version(version, scheme) from None
    except Exception:
        raise _not_comparable(listed) from None
    return _read_as(listed.strip(), scheme) if inside else None


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
    scheme, rng = _parse_member_range(member)
    if rng is _ALL:
        return _every_version(member)
    assert isinstance(rng, VersionRange)
    for alternative in _listed_versions(product.version, member):
        try:
            inside = _version(rng, alternative) in rng
        except InvalidVersion:
            raise _not_a_version(alternative, scheme) from None
        except Exception:
            raise _not_comparable(member) from None
        if inside:
            # TRANSLATORS: {member} is the member's range, {scheme} a version ordering.
            return Phrase(N_("{listed} is within {member} read as {scheme}"), listed=alternative,
                          member=member, scheme=scheme)
    return None


def _listed_versions(listed: str, member: str) -> list[str]:
    """The single versions a product_version lists (a range or wildcard is refused)."""
    _, text = scheme_of(listed)
    reading = read_listed(text, listed)
    if reading.every or not all(p.single and p.low and not p.low.stem for p in reading.pieces):
        raise Undecidable(Phrase(N_("both are ranges ({member} and {listed})"), member=member,
                                 listed=listed))
    return [p.low.key for p in reading.pieces if p.low is not None]


def _parse_member_range(text: str) -> tuple[str, object]:
    """A member's `vers:` range: (scheme read with, VersionRange or _ALL)."""
    scheme, _, constraints = text.strip()[5:].partition("/")
    scheme = scheme.lower()
    if constraints.strip() == "*":
        return scheme, _ALL
    if scheme in _READ_AS_MAVEN or scheme not in RANGE_CLASS_BY_SCHEMES:
        scheme = "maven"
    try:
        return scheme, VersionRange.from_string(  # type: ignore[no-untyped-call]
            f"vers:{scheme}/{constraints.replace(' ', '')}")
    except Exception:
        raise _unreadable(text) from None


def _version(rng: VersionRange, text: str) -> object:
    """The version in the range's own scheme (InvalidVersion when it is not one)."""
    make = getattr(rng, "version_class")  # noqa: B009 (univers types it as None on the base)
    return make(text)
