"""Answer chat commands, the same on every network; every answer leaves through the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.commands import (
    Command,
    CommandError,
    Help,
    Latest,
    ListProducts,
    Mute,
    SetSeverity,
    Start,
    Status,
    Subscribe,
    Unsubscribe,
    command_name,
    help_text,
    parse_command,
)
from bot.domain.members import Contact, Network
from bot.domain.outbox import NewMessage
from bot.domain.products import ProductSpec
from bot.services.command_rate import SLOW_DOWN, CommandRateLimit
from bot.services.invites import code_hash
from bot.services.ports import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

REPLY_PRIORITY = 5  # a person is waiting: answers go before routine alerts
NOT_LINKED = (
    "This bot serves the member organisations of the hub, and this chat is not linked to one. "
    "Ask your hub coordinator for an invite code, then send /start CODE."
)
NOT_A_COMMAND = "I only understand commands. Send /help for the list."


@dataclass(frozen=True)
class Sender:
    """Who wrote, and where the answer goes (a private chat or direct room)."""

    network: Network
    address: str  # the user's id on the network: what a contact is linked by
    chat: str  # where to answer


class ChatCommands:
    """Handles one incoming chat message: parse, check who may, act, queue the answer."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Callable[[], datetime],
        rate_limit: CommandRateLimit | None = None,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._rate = rate_limit or CommandRateLimit()

    def handle(self, sender: Sender, text: str, update_key: str) -> str | None:
        """Act on `text`; returns the answer queued, or None for a redelivered update."""
        now = self._clock()
        allowed = self._rate.allow(sender.network.value, sender.address)
        with self._uow() as uow:
            if not uow.inbound.first_time(sender.network, update_key, now):
                return None
            if not allowed:
                warn = self._rate.should_warn(sender.network.value, sender.address)
                if warn:
                    self._queue(uow, sender, update_key, SLOW_DOWN, None, now)
                uow.commit()
                log.warning("%s: a user is over the command rate; %s", sender.network.value,
                            "told to slow down" if warn else "ignored")
                return SLOW_DOWN if warn else ""
            parsed = parse_command(text)
            contact = uow.members.contact(sender.network, sender.address)
            answer = self._answer(uow, sender, parsed, contact, now)
            if contact is not None and not contact.active:
                # They wrote to us, so they can receive again (e.g. they unblocked the bot).
                uow.members.update_contact(sender.network, sender.address, active=True)
            self._queue(uow, sender, update_key, answer, contact, now)
            uow.commit()
        name = command_name(parsed) if not isinstance(parsed, CommandError | None) else "-"
        log.info("%s command /%s from a %s chat answered", sender.network.value, name,
                 "linked" if contact else "unlinked")
        return answer

    @staticmethod
    def _queue(
        uow: UnitOfWork, sender: Sender, update_key: str, answer: str, contact: Contact | None,
        now: datetime,
    ) -> None:
        uow.outbox.add(
            NewMessage(
                network=sender.network,
                address=sender.chat,
                kind="reply",
                dedup_key=f"reply|{sender.network.value}|{update_key}",
                payload={"kind": "reply", "text": answer},
                priority=REPLY_PRIORITY,
                member=contact.member if contact else None,
            ),
            now,
        )

    def _answer(
        self, uow: UnitOfWork, sender: Sender, parsed: Command | CommandError | None,
        contact: Contact | None, now: datetime,
    ) -> str:
        if parsed is None:
            return NOT_A_COMMAND if contact else NOT_LINKED
        if isinstance(parsed, CommandError):
            return parsed.message
        if isinstance(parsed, Start):
            return self._start(uow, sender, parsed, contact, now)
        if isinstance(parsed, Help):
            return help_text()
        if contact is None:
            return NOT_LINKED
        member = contact.member
        if isinstance(parsed, Subscribe):
            return _subscribe(uow, member, parsed, now)
        if isinstance(parsed, Unsubscribe):
            return _unsubscribe(uow, member, parsed)
        if isinstance(parsed, ListProducts):
            return _products(uow, member)
        if isinstance(parsed, SetSeverity):
            uow.members.set_min_severity(member, parsed.level)
            return (f"{member} now gets alerts of severity {parsed.level.label} and above "
                    "(and those whose severity is not known).")
        if isinstance(parsed, Mute):
            return _mute(uow, sender, parsed, now)
        if isinstance(parsed, Status):
            return _status(uow, sender, member, now)
        assert isinstance(parsed, Latest)
        return _latest(uow, member, parsed.count)

    def _start(
        self, uow: UnitOfWork, sender: Sender, command: Start, contact: Contact | None,
        now: datetime,
    ) -> str:
        if contact is not None:
            return f"This chat is linked to {contact.member}. Send /help for what I can do."
        if command.code is None:
            return ("Welcome to the hub's advisory bot. " + NOT_LINKED.split(". ", 1)[1])
        try:
            member = uow.invites.redeem(code_hash(command.code), now,
                                        f"{sender.network.value}:{sender.address}")
        except ValueError as exc:
            reason = {"unknown": "is not valid", "used": "was already used",
                      "expired": "has expired"}[str(exc)]
            return f"That invite code {reason}. Ask your hub coordinator for a new one."
        uow.members.add_contact(member, sender.network, sender.address, now)
        return (f"This chat is now linked to {member}. You will receive an alert whenever an "
                "advisory names one of its products. /products lists them, /subscribe adds one.")


