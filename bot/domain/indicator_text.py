"""A pasted text made safe and cheap to search for indicators of compromise.

ioc-fanger and ioc-finder run regular expressions and pyparsing grammars that backtrack: on some
shapes of text their time grows with the square of a run's length. Measured on 50,000
characters (ioc-fanger 5.1, ioc-finder 9.4): nested brackets 227 s in ioc-fanger alone, spaces
4 s, dotted letters ("a.a.a…") or "CVE-CVE-…" 2 s in ioc-finder's pre-filters, "xxxx://xxxx://…"
4.5 s in its URL grammar. So what they are given is bounded here first: no run of white space,
no run of brackets, and no word longer than MAX_WORD_CHARS, which makes the worst case linear
in the length of the text.

What a reader does not see is not read either: control characters separate words, invisible
characters (zero-width, bidi overrides …) are dropped, so "1\u200b92.0.2.1" is 192.0.2.1, and
compatibility forms are folded (NFKC: full-width "１９２．０．２．１" is 192.0.2.1), as a browser
folds a typed address.
"""

from __future__ import annotations

import re
import unicodedata

from bot.domain.name_folding import without_invisible

# The longest word (run without white space) handed to the finders; longer ones are cut. Long
# enough for the URLs seen in reports (browsers and servers stop at about 2,000 characters).
MAX_WORD_CHARS = 2_048

# Control characters (Unicode's Cc but line feed) and lone surrogates, which no text encoding
# can carry: each becomes a space.
_UNREADABLE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Full stops that IDNA (UTS 46) reads as the dot of a domain name and NFKC leaves alone.
_IDEOGRAPHIC_STOPS = str.maketrans({"\u3002": ".", "\uff61": "."})
_WHITESPACE = re.compile(r"\s+")
# Four brackets or hyphens in a row ("-----BEGIN", "((((") never defang anything nor are in an
# indicator, but each of them is a place where ioc-fanger's patterns start a scan to the end of
# the run (50,000 hyphens and a "dot" took 4.5 s).
_BRACKET_RUN = re.compile(r"[\[\](){}\-]{4,}")
# ioc-fanger reads "at", "et", "dot", "punkt" … before a closing bracket as a defanged "@" or
# "." even at the end of a word: "(see evil.net)" became "evil.n@", "(chat)" "ch@", "(Messpunkt)"
# "Mess.". A tab between such a word and its bracket keeps it a word (ioc-fanger's patterns
# allow only spaces there).
_WORD_BEFORE_BRACKET = re.compile(
    r"(?<=[^\W_])(at|et|arroba|dot|punto|punkt)(?= {0,3}[\])}])", re.IGNORECASE)
_WORD = re.compile(r"\S+")
# Characters a URL cannot contain unescaped (RFC 3986): a long word is split at them first, so
# JSON or HTML pasted without spaces keeps its addresses whole.
_NOT_IN_URL = re.compile(r"[\"<>|`]")


def prepared_text(text: str, max_chars: int) -> tuple[str, bool]:
    """The start of `text` (at most `max_chars` characters, without a word cut in two), cleaned
    and bounded for the finders; and whether any of `text` was left unread."""
    max_chars = max(max_chars, 0)
    head, cut = _start_of(text, max_chars)
    clean = unicodedata.normalize("NFKC", without_invisible(_UNREADABLE.sub(" ", head)))
    if len(clean) > max_chars:  # a compatibility character may fold into several
        clean, cut = _start_of(clean, max_chars)[0], True
    spaced = _WHITESPACE.sub(_one_space, clean.translate(_IDEOGRAPHIC_STOPS))
    bounded = _bounded_words(_BRACKET_RUN.sub(" ", spaced))
    return _WORD_BEFORE_BRACKET.sub("\\1\t", bounded), cut


def _start_of(text: str, max_chars: int) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    head = text[:max_chars]
    if not text[max_chars].isspace():
        # Drop the word the cut went through ("192.0.2.1|7" is not 192.0.2.1), unless the
        # whole end is one long word, which the finders would cut anyway.
        end = len(head)
        while end > 0 and len(head) - end <= MAX_WORD_CHARS and not head[end - 1].isspace():
            end -= 1
        if end > 0 and len(head) - end <= MAX_WORD_CHARS:
            head = head[:end]
    return head, True


def _one_space(match: re.Match[str]) -> str:
    run = match.group()
    if run in (" ", "\n"):
        return run
    return "\n" if any(c in "\n\u2028\u2029" for c in run) else " "


def _bounded_words(text: str) -> str:
    if len(text) <= MAX_WORD_CHARS:
        return text
    pieces: list[str] = []
    last = 0
    for match in _WORD.finditer(text):
        if match.end() - match.start() > MAX_WORD_CHARS:
            pieces += [text[last:match.start()], _split_word(match.group())]
            last = match.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _split_word(word: str) -> str:
    return " ".join(
        part[i:i + MAX_WORD_CHARS] for part in _NOT_IN_URL.sub(" ", word).split()
        for i in range(0, len(part), MAX_WORD_CHARS))
