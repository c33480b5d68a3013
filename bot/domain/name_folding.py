"""Folding of names and texts so that spelling variants compare equal.

Dräger = Draeger = DRAGER, ® and ™ dropped, hyphen and space variants equal: every text is cut
into alphanumeric tokens, each folded (case, accents, German umlaut spellings, compatibility
forms), and matching compares token sequences.

Invisible characters (zero-width spaces and joiners, word joiner, soft hyphen, BOM, bidi
controls, tag characters, variation selectors …) are no part of a name: "Del\u2060ta" is
"Delta", wherever it is written.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

_TOKEN = re.compile(r"[^\W_]+")
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's Cc
# Unicode's Default_Ignorable_Code_Point besides the format characters (category Cf): the
# combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian free variation
# selectors, variation selectors, and the ranges reserved for more (DerivedCoreProperties.txt).
_OTHER_IGNORABLE = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2065, 0x2065),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0FFF),
)
# The planes Unicode puts format characters in (the others hold ideographs, private use, or
# nothing); reading only these builds the class in a fraction of the time.
_FORMAT_PLANES = (0, 1, 14)
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


def is_invisible(char: str) -> bool:
    """A character that shows nothing of its own: a format character (Unicode category Cf) or
    another default-ignorable code point."""
    code = ord(char)
    return unicodedata.category(char) == "Cf" or any(
        low <= code <= high for low, high in _OTHER_IGNORABLE)


@cache
def _invisible() -> re.Pattern[str]:
    """Every invisible character as one character class, built once from the Unicode data."""
    ranges = sorted([*_OTHER_IGNORABLE, *(
        (code, code) for plane in _FORMAT_PLANES for code in range(plane << 16, (plane + 1) << 16)
        if unicodedata.category(chr(code)) == "Cf")])
    merged: list[tuple[int, int]] = []
    for low, high in ranges:
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return re.compile("[" + "".join(
        re.escape(chr(low)) + ("-" + re.escape(chr(high)) if high > low else "")
        for low, high in merged) + "]")


@cache
def _token_across_invisible() -> re.Pattern[str]:
    """A token that goes on across invisible characters: "Del\u00adta" is one word."""
    invisible = _invisible().pattern
    return re.compile(rf"[^\W_](?:[^\W_]|{invisible})*")


def without_invisible(text: str) -> str:
    """`text` without its invisible characters."""
    return _invisible().sub("", text)


def clean_name(text: str) -> str:
    """A name as it is kept and shown: invisible and control characters dropped, every run of
    white space (line breaks too) one space, no space at either end."""
    spaced = _WHITESPACE.sub(" ", without_invisible(text))  # line breaks are white space
    return _CONTROL.sub("", spaced).strip()


def name_key(text: str) -> str:
    """What two names are compared by: cleaned, NFKC-normalised and without case, so look-alikes
    ("Infinity Delta", "INFINITY\u200bDELTA", "Ｉｎｆｉｎｉｔｙ Delta") are one name."""
    return unicodedata.normalize("NFKC", unicodedata.normalize(
        "NFKC", clean_name(text)).casefold())


@lru_cache(maxsize=200_000)
def fold_word(word: str) -> str:
    """Fold one alphanumeric word: case, accents, ß, and the ae/oe/ue umlaut spellings."""
    folded = unicodedata.normalize("NFKD", without_invisible(word).casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return folded.replace("ae", "a").replace("oe", "o").replace("ue", "u")


def tokens(text: str) -> list[Token]:
    """Folded alphanumeric tokens of `text` with their character spans in `text`."""
    result: list[Token] = []
    pattern = _token_across_invisible() if _invisible().search(text) else _TOKEN
    for m in pattern.finditer(text):
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
