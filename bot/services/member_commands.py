"""A member's own commands: its products, alert threshold, mute, status and latest alerts.

Each answer is written in the active language (`ChatCommands` sets the reader's)."""

from __future__ import annotations

from datetime import datetime

from bot.domain.commands import Mute, SetSeverity, Subscribe, Unsubscribe
from bot.domain.language import _, day_text, in_language, moment_text, ngettext, reason_text
from bot.domain.members import Contact
from bot.domain.products import ProductSpec
from bot.domain.severity import severity_heading, severity_label
from bot.domain.tlp import highest
from bot.domain.tlp_gate import Clearance
from bot.services.ports import UnitOfWork
from bot.services.replies import Reply


def set_severity(uow: UnitOfWork, member: str, command: SetSeverity) -> str:
    uow.members.set_min_severity(member, command.level)
    uow.members.set_alert_rule(member, command.rule)
    if command.rule == "kev":
        return _("{member} now gets alerts only for advisories known to be exploited "
                 "(CISA's KEV catalog), also when one becomes so later.").format(member=member)
    if command.rule is not None:
        # TRANSLATORS: {rule} is the EPSS threshold, e.g. "EPSS ≥ 0.1".
        return _("{member} now gets alerts when exploitation is likely ({rule}), "
                 "known, or not yet scored.").format(
            member=member, rule=command.rule.replace(">=", " ≥ ").upper())
    assert command.level is not None
    return _("{member} now gets alerts of severity {severity} and above (and those "
             "whose severity is not known).").format(
        member=member, severity=severity_label(command.level))


def subscribe(uow: UnitOfWork, member: str, command: Subscribe, now: datetime) -> str:
    try:
        spec = ProductSpec(command.vendor, command.product, versions=command.versions)
    except ValueError as exc:
        return _("Not added: {reason}.").format(reason=reason_text(exc))
    names = {"vendor": spec.vendor, "product": spec.product, "member": member,
             "versions": spec.versions}
    found = uow.products.find(member, spec.vendor, spec.product)
    if found is not None:
        # Named as registered: a look-alike written another way is that product.
        names |= {"vendor": found.spec.vendor, "product": found.spec.product}
        if command.versions is None or found.spec.versions == spec.versions:
            if spec.versions:
                return _("{vendor} | {product} (version {versions}) is already in {member}'s "
                         "list.").format(**names)
            return _("{vendor} | {product} is already in {member}'s list.").format(**names)
        uow.products.set_versions(found.id, spec.versions)
        return _("Updated {vendor} | {product}: {member} runs version {versions}. Advisories "
                 "that list versions are decided by it.").format(**names)
    uow.products.add(member, spec, now)
    if spec.versions:
        return _("Added {vendor} | {product} (version {versions}). {member} will be alerted "
                 "when an advisory names it. Advisories that list versions (CSAF) alert only "
                 "when yours is affected.").format(**names)
    return _("Added {vendor} | {product}. {member} will be alerted when an advisory names "
             "it.").format(**names)


def unsubscribe(uow: UnitOfWork, member: str, command: Unsubscribe) -> str:
    found = uow.products.find(member, command.vendor, command.product)
    if found is None:
        return _("{vendor} | {product} is not in {member}'s list; /products shows it.").format(
            vendor=command.vendor, product=command.product, member=member)
    uow.products.remove(found.id)
    return _("Removed {vendor} | {product}.").format(vendor=found.spec.vendor,
                                                     product=found.spec.product)


def products(uow: UnitOfWork, member: str) -> str:
    products = uow.products.all(member)
    if not products:
        return _("{member} has no products yet. Add one: /subscribe <vendor> | "
                 "<product>").format(member=member)
    lines = [_("{member}'s products ({count}):").format(member=member, count=len(products))]
    lines += [f"• {p.spec.vendor} | {p.spec.product}"
              + (f" | {p.spec.versions}" if p.spec.versions else "") for p in products[:100]]
    if len(products) > 100:
        more = len(products) - 100
        lines.append(ngettext("… and {n} more (the admin can list all).",
                              "… and {n} more (the admin can list all).", more).format(n=more))
    return "\n".join(lines)


def mute(uow: UnitOfWork, contact: Contact, command: Mute, now: datetime, zone: str) -> str:
    if command.duration is None:
        uow.members.update_contact(contact.network, contact.address, muted_until=None)
        return _("Alerts to this chat notify you again.")
    until = now + command.duration
    uow.members.update_contact(contact.network, contact.address, muted_until=until)
    return _("Alerts to this chat arrive silently until {moment}; none is held back. /mute off "
             "ends it.").format(moment=moment_text(until, zone))


def status(uow: UnitOfWork, contact: Contact, chat: str, now: datetime, zone: str) -> str:
    """Feeds' health, what waits for this chat, the member's products and threshold, a mute."""
    member = contact.member
    feeds = uow.feeds.all()
    failing = [f for f in feeds if f.consecutive_failures]
    polls = [f.last_success_at for f in feeds if f.last_success_at]
    healthy = {"healthy": len(feeds) - len(failing), "total": len(feeds)}
    if polls:
        lines = [_("Feeds: {healthy} of {total} healthy; last successful poll {moment}.").format(
            moment=moment_text(max(polls), zone), **healthy)]
    else:
        lines = [_("Feeds: {healthy} of {total} healthy; last successful poll not yet.").format(
            **healthy)]
    for f in failing[:10]:
        lines.append(_("• {feed}: failing ({n} in a row)").format(
            feed=f.feed, n=f.consecutive_failures))
    pending = uow.outbox.pending_for(contact.network, chat)
    lines.append(_("Messages waiting for this chat: {n}.").format(n=pending))
    record = uow.members.get(member)
    # TRANSLATORS: the severity threshold of a member that gets alerts of every severity.
    threshold = (severity_label(record.min_severity) if record and record.min_severity
                 else _("all"))
    count = len(uow.products.all(member))
    lines.append(ngettext("{member}: {n} product, severity threshold {threshold}.",
                          "{member}: {n} products, severity threshold {threshold}.",
                          count).format(member=member, n=count, threshold=threshold))
    if contact.muted(now) and contact.muted_until:
        lines.append(_("Muted until {moment}.").format(moment=moment_text(contact.muted_until,
                                                                          zone)))
    return "\n".join(lines)


def latest(uow: UnitOfWork, member: str, count: int, zone: str, clearance: Clearance) -> Reply:
    """The member's latest alerts, only those this chat may read (never a TLP:RED advisory to
    a member's chat); the answer's TLP is the highest of those it shows."""
    found = uow.matches.latest_for_member(member, count, clearance.highest(member))
    if not found:
        return Reply(_("No advisory has named {member}'s products yet.").format(member=member))
    lines = [_("Latest alerts for {member}:").format(member=member)]
    for match in found:
        advisory = match.advisory
        # TRANSLATORS: in /latest, in place of the date of an advisory that has none.
        when = day_text(advisory.published, zone) if advisory.published else _("undated")
        severity = severity_heading(advisory.severity) if advisory.severity else "?"
        lines.append(f"• {when} [{severity}] {advisory.title}\n  {advisory.link}")
        if match.note:
            lines.append(f"  {in_language(match.note)}")
    return Reply("\n".join(lines), tlp=highest(match.advisory.tlp for match in found))
