"""Plain text from the HTML fragments feeds put in titles and descriptions."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements that end a line of text when they open or close.
_BLOCK = frozenset(
    """address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5
    h6 header hr li main nav ol p pre section table tbody tfoot thead tr ul""".split()
)
_CELL = frozenset({"td", "th"})
# Elements whose content is never text for a reader.
_DROP = frozenset({"script", "style", "template", "noscript", "head", "title", "iframe", "object"})
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_SPACES = re.compile(r"[^\S\n]+")
_BREAKS = re.compile(r"\n+")
# A real tag (known element name, complete with '>'): "<V2.36 or later" is not markup.
_LOOKS_LIKE_HTML = re.compile(
    r"</?(?:a|b|i|u|p|br|hr|em|strong|span|div|li|ul|ol|table|tr|td|th|h[1-6]|img|pre|code|"
    r"script|style|iframe|font|sup|sub|small|blockquote)\b[^<>]*>|&(?:[a-z]+|#\d+|#x[0-9a-f]+);",
    re.IGNORECASE,
)


def html_to_text(fragment: str) -> str:
    """Text of an HTML fragment: tags stripped, entities unescaped, one line per block."""
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    return collapse_whitespace(parser.text())


def looks_like_html(text: str) -> bool:
    """True when `text` holds real tags or entity references, not just a stray '<'."""
    return bool(_LOOKS_LIKE_HTML.search(text))


def collapse_whitespace(text: str) -> str:
    """Runs of spaces become one space; blank lines vanish; lines are trimmed."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return _BREAKS.sub("\n", "\n".join(line for line in lines if line)).strip()


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._dropping: list[str] = []
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP and tag not in _VOID:
            self._dropping.append(tag)
        elif tag in _BLOCK:
            self._parts.append("\n")
            self._pre += tag == "pre"
        elif tag in _CELL:
            self._parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._dropping:
            if tag == self._dropping[-1]:
                self._dropping.pop()
            elif tag in self._dropping:
                del self._dropping[self._dropping.index(tag) :]
            return
        if tag in _BLOCK:
            self._parts.append("\n")
            self._pre -= tag == "pre" and self._pre > 0
        elif tag in _CELL:
            self._parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            # Line breaks in markup are just spaces; only block elements break lines.
            self._parts.append(data if self._pre else data.replace("\n", " ").replace("\r", " "))

    def text(self) -> str:
        return "".join(self._parts)
