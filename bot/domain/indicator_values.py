"""One indicator's value checked and normalised, and flagged when it is not an attacker's.

Values are kept in one spelling so that the same indicator written twice is one: addresses as
`ipaddress` writes them, domains and e-mail addresses in lower case and in their ASCII (IDNA)
form, hashes in lower case, CVE ids in upper case, URLs with scheme and host in lower case and
the rest as written. A domain written with look-alike letters ("pаypal.com" with a Cyrillic а)
is kept as "xn--pypal-4ve.com": what DNS sees, and what cannot fool the reader it is shown to.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from bot.domain.reports import Indicator, IndicatorFlag, IndicatorKind

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 5737, RFC 3849 and RFC 9637: Python counts them as private; here documentation wins.
_DOCUMENTATION_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"))
_DOCUMENTATION_DOMAINS = ("example.com", "example.net", "example.org")
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})  # RFC 2606
_HASH_KINDS = {32: IndicatorKind.MD5, 40: IndicatorKind.SHA1, 64: IndicatorKind.SHA256}
_HEX = re.compile(r"[0-9a-f]+")
_CVE = re.compile(r"CVE[- ]+(\d{4})-+(\d{4,9})", re.IGNORECASE)
_FIRST_CVE_YEAR = 1999
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# Schemes kept, and their defanged spellings that ioc-fanger leaves (it re-fangs "hxxp" only in
# lower case).
_SCHEMES = {"http": "http", "https": "https", "ftp": "ftp", "hxxp": "http", "hxxps": "https",
            "fxp": "ftp"}
_URL_TAIL = ".,;:!?'\"*"  # punctuation that ends a sentence, not a URL
_CLOSING = {")": "(", "]": "[", "}": "{", ">": "<"}
MAX_URL_CHARS = 2_048


def address_indicator(raw: str) -> Indicator | None:
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if address.is_unspecified and address.version == 6:  # "::" in a text is no address
        return None
    kind = IndicatorKind.IPV4 if address.version == 4 else IndicatorKind.IPV6
    return Indicator(kind, str(address), address_flag(address))


def address_flag(address: Address) -> IndicatorFlag | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in network for network in _DOCUMENTATION_NETWORKS):
        return IndicatorFlag.DOCUMENTATION
    if not address.is_global or address.is_multicast or address.is_reserved:
        return IndicatorFlag.PRIVATE
    return None


def domain_name(raw: str) -> str | None:
    """`raw` as a domain name in lower-case ASCII, or None if it cannot be one."""
    name = raw.lower().rstrip(".")
    try:
        ascii_name = name.encode("idna").decode("ascii")
        ascii_name.encode("ascii").decode("idna")  # refuses a broken "xn--" label
    except UnicodeError:
        return None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not all(map(_LABEL.fullmatch, labels)):
        return None
    # DNS allows "_" ("_dmarc.example.com"), no registry does in a registered name:
    # "x86_64-mont5.pl" is a Perl file.
    return None if "_" in labels[-2] else ascii_name


def domain_flag(name: str) -> IndicatorFlag | None:
    if name.rsplit(".", 1)[-1] in _RESERVED_TLDS or any(
            name == d or name.endswith("." + d) for d in _DOCUMENTATION_DOMAINS):
        return IndicatorFlag.DOCUMENTATION
    return None


def domain_indicator(raw: str) -> Indicator | None:
    name = domain_name(raw)
    return None if name is None else Indicator(IndicatorKind.DOMAIN, name, domain_flag(name))


def email_indicator(raw: str) -> Indicator | None:
    local, _, host = raw.lower().rpartition("@")
    name = domain_name(host)
    if not local or len(local) > 64 or name is None:
        return None
    return Indicator(IndicatorKind.EMAIL, f"{local}@{name}", domain_flag(name))


def hash_indicator(raw: str) -> Indicator | None:
    value = raw.lower()
    kind = _HASH_KINDS.get(len(value))
    if kind is None or not _HEX.fullmatch(value) or len(set(value)) == 1:  # 000…0 is no hash
        return None
    return Indicator(kind, value)


def cve_indicator(raw: str) -> Indicator | None:
    match = _CVE.fullmatch(raw.strip())
    if match is None or int(match.group(1)) < _FIRST_CVE_YEAR:
        return None
    return Indicator(IndicatorKind.CVE, f"CVE-{match.group(1)}-{match.group(2)}")


def url_indicator(raw: str) -> Indicator | None:
    url = _without_trailing_punctuation(raw)
    scheme, sep, rest = url.partition("://")
    scheme = _SCHEMES.get(scheme.lower(), "")
    if not scheme or not sep or len(url) > MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return None
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host, port = _host_and_port(hostport)
    normal_host, flag = _host(host)
    if normal_host is None:
        return None
    netloc = f"{userinfo}{at}{normal_host}{port}"
    return Indicator(IndicatorKind.URL, f"{scheme}://{netloc}{rest[len(parts.netloc):]}", flag)


def _host_and_port(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):
        host, bracket, port = hostport.partition("]")
        return host + bracket, port
    host, colon, port = hostport.partition(":")
    return host, colon + port


def _host(host: str) -> tuple[str | None, IndicatorFlag | None]:
    try:
        address = ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
    except ValueError:
        name = domain_name(host)
        return name, None if name is None else domain_flag(name)
    if address.version == 6 and not host.startswith("["):
        return None, None
    text = f"[{address}]" if address.version == 6 else str(address)
    return text, address_flag(address)


def _without_trailing_punctuation(url: str) -> str:
    while url:
        last = url[-1]
        if last in _URL_TAIL or (last in _CLOSING and url.count(last) > url.count(_CLOSING[last])):
            url = url[:-1]
        else:
            break
    return url
