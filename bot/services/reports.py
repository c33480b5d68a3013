"""A member's `/report` conversation: one question at a time, the state saved between messages,
and filing the report for the coordinators' triage.

Answers are written in the active language (the caller speaks the reader's). Nothing the
reporter writes is logged: log lines name the step and counts only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.indicators import MAX_INDICATORS, Extraction, extract_indicators, merge
from bot.domain.language import N_, _, ngettext
from bot.domain.members import Network
from bot.domain.name_folding import name_key
from bot.domain.outbox_payload import Button
from bot.domain.report_conversation import (
    MAX_REPORT_INDICATORS,
    QUESTIONS,
    TLP_CHOICES,
    Draft,
    Step,
    draft_from_data,
    is_done,
    is_start_over,
    sharing_answer,
    summary_answer,
    tlp_answer,
    yes_or_no,
)
from bot.domain.report_texts import draft_review, indicator_lines
from bot.domain.reports import DRAFT_LIFETIME, ProductName, report_ref
from bot.services import report_triage
from bot.services.hub_messages import HubPolicy, actor
from bot.services.ports import NewReport, UnitOfWork
from bot.services.replies import Reply

log = logging.getLogger(__name__)

EXPIRED = N_("Your unfinished report expired: nothing was answered for {hours} hours, so it "
             "was dropped. Send /report to start again.")
UNREADABLE = N_("Your unfinished report could not be read after an update of the bot, so it "
                "was dropped. Send /report to start again.")
TEXT_ONLY = N_("I take text only: photos and files are not read or kept. Describe what you see, "
               "or paste the indicators as text.")
COMMANDS_ONLY = N_("I read text commands only: photos and files are not read or kept. Send /help "
                   "for the commands, or /report to tell the hub what you see.")
_MAX_CANDIDATES = 5
READ_AHEAD_CHARS = 2000


@dataclass(frozen=True)
class Reporter:
    """Who is in the conversation and how to answer them."""

    network: Network
    address: str
    member: str | None  # None: a coordinator or admin editing, who need not be a member
    language: str


def active(uow: UnitOfWork, network: Network, address: str,
           now: datetime) -> tuple[Draft | None, Reply | None]:
    """The person's draft if they are in a conversation; else why it ended (expired or
    unreadable: dropped and told once), or (None, None)."""
    stored = uow.reports.draft(network, address)
    if stored is None:
        return None, None
    if now - stored.updated_at > DRAFT_LIFETIME:
        uow.reports.drop_draft(network, address)
        log.info("%s: a report draft expired", network.value)
        hours = int(DRAFT_LIFETIME.total_seconds() // 3600)
        return None, Reply(_(EXPIRED).format(hours=hours))
    draft = draft_from_data(stored.data)
    if draft is None:
        uow.reports.drop_draft(network, address)
        log.warning("%s: a report draft could not be read and was dropped", network.value)
        return None, Reply(_(UNREADABLE))
    return draft, None


def in_conversation(uow: UnitOfWork, network: Network, address: str, now: datetime) -> bool:
    """Whether a plain text from this person is an answer (a Matrix adapter asks first)."""
    stored = uow.reports.draft(network, address)
    return stored is not None and now - stored.updated_at <= DRAFT_LIFETIME * 2


def start(uow: UnitOfWork, who: Reporter, now: datetime) -> Reply:
    earlier = uow.reports.draft(who.network, who.address) is not None
    draft = Draft(Step.WHAT)
    uow.reports.save_draft(who.network, who.address, draft.to_data(), now)
    log.info("%s: a report conversation started", who.network.value)
    dropped = _("(What you had begun before was dropped.)") + "\n" if earlier else ""
    return Reply(dropped + _("Thank you for telling the hub. Your report is read by the hub's "
                   "coordinators first; nothing reaches other members before they approve "
                   "it, and only as you allow.") + "\n\n" + _(QUESTIONS[Step.WHAT]))


def start_edit(uow: UnitOfWork, network: Network, address: str, report_id: int,
               now: datetime) -> Reply:
    own, _ended = active(uow, network, address, now)
    if own is not None and own.step is not Step.EDIT:
        return Reply(_("You are writing a report of your own: finish it or send /cancel "
                       "first."))
    draft = Draft(Step.EDIT, editing=report_id)
    uow.reports.save_draft(network, address, draft.to_data(), now)
    return Reply(_(QUESTIONS[Step.EDIT]))


def cancel(uow: UnitOfWork, network: Network, address: str) -> Reply:
    stored = uow.reports.draft(network, address)
    if stored is None or not uow.reports.drop_draft(network, address):
        return Reply(_("There is nothing to stop."))
    draft = draft_from_data(stored.data)
    if draft is not None and draft.step is Step.EDIT and draft.editing is not None:
        return Reply(_("Stopped: the summary of {ref} is unchanged.").format(
            ref=report_ref(draft.editing)))
    return Reply(_("Stopped. Nothing was filed; send /report to start again."))


def read_ahead(text: str) -> Extraction | None:
    """The indicators of a long plain text, read before any unit of work opens (None for a
    short text or a command: reading those while answering costs little)."""
    if len(text) < READ_AHEAD_CHARS or text.lstrip().startswith(("/", "!")):
        return None
    return extract_indicators(text)


def answer(uow: UnitOfWork, who: Reporter, draft: Draft, text: str, now: datetime,
           policy: HubPolicy, pasted: Extraction | None = None) -> Reply:
    """A plain-text answer to the step the draft is at (`pasted`: its indicators, if they were
    read ahead)."""
    try:
        reply, moved = _answer(uow, who, draft, text, now, policy, pasted)
    except ValueError as exc:  # asked again, with what was wrong
        return _ask(draft.step, str(exc))
    if moved is not None:
        uow.reports.save_draft(who.network, who.address, moved.to_data(), now)
    log.info("%s: report step %s answered", who.network.value, draft.step.value)
    return reply


def skip(uow: UnitOfWork, who: Reporter, draft: Draft, now: datetime) -> Reply:
    """/skip: the step's default where it has one."""
    if draft.step is Step.PRODUCT:
        return _save(uow, who, replace(draft, product=None), Step.INDICATORS, now)
    if draft.step is Step.INDICATORS:
        return _save(uow, who, draft, Step.TLP, now)
    if draft.step is Step.TLP:
        return _save(uow, who, replace(draft, tlp=TLP_CHOICES[2]), Step.SHARING, now)
    if draft.step is Step.SHARING:
        moved = draft.at(Step.CONFIRM)
        uow.reports.save_draft(who.network, who.address, moved.to_data(), now)
        return _review(moved)
    if draft.step is Step.CONFIRM:
        return Reply(_("Send yes to file the report, or /cancel to drop it."))
    return _ask(draft.step, _("This question cannot be skipped."))


