"""Chat HTML cut into messages a network accepts.

Lines are joined into messages of at most `limit` (as the network counts: UTF-16 units on
Telegram, JSON bytes on Matrix), broken between lines where possible. A line too long for one
message is hard-wrapped — after escaping, at a space where there is one — and never inside a
tag, an entity or a character with its combining marks; the tags open at a cut are closed
before it and opened again after it, so every message is balanced on its own. A tag too big to
fit in any message with some text (a link of tens of kilobytes) is left out, its text kept.
Nothing here raises, whatever the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Measure = Callable[[str], int]

# The smallest limit that holds any one character with no tag around it (an escaped quote is
# six units; an emoji written as two JSON escapes twelve bytes).
MIN_LIMIT = 16
_TOKEN = re.compile(
    r"<[^<>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});|.", re.DOTALL)
_OPEN_TAG = re.compile(r"<([A-Za-z][\w-]*)(?:\s[^<>]*)?>")
_CLOSE_TAG = re.compile(r"</([A-Za-z][\w-]*)\s*>")
_ANY_TAG = re.compile(r"<[^<>]*>")
_VOID_TAGS = frozenset({"br", "hr", "img", "wbr"})
_ZWJ = "\u200d"
_TEXT, _SPACE, _OPEN, _CLOSE = range(4)


def utf16_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    size: int
    kind: int
    name: str = ""  # the tag's name, for _OPEN and _CLOSE


@dataclass(frozen=True, slots=True)
class _Opened:
    token: int  # index of the opening tag among the line's tokens
    name: str


def split_lines(lines: Sequence[str], limit: int, measure: Measure = utf16_length,
                separator: str = "\n") -> list[str]:
    """Join `lines` with `separator` into messages of at most `limit` by `measure`.

    Each line must be balanced HTML (every tag it opens it closes). Lines stay whole where they
    fit; a longer one is hard-wrapped. Blank messages are left out (a network refuses them)
    unless there is nothing else. `limit` below MIN_LIMIT is raised to it.
    """
    limit = max(limit, MIN_LIMIT)
    gap = measure(separator)
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        length = measure(line)
        pieces = [(line, length)] if length <= limit else [
            (piece, measure(piece)) for piece in wrap_line(line, limit, measure)]
        for piece, piece_size in pieces:
            extra = piece_size + (gap if current else 0)
            if current and size + extra > limit:
                messages.append(separator.join(current))
                current, size, extra = [], 0, piece_size
            current.append(piece)
            size += extra
    if current:
        messages.append(separator.join(current))
    shown = [m for m in messages if visible_text(m).strip()]
    return shown or messages[:1] or [""]


def visible_text(html: str) -> str:
    """`html` without its tags (entities left as they are): what is left to read."""
    return _ANY_TAG.sub("", html)


def wrap_line(line: str, limit: int, measure: Measure = utf16_length) -> list[str]:
    """One balanced HTML line cut into pieces of at most `limit`, each balanced on its own."""
    limit = max(limit, MIN_LIMIT)
    tokens = _tokens(line, limit, measure)
    dropped: set[int] = set()
    pieces: list[str] = []
    stack: list[_Opened] = []
    start = 0
    while start < len(tokens):
        piece = _piece(tokens, start, stack, dropped, limit, measure)
        if piece is None:
            continue  # a tag was left out: the same piece again without it
        text, start, stack = piece
        if text:
            pieces.append(text)
    return pieces


def _piece(tokens: list[_Token], start: int, stack: list[_Opened], dropped: set[int],
           limit: int, measure: Measure) -> tuple[str, int, list[_Opened]] | None:
    """The piece beginning at token `start` with `stack` open: its text, where the next one
    begins and the tags open there. None when a tag had to be left out (added to `dropped`)."""
    piece = _Piece(tokens, start, stack, dropped, limit, measure)
    while piece.index < len(tokens):
        step = piece.take(tokens[piece.index])
        if step == _RETRY:
            return None
        if step == _FULL:
            break
    return piece.result()


_TAKEN, _FULL, _RETRY = range(3)  # a token was taken; the piece is full; a tag was left out


class _Piece:
    """One piece being built, token by token, with the tags open in it."""

    def __init__(self, tokens: list[_Token], start: int, stack: list[_Opened],
                 dropped: set[int], limit: int, measure: Measure) -> None:
        self._tokens, self._start, self._dropped = tokens, start, dropped
        self._limit, self._measure = limit, measure
        self.index = start
        self._stack = list(stack)
        self._parts = [tokens[o.token].text for o in stack if o.token not in dropped]
        self._size = sum(tokens[o.token].size for o in stack if o.token not in dropped)
        self._closing = _closing_size(tokens, stack, dropped, measure)
        self._has_text = False
        self._cut: tuple[int, int, list[_Opened]] | None = None  # just after the last space

    def take(self, token: _Token) -> int:
        if token.kind == _CLOSE:
            self._close(token)
            return _TAKEN
        if token.kind == _OPEN:
            return self._open(token)
        return self._text(token)

    def result(self) -> tuple[str, int, list[_Opened]]:
        index, parts, stack = self.index, self._parts, self._stack
        if index < len(self._tokens) and self._cut is not None:
            index, kept_parts, stack = self._cut
            parts = parts[:kept_parts]
        closers = "".join(f"</{o.name}>" for o in reversed(stack) if o.token not in self._dropped)
        return "".join(parts) + closers, index, stack

    def _append(self, token: _Token) -> None:
        self._parts.append(token.text)
        self._size += token.size

    def _close(self, token: _Token) -> None:
        if self._stack and self._stack[-1].name == token.name:
            opened = self._stack.pop()
            if opened.token not in self._dropped:
                self._append(token)
                self._closing = _closing_size(self._tokens, self._stack, self._dropped,
                                              self._measure)
        self.index += 1

    def _open(self, token: _Token) -> int:
        opened = _Opened(self.index, token.name)
        if self.index in self._dropped:
            self._stack.append(opened)  # its end tag is left out too
            self.index += 1
            return _TAKEN
        grown = _closing_size(self._tokens, [*self._stack, opened], self._dropped,
                              self._measure)
        if self._size + token.size + grown <= self._limit:
            self._append(token)
            self._closing = grown
            if token.name not in _VOID_TAGS:
                self._stack.append(opened)
            self.index += 1
            return _TAKEN
        if self.index > self._start:
            return _FULL
        _leave_out_largest(self._tokens, [*self._stack, opened], self._dropped)
        return _RETRY

    def _text(self, token: _Token) -> int:
        if self._size + token.size + self._closing > self._limit:
            if self.index > self._start:
                return _FULL
            if _leave_out_largest(self._tokens, self._stack, self._dropped):
                return _RETRY
            # A single character bigger than the limit (only below MIN_LIMIT): sent anyway.
        self._append(token)
        if token.kind == _SPACE and self._has_text:
            self._cut = (self.index + 1, len(self._parts), list(self._stack))
        self._has_text = self._has_text or token.kind == _TEXT
        self.index += 1
        return _TAKEN


def _leave_out_largest(tokens: list[_Token], opened: list[_Opened], dropped: set[int]) -> bool:
    """Leave out the largest of the tags that leave no room for text; False if none is left."""
    kept = [o.token for o in opened if o.token not in dropped]
    if not kept:
        return False
    dropped.add(max(kept, key=lambda index: tokens[index].size))
    return True


def _closing_size(tokens: list[_Token], stack: list[_Opened], dropped: set[int],
                  measure: Measure) -> int:
    return sum(measure(f"</{o.name}>") for o in stack if o.token not in dropped
               and tokens[o.token].name not in _VOID_TAGS)


def _tokens(line: str, limit: int, measure: Measure) -> list[_Token]:
    """Tags, entities and characters (a character with its combining marks, zero-width joiner
    and what it joins, while such a cluster stays small)."""
    tokens: list[_Token] = []
    joining = False
    for match in _TOKEN.finditer(line):
        text = match.group()
        if text.startswith("<"):
            closing = _CLOSE_TAG.fullmatch(text)
            opening = _OPEN_TAG.fullmatch(text) if closing is None else None
            if closing is not None:
                tokens.append(_Token(text, measure(text), _CLOSE, closing.group(1).lower()))
            elif opening is not None:
                tokens.append(_Token(text, measure(text), _OPEN, opening.group(1).lower()))
            else:
                tokens.append(_Token(text, measure(text), _TEXT))
            joining = False
            continue
        size = measure(text)
        previous = tokens[-1] if tokens else None
        if (previous is not None and previous.kind == _TEXT and len(text) == 1
                and (joining or _joins_previous(text))
                and previous.size + size <= limit // 4):
            tokens[-1] = _Token(previous.text + text, previous.size + size, _TEXT)
            joining = text == _ZWJ
            continue
        kind = _SPACE if text.isspace() else _TEXT
        tokens.append(_Token(text, size, kind))
        joining = text == _ZWJ
    return tokens


def _joins_previous(char: str) -> bool:
    return char == _ZWJ or unicodedata.category(char) in ("Mn", "Me", "Mc") or (
        "\U0001f3fb" <= char <= "\U0001f3ff")  # skin tone modifiers
