"""Coordinators' triage of members' reports, and relaying an approved report to the members.

A filed report goes to the coordinators (and admins) with approve / edit / reject. Nothing
reaches members before a coordinator approves; then the report is relayed through the TLP gate
like an advisory: TLP:RED stays with the coordinators, AMBER goes only to members' direct
chats, hub channels get only what is GREEN or CLEAR (and no more than each channel's own TLP).
Members whose registered products the report names get it first. The reporter is told what
was decided, never who else read it. Every decision is in the audit log (without the text).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial

from bot.domain.language import _, in_each_language, ngettext, speaking
from bot.domain.name_folding import name_key
from bot.domain.outbox_payload import (
    Button,
    ReportMessage,
    ReportNotice,
    TriageMessage,
    button_rows,
)
from bot.domain.queued_messages import NewMessage
from bot.domain.report_texts import relayed_report, seen_buttons_text, triage_card
from bot.domain.reports import Report, ReportStatus, Sharing, report_ref
from bot.domain.tlp import Tlp
from bot.services import outgoing
from bot.services.hub_messages import (
    Address,
    HubPolicy,
    coordinators,
    hub_channels,
    queue_to,
    recipient_languages,
)
from bot.services.ports import UnitOfWork
from bot.services.replies import Reply

log = logging.getLogger(__name__)

TRIAGE_PRIORITY = 3
FIRST_PRIORITY = 4  # members whose products the report names: as urgent as a critical alert
RELAY_PRIORITY = 2
DECISION_PRIORITY = 3
COMMUNITY = Tlp.GREEN  # the highest TLP a hub channel is ever given a report at


def filed(uow: UnitOfWork, report_id: int, now: datetime, policy: HubPolicy) -> int:
    """Put a newly filed report before the coordinators; how many were told."""
    report = uow.reports.get(report_id)
    assert report is not None
    return _tell_coordinators(uow, report, now, policy, key=f"R{report_id}|filed")


def waiting(uow: UnitOfWork) -> Reply:
    reports = uow.reports.waiting()
    if not reports:
        return Reply(_("No member report is waiting for a decision."))
    lines = [_("Reports waiting for a decision:")]
    for report in reports:
        first_line = report.summary.splitlines()[0][:80]
        lines.append(f"{report.ref} · {report.member} · {report.tlp.label} · {first_line}")
    lines.append(_("/approve, /edit or /reject with the report's ID."))
    return Reply("\n".join(lines))


def approve(uow: UnitOfWork, report_id: int, who: str, now: datetime,
            policy: HubPolicy) -> Reply:
    filed = _filed(uow, report_id)
    if isinstance(filed, Reply):
        return filed
    if not uow.reports.decide(report_id, ReportStatus.APPROVED, who, now):
        return _already(uow, report_id)
    uow.audit.add(who, "report approve", filed.ref, now)
    report = replace(filed, status=ReportStatus.APPROVED, decided_at=now, decided_by=who)
    reached = relay(uow, report, now, policy)
    tell_reporter(uow, report, now, policy, _approved_text(report), key="decision")
    log.info("report %s approved; relayed to %d addresses", report.ref, reached)
    if report.sharing is Sharing.COORDINATORS:
        return Reply(_("Approved {ref}. Its reporter allowed coordinators only: it is kept "
                       "with you, not relayed.").format(ref=report.ref))
    if report.tlp is Tlp.RED:
        return Reply(_("Approved {ref}. It is TLP:RED: it stays with the coordinators, no "
                       "member receives it.").format(ref=report.ref))
    return Reply(ngettext(
        "Approved {ref}: relayed to {count} chat, anonymised unless its reporter chose to be "
        "named.",
        "Approved {ref}: relayed to {count} chats, anonymised unless its reporter chose to be "
        "named.", reached).format(ref=report.ref, count=reached))


def reject(uow: UnitOfWork, report_id: int, reason: str | None, who: str, now: datetime,
           policy: HubPolicy) -> Reply:
    report = _filed(uow, report_id)
    if isinstance(report, Reply):
        return report
    if not uow.reports.decide(report_id, ReportStatus.REJECTED, who, now, reason):
        return _already(uow, report_id)
    uow.audit.add(who, "report reject", report.ref, now)

    def told() -> str:
        text = _("The hub's coordinators decided not to relay your report {ref}.").format(
            ref=report.ref)
        if reason:
            text += "\n" + _("Their reason: {reason}").format(reason=reason)
        return text

    tell_reporter(uow, report, now, policy, told, key="decision")
    return Reply(_("Rejected {ref}; its reporter is told.").format(ref=report.ref))


def edit(uow: UnitOfWork, who: str, report_id: int, summary: str, now: datetime,
         policy: HubPolicy) -> Reply:
    """A coordinator's new summary for a filed report (the other coordinators see it)."""
    filed = _filed(uow, report_id)
    if isinstance(filed, Reply):
        return filed
    if not uow.reports.edit_summary(report_id, summary):
        return _already(uow, report_id)
    uow.audit.add(who, "report edit", filed.ref, now)
    edited = replace(filed, summary=summary, edited=True)
    _tell_coordinators(uow, edited, now, policy, key=f"R{report_id}|edit|{now.isoformat()}")
    return Reply(_("The new summary of {ref} is saved and sent to the coordinators with the "
                   "report, for the decision.").format(ref=edited.ref))


