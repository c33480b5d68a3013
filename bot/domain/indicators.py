"""Indicators of compromise in a member's pasted text: re-fanged, found, validated, flagged.

ioc-fanger undoes the usual defanging (hxxp, [.], (.), [@], [dot] …), ioc-finder finds the
candidates, and each candidate is validated and normalised (bot.domain.indicator_values).

Cost: only the first MAX_TEXT_CHARS characters are read, and the text is bounded first
(bot.domain.indicator_text) so that no shape of text makes the finders backtrack for long; the
time is then linear in the text. Measured on 50,000 characters (bench/report_relay.py, two
CPUs): advisory prose 0.15 s, nothing but candidates 0.35 to 0.5 s, only URLs 0.5 s, the
costliest shape found ("http://" repeated) 1 to 1.5 s — mostly ioc-finder's pyparsing URL
grammar, about 0.2 ms per "://". Reading fewer characters is the lever if that is too slow;
splitting the text into chunks is not (the cost is per candidate, not per chunk). Asking
ioc-finder for all its kinds would cost 2.5 to 3.5 times as long. Its grammars are built when
it is imported (about 1 s), so it is imported on first use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.domain.indicator_text import prepared_text
from bot.domain.indicator_values import (
    address_indicator,
    cve_indicator,
    domain_indicator,
    email_indicator,
    hash_indicator,
    url_indicator,
)
from bot.domain.reports import Indicator, IndicatorKind

MAX_TEXT_CHARS = 50_000  # only this much of a pasted text is read
MAX_INDICATORS = 200  # at most this many kept per paste

_KIND_ORDER = {kind: i for i, kind in enumerate(IndicatorKind)}
# ioc-finder's kinds and how each of its findings becomes one of ours.
_VALIDATORS: Mapping[str, Callable[[str], Indicator | None]] = {
    "urls": url_indicator,
    "email_addresses": email_indicator,
    "domains": domain_indicator,
    "ipv4s": address_indicator,
    "ipv6s": address_indicator,
    "md5s": hash_indicator,
    "sha1s": hash_indicator,
    "sha256s": hash_indicator,
    "cves": cve_indicator,
}
# Top-level domains that are also common file extensions: "setup.py", "invoice.zip",
# "notes.one", "search.do" (Struts) are file names when written as they are; "evil[.]zip" was
# meant as a domain, and so was the host of a URL.
_FILE_EXTENSION_TLDS = frozenset(
    {"app", "cab", "do", "java", "md", "mov", "one", "pm", "py", "rs", "sh", "so", "tf", "zip"})
# Near misses ioc-finder drops without a word; counted as rejected so the reporter is told.
_NEAR_MISSES = (
    re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\w)"),  # an octet over 255
    re.compile(r"(?<![0-9a-z])[0-9a-f]{30,70}(?![0-9a-z])", re.IGNORECASE),  # a hash's length
    re.compile(r"(?<![\w-])CVE-\d{4}-\d{1,3}(?![\w-])", re.IGNORECASE),  # a CVE's number
)
_LABEL_CHAR = re.compile(r"[\w-]")


@dataclass(frozen=True)
class Extraction:
    indicators: tuple[Indicator, ...]  # by kind, then in the order they first appear
    text_cut: bool  # the text was longer than the characters read (only its start was read)
    found: int  # distinct valid indicators found (before the cap)
    dropped: int  # how many were left out by the cap (the last ones to appear)
    rejected: int  # distinct candidates that failed validation (bad IP, wrong hash length …)


def extract_indicators(text: str, *, max_chars: int = MAX_TEXT_CHARS,
                       max_indicators: int = MAX_INDICATORS) -> Extraction:
    """The indicators in the first `max_chars` characters of `text`: the first `max_indicators`
    of them to appear, sorted by kind, then by first appearance."""
    plain, cut = prepared_text(text, max_chars)
    fanged = _fanged(plain)
    candidates = _Candidates(plain, fanged)
    found = _found(fanged)
    for ioc_kind, validate in _VALIDATORS.items():  # URLs and e-mail addresses before domains
        for raw in found.get(ioc_kind, ()):
            candidates.add(raw, validate(raw))
    candidates.rejected |= _near_misses(fanged)
    in_order = candidates.in_order()
    kept = sorted(in_order[:max(max_indicators, 0)], key=lambda i: _KIND_ORDER[i.kind])
    return Extraction(tuple(kept), cut, len(in_order), len(in_order) - len(kept),
                      len(candidates.rejected))


def merge(existing: Sequence[Indicator], new: Sequence[Indicator],
          limit: int) -> tuple[tuple[Indicator, ...], int]:
    """`existing` and those of `new` not among them (same kind and value), at most `limit` in
    all, sorted by kind (stable); and how many of `new` did not fit."""
    merged = _distinct(existing)
    known = {(i.kind, i.value) for i in merged}
    fresh = [i for i in _distinct(new) if (i.kind, i.value) not in known]
    room = max(limit - len(merged), 0)
    merged += fresh[:room]
    return tuple(sorted(merged, key=lambda i: _KIND_ORDER[i.kind])), len(fresh[room:])


def _distinct(indicators: Iterable[Indicator]) -> list[Indicator]:
    seen: dict[tuple[IndicatorKind, str], Indicator] = {}
    for indicator in indicators:
        seen.setdefault((indicator.kind, indicator.value), indicator)
    return list(seen.values())


class _Candidates:
    """What ioc-finder found in one text, validated, with where each first appears."""

    def __init__(self, plain: str, fanged: str) -> None:
        self.plain_lowered = plain.lower()
        self.lowered = fanged.lower()
        self.first_seen: dict[Indicator, int] = {}
        self.hosts: set[str] = set()  # of the URLs and e-mail addresses found
        self.rejected: set[str] = set()

    def add(self, raw: str, indicator: Indicator | None) -> None:
        if indicator is None:
            self.rejected.add(raw)
            return
        if not self._written_as_such(indicator, raw.lower()):
            return  # ioc-finder's misreading, not the reporter's mistake
        if indicator.kind is IndicatorKind.URL:
            self.hosts.add((urlsplit(indicator.value).hostname or "").strip("[]"))
        elif indicator.kind is IndicatorKind.EMAIL:
            self.hosts.add(indicator.value.rpartition("@")[2])
        position = self.lowered.find(raw.lower())
        if position < 0:  # ioc-finder wrote it otherwise ("010.1.2.3" as "10.1.2.3")
            position = self.lowered.find(indicator.value.lower())
        position = len(self.lowered) if position < 0 else position
        self.first_seen[indicator] = min(position, self.first_seen.get(indicator, position))

    def in_order(self) -> list[Indicator]:
        return sorted(self.first_seen, key=lambda i: (
            self.first_seen[i], _KIND_ORDER[i.kind], i.value))

    def _written_as_such(self, indicator: Indicator, raw: str) -> bool:
        """Whether a domain or IPv6 address ioc-finder found is one as written, not a piece of
        something else: ioc-finder reads "dc1.corp.com.internal" as "corp.com" (it stops at the
        last label it knows as a top-level domain), "tech.support@vendor.com" as the domain
        "tech.support" too, "C:\\Program.com" as "program.com", and "::ffff:192.0.2.1" as
        "::ffff:192"."""
        if indicator.kind is IndicatorKind.IPV6:
            start = self.lowered.find(raw)
            return start < 0 or not self.lowered.startswith(".", start + len(raw))
        if indicator.kind is not IndicatorKind.DOMAIN or indicator.value in self.hosts:
            return True
        if not _whole_somewhere(raw, self.lowered):
            return False
        # A file name ("setup.py") stays one unless it was written defanged ("setup[.]py").
        return indicator.value.rsplit(".", 1)[-1] not in _FILE_EXTENSION_TLDS or (
            not _whole_somewhere(raw, self.plain_lowered))


def _whole_somewhere(name: str, text: str) -> bool:
    """Whether `name` is somewhere in `text` as a name of its own: no label before or after it,
    not a file path's last part, not an e-mail address's local part."""
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        before = text[start - 1] if start else " "
        if not (before in ".\\" or before.isalnum() or text.startswith("@", end) or (
                text.startswith(".", end) and _LABEL_CHAR.match(text, end + 1))):
            return True
        start = text.find(name, start + 1)
    return False


def _near_misses(text: str) -> set[str]:
    misses: set[str] = set()
    addresses, hashes, cves = (pattern.finditer(text) for pattern in _NEAR_MISSES)
    misses.update(m.group() for m in addresses if max(map(int, m.group().split("."))) > 255)
    misses.update(m.group().lower() for m in hashes if len(m.group()) not in (32, 40, 64)
                  and not m.group().isdigit() and not m.group().isalpha())
    misses.update(m.group().upper() for m in cves)
    return misses


def _fanged(text: str) -> str:
    from ioc_fanger import fang  # imported on first use, as ioc_finder

    fanged: str = fang(text)
    return fanged


def _found(text: str) -> Mapping[str, list[str]]:
    from ioc_finder import find_iocs  # imported on first use: see the module's docstring

    found: Mapping[str, list[str]] = find_iocs(
        text, included_ioc_types=list(_VALIDATORS),
        # A URL without a scheme is not kept (its host is, as a domain), and looking for them
        # costs five times as long on a text full of them.
        parse_urls_without_scheme=False,
        # Otherwise "bücher.de" and "pаypal.com" (Cyrillic а) are found as "cher.de" and
        # "ypal.com".
        parse_unicode_iocs=True)
    return found
