"""Daily digests: a member's alerts below critical, held and released as one message a day."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import datetime
from functools import partial

from bot.domain.alerts import Alert
from bot.domain.coordination import HeldAlert
from bot.domain.coordination_commands import Digest
from bot.domain.digest import latest_slot
from bot.domain.language import _, ngettext
from bot.domain.members import reader_language
from bot.domain.outbox_payload import DigestMessage
from bot.domain.rendering import alert_headline
from bot.domain.tlp import Tlp, highest
from bot.services import outgoing
from bot.services.hub_messages import Address, HubPolicy, queue_to
from bot.services.ingest import tell_coordinators
from bot.services.ports import UnitOfWork
from bot.services.replies import Reply

log = logging.getLogger(__name__)

DIGEST_PRIORITY = 1
PER_MESSAGE = 25


def set_digest(uow: UnitOfWork, member: str, command: Digest, policy: HubPolicy,
               now: datetime) -> Reply:
    if command.hour is None:
        uow.members.set_digest_hour(member, None)
        released = release(uow, member, now, None, key=f"off-{now:%Y%m%dT%H%M%S}",
                           admins=policy.admins)
        text = _("Digest off: {member}'s alerts arrive as they come.").format(member=member)
        if released:
            text += " " + ngettext("The {n} alert waiting was sent now.",
                                   "The {n} alerts waiting were sent now.",
                                   released).format(n=released)
        return Reply(text)
    hour = policy.digest_hour if command.hour < 0 else command.hour
    uow.members.set_digest_hour(member, hour)
    # TRANSLATORS: {time} is the hour, e.g. "08:00"; {zone} the hub's time zone.
    return Reply(_("Digest on: {member}'s alerts below critical arrive in one message a day at "
                   "{time} ({zone}). Critical alerts, and those of unknown severity, still "
                   "arrive at once. /digest off ends it.").format(
        member=member, time=f"{hour:02}:00", zone=policy.zone))


def release_due(uow: UnitOfWork, policy: HubPolicy, now: datetime) -> int:
    """Queue every digest that is due: held before each member's latest digest hour."""
    total = 0
    members = {m.name: m for m in uow.members.all()}
    waiting = uow.held_alerts.members_waiting()
    # Digests go to member contacts only: their languages from one query, not one per digest.
    languages = {(c.network, c.address): reader_language(c)
                 for c in uow.members.contacts(waiting)}
    for name in waiting:
        member = members.get(name)
        if member is None:
            continue
        if member.digest_hour is None:  # turned off meanwhile: nothing may stay held
            total += release(uow, name, now, None, key=f"off-{now:%Y%m%dT%H}",
                             languages=languages, admins=policy.admins)
            continue
        slot = latest_slot(now, member.digest_hour, policy.zone)
        total += release(uow, name, now, slot, key=f"{slot:%Y%m%dT%H%M}", languages=languages,
                         admins=policy.admins)
    return total


def _digest_payload(member: str, chunk: list[HeldAlert], total: int) -> DigestMessage:
    return DigestMessage(digest_text(member, chunk, total))


def release(uow: UnitOfWork, member: str, now: datetime, before: datetime | None,
            key: str, languages: Mapping[Address, str] | None = None,
            admins: Collection[Address] = frozenset()) -> int:
    """Queue the member's held alerts (held before `before`) as digests; returns how many.

    Each alert passes the TLP gate again at its advisory's TLP now (a merge may have raised it
    while it waited); one the reader may no longer read is left out, and the coordinators are
    told of it. A digest's TLP is the highest of its alerts'."""
    held = uow.held_alerts.waiting(member, before)
    if not held:
        return 0
    by_address: dict[Address, list[HeldAlert]] = {}
    for h in held:
        by_address.setdefault((h.network, h.address), []).append(h)
    cleared = outgoing.clearances(uow, by_address, admins)
    current = {h.advisory_id: _tlp_now(uow, h) for h in held}
    kept_from: set[str] = set()
    for address, waiting in by_address.items():
        items = [h for h in waiting if cleared[address].allows(current[h.advisory_id], member)]
        kept_from |= {h.advisory_id for h in waiting} - {h.advisory_id for h in items}
        for part, start in enumerate(range(0, len(items), PER_MESSAGE)):
            chunk = items[start:start + PER_MESSAGE]
            queue_to(uow, [address], key=f"{member}|{key}|{part}",
                     payload=partial(_digest_payload, member, chunk, len(items)),
                     priority=DIGEST_PRIORITY, now=now, known=languages, admins=admins,
                     tlp=highest(current[h.advisory_id] for h in chunk), member=member)
    uow.held_alerts.release([h.id for h in held], now)
    for advisory_id in sorted(kept_from):
        _tell_coordinators(uow, advisory_id, now, admins)
    log.info("digest for a member: %d alerts released%s", len(held),
             f", {len(kept_from)} now above the reader's TLP clearance left out"
             if kept_from else "")
    return len(held)


def _tlp_now(uow: UnitOfWork, held: HeldAlert) -> Tlp:
    """The held alert's TLP now: its advisory's (raised by any merge), never below its own."""
    advisory = uow.advisories.get(held.advisory_id)
    was = held.payload.alert.advisory.tlp
    return highest([was, advisory.tlp if advisory else None])


def _tell_coordinators(uow: UnitOfWork, advisory_id: str, now: datetime,
                       admins: Collection[Address]) -> None:
    advisory = uow.advisories.get(advisory_id)
    if advisory is not None:
        tell_coordinators(uow, Alert(advisory, None, (), withheld=1), advisory_id,
                          uow.affected.ref_for(advisory_id), now, admins)


def digest_text(member: str, items: list[HeldAlert], total: int) -> str:
    lines = [ngettext("Daily digest for {member}: {n} alert",
                      "Daily digest for {member}: {n} alerts", total).format(member=member,
                                                                            n=total)]
    for h in items:
        alert, ref = h.payload.alert, h.payload.ref
        lines.append("")
        lines.append(("" if ref is None else f"[{ref}] ") + alert_headline(alert))
        for p in alert.products:
            lines.append("  " + _("Your product: {product}").format(
                product=f"{p.vendor} | {p.product}"))
        if alert.advisory.link:
            lines.append(f"  {alert.advisory.link}")
    # TRANSLATORS: "yes, no or patched" are the words /affected takes; keep them in English.
    lines += ["", _("Answer /affected <id> yes, no or patched for each.")]
    return "\n".join(lines)
