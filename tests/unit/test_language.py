"""Choosing a reader's language, and dates and numbers in the locale's form (Babel's CLDR)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app import i18n
from bot.domain import language
from bot.domain.language import (
    choose,
    clock_text,
    day_text,
    decimal_text,
    moment_text,
    percent_text,
    speaking,
    supported,
)
from bot.domain.members import Contact, Network, reader_language

WINTER = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)
SUMMER = datetime(2026, 7, 25, 12, 30, tzinfo=UTC)


def test_a_network_language_tag_means_its_installed_language() -> None:
    assert supported("de-AT") == "de"
    assert supported("en_GB") == "en"
    assert supported("pt-br") is None  # no Portuguese catalog
    assert supported(None) is None


def test_a_person_reads_their_choice_else_their_app_else_the_hub_default() -> None:
    i18n.install("de")
    contact = Contact("Klinikum Nord", Network.TELEGRAM, "1")
    assert reader_language(contact) == "de"  # nothing known: the hub's default
    assert reader_language(contact, heard="en") == "en"  # the app says English
    app_says_english = Contact("Klinikum Nord", Network.TELEGRAM, "1", network_language="en")
    assert reader_language(app_says_english) == "en"
    chose = Contact("Klinikum Nord", Network.TELEGRAM, "1", language="de",
                    network_language="en")
    assert reader_language(chose, heard="en") == "de"
    assert choose("fr", None) == "de"


def test_dates_read_as_the_locale_writes_them_across_a_dst_change() -> None:
    with speaking("de"):
        assert moment_text(WINTER, "Europe/Berlin") == "25.11.2026, 14:30 MEZ"
        assert moment_text(SUMMER, "Europe/Berlin") == "25.07.2026, 14:30 MESZ"
        assert day_text(WINTER, "Europe/Berlin") == "25.11.2026"
    with speaking("en"):
        assert moment_text(WINTER, "Europe/Berlin") == "25 Nov 2026, 14:30 CET"
        assert moment_text(SUMMER, "Europe/Berlin") == "25 Jul 2026, 14:30 CEST"
        assert clock_text(WINTER, "Europe/Lisbon") == "13:30 WET"


def test_a_zone_without_a_locale_abbreviation_keeps_its_own() -> None:
    # CLDR has no German short name for New York's zone ("-0500"); EST is what people read.
    with speaking("de"):
        assert moment_text(WINTER, "America/New_York") == "25.11.2026, 08:30 EST"
    with speaking("en"):
        assert moment_text(SUMMER, "America/New_York") == "25 Jul 2026, 08:30 EDT"
        assert moment_text(WINTER, "UTC") == "25 Nov 2026, 13:30 UTC"


def test_a_zone_nobody_knows_reads_as_utc() -> None:
    with speaking("en"):
        assert moment_text(WINTER, "Mars/Olympus") == "25 Nov 2026, 13:30 UTC"


def test_numbers_read_as_the_locale_writes_them() -> None:
    with speaking("de"):
        assert decimal_text(9.8) == "9,8"
        assert percent_text(0.123) == "12,3\xa0%"
    with speaking("en"):
        assert decimal_text(9.8) == "9.8"
        assert percent_text(0.123) == "12.3%"


def test_without_catalogs_everything_reads_in_english() -> None:
    language.install({}, "de")  # as in a process that never loaded the catalogs
    with speaking("de"):
        assert language._("Affected") == "Affected"
        assert moment_text(WINTER, "Europe/Berlin") == "25 Nov 2026, 14:30 CET"
    assert language.languages() == ("en",)


def test_the_active_language_is_restored_after_speaking() -> None:
    with speaking("de"):
        with speaking("en"):
            assert language.current().language == "en"
        assert language.current().language == "de"
    assert language.current().language == "en"
