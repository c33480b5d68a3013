"""Folding of names and texts so that spelling variants compare equal.

Dräger = Draeger = DRAGER, ® and ™ dropped, hyphen and space variants equal: every text is cut
into alphanumeric tokens, each folded (case, accents, German umlaut spellings, compatibility
forms), and matching compares token sequences.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"[^\W_]+")
_LETTERS_DIGITS = re.compile(r"[^\W\d_]+|\d+")
# Latin-1 read as UTF-8 twice ("GeutebrÃ¼ck"): a common mess in vendor names.
_MOJIBAKE_HINT = re.compile("[ÃÂ][\u0080-\u00bf]")


@dataclass(frozen=True, slots=True)
class Token:
    folded: str
    start: int
    end: int


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 bytes that were decoded as Latin-1, when that is clearly what happened."""
    if not _MOJIBAKE_HINT.search(text):
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


@lru_cache(maxsize=200_000)
def fold_word(word: str) -> str:
    """Fold one alphanumeric word: case, accents, ß, and the ae/oe/ue umlaut spellings."""
    folded = unicodedata.normalize("NFKD", word.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return folded.replace("ae", "a").replace("oe", "o").replace("ue", "u")


def tokens(text: str) -> list[Token]:
    """Folded alphanumeric tokens of `text` with their character spans in `text`."""
    result: list[Token] = []
    for m in _TOKEN.finditer(text):
        folded = fold_word(m.group())
        # NFKD may split a compatibility character (e.g. "ﬁ", "①") into several words.
        for part in _TOKEN.findall(folded):
            result.append(Token(part, m.start(), m.end()))
    return result


def folded_words(text: str) -> tuple[str, ...]:
    """The folded words of a name, e.g. ("drager", "infinity", "delta")."""
    return tuple(t.folded for t in tokens(repair_mojibake(text)))


def spelling_variants(words: tuple[str, ...]) -> set[tuple[str, ...]]:
    """Word sequences that name the same thing: as written, letters split from digits
    ("MX40" = "MX 40"), and all words joined ("Intelli-Vue" = "IntelliVue")."""
    if not words:
        return set()
    variants = {words}
    split = tuple(part for w in words for part in _LETTERS_DIGITS.findall(w))
    variants.add(split)
    if len(words) > 1:
        variants.add(("".join(words),))
    return variants