def attachment(uow: UnitOfWork, network: Network, address: str, now: datetime) -> Reply:
    """A photo or file: refused with why; an open report goes on at the same question."""
    draft, _ended = active(uow, network, address, now)
    if draft is None:
        return Reply(_(COMMANDS_ONLY))
    question = QUESTIONS.get(draft.step)
    return Reply(_(TEXT_ONLY) + ("\n\n" + _(question) if question else ""))


def _answer(uow: UnitOfWork, who: Reporter, draft: Draft, text: str, now: datetime,
            policy: HubPolicy, pasted: Extraction | None) -> tuple[Reply, Draft | None]:
    step = draft.step
    if step is Step.WHAT:
        moved = replace(draft, summary=summary_answer(text), step=Step.PRODUCT)
        return _ask(Step.PRODUCT), moved
    if step is Step.PRODUCT:
        product = _product(uow, text)
        moved = replace(draft, product=product, step=Step.INDICATORS)
        return Reply(_("Noted: {product}.").format(product=product.display) + "\n\n"
                     + _(QUESTIONS[Step.INDICATORS])), moved
    if step is Step.INDICATORS:
        return _indicators(draft, text, pasted)
    if step is Step.TLP:
        moved = replace(draft, tlp=tlp_answer(text), step=Step.SHARING)
        return _ask(Step.SHARING), moved
    if step is Step.SHARING:
        moved = replace(draft, sharing=sharing_answer(text), step=Step.CONFIRM)
        return _review(moved), moved
    if step is Step.CONFIRM:
        return _confirm(uow, who, draft, text, now, policy), None
    assert step is Step.EDIT and draft.editing is not None
    reply = report_triage.edit(uow, actor(who.network, who.address), draft.editing,
                               summary_answer(text), now, policy)
    uow.reports.drop_draft(who.network, who.address)
    return reply, None


def _indicators(draft: Draft, text: str,
                pasted: Extraction | None) -> tuple[Reply, Draft | None]:
    if is_done(text):
        return _ask(Step.TLP), draft.at(Step.TLP)
    if is_start_over(text):
        return Reply(_("The list is empty again. Paste the indicators, or send done.")), \
            replace(draft, indicators=())
    found = pasted or extract_indicators(text)
    if not found.indicators:
        reason = _("I found no indicators in that text.")
        if found.rejected:
            reason += " " + ngettext(
                "{count} text looked like an indicator but is not valid (e.g. an address "
                "with a number over 255, a hash of the wrong length).",
                "{count} texts looked like indicators but are not valid (e.g. an address "
                "with a number over 255, a hash of the wrong length).",
                found.rejected).format(count=found.rejected)
        raise ValueError(reason)
    if len(draft.indicators) >= MAX_REPORT_INDICATORS:
        return Reply(_("The report holds the most indicators it can ({limit}). Send done to go "
                       "on.").format(limit=MAX_REPORT_INDICATORS)), None
    kept, left_out = merge(draft.indicators, found.indicators, MAX_REPORT_INDICATORS)
    new = [i for i in kept if i not in set(draft.indicators)]
    lines = [ngettext("I read {count} new indicator (the report has {total}):",
                      "I read {count} new indicators (the report has {total}):",
                      len(new)).format(count=len(new), total=len(kept))]
    lines += indicator_lines(new)
    lines += _caps(found.text_cut, found.dropped, left_out, found.rejected)
    lines += ["", _("Paste more, send done to go on, or send \"start over\" to empty the "
                    "list.")]
    return Reply("\n".join(lines)), replace(draft, indicators=kept)


