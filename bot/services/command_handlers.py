"""The handler of every declared chat command, bound by `@HANDLERS.handles(…)`.

Each handler gets the parsed command and the `Turn` (who asks, from where, with what standing,
when) and returns the answer in the active language; `ChatCommands` has checked the command's
audience and, unless a handler says otherwise, that the chat is linked to a member.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.commands import (
    COMMANDS,
    AddMeeting,
    Affected,
    Announce,
    ApproveReport,
    CancelConversation,
    CancelMeeting,
    Digest,
    EditReport,
    Grant,
    Help,
    Latest,
    ListMeetings,
    ListProducts,
    ListReports,
    Mute,
    RejectReport,
    ReportSituation,
    Rsvp,
    Seen,
    SetLanguage,
    SetSeverity,
    SetTimezone,
    Situation,
    SkipStep,
    Start,
    StartReport,
    Status,
    Subscribe,
    Unsubscribe,
    help_text,
)
from bot.domain.language import N_, _, clock_text, language_name, languages, speaking, supported
from bot.domain.members import Contact, Role, reader_language
from bot.domain.roles import Authority
from bot.domain.tlp_gate import Clearance
from bot.services import (
    announcements,
    digests,
    meetings,
    member_commands,
    outgoing,
    report_triage,
    reports,
    sightings,
    situation,
)
from bot.services.command_registry import CommandRegistry
from bot.services.hub_messages import HubPolicy, actor
from bot.services.invites import code_hash
from bot.services.ports import UnitOfWork
from bot.services.ports.chat import Sender
from bot.services.replies import Reply


@dataclass(frozen=True)
class Turn:
    """One command being answered: who asks, their linked contact, standing and the time."""

    uow: UnitOfWork
    sender: Sender
    contact: Contact | None
    authority: Authority
    now: datetime
    policy: HubPolicy

    @property
    def linked(self) -> Contact:
        """The contact, for handlers that need one (`ChatCommands` checked it is there)."""
        assert self.contact is not None
        return self.contact

    @property
    def who(self) -> str:
        """The sender as the audit log and the hub's notices name them."""
        return actor(self.sender.network, self.sender.address)

    @property
    def zone(self) -> str:
        """The time zone to show times in: the contact's own, else the hub's."""
        return self.linked.timezone or self.policy.zone

    @property
    def language(self) -> str:
        return reader_language(self.contact, supported(self.sender.language))

    def reporter(self) -> reports.Reporter:
        """The sender as a report's conversation knows them."""
        member = self.contact.member if self.contact else None
        return reports.Reporter(self.sender.network, self.sender.address, member, self.language)

    def clearance(self) -> Clearance:
        """What the sender's own chat may read (the TLP gate's view of them)."""
        address = (self.sender.network, self.sender.address)
        return outgoing.clearances(self.uow, [address], self.policy.admins)[address]


HANDLERS: CommandRegistry[Turn] = CommandRegistry()


# --- anyone: getting linked, and the list of commands ------------------------------------------

_INVITE_REFUSED = {
    "unknown": N_("That invite code is not valid. Ask your hub coordinator for a new one."),
    "used": N_("That invite code was already used. Ask your hub coordinator for a new one."),
    "expired": N_("That invite code has expired. Ask your hub coordinator for a new one."),
}


@HANDLERS.handles(Start, needs_contact=False)
def start(command: Start, turn: Turn) -> Reply:
    if turn.contact is not None:
        return Reply(_("This chat is linked to {member}. Send /help for what I can do.").format(
            member=turn.contact.member))
    if command.code is None:
        return Reply(_("Welcome to the hub's advisory bot. Ask your hub coordinator for an "
                       "invite code, then send /start CODE."))
    sender = turn.sender
    try:
        member = turn.uow.invites.redeem(code_hash(command.code), turn.now,
                                         f"{sender.network.value}:{sender.address}")
    except ValueError as exc:
        return Reply(_(_INVITE_REFUSED[str(exc)]))
    turn.uow.members.add_contact(member, sender.network, sender.address, turn.now)
    return Reply(_("This chat is now linked to {member}. You will receive an alert whenever an "
                   "advisory names one of its products. /products lists them, /subscribe adds "
                   "one.").format(member=member))


