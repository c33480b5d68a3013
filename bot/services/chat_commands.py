"""Answer chat commands, the same on every network; every answer leaves through the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.commands import (
    SPECS,
    AddMeeting,
    Affected,
    Announce,
    CancelMeeting,
    Command,
    CommandError,
    Digest,
    Grant,
    Help,
    Latest,
    ListMeetings,
    ListProducts,
    Mute,
    Rsvp,
    SetLanguage,
    SetSeverity,
    SetTimezone,
    Situation,
    Start,
    Status,
    Subscribe,
    Unsubscribe,
    command_name,
    help_text,
    parse_command,
)
from bot.domain.coordination_commands import parse_confirmation
from bot.domain.language import _, choose, language_name, languages, speaking, supported
from bot.domain.members import Contact, Network, Role, reader_language
from bot.domain.outbox import NewMessage
from bot.domain.products import ProductSpec
from bot.domain.rendering import buttons_payload
from bot.domain.roles import Authority, authority_of
from bot.services import announcements, digests, meetings, situation
from bot.services.command_rate import SLOW_DOWN, CommandRateLimit
from bot.services.hub_messages import HubPolicy, actor
from bot.services.invites import code_hash
from bot.services.ports import UnitOfWork, UnitOfWorkFactory
from bot.services.replies import Reply

log = logging.getLogger(__name__)

REPLY_PRIORITY = 5  # a person is waiting: answers go before routine alerts
NOT_LINKED = (
    "This bot serves the member organisations of the hub, and this chat is not linked to one. "
    "Ask your hub coordinator for an invite code, then send /start CODE."
)
NOT_A_COMMAND = "I only understand commands. Send /help for the list."
NOTHING_TO_CONFIRM = "Nothing is waiting for your yes or no. Send /help for the commands."


@dataclass(frozen=True)
class Sender:
    """Who wrote, and where the answer goes (a private chat or direct room)."""

    network: Network
    address: str  # the user's id on the network: what a contact is linked by
    chat: str  # where to answer
    language: str | None = None  # the language their chat app says they use (Telegram)


class ChatCommands:
    """Handles one incoming chat message: parse, check who may, act, queue the answer."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Callable[[], datetime],
        rate_limit: CommandRateLimit | None = None,
        policy: HubPolicy | None = None,
        on_meetings_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._rate = rate_limit or CommandRateLimit()
        self._policy = policy or HubPolicy()
        # Called (from the handling thread) after a meeting was added or cancelled.
        self._on_meetings_changed = on_meetings_changed

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
                    language = choose(sender.language)
                    with speaking(language):
                        slow_down = Reply(_(SLOW_DOWN))
                    self._queue(uow, sender, update_key, slow_down, None, now, language)
                uow.commit()
                log.warning("%s: a user is over the command rate; %s", sender.network.value,
                            "told to slow down" if warn else "ignored")
                return slow_down.text if warn else ""
            contact = uow.members.contact(sender.network, sender.address)
            authority = self._authority(uow, sender, contact)
            heard = supported(sender.language)
            if contact is not None and heard and heard != contact.network_language:
                uow.members.update_contact(sender.network, sender.address,
                                           network_language=heard)
            language = reader_language(contact, heard)
            with speaking(language):
                answer, parsed, name = self._respond(uow, sender, text, contact, authority, now)
            if contact is not None and not contact.active:
                # They wrote to us, so they can receive again (e.g. they unblocked the bot).
                uow.members.update_contact(sender.network, sender.address, active=True)
            self._queue(uow, sender, update_key, answer, contact, now, language)
            uow.commit()
        if isinstance(parsed, AddMeeting | CancelMeeting):
            self._on_meetings_changed()
        log.info("%s command /%s from a %s chat answered", sender.network.value, name,
                 authority.name.lower() if authority else "unlinked")
        return answer.text

    def _respond(
        self, uow: UnitOfWork, sender: Sender, text: str, contact: Contact | None,
        authority: Authority, now: datetime,
    ) -> tuple[Reply, Command | CommandError | None, str]:
        """The answer in the reader's language, what was parsed, and the command's name."""
        confirmation = parse_confirmation(text)
        parsed: Command | CommandError | None = None
        if confirmation is not None:
            answer = announcements.confirm(
                uow, sender.network, sender.address, confirmation, self._policy,
                actor(sender.network, sender.address), now,
            ) or Reply(NOTHING_TO_CONFIRM if authority else NOT_LINKED)
            name = "yes" if confirmation.yes else "no"
        else:
            parsed = parse_command(text)
            answer = self._answer(uow, sender, parsed, contact, authority, now)
            name = command_name(parsed) if not isinstance(parsed, CommandError | None) \
                else "-"
        return answer, parsed, name

    def _authority(self, uow: UnitOfWork, sender: Sender, contact: Contact | None) -> Authority:
        record = uow.members.get(contact.member) if contact else None
        return authority_of(sender.network, sender.address, contact,
                            record.role if record else None, self._policy.admins)

    @staticmethod
    def _queue(
        uow: UnitOfWork, sender: Sender, update_key: str, answer: Reply,
        contact: Contact | None, now: datetime, language: str,
    ) -> None:
        payload: dict[str, object] = {"kind": "reply", "text": answer.text, "language": language}
        if answer.buttons:
            payload["buttons"] = buttons_payload(answer.buttons)
        uow.outbox.add(
            NewMessage(
                network=sender.network,
                address=sender.chat,
                kind="reply",
                dedup_key=f"reply|{sender.network.value}|{update_key}",
                payload=payload,
                priority=REPLY_PRIORITY,
                member=contact.member if contact else None,
            ),
            now,
        )

    def _answer(
        self, uow: UnitOfWork, sender: Sender, parsed: Command | CommandError | None,
        contact: Contact | None, authority: Authority, now: datetime,
    ) -> Reply:
        if parsed is None:
            return Reply(NOT_A_COMMAND if authority else NOT_LINKED)
        if isinstance(parsed, CommandError):
            return Reply(parsed.message)
        if isinstance(parsed, Start):
            return Reply(self._start(uow, sender, parsed, contact, now))
        if isinstance(parsed, Help):
            return Reply(help_text(authority.audience))
        audience = SPECS[command_name(parsed)].audience
        if audience != "member":
            return self._coordinate(uow, sender, parsed, authority, now)
        if isinstance(parsed, ListMeetings) and authority >= Authority.COORDINATOR:
            return meetings.list_meetings(uow, now, coordinator=True)  # admins need no member
        if contact is None:
            return Reply(NOT_LINKED)
        if isinstance(parsed, SetTimezone):
            return self._timezone(uow, sender, contact, parsed, now)
        if isinstance(parsed, SetLanguage):
            return self._language(uow, sender, contact, parsed)
        if isinstance(parsed, Affected | Digest | Rsvp | ListMeetings):
            return self._take_part(uow, sender, parsed, contact, authority, now)
        return Reply(self._manage(uow, sender, parsed, contact.member, now))

    def _timezone(self, uow: UnitOfWork, sender: Sender, contact: Contact,
                  command: SetTimezone, now: datetime) -> Reply:
        if not command.show:
            uow.members.update_contact(sender.network, sender.address, timezone=command.zone)
        stored = contact.timezone if command.show else command.zone
        zone = stored or self._policy.zone
        own = "" if stored else "the hub's time zone, "
        local = now.astimezone(ZoneInfo(zone))
        verb = "are" if command.show else "are now"
        return Reply(f"Times for you {verb} shown in {own}{zone} (now {local:%H:%M} "
                     f"{local.tzname()}). /timezone Europe/Berlin changes it, /timezone off "
                     "goes back to the hub's.")

    def _language(self, uow: UnitOfWork, sender: Sender, contact: Contact,
                  command: SetLanguage) -> Reply:
        if not command.show:
            uow.members.update_contact(sender.network, sender.address, language=command.language)
            contact = replace(contact, language=command.language)
        chosen = reader_language(contact, supported(sender.language))
        with speaking(chosen):
            name = language_name(chosen)
            if command.show:
                text = _("I write to you in {language}.").format(language=name)
            elif command.language is None:
                text = _("I write to you in {language}, your chat app's language or else the "
                         "hub's.").format(language=name)
            else:
                text = _("From now on I write to you in {language}.").format(language=name)
            others = ", ".join(f"/language {code}" for code in languages())
            return Reply(text + " " + _("Choose: {choices}, or /language off.").format(
                choices=others))

    def _take_part(
        self, uow: UnitOfWork, sender: Sender, parsed: Command, contact: Contact,
        authority: Authority, now: datetime,
    ) -> Reply:
        member = contact.member
        zone = contact.timezone
        if isinstance(parsed, Affected):
            return situation.affected(uow, member, actor(sender.network, sender.address),
                                      parsed, now)
        if isinstance(parsed, Digest):
            return digests.set_digest(uow, member, parsed, self._policy, now)
        if isinstance(parsed, Rsvp):
            return meetings.rsvp(uow, sender.network, sender.address, member, parsed, now,
                                 zone)
        return meetings.list_meetings(uow, now, authority >= Authority.COORDINATOR, zone)

    def _coordinate(
        self, uow: UnitOfWork, sender: Sender, parsed: Command, authority: Authority,
        now: datetime,
    ) -> Reply:
        name = command_name(parsed)
        if SPECS[name].audience == "admin" and authority < Authority.ADMIN:
            return Reply(f"Only the hub's admins may use /{name}.")
        if authority < Authority.COORDINATOR:
            return Reply(f"Only the hub's coordinators may use /{name}. If you need to reach "
                         "the hub, ask a coordinator.")
        who = actor(sender.network, sender.address)
        if isinstance(parsed, Announce):
            return announcements.preview(uow, sender.network, sender.address, parsed,
                                         self._policy, now)
        if isinstance(parsed, AddMeeting):
            return meetings.add_meeting(uow, parsed, self._policy, who, now)
        if isinstance(parsed, CancelMeeting):
            return meetings.cancel_meeting(uow, parsed, self._policy, who, now)
        if isinstance(parsed, Situation):
            return situation.situation(uow, parsed, who, now)
        assert isinstance(parsed, Grant)
        return _grant(uow, parsed, who, now)

    def _manage(
        self, uow: UnitOfWork, sender: Sender, parsed: Command, member: str, now: datetime
    ) -> str:
        if isinstance(parsed, Subscribe):
            return _subscribe(uow, member, parsed, now)
        if isinstance(parsed, Unsubscribe):
            return _unsubscribe(uow, member, parsed)
        if isinstance(parsed, ListProducts):
            return _products(uow, member)
        if isinstance(parsed, SetSeverity):
            uow.members.set_min_severity(member, parsed.level)
            uow.members.set_alert_rule(member, parsed.rule)
            if parsed.rule == "kev":
                return (f"{member} now gets alerts only for advisories known to be exploited "
                        "(CISA's KEV catalog), also when one becomes so later.")
            if parsed.rule is not None:
                return (f"{member} now gets alerts when exploitation is likely "
                        f"({parsed.rule.replace('>=', ' ≥ ').upper()}), known, or not yet "
                        "scored.")
            assert parsed.level is not None
            return (f"{member} now gets alerts of severity {parsed.level.label} and above "
                    "(and those whose severity is not known).")
        if isinstance(parsed, Mute):
            return _mute(uow, sender, parsed, now, self._zone_of(uow, sender))
        if isinstance(parsed, Status):
            return _status(uow, sender, member, now, self._zone_of(uow, sender))
        assert isinstance(parsed, Latest)
        return _latest(uow, member, parsed.count, self._zone_of(uow, sender))

    def _zone_of(self, uow: UnitOfWork, sender: Sender) -> str:
        contact = uow.members.contact(sender.network, sender.address)
        return (contact.timezone if contact else None) or self._policy.zone

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
        spec = ProductSpec(command.vendor, command.product, versions=command.versions)
    except ValueError as exc:
        return f"Not added: {exc}."
    version = f" (version {spec.versions})" if spec.versions else ""
    found = uow.products.find(member, spec.vendor, spec.product)
    if found is not None:
        if command.versions is None or found.spec.versions == spec.versions:
            return f"{spec.vendor} | {spec.product}{version} is already in {member}'s list."
        uow.products.set_versions(found.id, spec.versions)
        return (f"Updated {found.spec.vendor} | {found.spec.product}: {member} runs version "
                f"{spec.versions}. Advisories that list versions are decided by it.")
    uow.products.add(member, spec, now)
    decided = (" Advisories that list versions (CSAF) alert only when yours is affected."
               if spec.versions else "")
    return (f"Added {spec.vendor} | {spec.product}{version}. {member} will be alerted when an "
            f"advisory names it.{decided}")


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
    lines += [f"• {p.spec.vendor} | {p.spec.product}"
              + (f" | {p.spec.versions}" if p.spec.versions else "") for p in products[:100]]
    if len(products) > 100:
        lines.append(f"… and {len(products) - 100} more (the admin can list all).")
    return "\n".join(lines)


