"""`/announce`: a preview, the author's yes, then one message to every hub channel (and member)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from bot.domain.coordination_commands import Announce, Confirm
from bot.domain.language import N_, _, ngettext
from bot.domain.members import Network
from bot.domain.outbox_payload import AnnouncementMessage, Button
from bot.services.hub_messages import HubPolicy, hub_channels, member_contacts, queue_to
from bot.services.ports import UnitOfWork
from bot.services.replies import Reply

log = logging.getLogger(__name__)

CONFIRM_WITHIN = timedelta(minutes=30)
ANNOUNCEMENT_PRIORITY = 4  # as urgent as a critical alert: a person decided it must go now
HEADING = N_("📣 Announcement from the hub")


def preview(uow: UnitOfWork, sender_network: Network, sender_address: str, command: Announce,
            policy: HubPolicy, now: datetime) -> Reply:
    channels = hub_channels(uow, policy)
    contacts = member_contacts(uow) if command.dm else []
    if not channels and not contacts:
        return Reply(_("There is nowhere to send it: the hub has no channels yet (the admin "
                       "adds them with `hubbot channel add`). Use /announce --dm to write to "
                       "every member instead."))
    pending = uow.confirmations.put(sender_network, sender_address, "announce",
                                    {"text": command.text, "dm": command.dm}, now,
                                    now + CONFIRM_WITHIN)
    hub = ngettext("{n} hub channel", "{n} hub channels", len(channels)).format(
        n=len(channels))
    if command.dm:
        people = ngettext("{n} member contact", "{n} member contacts", len(contacts)).format(
            n=len(contacts))
        # TRANSLATORS: {channels} is "2 hub channels", {contacts} "5 member contacts".
        reach = _("Preview — this goes to {channels} and {contacts}:").format(
            channels=hub, contacts=people)
    else:
        # TRANSLATORS: {channels} is "2 hub channels".
        reach = _("Preview — this goes to {channels}:").format(channels=hub)
    # TRANSLATORS: "yes" and "no" are the words the bot understands; keep them in English.
    ask = _("Send it? Answer yes or no (within {minutes} minutes).").format(
        minutes=CONFIRM_WITHIN.seconds // 60)
    text = f"{reach}\n\n{_(HEADING)}\n\n{command.text}\n\n{ask}"
    buttons = [[Button(_("Send"), f"yes {pending}"), Button(_("Cancel"), f"no {pending}")]]
    return Reply(text, buttons)


def _announcement(text: str) -> AnnouncementMessage:
    """The announcement as each recipient reads it (the heading in their language)."""
    return AnnouncementMessage(f"{_(HEADING)}\n\n{text}")


def confirm(uow: UnitOfWork, sender_network: Network, sender_address: str, answer: Confirm,
            policy: HubPolicy, actor_name: str, now: datetime, may_announce: bool) -> Reply | None:
    """Act on a yes/no; None when nothing waits for this person's answer. `may_announce`: the
    person is a coordinator (or admin) now; a preview made before they lost the role is void."""
    pending = uow.confirmations.pending(sender_network, sender_address)
    if pending is None:
        return None
    if not may_announce:
        uow.confirmations.drop(sender_network, sender_address)
        if answer.yes:
            uow.audit.add(actor_name, "announce refused", "no longer a coordinator: "
                          f"{pending.payload.get('text', '')}", now)
        log.info("announcement %d dropped: its author is no longer a coordinator", pending.id)
        return Reply(_("You are no longer one of the hub's coordinators, so your announcement "
                       "was not sent."))
    if answer.pending is not None and answer.pending != pending.id:
        return Reply(_("That preview was replaced by a newer one; answer the newest preview."))
    uow.confirmations.drop(sender_network, sender_address)
    if pending.expires_at < now:
        return Reply(_("That preview has expired; nothing was sent. Send the command again."))
    if not answer.yes:
        uow.audit.add(actor_name, "announce cancelled", pending.payload.get("text", ""), now)
        return Reply(_("Cancelled; nothing was sent."))
    text, dm = str(pending.payload["text"]), bool(pending.payload.get("dm"))
    recipients = hub_channels(uow, policy) + (member_contacts(uow) if dm else [])
    queued = queue_to(uow, recipients, key=str(pending.id),
                      payload=partial(_announcement, text),
                      priority=ANNOUNCEMENT_PRIORITY, now=now, admins=policy.admins)
    uow.audit.add(actor_name, "announce", f"to {queued} addresses{' (dm)' if dm else ''}: "
                  f"{text}", now)
    log.info("announcement %d confirmed: %d messages queued", pending.id, queued)
    return Reply(ngettext("Sent: the announcement is on its way to {n} address.",
                          "Sent: the announcement is on its way to {n} addresses.",
                          queued).format(n=queued))
