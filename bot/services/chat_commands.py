"""Answer chat commands, the same on every network; every answer leaves through the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

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
from bot.domain.language import (
    N_,
    _,
    clock_text,
    language_name,
    languages,
    speaking,
    supported,
)
from bot.domain.members import Contact, Network, Role, reader_language
from bot.domain.outbox_payload import ReplyMessage, button_rows
from bot.domain.queued_messages import NewMessage
from bot.domain.roles import Authority, authority_of
from bot.domain.tlp_gate import Clearance
from bot.services import announcements, digests, meetings, member_commands, outgoing, situation
from bot.services.command_rate import SLOW_DOWN, CommandRateLimit
from bot.services.hub_messages import HubPolicy, actor
from bot.services.invites import code_hash
from bot.services.ports import UnitOfWork, UnitOfWorkFactory
from bot.services.replies import Reply

log = logging.getLogger(__name__)

REPLY_PRIORITY = 5  # a person is waiting: answers go before routine alerts
NOT_LINKED = N_(
    "This bot serves the member organisations of the hub, and this chat is not linked to one. "
    "Ask your hub coordinator for an invite code, then send /start CODE."
)
NOT_A_COMMAND = N_("I only understand commands. Send /help for the list.")
NOTHING_TO_CONFIRM = N_("Nothing is waiting for your yes or no. Send /help for the commands.")


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
                    language = reader_language(uow.members.contact(sender.network,
                                                                   sender.address),
                                               supported(sender.language))
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

    def language_of(self, sender: Sender) -> str:
        """The language to write to `sender` in, for a text the channel sends itself (a button
        press's acknowledgement, a failure); their app's or the hub's if the store fails."""
        heard = supported(sender.language)
        try:
            with self._uow() as uow:
                contact = uow.members.contact(sender.network, sender.address)
        except Exception:  # noqa: BLE001 (the store may be what failed; the text still goes)
            log.warning("%s: the reader's language could not be read; using their app's",
                        sender.network.value)
            contact = None
        return reader_language(contact, heard)

    def _respond(
        self, uow: UnitOfWork, sender: Sender, text: str, contact: Contact | None,
        authority: Authority, now: datetime,
    ) -> tuple[Reply, Command | CommandError | None, str]:
        """The answer in the reader's language, what was parsed, and the command's name."""
        confirmation = parse_confirmation(text)
        parsed: Command | CommandError | None = None
        if confirmation is not None:
            # The role is checked again now: it may have been taken since the preview.
            confirmed = announcements.confirm(
                uow, sender.network, sender.address, confirmation, self._policy,
                actor(sender.network, sender.address), now,
                may_announce=authority >= Authority.COORDINATOR,
            )
            if not authority:
                answer = Reply(_(NOT_LINKED))
            else:
                answer = confirmed or Reply(_(NOTHING_TO_CONFIRM))
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

    def _queue(
        self, uow: UnitOfWork, sender: Sender, update_key: str, answer: Reply,
        contact: Contact | None, now: datetime, language: str,
    ) -> None:
        payload = ReplyMessage(answer.text, language, button_rows(answer.buttons))
        outgoing.queue(uow, [
            NewMessage(
                network=sender.network,
                address=sender.chat,
                kind="reply",
                dedup_key=f"reply|{sender.network.value}|{update_key}",
                payload=payload,
                priority=REPLY_PRIORITY,
                member=contact.member if contact else None,
                tlp=answer.tlp,
                # Answers go to the direct chat with the sender (groups are never answered).
                reader=sender.address if sender.chat != sender.address else None,
            )], now, admins=self._policy.admins)

    def _clearance(self, uow: UnitOfWork, sender: Sender) -> Clearance:
        """What the sender's own chat may read (the TLP gate's view of them)."""
        address = (sender.network, sender.address)
        return outgoing.clearances(uow, [address], self._policy.admins)[address]

    def _answer(
        self, uow: UnitOfWork, sender: Sender, parsed: Command | CommandError | None,
        contact: Contact | None, authority: Authority, now: datetime,
    ) -> Reply:
        if not authority and not _about_start(parsed):
            # Someone not linked learns only how to get linked, nothing of members' commands.
            return Reply(_(NOT_LINKED))
        if parsed is None:
            return Reply(_(NOT_A_COMMAND))
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
            return Reply(_(NOT_LINKED))
        if isinstance(parsed, SetTimezone):
            return self._timezone(uow, sender, contact, parsed, now)
        if isinstance(parsed, SetLanguage):
            return self._language(uow, sender, contact, parsed)
        if isinstance(parsed, Affected | Digest | Rsvp | ListMeetings):
            return self._take_part(uow, sender, parsed, contact, authority, now)
        if isinstance(parsed, Latest):
            return member_commands.latest(uow, contact.member, parsed.count,
                                          contact.timezone or self._policy.zone,
                                          self._clearance(uow, sender))
        return Reply(self._manage(uow, sender, parsed, contact, now))

    def _timezone(self, uow: UnitOfWork, sender: Sender, contact: Contact,
                  command: SetTimezone, now: datetime) -> Reply:
        if not command.show:
            uow.members.update_contact(sender.network, sender.address, timezone=command.zone)
        stored = contact.timezone if command.show else command.zone
        zone = stored or self._policy.zone
        if command.show and stored:
            text = _("Times for you are shown in {zone} (now {time}).")
        elif command.show:
            text = _("Times for you are shown in the hub's time zone, {zone} (now {time}).")
        elif stored:
            text = _("Times for you are now shown in {zone} (now {time}).")
        else:
            text = _("Times for you are now shown in the hub's time zone, {zone} (now {time}).")
        return Reply(text.format(zone=zone, time=clock_text(now, zone)) + " " + _(
            "/timezone Europe/Berlin changes it, /timezone off goes back to the hub's."))

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
                                      parsed, now, self._clearance(uow, sender))
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
            return Reply(_("Only the hub's admins may use /{command}.").format(command=name))
        if authority < Authority.COORDINATOR:
            return Reply(_("Only the hub's coordinators may use /{command}. If you need to reach "
                           "the hub, ask a coordinator.").format(command=name))
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
        self, uow: UnitOfWork, sender: Sender, parsed: Command, contact: Contact, now: datetime
    ) -> str:
        member = contact.member
        zone = contact.timezone or self._policy.zone
        if isinstance(parsed, Subscribe):
            return member_commands.subscribe(uow, member, parsed, now)
        if isinstance(parsed, Unsubscribe):
            return member_commands.unsubscribe(uow, member, parsed)
        if isinstance(parsed, ListProducts):
            return member_commands.products(uow, member)
        if isinstance(parsed, SetSeverity):
            return member_commands.set_severity(uow, member, parsed)
        if isinstance(parsed, Mute):
            return member_commands.mute(uow, contact, parsed, now, zone)
        assert isinstance(parsed, Status)
        return member_commands.status(uow, contact, sender.chat, now, zone)

    def _start(
        self, uow: UnitOfWork, sender: Sender, command: Start, contact: Contact | None,
        now: datetime,
    ) -> str:
        if contact is not None:
            return _("This chat is linked to {member}. Send /help for what I can do.").format(
                member=contact.member)
        if command.code is None:
            return _("Welcome to the hub's advisory bot. Ask your hub coordinator for an invite "
                     "code, then send /start CODE.")
        try:
            member = uow.invites.redeem(code_hash(command.code), now,
                                        f"{sender.network.value}:{sender.address}")
        except ValueError as exc:
            return _(_INVITE_REFUSED[str(exc)])
        uow.members.add_contact(member, sender.network, sender.address, now)
        return _("This chat is now linked to {member}. You will receive an alert whenever an "
                 "advisory names one of its products. /products lists them, /subscribe adds "
                 "one.").format(member=member)


def _about_start(parsed: Command | CommandError | None) -> bool:
    """/start, or a /start with a malformed code: what someone not linked is answered."""
    if isinstance(parsed, CommandError):
        return parsed.command == "start"
    return isinstance(parsed, Start)


_INVITE_REFUSED = {
    "unknown": N_("That invite code is not valid. Ask your hub coordinator for a new one."),
    "used": N_("That invite code was already used. Ask your hub coordinator for a new one."),
    "expired": N_("That invite code has expired. Ask your hub coordinator for a new one."),
}


def _grant(uow: UnitOfWork, command: Grant, who: str, now: datetime) -> Reply:
    role = Role(command.role)
    if not uow.members.set_role(command.member, role):
        return Reply(_("There is no member {member}. Names are as the admin registered them "
                       "(`hubbot member list`).").format(member=repr(command.member)))
    uow.audit.add(who, "grant", f"{command.member}: {role.value}", now)
    if role is Role.COORDINATOR:
        return Reply(_("{member} is now a coordinator.").format(member=command.member))
    return Reply(_("{member} is now a member.").format(member=command.member))