def _when(moment: datetime, zone: str) -> str:
    """A moment in the reader's zone: '2026-11-25 14:30 CET'."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _mute(uow: UnitOfWork, sender: Sender, command: Mute, now: datetime, zone: str) -> str:
    if command.duration is None:
        uow.members.update_contact(sender.network, sender.address, muted_until=None)
        return "Alerts to this chat notify you again."
    until = now + command.duration
    uow.members.update_contact(sender.network, sender.address, muted_until=until)
    return (f"Alerts to this chat arrive silently until {_when(until, zone)}; none is "
            "held back. /mute off ends it.")


def _status(uow: UnitOfWork, sender: Sender, member: str, now: datetime, zone: str) -> str:
    feeds = uow.feeds.all()
    failing = [f for f in feeds if f.consecutive_failures]
    polls = [f.last_success_at for f in feeds if f.last_success_at]
    last = _when(max(polls), zone) if polls else "not yet"
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
        lines.append(f"Muted until {_when(contact.muted_until, zone)}.")
    return "\n".join(lines)


def _latest(uow: UnitOfWork, member: str, count: int, zone: str) -> str:
    found = uow.matches.latest_for_member(member, count)
    if not found:
        return f"No advisory has named {member}'s products yet."
    lines = [f"Latest alerts for {member}:"]
    for advisory, _why, note in found:
        when = _when(advisory.published, zone)[:10] if advisory.published else "undated"
        severity = advisory.severity.label.upper() if advisory.severity else "?"
        lines.append(f"• {when} [{severity}] {advisory.title}\n  {advisory.link}")
        if note:
            lines.append(f"  {note}")
    return "\n".join(lines)


def _grant(uow: UnitOfWork, command: Grant, who: str, now: datetime) -> Reply:
    role = Role(command.role)
    if not uow.members.set_role(command.member, role):
        return Reply(f"There is no member {command.member!r}. Names are as the admin "
                     "registered them (`hubbot member list`).")
    uow.audit.add(who, "grant", f"{command.member}: {role.value}", now)
    return Reply(f"{command.member} is now a {role.value}.")
