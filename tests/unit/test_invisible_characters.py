"""Invisible characters make no new name: a look-alike with a zero-width space, a word joiner,
a soft hyphen or tag characters is the same product, and never disguises a command's text."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.commands import AddMeeting, Announce, CommandError, Subscribe, parse_command
from bot.domain.matching import AdvisoryMatcher
from bot.domain.members import check_member_name
from bot.domain.name_folding import (
    clean_name,
    folded_words,
    is_invisible,
    name_key,
    without_invisible,
)
from bot.domain.products import ProductSpec, RegisteredProduct

# One of each kind the issue names, and a few it does not (found by category, not by list).
INVISIBLE = [
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f",  # zero-width space, (non-)joiner, marks
    "\u2060", "\u2061", "\u2062", "\u2063", "\u2064",  # word joiner, invisible operators
    "\ufeff", "\u00ad", "\u180e", "\u034f",  # BOM, soft hyphen, Mongolian vowel sep., CGJ
    "\U000e0001", "\U000e0041", "\U000e007f",  # tag characters
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # bidi embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069", "\u061c",  # bidi isolates, Arabic letter mark
    "\ufe0f", "\U000e0100", "\u180b",  # variation selectors
    "\u3164", "\u115f", "\uffa0",  # Hangul fillers: letters by category, blank on screen
    "\U0001d173", "\U0001bca0",  # musical and shorthand format controls
]


@pytest.mark.parametrize("char", INVISIBLE)
def test_an_invisible_character_inside_a_name_folds_away(char: str) -> None:
    assert is_invisible(char)
    assert folded_words(f"Infinity Del{char}ta") == ("infinity", "delta")
    assert folded_words(f"{char}Infinity{char} Delta{char}") == ("infinity", "delta")
    assert name_key(f"Dr{char}äger") == name_key("DRÄGER")
    assert clean_name(f"Infinity{char} Del{char}ta") == "Infinity Delta"


# Default_Ignorable_Code_Point outside category Cf (Unicode's DerivedCoreProperties.txt).
IGNORABLE_NOT_CF = [(0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
                    (0x2065, 0x2065), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0),
                    (0xFFF0, 0xFFF8), (0xE0000, 0xE0FFF)]


def test_every_format_or_default_ignorable_code_point_is_removed_and_no_other() -> None:
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    expected = {c for c in everything if unicodedata.category(c) == "Cf"} | {
        chr(code) for low, high in IGNORABLE_NOT_CF for code in range(low, high + 1)}
    assert without_invisible("".join(sorted(expected))) == ""  # each of them removed
    assert len(without_invisible(everything)) == len(everything) - len(expected)  # no other


def test_visible_characters_are_not_invisible() -> None:
    for char in "aZ9ß ä-|®™€\u00a0\u2028中ض":
        assert not is_invisible(char), repr(char)


names = st.text(alphabet=st.characters(categories=["L", "N"], max_codepoint=0x24F),
                min_size=1, max_size=12)


@given(name=names, hidden=st.lists(st.tuples(st.integers(0, 12), st.sampled_from(INVISIBLE)),
                                   max_size=6))
def test_hidden_characters_anywhere_never_make_another_name(
        name: str, hidden: list[tuple[int, str]]) -> None:
    look_alike = name
    for position, char in hidden:
        look_alike = look_alike[:position] + char + look_alike[position:]
    assert folded_words(look_alike) == folded_words(name)
    assert name_key(look_alike) == name_key(name)
    assert clean_name(look_alike) == clean_name(name)


def test_compatibility_forms_and_case_are_one_name() -> None:
    assert name_key("ＩｎｆｉｎｉｔｙＤｅｌｔａ") == name_key("infinitydelta")
    assert name_key("Infinity  \t Delta") == name_key("infinity delta")
    assert name_key("Infinity Delta") != name_key("Infinity Delta 2")


def test_a_product_is_kept_without_invisible_characters_on_one_line() -> None:
    spec = ProductSpec("Dr\u200bäger\u2060", "Infinity\u00ad Delta\n  XL",
                       aliases=("Delta\ufeff XL", "\u200b", "Delta XL"),
                       vendor_aliases=("Dr\U000e0041ager",))
    assert (spec.vendor, spec.product) == ("Dräger", "Infinity Delta XL")
    assert spec.aliases == ("Delta XL",)  # the empty one dropped, the look-alike once
    assert spec.vendor_aliases == ("Drager",)


@pytest.mark.parametrize("invisible", ["\u200b\u2060", "\u3164", "\U000e0041\U000e0042"])
def test_a_name_of_only_invisible_characters_is_refused(invisible: str) -> None:
    with pytest.raises(ValueError, match="a product needs a name with at least one letter"):
        ProductSpec("Dräger", invisible)
    with pytest.raises(ValueError, match="a product needs a vendor with at least one letter"):
        ProductSpec(invisible, "Infinity Delta")


def test_subscribe_reads_look_alikes_as_the_plain_name_and_refuses_an_empty_one() -> None:
    assert parse_command("/subscribe Dr\u2060äger | Infinity\ufeff Del\u00adta") == \
        Subscribe("Dräger", "Infinity Delta")
    assert parse_command("/subscribe \u3164 | Infinity Delta") == CommandError(
        "Both the vendor and the product are needed.\n"
        "Usage: /subscribe <vendor> | <product> [| <version or vers: range>]")


def test_the_matcher_finds_a_product_written_with_invisible_characters() -> None:
    registered = RegisteredProduct(1, "Klinikum Nord", ProductSpec("Dräger", "Infinity Delta"))
    matcher = AdvisoryMatcher([registered])
    [match] = matcher.match("Dr\u00adäger Infinity Del\u2060ta: remote code execution", "")
    assert match.product == registered
    # The reason quotes the words as the advisory wrote them.
    assert 'product "Infinity Del\u2060ta" in the title' in match.why
    # And a product registered with hidden characters matches the plain text.
    hidden = RegisteredProduct(2, "Vivantes", ProductSpec("Dräger", "Infini\u200bty Delta"))
    assert [m.product for m in AdvisoryMatcher([hidden]).match("Dräger Infinity Delta", "")] \
        == [hidden]


@pytest.mark.parametrize("char", ["\u2060", "\ufeff", "\u00ad", "\u180e", "\U000e0041",
                                  "\U000e007f", "\u2064"])
def test_an_announcement_shown_to_others_loses_invisible_characters(char: str) -> None:
    assert parse_command(f"/announce Pat{char}ch n{char}ow") == Announce("Patch now", False)


def test_a_meeting_title_loses_invisible_characters() -> None:
    parsed = parse_command("/meeting add 2026-12-03 14:00 Hub\u2060 call\u202e\U000e0041")
    assert isinstance(parsed, AddMeeting) and parsed.title == "Hub call"


def test_a_member_name_loses_invisible_characters() -> None:
    assert check_member_name("Klinikum\u200b Nord\u3164") == "Klinikum Nord"
    assert check_member_name(" Uniklinik  Süd ") == "Uniklinik Süd"
