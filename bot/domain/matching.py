"""Which registered products an advisory concerns, found in one pass over its text.

All product and vendor names are folded (see `text`) and put in one Aho-Corasick automaton, so
the cost of matching an advisory grows with its length, not with the number of products. A
product named with common words ("Application Server") matches only where its vendor's name
stands right before it, or in the same line of the summary (one affected product) with the
name written as a name (capitalised: "the application server" is prose), never on its own.
The title is not such a line: CISA's titles end in "(Update A)".
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick

from bot.domain.language import N_, Phrase
from bot.domain.name_folding import Token, spelling_variants, tokens
from bot.domain.products import (
    RegisteredProduct,
    is_noise_word,
    needs_vendor_beside,
    product_names,
    vendor_names,
)

# Tokens never contain this, so no name can match across the title/summary boundary.
_FIELD_BREAK = "\u2016"


@dataclass(frozen=True)
class Match:
    """A registered product found in an advisory, with the words that made it match."""

    product: RegisteredProduct
    why: str


@dataclass(frozen=True, slots=True)
class _Occurrence:
    name_id: int
    first: int  # token index, inclusive
    last: int  # token index, inclusive


@dataclass
class _Name:
    words: tuple[str, ...]
    product_keys: list[int]  # products called this
    vendor_keys: list[int]  # vendors called this
    # Products for which this name is made of common words: their vendor must stand beside it.
    beside_vendor: set[int] = field(default_factory=set)


class AdvisoryMatcher:
    """Matches advisories against every registered product at once."""

    def __init__(self, products: Iterable[RegisteredProduct]) -> None:
        self._names: list[_Name] = []
        # Members registering the same product share one product key, so a popular product
        # costs one automaton entry, not one per member.
        self._product_members: list[list[RegisteredProduct]] = []
        self._product_vendor: list[int] = []
        self._product_distinctive: list[bool] = []
        keys = _Keys()
        for registered in products:
            self._add(registered, keys)
        self._automaton = self._build_automaton()

    def _add(self, registered: RegisteredProduct, keys: _Keys) -> None:
        spec = registered.spec
        vnames = frozenset(vendor_names(spec.vendor, spec.vendor_aliases))
        pnames = frozenset(product_names(spec))
        vendor_key = self._vendor_key(vnames, keys)
        identity = (vnames, pnames, spec.distinctive)
        if identity in keys.product:
            self._product_members[keys.product[identity]].append(registered)
            return
        key = len(self._product_members)
        keys.product[identity] = key
        self._product_members.append([registered])
        self._product_vendor.append(vendor_key)
        self._product_distinctive.append(spec.distinctive)
        for pname in pnames:
            self._add_product_name(pname, key, keys)

    def _vendor_key(self, vnames: frozenset[tuple[str, ...]], keys: _Keys) -> int:
        if vnames not in keys.vendor:
            keys.vendor[vnames] = len(keys.vendor)
            for words in vnames:
                self._names[self._name_id(words, keys)].vendor_keys.append(keys.vendor[vnames])
        return keys.vendor[vnames]

    def _add_product_name(self, pname: tuple[str, ...], key: int, keys: _Keys) -> None:
        beside = needs_vendor_beside(pname)
        for words in spelling_variants(pname):
            name = self._names[self._name_id(words, keys)]
            if not name.product_keys or name.product_keys[-1] != key:
                name.product_keys.append(key)
            if beside:
                name.beside_vendor.add(key)

    def _name_id(self, words: tuple[str, ...], keys: _Keys) -> int:
        if words not in keys.name:
            keys.name[words] = len(self._names)
            self._names.append(_Name(words, [], []))
        return keys.name[words]

    def _build_automaton(self) -> ahocorasick.Automaton | None:
        if not self._names:
            return None
        automaton = ahocorasick.Automaton()
        for i, name in enumerate(self._names):
            automaton.add_word(" " + " ".join(name.words) + " ", i)
        automaton.make_automaton()
        return automaton

    @property
    def product_count(self) -> int:
        return sum(len(m) for m in self._product_members)

    def match(self, title: str, summary: str) -> list[Match]:
        """Registered products named in the title or summary, each with its reason."""
        if self._automaton is None:
            return []
        text = f"{title}\n{summary}"
        toks = tokens(title) + [Token(_FIELD_BREAK, len(title), len(title))] + [
            Token(t.folded, t.start + len(title) + 1, t.end + len(title) + 1)
            for t in tokens(summary)
        ]
        vendors = _VendorSearch(text, toks)
        product_hits: list[_Occurrence] = []
        for occ in self._occurrences(toks):
            name = self._names[occ.name_id]
            vendors.saw(name.vendor_keys, occ)
            if name.product_keys:
                product_hits.append(occ)

        found: dict[int, tuple[_Occurrence, _Occurrence | None]] = {}
        for occ in _outermost(product_hits):
            for key in self._names[occ.name_id].product_keys:
                if key not in found:
                    decided = self._decide(key, occ, vendors)
                    if decided is not None:
                        found[key] = decided

        matches: list[Match] = []
        for key, (occ, vendor_occ) in found.items():
            why = _reason(text, toks, len(title), occ, vendor_occ)
            matches.extend(Match(p, why) for p in self._product_members[key])
        return matches

    def _decide(self, key: int, occ: _Occurrence, vendors: _VendorSearch
                ) -> tuple[_Occurrence, _Occurrence | None] | None:
        """The product's name and its vendor's when product `key` matches at `occ`, else None."""
        vendor_key = self._product_vendor[key]
        if key in self._names[occ.name_id].beside_vendor:
            vendor_occ = vendors.beside(vendor_key, occ)
            return None if vendor_occ is None else (occ, vendor_occ)
        vendor_occs = vendors.seen.get(vendor_key, [])
        if not vendor_occs and not self._product_distinctive[key]:
            return None
        return occ, vendor_occs[0] if vendor_occs else None

    def _occurrences(self, toks: list[Token]) -> list[_Occurrence]:
        assert self._automaton is not None
        haystack = " " + " ".join(t.folded for t in toks) + " "
        starts: list[int] = []  # offset of each token in the haystack
        offset = 1
        for t in toks:
            starts.append(offset)
            offset += len(t.folded) + 1
        result = []
        for end, name_id in self._automaton.iter(haystack):
            length = len(self._names[name_id].words)
            last = bisect_right(starts, end - 1) - 1
            result.append(_Occurrence(name_id, last - length + 1, last))
        return result


@dataclass
class _Keys:
    """The lookups needed only while the matcher is built: name, product and vendor keys."""

    name: dict[tuple[str, ...], int] = field(default_factory=dict)
    product: dict[tuple[object, ...], int] = field(default_factory=dict)
    vendor: dict[frozenset[tuple[str, ...]], int] = field(default_factory=dict)


class _VendorSearch:
    """The vendors' names found in one advisory; where each stands is worked out only when a
    product needs its vendor beside it."""

    def __init__(self, text: str, toks: list[Token]) -> None:
        self.seen: dict[int, list[_Occurrence]] = {}
        self._text = text
        self._toks = toks
        self._lines: list[int] = []  # where each line begins, found when first needed
        self._places: dict[int, _VendorPlaces] = {}

    def saw(self, vendor_keys: list[int], occ: _Occurrence) -> None:
        for vkey in vendor_keys:
            self.seen.setdefault(vkey, []).append(occ)

    def beside(self, vendor_key: int, product: _Occurrence) -> _Occurrence | None:
        if not self._lines:
            self._lines = _line_starts(self._text)
        if vendor_key not in self._places:
            self._places[vendor_key] = _VendorPlaces(self.seen.get(vendor_key, []), self._toks,
                                                     self._lines)
        return self._places[vendor_key].beside(product, self._toks, self._lines, self._text)


_TITLE_LINE = 1  # bisect_right over the line starts of a position in the title


def _line_starts(text: str) -> list[int]:
    """Where each line of the text begins (the title is the first line)."""
    return [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]


class _VendorPlaces:
    """Where one vendor's name stands in an advisory: by last token and by line."""

    def __init__(self, vendors: list[_Occurrence], toks: list[Token], lines: list[int]) -> None:
        self.ending_at: dict[int, _Occurrence] = {}
        self.in_line: dict[int, _Occurrence] = {}
        for v in vendors:
            self.ending_at.setdefault(v.last, v)
            self.in_line.setdefault(bisect_right(lines, toks[v.first].start), v)

    def beside(self, product: _Occurrence, toks: list[Token], lines: list[int], text: str
               ) -> _Occurrence | None:
        """The vendor's name right before the product's, or else in the same line of the
        summary with the product's name capitalised; None when neither is there."""
        last = product.first - 1
        while last >= 0 and is_noise_word(toks[last].folded):  # "AVEVA Software Update"
            last -= 1
        before = self.ending_at.get(last)
        if before is not None:
            return before
        start = toks[product.first].start
        line = bisect_right(lines, start)
        if line == _TITLE_LINE or not text[start].isupper():
            return None
        return self.in_line.get(line)


