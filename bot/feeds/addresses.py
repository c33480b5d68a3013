"""Where a fetch may connect: a public feed, a redirect or a URL a CSAF provider lists must not
lead the bot to loopback, private, link-local or other non-public addresses (a cloud's metadata
service at 169.254.169.254, an admin interface on the hub's network) and have the answer parsed.

Two checks, one rule: the fetcher resolves a new host before it asks it anything (a clear,
permanent refusal), and every connection resolves again and connects only to the addresses it
has just checked, so a name that answers public first and internal a moment later (DNS
rebinding) is refused too. Odd spellings of addresses (`2130706433`, `0x7f.1`, `127.1`,
`::ffff:127.0.0.1`) are read as the addresses they are before any resolver sees them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port → the addresses it resolves to (as text); raises OSError when it cannot.
Resolver = Callable[[str, int], Awaitable[list[str]]]

# What inet_aton reads as an IPv4 address: decimal, octal or hex parts, one to four of them.
_ODD_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?",
                       re.IGNORECASE)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

# Set by the fetcher around each request: whether this one may reach non-public addresses.
may_reach_internal: ContextVar[bool] = ContextVar("may_reach_internal", default=False)


class AddressRefused(Exception):
    """A host resolves to an address a fetch may not reach."""

    def __init__(self, host: str, address: str, kind: str) -> None:
        self.host, self.address, self.kind = host, address, kind
        where = host if host == address else f"{host} ({address})"
        super().__init__(f"{where} is a {kind} address")


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (getaddrinfo), each address once, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def literal_address(host: str) -> IPAddress | None:
    """The address `host` spells, in any form a resolver would accept; None for a name."""
    text = unquote(host).strip("[]").rstrip(".") if host else ""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _ODD_IPV4.fullmatch(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def non_public(address: IPAddress | str) -> str | None:
    """What kind of non-public address this is ("loopback", "private" …), or None if public."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None:
            return non_public(embedded)
    for kind, flag in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                       ("multicast", ip.is_multicast), ("unspecified", ip.is_unspecified),
                       ("reserved", ip.is_reserved), ("private", ip.is_private)):
        if flag:
            return kind
    return None if ip.is_global else "non-public"


async def resolve(host: str, port: int, resolver: Resolver) -> list[str]:
    """The addresses of `host`: itself if it spells one, else what the resolver says."""
    literal = literal_address(host)
    if literal is not None:
        return [str(literal)]
    found = await resolver(host, port)
    if not found:
        raise OSError(f"{host} has no address")
    return found


def refuse_non_public(host: str, addresses: Iterable[str]) -> None:
    """AddressRefused for the first non-public one among `addresses`."""
    for address in addresses:
        kind = non_public(address.split("%", 1)[0])
        if kind is not None:
            raise AddressRefused(host, address, kind)


async def internal(host: str, port: int, resolver: Resolver) -> bool:
    """True when `host` is, or resolves to, a non-public address (False if it cannot be
    resolved)."""
    try:
        addresses = await resolve(host, port, resolver)
    except OSError:
        return False
    return any(non_public(a.split("%", 1)[0]) for a in addresses)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses it resolved and checked."""

    def __init__(self, resolver: Resolver,
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._resolver = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    # httpcore's interface takes `timeout`; ASYNC109 cannot apply to an override.
    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port, self._resolver)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not may_reach_internal.get():
            refuse_non_public(host, addresses)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address,
                                                     socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
