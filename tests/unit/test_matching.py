"""The matcher as members experience it: right alerts, no near misses, a reason for each."""

from __future__ import annotations

import pytest

from bot.domain.matching import AdvisoryMatcher
from bot.domain.products import ProductSpec, RegisteredProduct, vendor_names


def matcher(*specs: ProductSpec) -> AdvisoryMatcher:
    return AdvisoryMatcher(RegisteredProduct(i, f"m{i}", s) for i, s in enumerate(specs))


def matched(m: AdvisoryMatcher, title: str, summary: str = "") -> list[str]:
    return sorted(x.product.spec.product for x in m.match(title, summary))


DRAEGER = ProductSpec("Dräger", "Infinity Delta")


@pytest.mark.parametrize("title", [
    "Dräger Infinity Delta: remote code execution",
    "Draeger Infinity Delta: remote code execution",
    "DRAGER INFINITY DELTA: remote code execution",
    "DRÄGER Infinity-Delta remote code execution",
    "Dräger® Infinity™ Delta remote code execution",
    "Ｄｒäｇｅｒ Infinity Delta (full-width vendor)",
])
def test_spelling_variants_of_vendor_and_product_match(title: str) -> None:
    assert matched(matcher(DRAEGER), title) == ["Infinity Delta"]


@pytest.mark.parametrize(("registered", "text"), [
    (ProductSpec("BD", "Alaris"), "BD Polaris infusion"),
    (ProductSpec("Ivanti", "Pulse Connect Secure"), "Ivanti Pulse oximeter"),
    (ProductSpec("Philips", "IntelliVue MX40"), "Philips IntelliVue MX400 monitors"),
    (ProductSpec("Siemens", "SCALANCE X304"), "Siemens SCALANCE X304B switch"),
    (ProductSpec("GE", "CARESCAPE"), "GE CARESCAPEX"),
])
def test_near_misses_do_not_match(registered: ProductSpec, text: str) -> None:
    assert matched(matcher(registered), text) == []


def test_product_without_its_vendor_does_not_match() -> None:
    m = matcher(ProductSpec("Philips", "IntelliSpace"))
    assert matched(m, "IntelliSpace portal flaw", "by another company") == []
    assert matched(m, "IntelliSpace portal flaw", "Philips has released a fix") == [
        "IntelliSpace"]


def test_distinctive_product_matches_without_vendor() -> None:
    m = matcher(ProductSpec("Medtronic", "CareLink", distinctive=True))
    assert matched(m, "CareLink programmer vulnerable") == ["CareLink"]


def test_aliases_of_product_and_vendor_match() -> None:
    m = matcher(ProductSpec("Becton, Dickinson and Company", "Alaris 8015",
                            aliases=("Alaris PC Unit",), vendor_aliases=("Carefusion",)))
    assert matched(m, "CareFusion Alaris PC Unit") == ["Alaris 8015"]


@pytest.mark.parametrize("vendor_text", [
    "Becton, Dickinson and Company", "Becton Dickinson", "BD", "Becton"])
def test_vendor_known_by_short_forms_of_its_legal_name(vendor_text: str) -> None:
    m = matcher(ProductSpec("Becton, Dickinson and Company (BD)", "Pyxis MedStation"))
    assert matched(m, f"{vendor_text} Pyxis MedStation ES") == ["Pyxis MedStation"]


def test_vendor_names_drop_legal_forms_but_keep_identity() -> None:
    names = vendor_names("Mitsubishi Electric Corporation")
    assert ("mitsubishi", "electric") in names and ("mitsubishi",) in names
    assert ("electric",) not in names  # too generic to stand for the vendor


def test_longer_registered_name_wins_where_names_overlap() -> None:
    m = matcher(ProductSpec("Siemens", "SIMATIC WinCC"), ProductSpec("Siemens", "SIMATIC WinCC OA"))
    assert matched(m, "Siemens SIMATIC WinCC OA") == ["SIMATIC WinCC OA"]
    assert matched(m, "Siemens SIMATIC WinCC OA", "Also affected: SIMATIC WinCC V7.5") == [
        "SIMATIC WinCC", "SIMATIC WinCC OA"]


def test_vendor_prefix_in_product_name_is_the_same_product() -> None:
    m = matcher(ProductSpec("Siemens", "Siemens SINEMA Remote Connect Server"))
    assert matched(m, "Siemens: SINEMA Remote Connect Server") == [
        "Siemens SINEMA Remote Connect Server"]


def test_reason_quotes_the_words_as_written_and_where() -> None:
    [match] = matcher(DRAEGER).match("Security notice", "Draeger's Infinity-Delta monitors")
    assert match.why == 'product "Infinity-Delta" in the summary, vendor "Draeger" in the summary'


def test_names_do_not_run_across_title_and_summary() -> None:
    m = matcher(ProductSpec("Acme", "Delta Monitor", distinctive=True))
    assert matched(m, "Acme Infinity Delta", "Monitor firmware") == []


def test_every_member_with_the_product_gets_the_match() -> None:
    specs = [RegisteredProduct(i, name, DRAEGER) for i, name in enumerate(["A", "B", "C"])]
    members = sorted(x.product.member for x in AdvisoryMatcher(specs).match("Dräger Infinity Delta",
                                                                            ""))
    assert members == ["A", "B", "C"]


