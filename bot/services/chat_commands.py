"""Answer chat commands, the same on every network; every answer leaves through the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.domain.commands import (
    SPECS,
    AddMeeting,
    Audience,
    CancelMeeting,
    Command,
    CommandError,
    CommandSpec,
    command_name,
    parse_command,
    spec_of,
)
from bot.domain.coordination_commands import parse_confirmation
from bot.domain.indicators import Extraction
from bot.domain.language import N_, _, speaking, supported
from bot.domain.members import Contact, reader_language
from bot.domain.outbox_payload import ReplyMessage, button_rows
from bot.domain.queued_messages import NewMessage
from bot.domain.report_conversation import Draft, Step
from bot.domain.roles import Authority, authority_of
from bot.services import announcements, outgoing, reports
from bot.services.command_handlers import HANDLERS, Turn
from bot.services.command_rate import SLOW_DOWN, CommandRateLimit
from bot.services.hub_messages import HubPolicy, actor
from bot.services.ports import UnitOfWork, UnitOfWorkFactory
from bot.services.ports.chat import Sender
from bot.services.replies import Reply

__all__ = ["ChatCommands", "Sender"]

log = logging.getLogger(__name__)

REPLY_PRIORITY = 5  # a person is waiting: answers go before routine alerts
NOT_LINKED = N_(
    "This bot serves the member organisations of the hub, and this chat is not linked to one. "
    "Ask your hub coordinator for an invite code, then send /start CODE."
)
NOT_A_COMMAND = N_("I only understand commands. Send /help for the list.")
NOTHING_TO_CONFIRM = N_("Nothing is waiting for your yes or no. Send /help for the commands.")


class ChatCommands:
    """Handles one incoming chat message: parse, check who may, act, queue the answer."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Callable[[], datetime],
        rate_limit: CommandRateLimit | None = None,
        policy: HubPolicy | None = None,
        on_meetings_changed: Callable[[], object] = lambda: None,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._rate = rate_limit or CommandRateLimit()
        self._policy = policy or HubPolicy()
        # Called (from the handling thread) after a meeting was added or cancelled.
        self._on_meetings_changed = on_meetings_changed

    def handle(self, sender: Sender, text: str, update_key: str,
               attachment: bool = False) -> str | None:
        """Act on `text` (or a photo or file: `attachment`); returns the answer queued, or None
        for a redelivered update."""
        now = self._clock()
        allowed = self._rate.allow(sender.network.value, sender.address)
        # A long pasted text is read for indicators before the unit of work opens: that can
        # take a second, and no database lock is held meanwhile.
        pasted = reports.read_ahead(text) if allowed and not attachment else None
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
                answer, parsed, name = self._respond(uow, sender, text, contact, authority, now,
                                                     attachment, pasted)
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
        except Exception:
            log.warning("%s: the reader's language could not be read; using their app's",
                        sender.network.value)
            contact = None
        return reader_language(contact, heard)

    def expects_text(self, sender: Sender) -> bool:
        """Whether a plain text from `sender` answers an open report (Matrix forwards plain
        texts only then, so that it never talks on with another bot)."""
        with self._uow() as uow:
            return reports.in_conversation(uow, sender.network, sender.address, self._clock())

    def _respond(
        self, uow: UnitOfWork, sender: Sender, text: str, contact: Contact | None,
        authority: Authority, now: datetime, attachment: bool = False,
        pasted: Extraction | None = None,
    ) -> tuple[Reply, Command | CommandError | None, str]:
        """The answer in the reader's language, what was parsed, and the command's name."""
        if attachment:
            return (reports.attachment(uow, sender.network, sender.address, now) if authority
                    else Reply(_(NOT_LINKED))), None, "attachment"
        draft, ended = reports.active(uow, sender.network, sender.address, now)
        parsed = parse_command(text)
        if draft is not None and not _declared(parsed):
            turn = Turn(uow, sender, contact, authority, now, self._policy)
            return self._converse(turn, draft, text, pasted), None, "answer"
        if ended is not None and parsed is None:
            return ended, None, "answer"
        confirmation = parse_confirmation(text)
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
            return answer, None, "yes" if confirmation.yes else "no"
        answer = self._answer(uow, sender, parsed, contact, authority, now)
        name = command_name(parsed) if not isinstance(parsed, CommandError | None) else "-"
        return answer, parsed, name

    @staticmethod
    def _converse(turn: Turn, draft: Draft, text: str, pasted: Extraction | None) -> Reply:
        """A plain answer to the person's open report (or a coordinator's edit)."""
        editing = draft.step is Step.EDIT
        if (editing and turn.authority < Authority.COORDINATOR) \
                or (not editing and turn.contact is None):
            # Unlinked or demoted since the conversation began: it ends here.
            turn.uow.reports.drop_draft(turn.sender.network, turn.sender.address)
            return Reply(_(NOT_LINKED)) if not turn.authority else Reply(
                _("Only the hub's coordinators may edit reports."))
        return reports.answer(turn.uow, turn.reporter(), draft, text, turn.now, turn.policy,
                              pasted)

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

    def _answer(
        self, uow: UnitOfWork, sender: Sender, parsed: Command | CommandError | None,
        contact: Contact | None, authority: Authority, now: datetime,
    ) -> Reply:
        if not authority and not _open_to_anyone(parsed):
            # Someone not linked learns only how to get linked, nothing of members' commands.
            return Reply(_(NOT_LINKED))
        if parsed is None:
            return Reply(_(NOT_A_COMMAND))
        if isinstance(parsed, CommandError):
            return Reply(parsed.message)
        refused = _refusal(spec_of(parsed), authority)
        if refused is not None:
            return refused
        binding = HANDLERS.binding(parsed)
        if binding.needs_contact and contact is None:
            return Reply(_(NOT_LINKED))
        return binding.handler(parsed, Turn(uow, sender, contact, authority, now, self._policy))


def _declared(parsed: Command | CommandError | None) -> bool:
    """A command of the grammar (even with bad arguments): during a report's conversation,
    anything else — plain text, or "!TLP:AMBER" from a Matrix hint — is an answer."""
    return parsed is not None and (not isinstance(parsed, CommandError)
                                   or parsed.command is not None)


def _open_to_anyone(parsed: Command | CommandError | None) -> bool:
    """A command (or a usage error of one) declared for anyone: /start, even with a malformed
    code, is what someone not linked is answered."""
    if isinstance(parsed, CommandError):
        spec = SPECS.get(parsed.command) if parsed.command else None
    else:
        spec = spec_of(parsed) if parsed is not None else None
    return spec is not None and spec.audience is Audience.ANYONE


def _refusal(spec: CommandSpec, authority: Authority) -> Reply | None:
    """Why a linked sender may not use a coordinators' or admins' command; None if they may."""
    if spec.audience is Audience.ADMIN and authority < Authority.ADMIN:
        return Reply(_("Only the hub's admins may use /{command}.").format(command=spec.name))
    if spec.audience in (Audience.COORDINATOR, Audience.ADMIN) \
            and authority < Authority.COORDINATOR:
        return Reply(_("Only the hub's coordinators may use /{command}. If you need to reach "
                       "the hub, ask a coordinator.").format(command=spec.name))
    return None
