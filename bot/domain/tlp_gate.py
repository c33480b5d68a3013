"""The TLP gate: which content a destination may read, decided in one place.

Every outgoing message carries the TLP of what it quotes; before it is queued, the address it
goes to is given a clearance here and the message passes only if the clearance covers it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.domain.tlp import Tlp

# A member organisation's own chat reads up to TLP:AMBER+STRICT, but only about its own
# organisation's matches (AMBER is shared on a need-to-know basis: those it concerns); what is
# not about its own products reaches it up to TLP:GREEN, the hub's community.
MEMBER_OWN_MATCHES = Tlp.AMBER_STRICT
MEMBER_COMMUNITY = Tlp.GREEN
# Coordinators and admins run the hub: their direct chats (and the admin's console) read RED.
HUB_STAFF = Tlp.RED


class Reader(enum.StrEnum):
    """Who reads an address, as far as TLP is concerned."""

    HUB_CHANNEL = "hub channel"
    MEMBER = "member"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    CONSOLE = "console"
    UNLINKED = "unlinked chat"


@dataclass(frozen=True)
class Clearance:
    """The highest TLP an address may read; a member's chat only about its own `member`."""

    reader: Reader
    limit: Tlp
    member: str | None = None

    def highest(self, about: str | None = None) -> Tlp:
        """The highest TLP this address may read about `about`'s own matches (None: content
        that is about no member's matches)."""
        if self.reader is Reader.MEMBER and (about is None or about != self.member):
            return min(self.limit, MEMBER_COMMUNITY)
        return self.limit

    def allows(self, tlp: Tlp, about: str | None = None) -> bool:
        """True when content of `tlp` (about `about`'s own matches, if any) may go here."""
        return tlp <= self.highest(about)


def hub_channel_clearance(max_tlp: Tlp) -> Clearance:
    """A hub channel reads up to the TLP the admin configured for it (CLEAR by default)."""
    return Clearance(Reader.HUB_CHANNEL, max_tlp)


def clearance_of(
    *, hub_channel: Tlp | None = None, member: str | None = None, coordinator: bool = False,
    admin: bool = False, console: bool = False,
) -> Clearance:
    """The clearance of one address from everything it is.

    A hub channel is read by everyone in it, so its configured TLP bounds the address whatever
    else it is; a person's chat reads what their highest role may; an address that is none of
    these (a chat not linked to a member) reads only TLP:CLEAR.
    """
    if hub_channel is not None:
        return hub_channel_clearance(hub_channel)
    if console:
        return Clearance(Reader.CONSOLE, HUB_STAFF)
    if admin:
        return Clearance(Reader.ADMIN, HUB_STAFF, member)
    if coordinator:
        return Clearance(Reader.COORDINATOR, HUB_STAFF, member)
    if member is not None:
        return Clearance(Reader.MEMBER, MEMBER_OWN_MATCHES, member)
    return Clearance(Reader.UNLINKED, Tlp.CLEAR)

