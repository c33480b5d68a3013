"""Who may do what: members, coordinators (a member's role) and admins (from the settings)."""

from __future__ import annotations

import enum
import re

from bot.domain.members import Contact, Network, Role


class Authority(enum.IntEnum):
    NONE = 0  # not linked to a member
    MEMBER = 1
    COORDINATOR = 2
    ADMIN = 3

    @property
    def audience(self) -> str:
        return {Authority.ADMIN: "admin", Authority.COORDINATOR: "coordinator"}.get(
            self, "member")


def parse_admins(text: str | None) -> frozenset[tuple[Network, str]]:
    """`HUBBOT_ADMINS`: Telegram user ids and Matrix ids, separated by commas or spaces."""
    admins: set[tuple[Network, str]] = set()
    for word in re.split(r"[,\s]+", text or ""):
        if not word:
            continue
        if re.fullmatch(r"\d{1,20}", word):
            admins.add((Network.TELEGRAM, word))
        elif re.fullmatch(r"@[^:\s]+:\S+", word):
            admins.add((Network.MATRIX, word))
        else:
            raise ValueError(f"{word!r} is neither a Telegram user id (a number) nor a Matrix "
                             "id (@user:server)")
    return frozenset(admins)


def authority_of(network: Network, address: str, contact: Contact | None, role: Role | None,
                 admins: frozenset[tuple[Network, str]]) -> Authority:
    if (network, address) in admins:
        return Authority.ADMIN
    if contact is None:
        return Authority.NONE
    return Authority.COORDINATOR if role is Role.COORDINATOR else Authority.MEMBER
