"""Whether a member's version lies within what a version field was read as."""

from __future__ import annotations

from bot.domain.language import N_, Phrase
from bot.domain.version_grammar import version_key
from bot.domain.version_order import (
    Undecidable,
    numbering,
    ordered,
    otherwise_numbered,
    within,
)
from bot.domain.version_text import Piece, Reading, piece_text


def find_piece(reading: Reading, member: str, skip: frozenset[str] = frozenset()
               ) -> Piece | None:
    """The stretch of the reading that holds the member's version (None for every version
    too: see `reading.every`), or None when none does; Undecidable when the reading cannot
    tell. `skip`: upper bounds of other release branches, which do not apply."""
    if reading.doubt is not None:
        # TRANSLATORS: {words} are the publisher's words next to a version range.
        raise Undecidable(Phrase(N_("the publisher's words {words} may change which versions "
                                    "are meant"), words=repr(reading.doubt)))
    if reading.every:
        return None
    key = version_key(member)
    mine = numbering(key)
    comparable = [p for p in reading.pieces if _numbering_of(p) == mine
                  and not (p.low is None and p.high is not None and p.high.key in skip)]
    for piece in comparable:
        if _holds(piece, key):
            return piece
    if not comparable:
        raise otherwise_numbered(member, reading.listed)
    written_as = {_shape(b.key) for p in comparable for b in (p.low, p.high) if b is not None}
    for piece in reading.other:
        bound = piece.low or piece.high
        assert bound is not None
        if _numbering_of(piece) != mine or _shape(key) != _shape(bound.key) or \
                not _holds(piece, key):
            continue
        if _shape(key) not in written_as:
            return piece  # the member's version is written in the other numbering
        # TRANSLATORS: {other} is the same range in another numbering, as the publisher
        # wrote it in brackets ("(v9.90.196)").
        raise Undecidable(Phrase(N_("{member} is outside {listed} but within its other "
                                    "numbering {other}"), member=member,
                                 listed=repr(reading.listed), other=piece_text(piece)))
    for piece in comparable:
        _check_loose(piece, key, member)
    return None


def _shape(key: str) -> tuple[str, bool]:
    """How a version is written: its numbering, and whether qualifiers follow ('9.90-sp-5')."""
    return numbering(key), "-" in key


def _numbering_of(piece: Piece) -> str:
    bound = piece.low or piece.high
    assert bound is not None
    return numbering(bound.key)


def _holds(piece: Piece, key: str) -> bool:
    version = ordered(key)
    low, high = piece.low, piece.high
    if piece.single:
        assert low is not None
        return within(key, low.key) if low.stem else key == low.key or \
            version == ordered(low.key)
    if low is not None:
        floor = ordered(low.key)
        if low.stem and not low.inclusive:
            if within(key, low.key) or version <= floor:
                return False
        elif version < floor or (version == floor and not low.inclusive):
            return False
    if high is not None:
        ceiling = ordered(high.key)
        if high.stem:
            inside = within(key, high.key)
            return (version < ceiling and not inside) or (high.inclusive and inside)
        return version < ceiling or (version == ceiling and high.inclusive)
    return True


def _check_loose(piece: Piece, key: str, member: str) -> None:
    """A version followed by words that were set aside cannot rule out the versions those
    words might still make it: '882160 Gemini Dual' against 3.2, '<= 2019 SPI' against
    2019 SP1."""
    if piece.single and piece.low is not None and piece.low.after is not None:
        # TRANSLATORS: {listed} is a version as listed, {words} the words after it.
        raise Undecidable(Phrase(N_("{listed} is followed by {words}: not a version alone"),
                                 listed=repr(piece.low.shown.strip()),
                                 words=repr(piece.low.after)))
    high = piece.high
    if high is not None and high.loose and _extends(key, high.key):
        raise Undecidable(Phrase(N_("{member} continues {listed}, and the words after it "
                                    "({words}) may be part of that version"),
                                 member=repr(member), listed=repr(high.shown.strip()),
                                 words=repr(high.after)))


def _extends(key: str, base: str) -> bool:
    return key == base or (key.startswith(base) and not key[len(base)].isdigit())