@HANDLERS.handles(Help, needs_contact=False)
def show_help(command: Help, turn: Turn) -> Reply:
    return Reply(help_text(turn.authority.audience))


# --- a member's products, threshold, mute, status, latest alerts ------------------------------

@HANDLERS.handles(Subscribe)
def subscribe(command: Subscribe, turn: Turn) -> Reply:
    return Reply(member_commands.subscribe(turn.uow, turn.linked.member, command, turn.now))


@HANDLERS.handles(Unsubscribe)
def unsubscribe(command: Unsubscribe, turn: Turn) -> Reply:
    return Reply(member_commands.unsubscribe(turn.uow, turn.linked.member, command))


@HANDLERS.handles(ListProducts)
def list_products(command: ListProducts, turn: Turn) -> Reply:
    return Reply(member_commands.products(turn.uow, turn.linked.member))


@HANDLERS.handles(SetSeverity)
def set_severity(command: SetSeverity, turn: Turn) -> Reply:
    return Reply(member_commands.set_severity(turn.uow, turn.linked.member, command))


@HANDLERS.handles(Mute)
def mute(command: Mute, turn: Turn) -> Reply:
    return Reply(member_commands.mute(turn.uow, turn.linked, command, turn.now, turn.zone))


@HANDLERS.handles(Status)
def status(command: Status, turn: Turn) -> Reply:
    return Reply(member_commands.status(turn.uow, turn.linked, turn.sender.chat, turn.now,
                                        turn.zone))


@HANDLERS.handles(Latest)
def latest(command: Latest, turn: Turn) -> Reply:
    return member_commands.latest(turn.uow, turn.linked.member, command.count, turn.zone,
                                  turn.clearance())


# --- taking part in the hub: affected, digest, meetings ---------------------------------------

@HANDLERS.handles(Affected)
def affected(command: Affected, turn: Turn) -> Reply:
    return situation.affected(turn.uow, turn.linked.member, turn.who, command, turn.now,
                              turn.clearance())


@HANDLERS.handles(Digest)
def digest(command: Digest, turn: Turn) -> Reply:
    return digests.set_digest(turn.uow, turn.linked.member, command, turn.policy, turn.now)


@HANDLERS.handles(Rsvp)
def rsvp(command: Rsvp, turn: Turn) -> Reply:
    contact = turn.linked
    return meetings.rsvp(turn.uow, turn.sender.network, turn.sender.address, contact.member,
                         command, turn.now, contact.timezone)


@HANDLERS.handles(ListMeetings, needs_contact=False)
def list_meetings(command: ListMeetings, turn: Turn) -> Reply:
    if turn.authority >= Authority.COORDINATOR:
        return meetings.list_meetings(turn.uow, turn.now, coordinator=True)  # admins need no member
    return meetings.list_meetings(turn.uow, turn.now, False, turn.linked.timezone)


# --- the reader's own settings: time zone, language --------------------------------------------

@HANDLERS.handles(SetTimezone)
def set_timezone(command: SetTimezone, turn: Turn) -> Reply:
    contact, sender = turn.linked, turn.sender
    if not command.show:
        turn.uow.members.update_contact(sender.network, sender.address, timezone=command.zone)
    stored = contact.timezone if command.show else command.zone
    zone = stored or turn.policy.zone
    if command.show and stored:
        text = _("Times for you are shown in {zone} (now {time}).")
    elif command.show:
        text = _("Times for you are shown in the hub's time zone, {zone} (now {time}).")
    elif stored:
        text = _("Times for you are now shown in {zone} (now {time}).")
    else:
        text = _("Times for you are now shown in the hub's time zone, {zone} (now {time}).")
    return Reply(text.format(zone=zone, time=clock_text(turn.now, zone)) + " " + _(
        "/timezone Europe/Berlin changes it, /timezone off goes back to the hub's."))


@HANDLERS.handles(SetLanguage)
def set_language(command: SetLanguage, turn: Turn) -> Reply:
    contact, sender = turn.linked, turn.sender
    if not command.show:
        turn.uow.members.update_contact(sender.network, sender.address,
                                        language=command.language)
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


