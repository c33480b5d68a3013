"""Who hub-wide messages reach, and queueing one message to many addresses."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.domain.language import choose, default_language, in_each_language
from bot.domain.members import Network, reader_language
from bot.domain.outbox_payload import TextMessage
from bot.domain.queued_messages import NewMessage
from bot.domain.tlp import Tlp
from bot.services import outgoing
from bot.services.outgoing import Address as Address
from bot.services.ports import UnitOfWork

CONSOLE_HUB = "hub"  # the console's stand-in for the hub channels
_FEW = 20  # up to this many people are looked up one by one, not with every contact


@dataclass(frozen=True)
class HubPolicy:
    """What the admin configured for coordination (see `Settings`)."""

    admins: frozenset[Address] = field(default_factory=frozenset)
    zone: str = "UTC"  # the hub's time zone: meetings without one, digests, weekly summary
    digest_hour: int = 8
    console: bool = False  # also show hub-wide messages on the console


def actor(network: Network, address: str) -> str:
    return f"{network.value}:{address}"


def hub_channels(uow: UnitOfWork, policy: HubPolicy) -> list[Address]:
    """Every hub channel on every network (announcements and meetings are for everyone)."""
    found = [(ch.network, ch.address) for ch in uow.hub_channels.all()]
    if policy.console:
        found.append((Network.CONSOLE, CONSOLE_HUB))
    return found


def member_contacts(uow: UnitOfWork) -> list[Address]:
    return _unique((c.network, c.address) for c in uow.members.contacts() if c.active)


def coordinators(uow: UnitOfWork, policy: HubPolicy) -> list[Address]:
    """Coordinators' contacts and the admins (their private chats)."""
    return coordinators_and_admins(uow, policy.admins)


def coordinators_and_admins(uow: UnitOfWork, admins: Collection[Address]) -> list[Address]:
    """Coordinators' active contacts and the admins' private chats."""
    found = [(c.network, c.address) for c in uow.members.coordinators_contacts()]
    return _unique([*found, *sorted(admins)])


def recipient_languages(uow: UnitOfWork, recipients: Iterable[Address]) -> dict[Address, str]:
    """The language each address reads: a hub channel's, a person's (chosen, else their
    app's), else the hub's default."""
    wanted = set(recipients)
    found: dict[Address, str] = {}
    for ch in uow.hub_channels.all():
        if (ch.network, ch.address) in wanted:
            found[(ch.network, ch.address)] = choose(ch.language)
    people = wanted - found.keys()
    if len(people) <= _FEW:  # a digest, a reply: look each one up
        contacts = [c for c in (uow.members.contact(*address) for address in people) if c]
    else:  # a hub-wide message: one query for everyone
        contacts = [c for c in uow.members.contacts() if (c.network, c.address) in people]
    for c in contacts:
        found.setdefault((c.network, c.address), reader_language(c))
    return {address: found.get(address, default_language()) for address in wanted}


def queue_to(
    uow: UnitOfWork, recipients: Iterable[Address], *, key: str,
    payload: Callable[[], TextMessage], priority: int, now: datetime,
    admins: Collection[Address], known: Mapping[Address, str] | None = None,
    tlp: Tlp = Tlp.CLEAR, member: str | None = None,
) -> int:
    """One outbox message per address, `payload()` written in each one's language (`known`:
    languages already looked up); `key` names the fact, so re-queueing it is a no-op. `tlp` is
    the highest TLP the text quotes, `member` the organisation whose own matches it is about:
    the TLP gate withholds it from addresses not cleared for it. Returns how many were
    queued."""
    addresses = _unique(recipients)
    known = known or {}
    languages = {a: known[a] for a in addresses if a in known}
    missing = [a for a in addresses if a not in languages]
    if missing:
        languages.update(recipient_languages(uow, missing))
    written = {code: replace(message, language=code) for code, message in
               in_each_language((languages[a] for a in addresses), payload).items()}
    messages = [NewMessage(network=network, address=address, kind=message.kind,
                           dedup_key=f"{message.kind}|{key}|{network.value}|{address}",
                           payload=message, priority=priority, member=member, tlp=tlp)
                for network, address in addresses
                for message in [written[languages[(network, address)]]]]
    return len(outgoing.queue(uow, messages, now, admins=admins).added)


def _unique(items: Iterable[Address]) -> list[Address]:
    return list(dict.fromkeys(items))
