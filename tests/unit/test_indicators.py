"""A member pastes indicators of compromise as chat text (`/report`, `/seen R17 …`): each is
found whatever its defanging, validated, written one way, flagged when it cannot be the
attacker's, and no pasted text, however long or strange, makes the bot hang or crash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.indicator_text import MAX_WORD_CHARS
from bot.domain.indicators import (
    MAX_INDICATORS,
    MAX_TEXT_CHARS,
    extract_indicators,
    merge,
)
from bot.domain.reports import Indicator, IndicatorFlag, IndicatorKind

K = IndicatorKind
DOC = IndicatorFlag.DOCUMENTATION
PRIVATE = IndicatorFlag.PRIVATE

INCIDENT = """\
Incident 2024-117, infusion pump network (TLP:AMBER)

At 02:14 the EDR on the PACS gateway blocked hxxps://update-check[.]medsync-cloud[.]com/api/v2/Beacon?id=7Fa
and a download from hXXp://185.220.101[.]47/payload/Loader.bin. The dropper called home to
45.155.205[.]233 and to 2a0b:4e07:5::17 over 443/tcp; lateral movement went through 10.20.30.40.
Phishing mail came from billing-dept[@]medsync-cloud[.]com
(reply-to: Helpdesk[at]pump-support[.]net), domain pump-support[.]net registered two days before.
Hashes (dropper, loader, config):
  MD5    5F4DCC3B5AA765D61D8327DEB882CF99
  SHA1   da39a3ee5e6b4b0d3255bfef95601890afd80709
  SHA256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