def test_generic_product_names_are_refused() -> None:
    with pytest.raises(ValueError, match="too generic"):
        ProductSpec("Philips", "Firmware")
    with pytest.raises(ValueError, match="too generic"):
        ProductSpec("Philips", "All versions")
    with pytest.raises(ValueError, match="vendor"):
        ProductSpec("  ", "Infinity Delta")


def test_a_product_named_with_common_words_registers_with_its_vendor_only() -> None:
    assert ProductSpec("AVEVA", "Application Server").product == "Application Server"
    assert ProductSpec("Schneider Electric", "Controller").product == "Controller"
    with pytest.raises(ValueError, match="vendor"):
        ProductSpec("", "Application Server")
    with pytest.raises(ValueError, match="common words"):
        ProductSpec("AVEVA", "Application Server", distinctive=True)
    with pytest.raises(ValueError, match="common words"):
        ProductSpec("AVEVA", "AVEVA Application Server", distinctive=True)


APPLICATION_SERVER = ProductSpec("AVEVA", "Application Server")
# A CISA advisory as its feed entry carries it (ICSA-24-226-01's shape): one line per
# affected product, the vendor in front of each.
SUITELINK = ("AVEVA SuiteLink Server", "\n".join([
    "1. EXECUTIVE SUMMARY", "CVSS v4 8.7", "ATTENTION: Low attack complexity",
    "Vendor: AVEVA", "Equipment: SuiteLink Server",
    "Vulnerability: Missing Release of Memory after Effective Lifetime",
    "3.1 AFFECTED PRODUCTS", "The following AVEVA products are affected:",
    "AVEVA SuiteLink: Versions 3.7.0 and prior",
    "AVEVA Historian: Versions 2023 R2 P01 and prior",
    "AVEVA Application Server: Versions 2023 R2 P01 and prior",
    "AVEVA Communication Drivers Pack: Versions 2023 R2 and prior"]))


def test_a_common_words_product_matches_right_after_its_vendor() -> None:
    [match] = matcher(APPLICATION_SERVER).match(*SUITELINK)
    assert match.why == ('product "Application Server" in the summary, vendor "AVEVA" in the '
                         'summary')


@pytest.mark.parametrize("line", [
    "AVEVA System Platform 2020 R2 SP1 (Application Server component): all versions",
    "Affected product: Application Server 2023 by AVEVA",
    "This advisory contains mitigations for a flaw in AVEVA's Application Server.",
])
def test_a_common_words_product_matches_in_the_same_line_as_its_vendor(line: str) -> None:
    assert matched(matcher(APPLICATION_SERVER), "Security advisory", line) == [
        "Application Server"]


def test_a_common_words_product_never_matches_on_its_own() -> None:
    m = matcher(APPLICATION_SERVER)
    # Another vendor's advisory that names AVEVA elsewhere and an application server.
    assert matched(m, "Schneider Electric EcoStruxure Operator Terminal Expert", "\n".join([
        "Vendor: Schneider Electric",
        "Successful exploitation could allow an attacker to take over the application server.",
        "The runtime is licensed from AVEVA."])) == []
    assert matched(m, "Application Server denial of service", "A flaw in the server.") == []
    assert matched(m, "AVEVA Historian", "Historian Client and its application server") == []


def test_a_common_words_name_inside_a_longer_product_name_is_that_product() -> None:
    m = matcher(APPLICATION_SERVER, ProductSpec("Siemens", "SPPA-T3000 Application Server"))
    assert matched(m, "Siemens SPPA-T3000", "Siemens SPPA-T3000 Application Server, AVEVA") == [
        "SPPA-T3000 Application Server"]


def test_a_common_words_name_in_a_title_needs_its_vendor_right_before_it() -> None:
    # CISA's titles end in "(Update A)": the title is no product line.
    m = matcher(ProductSpec("Schneider Electric", "Software Update"),
                ProductSpec("Haas Automation, Inc", "Haas Controller"))
    assert matched(m, "Schneider Electric Modicon Controllers (Update A)") == []
    assert matched(m, "Schneider Electric Software Update (SESU) (Update A)") == [
        "Software Update"]
    assert matched(m, "Haas Controller") == ["Haas Controller"]
    assert matched(m, "Advisory", "Schneider Electric says to update the firmware.") == []


def test_a_common_words_alias_needs_its_vendor_beside_it_too() -> None:
    m = matcher(ProductSpec("Philips", "IntelliSpace Portal", aliases=("Server",)))
    assert matched(m, "Philips advisory", "The server crashes.") == []
    assert matched(m, "Philips advisory", "Philips Server 12 is affected.") == [
        "IntelliSpace Portal"]


def test_no_products_no_matches() -> None:
    assert AdvisoryMatcher([]).match("Dräger Infinity Delta", "") == []


def test_version_numbers_split_as_words() -> None:
    m = matcher(ProductSpec("Rockwell Automation", "1756-EN2T Series C"))
    assert matched(m, "Rockwell Automation 1756 EN2T series C modules") == ["1756-EN2T Series C"]
    assert matched(m, "Rockwell Automation 1756-EN2TR Series C") == []