def _caps(text_cut: bool, dropped: int, left_out: int, rejected: int) -> list[str]:
    """Tell the reporter what was not taken, and why."""
    lines = []
    if text_cut:
        lines.append(_("That text was very long: I read only its first part."))
    if dropped:
        lines.append(ngettext(
            "{count} more in that message was left out: one message gives at most {limit} "
            "indicators. Send the rest in another message.",
            "{count} more in that message were left out: one message gives at most {limit} "
            "indicators. Send the rest in another message.",
            dropped).format(count=dropped, limit=MAX_INDICATORS))
    if left_out:
        lines.append(ngettext(
            "{count} more was left out: a report takes at most {limit} indicators. Send the "
            "most telling ones; coordinators can ask for the rest.",
            "{count} more were left out: a report takes at most {limit} indicators. Send the "
            "most telling ones; coordinators can ask for the rest.",
            left_out).format(count=left_out, limit=MAX_REPORT_INDICATORS))
    if rejected:
        lines.append(ngettext("{count} was not valid and left out.",
                              "{count} were not valid and left out.", rejected).format(
            count=rejected))
    return lines


def _confirm(uow: UnitOfWork, who: Reporter, draft: Draft, text: str, now: datetime,
             policy: HubPolicy) -> Reply:
    decided = yes_or_no(text)
    if decided is None:
        raise ValueError(_("Send yes to file the report, or /cancel to drop it."))
    uow.reports.drop_draft(who.network, who.address)
    if not decided:
        return Reply(_("Dropped. Nothing was filed; send /report to start again."))
    assert who.member is not None
    report_id = uow.reports.add(NewReport(
        member=who.member, reporter_network=who.network, reporter_address=who.address,
        language=who.language, summary=draft.summary, product=draft.product, tlp=draft.tlp,
        sharing=draft.sharing, indicators=draft.indicators), now)
    report_triage.filed(uow, report_id, now, policy)
    log.info("%s: report R%d filed with %d indicators", who.network.value, report_id,
             len(draft.indicators))
    return Reply(_("Filed as report R{id}. The hub's coordinators review it; I will tell you "
                   "what they decide.").format(id=report_id))


def _product(uow: UnitOfWork, text: str) -> ProductName:
    """The registered product the answer names (by name only: never who registered it)."""
    wanted = name_key(text)
    if not wanted:
        raise ValueError(_("Write the vendor and product, or /skip."))
    names = {ProductName(p.spec.vendor, p.spec.product) for p in uow.products.all()}
    exact = [n for n in names if wanted in (name_key(n.display), name_key(n.product))]
    if len(exact) == 1:
        return exact[0]
    candidates = sorted(exact or [n for n in names if wanted in name_key(n.display)],
                        key=lambda n: name_key(n.display))
    if candidates:
        shown = ", ".join(n.display for n in candidates[:_MAX_CANDIDATES])
        raise ValueError(_("Several registered products fit: {names}. Write the one you "
                           "mean as shown.").format(names=shown))
    raise ValueError(_("No product of that name is registered at the hub. Write it as "
                       "members register products (vendor and product, e.g. \"Siemens "
                       "SIMATIC S7-1500\"), or /skip."))


def _save(uow: UnitOfWork, who: Reporter, draft: Draft, step: Step, now: datetime) -> Reply:
    uow.reports.save_draft(who.network, who.address, draft.at(step).to_data(), now)
    return _ask(step)


def _ask(step: Step, problem: str | None = None) -> Reply:
    if step is Step.CONFIRM:
        return Reply(problem or _("Send yes to file the report, or /cancel to drop it."))
    question = _(QUESTIONS[step])
    buttons: list[list[Button]] = []
    if step is Step.TLP:
        buttons = [[Button(t.label, t.label) for t in TLP_CHOICES]]
    return Reply(f"{problem}\n\n{question}" if problem else question, buttons)


def _review(draft: Draft) -> Reply:
    return Reply(draft_review(draft), [[Button(_("File it"), "yes"),
                                        Button(_("Drop it"), "/cancel")]])