def relay(uow: UnitOfWork, report: Report, now: datetime, policy: HubPolicy) -> int:
    """Queue an approved report for every member chat (and hub channel) that may read it;
    how many were queued. The reporter's own organisation is not sent its report back."""
    if not report.relayed_to_members:
        return 0
    named = _members_with_product(uow, report)
    contacts = [c for c in uow.members.contacts() if c.active and c.member != report.member]
    addresses: list[Address] = [(c.network, c.address) for c in contacts]
    languages = recipient_languages(uow, addresses)
    first = {(c.network, c.address) for c in contacts if c.member in named}
    member_of = {(c.network, c.address): c.member for c in contacts}

    def text(yours: bool) -> ReportMessage:
        buttons = [[Button(label, command) for label, command in seen_buttons_text(report.id)]]
        return ReportMessage(relayed_report(report, yours), buttons=button_rows(buttons))

    written = {(code, yours): message for yours in (False, True) for code, message in
               in_each_language(set(languages.values()), partial(text, yours)).items()}
    messages = [
        NewMessage(network=network, address=address, kind=ReportMessage.kind,
                   dedup_key=f"report|{report.id}|{network.value}|{address}",
                   payload=_in(written[(languages[(network, address)],
                                        (network, address) in first)],
                               languages[(network, address)]),
                   priority=FIRST_PRIORITY if (network, address) in first else RELAY_PRIORITY,
                   # Sent to this organisation itself: AMBER reaches its direct chats.
                   member=member_of[(network, address)], tlp=report.tlp)
        for network, address in addresses]
    queued = len(outgoing.queue(uow, messages, now, admins=policy.admins).added)
    if report.tlp <= COMMUNITY:
        channels = [a for a in hub_channels(uow, policy) if a not in set(addresses)]
        queued += queue_to(uow, channels, key=f"report|{report.id}",
                           payload=lambda: text(False), priority=RELAY_PRIORITY, now=now,
                           admins=policy.admins, tlp=report.tlp)
    return queued


def _in(message: ReportMessage, language: str) -> ReportMessage:
    return ReportMessage(message.text, language, message.buttons)


def _members_with_product(uow: UnitOfWork, report: Report) -> set[str]:
    if report.product is None:
        return set()
    wanted = (name_key(report.product.vendor), name_key(report.product.product))
    return {p.member for p in uow.products.all()
            if (name_key(p.spec.vendor), name_key(p.spec.product)) == wanted}


def _tell_coordinators(uow: UnitOfWork, report: Report, now: datetime, policy: HubPolicy,
                       key: str) -> int:
    ref = report.ref

    def card() -> TriageMessage:
        buttons = [[Button(_("Approve"), f"/approve {ref}"),
                    Button(_("Edit summary"), f"/edit {ref}"),
                    Button(_("Reject"), f"/reject {ref}")]]
        return TriageMessage(triage_card(report), buttons=button_rows(buttons))

    # The reporter's identity is in the card: coordinators' and admins' own chats only (the
    # gate holds a RED card to them; a coordinator's own report is triaged by the others too).
    return queue_to(uow, coordinators(uow, policy), key=key, payload=card,
                    priority=TRIAGE_PRIORITY, now=now, admins=policy.admins, tlp=Tlp.RED)


def tell_reporter(uow: UnitOfWork, report: Report, now: datetime, policy: HubPolicy,
                  write: Callable[[], str], key: str) -> None:
    """A notice about their own report to the contact who filed it, in their language. It
    quotes their own report at most, so it is marked as about their organisation (a TLP:RED
    report's reporter is told too)."""
    with speaking(report.language):
        message = ReportNotice(write(), report.language)
    outgoing.queue(uow, [NewMessage(
        network=report.reporter_network, address=report.reporter_address,
        kind=ReportNotice.kind,
        dedup_key=f"{key}|{report.id}|{report.reporter_network.value}|{report.reporter_address}",
        payload=message, priority=DECISION_PRIORITY, member=report.member,
        tlp=min(report.tlp, Tlp.AMBER_STRICT))], now, admins=policy.admins)


def _approved_text(report: Report) -> Callable[[], str]:
    def text() -> str:
        if report.sharing is Sharing.COORDINATORS:
            return _("The hub's coordinators have read your report {ref}. As you asked, it "
                     "stays with them.").format(ref=report.ref)
        if report.tlp is Tlp.RED:
            return _("The hub's coordinators have read your report {ref}. It is TLP:RED, so "
                     "it stays with them.").format(ref=report.ref)
        who = (_("with your organisation named") if report.sharing is Sharing.NAMED
               else _("without naming your organisation"))
        return _("The hub's coordinators approved your report {ref}; it was relayed to the "
                 "members {who}. I will tell you when others see it too.").format(
            ref=report.ref, who=who)
    return text


def refusal(uow: UnitOfWork, report_id: int) -> Reply | None:
    """Why the report cannot be decided on (there is none, or it was decided); None: it can."""
    filed = _filed(uow, report_id)
    return filed if isinstance(filed, Reply) else None


def _filed(uow: UnitOfWork, report_id: int) -> Report | Reply:
    """The report, still waiting for a decision; else the answer saying why not."""
    report = uow.reports.get(report_id)
    if report is None:
        return Reply(_("There is no report {ref}.").format(ref=report_ref(report_id)))
    if report.status is not ReportStatus.FILED:
        return _decided(report)
    return report


def _already(uow: UnitOfWork, report_id: int) -> Reply:
    report = uow.reports.get(report_id)
    assert report is not None
    return _decided(report)


def _decided(report: Report) -> Reply:
    when = report.decided_at.strftime("%Y-%m-%d %H:%M UTC") if report.decided_at else "-"
    if report.status is ReportStatus.APPROVED:
        return Reply(_("{ref} was already approved ({when}).").format(ref=report.ref, when=when))
    return Reply(_("{ref} was already rejected ({when}).").format(ref=report.ref, when=when))


