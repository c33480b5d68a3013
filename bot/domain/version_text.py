"""The version texts publishers write in CSAF documents, read as a careful reader would.

A version field holds more than versions: `<V4.00_Utilizes_Wibu-Systems_CodeMeter_7.60c`,
`>= R4.01.00 | <= R4.05.00 (if RS4E5000 is installed)`, `V15, V15.1 and V16`, `4.24.`,
`All versions < V17 Update 5`, `2.3.6 and below`, `<= 9.90 SP5 (v9.90.196)`. A text is read
into stretches of versions (intervals, single versions, `2.X` wildcards); the version ends
where the publisher's own words begin, and those words are kept to be shown in the reason.
Ordering is univers's Maven ordering (numbers as numbers, letters as qualifiers, `SP`,
`Update`, `HF` after the release they patch). What cannot be read raises Undecidable, whose
phrase says why: a member is then alerted with "could not compare", never told "not affected".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.language import N_, Phrase
from bot.domain.version_grammar import (
    DATE,
    DOUBT,
    SERIAL,
    TRAILING,
    Bound,
    Item,
    Piece,
    Scanner,
    bound_piece,
    unreadable,
    version_key,
)
from bot.domain.version_order import Undecidable, numbering, ordered

__all__ = ["MAX_VERSION_TEXT", "Bound", "Piece", "Reading", "piece_text", "read_listed",
           "version_key"]

# The longest version text of CISA's documents 2017-2024 has 247 characters; far longer is
# hostile, and reading it would cost time that grows with the square of its length.
MAX_VERSION_TEXT = 1_000


@dataclass(frozen=True)
class Reading:
    listed: str  # the text as the document gives it
    pieces: tuple[Piece, ...] = ()
    every: bool = False
    set_aside: tuple[str, ...] = ()  # the publisher's words the versions were cut from
    # A remark giving the same bound in another numbering ("<= 9.90 SP5 (v9.90.196)").
    other: tuple[Piece, ...] = ()
    doubt: str | None = None  # words that may change which versions are meant


def read_listed(text: str, listed: str | None = None) -> Reading:
    """A version field (product_version or product_version_range, without `vers:scheme/`)
    read into stretches of versions; Undecidable when no rule reads it. `listed`: the field
    as the document gives it, for reasons (with its `vers:all/`)."""
    listed = listed or text
    if len(text) > MAX_VERSION_TEXT:
        # TRANSLATORS: {limit} is a number of characters.
        raise Undecidable(Phrase(N_("the version text is longer than {limit} characters"),
                                 limit=MAX_VERSION_TEXT))
    text = " ".join(text.replace("{", "(").replace("}", ")").split())
    if SERIAL.search(_without_remarks(text)):
        raise Undecidable(Phrase(N_("{listed} names serial numbers, not versions"),
                                 listed=repr(listed)))
    if DATE.search(_without_remarks(text)):
        raise Undecidable(Phrase(N_("{listed} names a date, not a version"),
                                 listed=repr(listed)))
    items: list[Item] = []
    set_aside: list[str] = []
    other: list[Piece] = []
    every = False
    for alternative in _alternatives(text):
        if re.fullmatch(r"\([^()]*\)", alternative):  # "(Release 1.3.2 1.4.0 1.4.1)"
            alternative = alternative[1:-1]
        scanner = Scanner(alternative)
        if scanner.every():
            every = True
        else:
            try:
                items.extend(scanner.items())
            except Undecidable:
                # "7100 | 7900 | Protiva Carestation View": a name among versions.
                set_aside.append(alternative)
                continue
        set_aside.extend(scanner.set_aside)
        other.extend(scanner.other)
    if not items and not every:
        raise unreadable(listed)
    doubt = next((w for w in set_aside if DOUBT.search(w)), None)
    return Reading(listed, _pieces(items, listed), every, tuple(set_aside), tuple(other), doubt)


def _without_remarks(text: str) -> str:
    return re.sub(r"\([^()]*\)", " ", text)


def _alternatives(text: str) -> list[str]:
    """The text split at `|` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char == "("
        depth -= char == ")" and depth > 0
        if char == "|" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip(TRAILING) for p in parts if p.strip(TRAILING)]


def _pieces(items: list[Item], listed: str) -> tuple[Piece, ...]:
    """Constraints paired as in `vers:`: a lower bound followed by an upper bound is one
    interval; a lone bound is open on its other side; `=` is one version."""
    pieces: list[Piece] = []
    pending: Bound | None = None
    for item in items:
        if item.piece is not None:
            pieces.append(item.piece)
        elif item.op in (">", ">="):
            if pending is not None:
                pieces.append(Piece(pending, None))
            pending = bound_piece(item.op, item.bound).low if item.bound else None
        elif item.op in ("<", "<="):
            pieces += _closed_by(pending, item)
            pending = None
        elif item.op == "!=":
            raise unreadable(listed)
        else:
            assert item.bound is not None
            pieces.append(Piece(item.bound, item.bound))
    if pending is not None:
        pieces.append(Piece(pending, None))
    _refuse_empty(pieces, listed)
    return tuple(pieces)


def _closed_by(pending: Bound | None, item: Item) -> list[Piece]:
    """The pieces an upper bound `item` makes with the lower bound before it (if any)."""
    assert item.bound is not None
    high = bound_piece(item.op, item.bound).high
    if pending is not None and high is not None and \
            numbering(pending.key) != numbering(high.key):
        # ">= 1.5 | <= a3b04b7…": ends numbered apart are two open stretches.
        return [Piece(pending, None), Piece(None, high)]
    return [Piece(pending, high)]


def _refuse_empty(pieces: list[Piece], listed: str) -> None:
    """Undecidable when a stretch ends below where it begins (">= 2.0 < 1.0")."""
    for found in pieces:
        if found.low is not None and found.high is not None and not found.single and \
                numbering(found.low.key) == numbering(found.high.key):
            try:
                empty = ordered(found.low.key) > ordered(found.high.key)
            except Undecidable:
                continue
            if empty:
                raise Undecidable(Phrase(N_("the range {listed} is empty as written"),
                                         listed=repr(listed)))


def piece_text(piece: Piece) -> str:
    """A stretch of versions as text: '>= 1.0 < 2.0', '1.33'."""
    low, high = piece.low, piece.high
    if piece.single:
        assert low is not None
        return low.shown.strip()
    parts = []
    if low is not None:
        parts.append((">=" if low.inclusive else ">") + " " + low.shown.strip())
    if high is not None:
        parts.append(("<=" if high.inclusive else "<") + " " + high.shown.strip())
    return " ".join(parts)
