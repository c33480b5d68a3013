"""Member organisations and the chat addresses that receive their alerts."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from bot.domain.language import choose
from bot.domain.name_folding import clean_name
from bot.domain.severity import Severity

_MEMBER_NAME = re.compile(r"^[\w][\w .&'()/-]{0,99}$")


class Network(enum.StrEnum):
    CONSOLE = "console"
    TELEGRAM = "telegram"
    MATRIX = "matrix"


class Role(enum.StrEnum):
    MEMBER = "member"
    COORDINATOR = "coordinator"


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    min_severity: Severity | None = None
    role: Role = Role.MEMBER
    digest_hour: int | None = None  # alerts below critical in one daily message; None: off
    alert_rule: str | None = None  # "kev" or "epss>=0.1" instead of a severity threshold


@dataclass(frozen=True)
class Contact:
    """Where a member receives messages: a network and an address on it."""

    member: str
    network: Network
    address: str
    active: bool = True
    muted_until: datetime | None = None
    timezone: str | None = None  # where this person reads times; None: the hub's zone
    language: str | None = None  # chosen with /language; None: the network's, else the hub's
    network_language: str | None = None  # what their chat app last said (Telegram)

    def muted(self, now: datetime) -> bool:
        return self.muted_until is not None and self.muted_until > now


def reader_language(contact: Contact | None, heard: str | None = None) -> str:
    """The language to write to this person in: chosen, else their app's, else the hub's."""
    return choose(contact.language if contact else None, heard,
                  contact.network_language if contact else None)


def check_member_name(name: str) -> str:
    """Return the name cleaned (no invisible characters, one line, stripped), or raise
    ValueError saying what a name may contain."""
    name = clean_name(name)
    if not _MEMBER_NAME.match(name):
        raise ValueError(
            f"invalid member name {name!r}: use 1-100 letters, digits, spaces or . & ' ( ) / -"
        )
    return name


def check_address(network: Network, address: str) -> str:
    """Validate a contact address for its network; raise ValueError with the expected form."""
    address = address.strip()
    if network is Network.TELEGRAM and not re.fullmatch(r"-?\d{1,20}", address):
        raise ValueError(f"invalid Telegram id {address!r}: expected a number like 123456789")
    if network is Network.MATRIX and not re.fullmatch(r"@[^:\s]+:[^\s]+", address):
        raise ValueError(f"invalid Matrix id {address!r}: expected @user:server")
    if not address:
        raise ValueError("an address must not be empty")
    return address