It exploits CVE-2023-34362 (MOVEit) and cve-2021-44228; see also ftp://files.medsync-cloud.com/x.
"""


def kinds_and_values(text: str, **kwargs: int) -> set[tuple[IndicatorKind, str]]:
    return {(i.kind, i.value) for i in extract_indicators(text, **kwargs).indicators}


def the(text: str) -> Indicator:
    (indicator,) = extract_indicators(text).indicators
    return indicator


def test_every_kind_is_found_in_a_defanged_incident_report() -> None:
    found = kinds_and_values(INCIDENT)
    assert found >= {
        (K.IPV4, "185.220.101.47"), (K.IPV4, "45.155.205.233"), (K.IPV4, "10.20.30.40"),
        (K.IPV6, "2a0b:4e07:5::17"),
        (K.DOMAIN, "update-check.medsync-cloud.com"), (K.DOMAIN, "pump-support.net"),
        (K.DOMAIN, "medsync-cloud.com"), (K.DOMAIN, "files.medsync-cloud.com"),
        (K.URL, "https://update-check.medsync-cloud.com/api/v2/Beacon?id=7Fa"),
        (K.URL, "http://185.220.101.47/payload/Loader.bin"),
        (K.URL, "ftp://files.medsync-cloud.com/x"),
        (K.EMAIL, "billing-dept@medsync-cloud.com"), (K.EMAIL, "helpdesk@pump-support.net"),
        (K.MD5, "5f4dcc3b5aa765d61d8327deb882cf99"),
        (K.SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (K.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (K.CVE, "CVE-2023-34362"), (K.CVE, "CVE-2021-44228"),
    }
    extraction = extract_indicators(INCIDENT)
    assert not extraction.text_cut and extraction.dropped == 0
    assert extraction.found == len(extraction.indicators)


def test_indicators_are_sorted_by_kind_then_by_first_appearance() -> None:
    indicators = extract_indicators(INCIDENT).indicators
    order = list(IndicatorKind)
    assert [order.index(i.kind) for i in indicators] == sorted(
        order.index(i.kind) for i in indicators)
    addresses = [i.value for i in indicators if i.kind is K.IPV4]
    assert addresses == ["185.220.101.47", "45.155.205.233", "10.20.30.40"]


@pytest.mark.parametrize("text", [
    "999.1.1.1", "1.2.3.256", "CVE-2021-123", "CVE-1998-0001",
    "5f4dcc3b5aa765d61d8327deb882cf99a",  # 33 hex characters
    "0123456789abcdef0123456789abcdef01234567f",  # 41
    "00000000000000000000000000000000",  # a placeholder, no hash
    "ldap://192.0.2.1:389/x",  # a scheme not kept (the host is)
])
def test_a_malformed_candidate_is_rejected_and_counted(text: str) -> None:
    extraction = extract_indicators(f"seen: {text} today")
    assert all(i.kind is K.IPV4 for i in extraction.indicators)
    assert extraction.rejected == 1


@pytest.mark.parametrize("text", [
    "foo.com.internal",  # ioc-finder reads "foo.com"
    "tech.support@vendor.com",  # and the domain "tech.support"
    r"C:\Program.com",
])
def test_a_misreading_of_the_finder_is_dropped_without_blaming_the_reporter(text: str) -> None:
    extraction = extract_indicators(f"seen: {text} today")
    assert not any(i.value in ("foo.com", "tech.support", "program.com")
                   for i in extraction.indicators)
    assert extraction.rejected == 0


def test_an_email_address_at_an_ip_address_is_refused_but_the_address_kept() -> None:
    extraction = extract_indicators("from user@[192.0.2.1]")
    assert extraction.indicators == (Indicator(K.IPV4, "192.0.2.1", DOC),)
    assert extraction.rejected == 1


def test_a_bad_candidate_does_not_hide_the_good_ones() -> None:
    extraction = extract_indicators("999.1.1.1 and 192.0.2.10 and " + "a1" * 20 + "f")
    assert [i.value for i in extraction.indicators] == ["192.0.2.10"]
    assert extraction.rejected == 2 and extraction.found == 1


@pytest.mark.parametrize(("text", "kind", "value", "flag"), [
    ("10.0.0.1", K.IPV4, "10.0.0.1", PRIVATE),
    ("127.0.0.1", K.IPV4, "127.0.0.1", PRIVATE),
    ("169.254.10.1", K.IPV4, "169.254.10.1", PRIVATE),
    ("239.1.1.1", K.IPV4, "239.1.1.1", PRIVATE),  # multicast
    ("100.64.1.1", K.IPV4, "100.64.1.1", PRIVATE),  # carrier-grade NAT
    ("198.51.100.7", K.IPV4, "198.51.100.7", DOC),  # private for Python, documentation here
    ("203.0.113.9", K.IPV4, "203.0.113.9", DOC),
    ("8.8.8.8", K.IPV4, "8.8.8.8", None),
    ("2001:db8::1", K.IPV6, "2001:db8::1", DOC),
    ("2001:DB8:0:0::1", K.IPV6, "2001:db8::1", DOC),
    ("fe80::1", K.IPV6, "fe80::1", PRIVATE),
    ("fd12:3456::1", K.IPV6, "fd12:3456::1", PRIVATE),  # unique local
    ("2a00:1450:4001::200e", K.IPV6, "2a00:1450:4001::200e", None),
    ("example.com", K.DOMAIN, "example.com", DOC),
    ("www.EXAMPLE.org", K.DOMAIN, "www.example.org", DOC),
    ("evil.com.", K.DOMAIN, "evil.com", None),
    ("CVE 2021-44228", K.CVE, "CVE-2021-44228", None),
])
def test_each_value_is_normalised_and_flagged(text: str, kind: IndicatorKind, value: str,
                                             flag: IndicatorFlag | None) -> None:
    assert the(f"observed {text} ") == Indicator(kind, value, flag)


def test_urls_and_addresses_on_documentation_hosts_are_flagged() -> None:
    indicators = {i.value: i.flag for i in extract_indicators(
        "http://www.example.net/a https://192.0.2.5:8443/x http://10.1.1.1/ "
        "soc@example.com").indicators}
    assert indicators["http://www.example.net/a"] is DOC
    assert indicators["https://192.0.2.5:8443/x"] is DOC
    assert indicators["http://10.1.1.1/"] is PRIVATE
    assert indicators["soc@example.com"] is DOC


def test_a_url_keeps_its_path_as_written_without_the_sentence_around_it() -> None:
    found = kinds_and_values(
        "See HTTPS://Evil.COM/Path/To/File.EXE?Q=A. Then (http://a.evil.com/x) and "
        "<https://b.evil.com/y>, \"http://c.evil.com/z\".")
    urls = {value for kind, value in found if kind is K.URL}
    assert urls == {"https://evil.com/Path/To/File.EXE?Q=A", "http://a.evil.com/x",
                    "https://b.evil.com/y", "http://c.evil.com/z"}


def test_only_web_and_ftp_urls_are_kept_but_their_host_is() -> None:
    found = kinds_and_values("ldap://evil.com/a and file:///etc/passwd and http://a.com:99999/")
    assert (K.DOMAIN, "evil.com") in found and (K.DOMAIN, "a.com") in found
    assert not any(kind is K.URL for kind, _ in found)


def test_the_same_indicator_defanged_fanged_or_in_capitals_is_one() -> None:
    text = """evil.com Evil[.]COM evil(.)com evil[dot]com EVIL.COM
    hxxp://evil[.]com/a http://evil.com/a hXXp[:]//evil.com/a
    1.2.3[.]4 1.2.3.4 1[.]2[.]3[.]4
    bob[@]evil.com BOB@EVIL.COM bob[at]evil[.]com
    CVE-2021-44228 cve-2021-44228
    5F4DCC3B5AA765D61D8327DEB882CF99 5f4dcc3b5aa765d61d8327deb882cf99"""
    extraction = extract_indicators(text)
    assert sorted((i.kind, i.value) for i in extraction.indicators) == sorted([
        (K.DOMAIN, "evil.com"), (K.URL, "http://evil.com/a"), (K.IPV4, "1.2.3.4"),
        (K.EMAIL, "bob@evil.com"), (K.CVE, "CVE-2021-44228"),
        (K.MD5, "5f4dcc3b5aa765d61d8327deb882cf99")])
    assert extraction.found == 6


def test_a_url_and_its_host_are_both_kept() -> None:
    assert kinds_and_values("http://evil.com/a") == {(K.URL, "http://evil.com/a"),
                                                     (K.DOMAIN, "evil.com")}


def test_a_file_name_is_no_domain_unless_written_defanged() -> None:
    found = kinds_and_values("ran setup.py and invoice.zip, opened notes.one and report.pdf, "
                             "file.exe; the site was evil[.]zip, also http://archive.zip/x")
    domains = {value for kind, value in found if kind is K.DOMAIN}
    assert domains == {"evil.zip", "archive.zip"}
    assert extract_indicators("firmware_v1.10.30.zip, login.do, x86_64-mont5.pl").indicators == ()


def test_a_look_alike_domain_is_kept_in_its_ascii_form() -> None:
    found = kinds_and_values("login at p\u0430ypal.com or http://b\u00fccher.de/x")
    assert (K.DOMAIN, "xn--pypal-4ve.com") in found  # Cyrillic а: not paypal.com
    assert (K.URL, "http://xn--bcher-kva.de/x") in found
    assert (K.DOMAIN, "ypal.com") not in found and (K.DOMAIN, "cher.de") not in found


def test_an_ipv4_address_inside_an_ipv6_one_is_not_cut_into_a_false_ipv6() -> None:
    found = kinds_and_values("mapped ::ffff:192.0.2.1 here")
    assert found == {(K.IPV4, "192.0.2.1")}


def test_invisible_characters_inside_an_address_are_removed_so_it_is_read_whole() -> None:
    assert the("from 1\u200b92.0.2.1 at night").value == "192.0.2.1"
    assert the("host ev\u200di\u2060l\ufeff.com").value == "evil.com"


def test_a_right_to_left_override_does_not_hide_or_reverse_an_indicator() -> None:
    assert the("see \u202emoc.live\u202c and") == Indicator(K.DOMAIN, "moc.live")
    assert the("\u202e\u2067185.220.101.47\u2069") == Indicator(K.IPV4, "185.220.101.47")


def test_nul_and_control_characters_separate_words() -> None:
    found = kinds_and_values("10.0.0.1\x00evil.com\x07\x1bCVE-2021-44228\x00")
    assert found == {(K.IPV4, "10.0.0.1"), (K.DOMAIN, "evil.com"), (K.CVE, "CVE-2021-44228")}


def test_full_width_characters_are_read_as_a_browser_reads_them() -> None:
    assert the("ip １９８．５１．１００．７") == Indicator(K.IPV4, "198.51.100.7", DOC)
    assert the("ｅｖｉｌ．ｃｏｍ") == Indicator(K.DOMAIN, "evil.com")
    assert the("evil。com") == Indicator(K.DOMAIN, "evil.com")  # ideographic full stop


def test_a_long_text_is_read_only_to_its_limit() -> None:
    line = "Routine log line without anything of interest, nothing to see here.\n"
    text = line * (200_000 // len(line)) + "evil.com 185.220.101.47\n"
    extraction = extract_indicators(text)
    assert len(text) > 200_000 and extraction.text_cut
    assert extraction.indicators == ()  # what is past the limit is not read


def test_a_cut_never_reads_half_an_indicator() -> None:
    text = "x " * 10 + "185.220.101.47"  # the limit falls inside the address
    assert extract_indicators(text, max_chars=27).indicators == ()
    assert extract_indicators(text, max_chars=26).text_cut


def test_only_the_first_indicators_are_kept_and_the_rest_counted() -> None:
    addresses = [f"{10 + i // 250}.{i % 250}.{i % 7}.{i % 250 + 1}" for i in range(5000)]
    assert len(set(addresses)) == 5000
    extraction = extract_indicators("\n".join(addresses), max_chars=200_000)
    assert len(extraction.indicators) == MAX_INDICATORS == 200
    assert extraction.found == 5000 and extraction.dropped == 4800
    assert [i.value for i in extraction.indicators] == addresses[:200]  # the first to appear


def test_the_cap_keeps_the_first_to_appear_whatever_their_kind() -> None:
    text = "CVE-2021-44228 evil.com " + " ".join(f"203.0.113.{i}" for i in range(1, 50))
    values = [i.value for i in extract_indicators(text, max_indicators=3).indicators]
    assert values == ["203.0.113.1", "evil.com", "CVE-2021-44228"]


@pytest.mark.parametrize("shape", [
    "[" * 25_000 + "]" * 25_000,  # took ioc-fanger 227 s before the text was bounded
    " " * 50_000 + "a @ b",
    "-" * 49_997 + "dot",
    "a." * 25_000,
    "a@" * 5_000,  # linear, but among the costliest per character
    "http://" * 1_500,
    "CVE-" * 12_500,
    "\u200b" * 50_000,
    "\x00" * 50_000,
    "\ufdfa" * 50_000,  # one character that NFKC makes 18
    "a" * 60_000 + ".com",
    "evil.com/" * 6_000,
])
def test_hostile_shapes_are_read_to_the_end(shape: str) -> None:
    extraction = extract_indicators(shape)
    assert len(extraction.indicators) <= MAX_INDICATORS
    assert extraction.text_cut == (len(shape) > MAX_TEXT_CHARS or shape[0] == "\ufdfa")


def test_a_long_blob_without_spaces_keeps_its_addresses() -> None:
    blob = '{"ip":"185.220.101.47","url":"http://evil.com/a"},' * 60
    assert len(blob) > MAX_WORD_CHARS
    found = kinds_and_values(blob)
    assert (K.IPV4, "185.220.101.47") in found and (K.URL, "http://evil.com/a") in found


TRICKY = st.sampled_from(list(".:/@[](){}-_ \n\t0123456789abcdefxhtpsACEV%") + [
    "\u200b", "\u202e", "\x00", "１", "．", "。", "\ufdfa", "\ud800", "dot", "[.]", "hxxp://",
    "CVE-", "::", "evil.com", "192.0.2.", "@"])


@settings(max_examples=200, deadline=None)
@given(text=st.lists(TRICKY | st.characters(), max_size=80).map("".join),
       max_indicators=st.integers(0, 4), max_chars=st.integers(0, 120))
def test_any_text_gives_a_bounded_consistent_extraction(text: str, max_indicators: int,
                                                       max_chars: int) -> None:
    extraction = extract_indicators(text, max_chars=max_chars, max_indicators=max_indicators)
    kept = extraction.indicators
    assert len(kept) <= max_indicators
    assert extraction.found == len(kept) + extraction.dropped
    assert len({(i.kind, i.value) for i in kept}) == len(kept)
    assert extraction.text_cut == (len(text) > max_chars) or len(text) <= max_chars
    assert all(i.value.isascii() or i.kind is K.URL for i in kept)


def test_merge_adds_what_is_new_up_to_the_limit() -> None:
    a, b, c, d = (Indicator(K.IPV4, f"185.220.101.{n}") for n in range(1, 5))
    cve = Indicator(K.CVE, "CVE-2021-44228")
    merged, left_out = merge([cve, a, b], [b, cve, c, c, d], limit=4)
    assert merged == (a, b, c, cve)  # by kind, those already there first
    assert left_out == 1  # d: b and cve were there already, c fitted


def test_merge_never_drops_what_was_there() -> None:
    existing = [Indicator(K.DOMAIN, f"d{n}.evil.com") for n in range(5)]
    merged, left_out = merge(existing, [Indicator(K.DOMAIN, "new.evil.com")], limit=3)
    assert merged == tuple(existing) and left_out == 1
