"""Members' registered products and the names under which vendors and products appear."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.language import _
from bot.domain.name_folding import clean_name, folded_words, repair_mojibake

# Words that say what kind of company it is, not which one.
_LEGAL_SUFFIXES = frozenset(
    """
    ab ag as asa bv b v co company corp corporation gmbh inc incorporated kg kgaa limited llc
    ltd nv n v oy oyj plc pty s a sa sas se spa s p a srl kk k k ulc lp llp mbh sarl
    """.split()
)
# Vendor words too common to identify a vendor on their own.
_GENERIC_VENDOR_WORDS = frozenset(
    """
    the and of general international digital electric electronics systems system technology
    technologies software solutions group industries industrial automation medical healthcare
    health networks network security products global advanced universal smart data control
    controls energy power multiple various unknown
    """.split()
)
# Words around a product name that say nothing about which product it is
# ("RTU500 series CMU Firmware", "RT ToolBox3: Versions", "All Metasys servers").
_NOISE_WORDS = frozenset(
    """
    all and or firmware software version versions ver fw sw prior earlier later before the
    series family
    """.split()
)
# A name made only of these says no product at all ("Firmware", "Version", "N/A"): refused.
_PLACEHOLDER_WORDS = _NOISE_WORDS | frozenset(
    """
    multiple unknown various other others affected n a na none
    """.split()
)
# Common words real products are named with ("AVEVA Application Server", "Controller"): a
# name made only of these (and placeholders) names a product only next to its vendor's name.
_COMMON_PRODUCT_WORDS = _PLACEHOLDER_WORDS | frozenset(
    """
    update updates product products device devices system systems server servers client
    controller controllers module modules application applications component components
    """.split()
)
_PARENTHESISED = re.compile(r"\(([^()]*)\)")
MAX_VERSIONS_CHARS = 200


@dataclass(frozen=True)
class ProductSpec:
    """What a member registers: a vendor, a product, and other names for either."""

    vendor: str
    product: str
    aliases: tuple[str, ...] = ()
    vendor_aliases: tuple[str, ...] = ()
    distinctive: bool = False
    # The version(s) the member runs: one version ("B.06.18") or a range ("vers:generic/<2.0").
    # None: any version; advisories that list versions are then shown with them.
    versions: str | None = None

    def __post_init__(self) -> None:
        # Names are kept without invisible characters and on one line: a look-alike written
        # with a zero-width space is the same name, and a name never forges a line of a message.
        object.__setattr__(self, "vendor", clean_name(self.vendor))
        object.__setattr__(self, "product", clean_name(self.product))
        for field in ("aliases", "vendor_aliases"):
            names = (clean_name(name) for name in getattr(self, field))
            object.__setattr__(self, field, tuple(dict.fromkeys(n for n in names if n)))
        # The reasons reach a member's chat ("Not added: …") as well as the admin CLI.
        if self.versions is not None:
            text = " ".join(self.versions.split())
            if not text or len(text) > MAX_VERSIONS_CHARS or not text.isprintable():
                raise ValueError(_("versions must be 1-{limit} printable characters").format(
                    limit=MAX_VERSIONS_CHARS))
            object.__setattr__(self, "versions", text)
        if not folded_words(self.product):
            raise ValueError(_("a product needs a name with at least one letter or digit"))
        if is_generic_product_name(self.product):
            # TRANSLATORS: {product} is the name given, in quotes ('Firmware').
            raise ValueError(_("product {product} is too generic to match on; give its real "
                               "name").format(product=repr(self.product)))
        if self.distinctive and needs_vendor_beside(_without_vendor_prefix(
                folded_words(self.product), vendor_names(self.vendor, self.vendor_aliases))):
            # TRANSLATORS: {product} is the name given, in quotes ('Application Server').
            raise ValueError(_("product {product} is made of common words: it matches only "
                               "next to its vendor's name, so it cannot be distinctive").format(
                                   product=repr(self.product)))
        if not self.distinctive and not folded_words(self.vendor):
            raise ValueError(_("a product needs a vendor with at least one letter or digit, "
                               "unless it is marked distinctive"))


@dataclass(frozen=True)
class RegisteredProduct:
    """A member's product as stored: `id` is the store's key, `member` the member's name."""

    id: int
    member: str
    spec: ProductSpec


def vendor_names(vendor: str, aliases: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every word sequence that identifies the vendor in a text.

    "Becton, Dickinson and Company (BD)" gives: the full name, "Becton Dickinson" (legal form
    dropped), "BD" (the abbreviation in brackets), and "Becton" (a distinctive first word).
    """
    names: set[tuple[str, ...]] = set()
    for raw in (vendor, *aliases):
        raw = repair_mojibake(raw)
        bracketed = _PARENTHESISED.findall(raw)
        bare = _PARENTHESISED.sub(" ", raw)
        for candidate in (raw, bare, *bracketed, *bare.split(",")):
            words = _without_legal_form(folded_words(candidate))
            if not words:
                continue
            names.add(words)
            if words[0] not in _GENERIC_VENDOR_WORDS and len(words[0]) >= 3:
                names.add(words[:1])
    return {n for n in names if not all(w in _GENERIC_VENDOR_WORDS for w in n)}


def product_names(spec: ProductSpec) -> set[tuple[str, ...]]:
    """Every word sequence that names the product: its name and its aliases.

    A leading vendor name is dropped ("Siemens SINEMA Server" is "SINEMA Server" of Siemens):
    the vendor is checked on its own, and so both spellings are one product. Names made of
    common words are among them (see `needs_vendor_beside`)."""
    vendors = vendor_names(spec.vendor, spec.vendor_aliases)
    names = set()
    for raw in (spec.product, *spec.aliases):
        words = folded_words(repair_mojibake(raw))
        words = _without_vendor_prefix(words, vendors)
        if all(w in _PLACEHOLDER_WORDS for w in words):
            continue
        names.add(_trimmed(words))
    return {n for n in names if n}


def needs_vendor_beside(words: tuple[str, ...]) -> bool:
    """True when a product name is made of common words ("application server"): it names the
    product only where the vendor's name stands right before it or in the same line."""
    return all(w in _COMMON_PRODUCT_WORDS for w in words)


def is_noise_word(word: str) -> bool:
    """True for a folded word that says nothing about which product ("firmware", "series")."""
    return word in _NOISE_WORDS


def is_generic_product_name(name: str) -> bool:
    """True when the name has no word that identifies a product ("Firmware", "Version")."""
    return all(w in _PLACEHOLDER_WORDS for w in folded_words(name))



def _trimmed(words: tuple[str, ...]) -> tuple[str, ...]:
    start, end = 0, len(words)
    while end > start + 1 and words[end - 1] in _NOISE_WORDS:
        end -= 1
    while start < end - 1 and words[start] in _NOISE_WORDS:
        start += 1
    return words[start:end]


def _without_vendor_prefix(
    words: tuple[str, ...], vendors: set[tuple[str, ...]]
) -> tuple[str, ...]:
    for vendor in sorted(vendors, key=len, reverse=True):
        if len(words) > len(vendor) and words[: len(vendor)] == vendor:
            return words[len(vendor) :]
    return words


def _without_legal_form(words: tuple[str, ...]) -> tuple[str, ...]:
    end = len(words)
    while end > 0 and (words[end - 1] in _LEGAL_SUFFIXES or words[end - 1] == "and"):
        end -= 1
    return words[:end]