# --- coordinators and admins (their role was checked; they need no member) --------------------

@HANDLERS.handles(Announce, needs_contact=False)
def announce(command: Announce, turn: Turn) -> Reply:
    return announcements.preview(turn.uow, turn.sender.network, turn.sender.address, command,
                                 turn.policy, turn.now)


@HANDLERS.handles(AddMeeting, needs_contact=False)
def add_meeting(command: AddMeeting, turn: Turn) -> Reply:
    return meetings.add_meeting(turn.uow, command, turn.policy, turn.who, turn.now)


@HANDLERS.handles(CancelMeeting, needs_contact=False)
def cancel_meeting(command: CancelMeeting, turn: Turn) -> Reply:
    return meetings.cancel_meeting(turn.uow, command, turn.policy, turn.who, turn.now)


@HANDLERS.handles(Situation, needs_contact=False)
def show_situation(command: Situation, turn: Turn) -> Reply:
    return situation.situation(turn.uow, command, turn.who, turn.now)


@HANDLERS.handles(Grant, needs_contact=False)
def grant(command: Grant, turn: Turn) -> Reply:
    role = Role(command.role)
    if not turn.uow.members.set_role(command.member, role):
        return Reply(_("There is no member {member}. Names are as the admin registered them "
                       "(`hubbot member list`).").format(member=repr(command.member)))
    turn.uow.audit.add(turn.who, "grant", f"{command.member}: {role.value}", turn.now)
    if role is Role.COORDINATOR:
        return Reply(_("{member} is now a coordinator.").format(member=command.member))
    return Reply(_("{member} is now a member.").format(member=command.member))


# --- members' reports: the conversation, triage, sightings ------------------------------------

@HANDLERS.handles(StartReport)
def start_report(command: StartReport, turn: Turn) -> Reply:
    return reports.start(turn.uow, turn.reporter(), turn.now)


@HANDLERS.handles(CancelConversation, needs_contact=False)
def cancel_conversation(command: CancelConversation, turn: Turn) -> Reply:
    return reports.cancel(turn.uow, turn.sender.network, turn.sender.address)


@HANDLERS.handles(SkipStep, needs_contact=False)
def skip_step(command: SkipStep, turn: Turn) -> Reply:
    draft, ended = reports.active(turn.uow, turn.sender.network, turn.sender.address, turn.now)
    if draft is None:
        return ended or Reply(_("There is no question to skip. /report starts a report."))
    return reports.skip(turn.uow, turn.reporter(), draft, turn.now)


@HANDLERS.handles(Seen)
def seen(command: Seen, turn: Turn) -> Reply:
    return sightings.seen(turn.uow, turn.linked.member, command, turn.now, turn.policy)


@HANDLERS.handles(ListReports, needs_contact=False)
def list_reports(command: ListReports, turn: Turn) -> Reply:
    return report_triage.waiting(turn.uow)


@HANDLERS.handles(ApproveReport, needs_contact=False)
def approve_report(command: ApproveReport, turn: Turn) -> Reply:
    return report_triage.approve(turn.uow, command.report_id, turn.who, turn.now, turn.policy)


@HANDLERS.handles(RejectReport, needs_contact=False)
def reject_report(command: RejectReport, turn: Turn) -> Reply:
    return report_triage.reject(turn.uow, command.report_id, command.reason, turn.who,
                                turn.now, turn.policy)


@HANDLERS.handles(EditReport, needs_contact=False)
def edit_report(command: EditReport, turn: Turn) -> Reply:
    if command.summary is None:
        refused = report_triage.refusal(turn.uow, command.report_id)
        return refused or reports.start_edit(turn.uow, turn.sender.network,
                                             turn.sender.address, command.report_id, turn.now)
    return report_triage.edit(turn.uow, turn.who, command.report_id, command.summary,
                              turn.now, turn.policy)


@HANDLERS.handles(ReportSituation, needs_contact=False)
def report_situation(command: ReportSituation, turn: Turn) -> Reply:
    return sightings.situation(turn.uow, command)


HANDLERS.check_complete(COMMANDS)