def _subscribe(uow: UnitOfWork, member: str, command: Subscribe, now: datetime) -> str:
    try:
        spec = ProductSpec(command.vendor, command.product)
    except ValueError as exc:
        return f"Not added: {exc}."
    if uow.products.find(member, spec.vendor, spec.product) is not None:
        return f"{spec.vendor} | {spec.product} is already in {member}'s list."
    uow.products.add(member, spec, now)
    return (f"Added {spec.vendor} | {spec.product}. {member} will be alerted when an advisory "
            "names it.")


def _unsubscribe(uow: UnitOfWork, member: str, command: Unsubscribe) -> str:
    found = uow.products.find(member, command.vendor, command.product)
    if found is None:
        return (f"{command.vendor} | {command.product} is not in {member}'s list; /products "
                "shows it.")
    uow.products.remove(found.id)
    return f"Removed {found.spec.vendor} | {found.spec.product}."


def _products(uow: UnitOfWork, member: str) -> str:
    products = uow.products.all(member)
    if not products:
        return f"{member} has no products yet. Add one: /subscribe <vendor> | <product>"
    lines = [f"{member}'s products ({len(products)}):"]
    lines += [f"• {p.spec.vendor} | {p.spec.product}" for p in products[:100]]
    if len(products) > 100:
        lines.append(f"… and {len(products) - 100} more (the admin can list all).")
    return "\n".join(lines)


def _mute(uow: UnitOfWork, sender: Sender, command: Mute, now: datetime) -> str:
    if command.duration is None:
        uow.members.update_contact(sender.network, sender.address, muted_until=None)
        return "Alerts to this chat notify you again."
    until = now + command.duration
    uow.members.update_contact(sender.network, sender.address, muted_until=until)
    return (f"Alerts to this chat arrive silently until {until:%Y-%m-%d %H:%M} UTC; none is "
            "held back. /mute off ends it.")


def _status(uow: UnitOfWork, sender: Sender, member: str, now: datetime) -> str:
    feeds = uow.feeds.all()
    failing = [f for f in feeds if f.consecutive_failures]
    polls = [f.last_success_at for f in feeds if f.last_success_at]
    last = f"{max(polls):%Y-%m-%d %H:%M} UTC" if polls else "not yet"
    lines = [f"Feeds: {len(feeds) - len(failing)} of {len(feeds)} healthy; last successful "
             f"poll {last}."]
    for f in failing[:10]:
        lines.append(f"• {f.feed}: failing ({f.consecutive_failures} in a row)")
    pending = uow.outbox.pending_for(sender.network, sender.chat)
    lines.append(f"Messages waiting for this chat: {pending}.")
    record = uow.members.get(member)
    threshold = record.min_severity.label if record and record.min_severity else "all"
    lines.append(f"{member}: {len(uow.products.all(member))} products, severity threshold "
                 f"{threshold}.")
    contact = uow.members.contact(sender.network, sender.address)
    if contact and contact.muted(now) and contact.muted_until:
        lines.append(f"Muted until {contact.muted_until:%Y-%m-%d %H:%M} UTC.")
    return "\n".join(lines)


def _latest(uow: UnitOfWork, member: str, count: int) -> str:
    found = uow.matches.latest_for_member(member, count)
    if not found:
        return f"No advisory has named {member}'s products yet."
    lines = [f"Latest alerts for {member}:"]
    for advisory, _why in found:
        when = f"{advisory.published:%Y-%m-%d}" if advisory.published else "undated"
        severity = advisory.severity.label.upper() if advisory.severity else "?"
        lines.append(f"• {when} [{severity}] {advisory.title}\n  {advisory.link}")
    return "\n".join(lines)
