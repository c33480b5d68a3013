"""Daily digests: a member's alerts below critical, held and released as one message a day."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from functools import partial

from bot.domain.alerts import alert_from_payload
from bot.domain.coordination import HeldAlert
from bot.domain.coordination_commands import Digest
from bot.domain.digest import latest_slot
from bot.domain.language import _, ngettext
from bot.domain.members import reader_language
from bot.domain.rendering import alert_headline
from bot.services.hub_messages import Address, HubPolicy, queue_to
from bot.services.ports import UnitOfWork
from bot.services.replies import Reply

log = logging.getLogger(__name__)

DIGEST_PRIORITY = 1
PER_MESSAGE = 25


def set_digest(uow: UnitOfWork, member: str, command: Digest, policy: HubPolicy,
               now: datetime) -> Reply:
    if command.hour is None:
        uow.members.set_digest_hour(member, None)
        released = release(uow, member, now, None, key=f"off-{now:%Y%m%dT%H%M%S}")
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
                             languages=languages)
            continue
        slot = latest_slot(now, member.digest_hour, policy.zone)
        total += release(uow, name, now, slot, key=f"{slot:%Y%m%dT%H%M}", languages=languages)
    return total


def _digest_payload(member: str, chunk: list[HeldAlert], total: int) -> dict[str, object]:
    return {"text": digest_text(member, chunk, total)}


def release(uow: UnitOfWork, member: str, now: datetime, before: datetime | None,
            key: str, languages: Mapping[Address, str] | None = None) -> int:
    """Queue the member's held alerts (held before `before`) as digests; returns how many."""
    held = uow.held_alerts.waiting(member, before)
    if not held:
        return 0
    by_address: dict[tuple[object, str], list[HeldAlert]] = {}
    for h in held:
        by_address.setdefault((h.network, h.address), []).append(h)
    for items in by_address.values():
        network, address = items[0].network, items[0].address
        for part, start in enumerate(range(0, len(items), PER_MESSAGE)):
            chunk = items[start:start + PER_MESSAGE]
            queue_to(uow, [(network, address)], kind="digest",
                     key=f"{member}|{key}|{part}",
                     payload=partial(_digest_payload, member, chunk, len(items)),
                     priority=DIGEST_PRIORITY, now=now, known=languages)
    uow.held_alerts.release([h.id for h in held], now)
    log.info("digest for a member: %d alerts released", len(held))
    return len(held)


def digest_text(member: str, items: list[HeldAlert], total: int) -> str:
    lines = [ngettext("Daily digest for {member}: {n} alert",
                      "Daily digest for {member}: {n} alerts", total).format(member=member,
                                                                            n=total)]
    for h in items:
        alert = alert_from_payload(h.payload)
        ref = h.payload.get("ref")
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
