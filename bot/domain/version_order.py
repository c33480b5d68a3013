"""How versions are ordered and told apart: univers's Maven ordering (numbers as numbers,
letters as qualifiers, `SP`, `Update`, `HF` after the release they patch), the numbering a
version follows (`B.06.18` and `4.3.8` are numbered differently and cannot be compared), and
its dot-separated components."""

from __future__ import annotations

import re
from functools import lru_cache

from univers.versions import MavenVersion

from bot.domain.language import N_, Phrase


class Undecidable(ValueError):
    """A version or range no rule can compare; the phrase says which and why."""

    def __init__(self, reason: Phrase) -> None:
        super().__init__(reason)
        self.reason = reason


class NumberedOtherwise(Undecidable):
    """The version and the listed versions follow different numberings ('R3.08.10' and
    '3.08.50'): another listed product may still be comparable."""


def otherwise_numbered(member: str, listed: str) -> NumberedOtherwise:
    # TRANSLATORS: e.g. "'3.08.50' and 'R3.08.10' are numbered differently".
    return NumberedOtherwise(Phrase(N_("{member} and {listed} are numbered differently"),
                              member=repr(member), listed=repr(listed)))


def ordered(key: str) -> MavenVersion:
    """The version in univers's Maven ordering; Undecidable when it cannot be ordered."""
    try:
        return _maven(key)
    except Exception:
        raise Undecidable(Phrase(N_("{version} cannot be ordered as a version"),
                                 version=repr(key))) from None


@lru_cache(maxsize=50_000)
def _maven(key: str) -> MavenVersion:
    return MavenVersion(key)


def numbering(key: str) -> str:
    """How a version is numbered: its leading letters ('b' for B.06.18, '' for 4.3.8),
    or 'letters' for a revision letter alone ('F')."""
    if key.isalpha():
        return "letters"
    match = re.match(r"[a-z]*", key)
    return match.group(0) if match else ""


def components(key: str) -> tuple[str, ...]:
    """The dot-separated parts of a version, numbers without leading zeros: 9.6.03 → 9,6,3."""
    parts = []
    for part in key.split("."):
        parts.append(str(int(part)) if part.isdigit() else part)
    return tuple(parts)


def within(member: str, stem: str) -> bool:
    """True when the member's version lies under a stem: 12.2.5 under 12.2, 5.1.0-3 under 5.1.0."""
    member = re.sub(r"(?:[.\-]?(?:x+|\*))+$", "", member) or member  # "8.0x" is under 8.0
    mine, theirs = components(member), components(stem)
    if mine[:len(theirs)] == theirs:
        return True
    if not theirs:
        return False
    head, last = mine[:len(theirs) - 1], theirs[-1]
    if head == theirs[:-1] and len(mine) >= len(theirs) and not last.isdigit() and \
            mine[len(theirs) - 1].startswith(last):
        return True  # "DH-IPC-HDW1XXX": a model's digits and letters go on
    return ".".join(mine).startswith(".".join(theirs) + "-")