def _outermost(hits: list[_Occurrence]) -> list[_Occurrence]:
    """Drop a name found only inside a longer registered name.

    "SIMATIC WinCC" inside "SIMATIC WinCC OA", or "Pulse" inside "Pulse Connect Secure", is
    another product; the shorter name still matches wherever it stands on its own.
    """
    spans = sorted({(o.first, o.last) for o in hits}, key=lambda s: (s[0], -s[1]))
    inside: set[tuple[int, int]] = set()
    furthest = -1
    for first, last in spans:
        if last <= furthest:
            inside.add((first, last))
        furthest = max(furthest, last)
    return [o for o in hits if (o.first, o.last) not in inside]


def _reason(
    text: str,
    toks: list[Token],
    title_length: int,
    product: _Occurrence,
    vendor: _Occurrence | None,
) -> Phrase:
    """Why a product matched, the words quoted as the advisory writes them; a phrase, so each
    reader sees it in their language."""
    def quote(occ: _Occurrence) -> Phrase:
        start, end = toks[occ.first].start, toks[occ.last].end
        words = text[start:end]
        if start < title_length:
            # TRANSLATORS: {words} are an advisory's words, quoted as it writes them.
            return Phrase(N_('"{words}" in the title'), words=words)
        # TRANSLATORS: {words} are an advisory's words, quoted as it writes them.
        return Phrase(N_('"{words}" in the summary'), words=words)

    if vendor is None:
        # TRANSLATORS: why an alert names a product: {product} is e.g. '"MX40" in the title'.
        return Phrase(N_("product {product} (distinctive: no vendor needed)"),
                      product=quote(product))
    # TRANSLATORS: why an alert names a product: {product} and {vendor} are e.g.
    # '"MX40" in the title', '"Philips" in the summary'.
    return Phrase(N_("product {product}, vendor {vendor}"), product=quote(product),
                  vendor=quote(vendor))
