"""What happens when an address can no longer receive: stop sending, tell the coordinators."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from bot.domain.language import _, in_each_language, ngettext
from bot.domain.members import Contact, Network
from bot.domain.outbox_payload import DeliveryNotice
from bot.domain.queued_messages import NewMessage
from bot.services import outgoing
from bot.services.hub_messages import recipient_languages
from bot.services.ports import UnitOfWork

log = logging.getLogger(__name__)

NOTICE_PRIORITY = 3


def recipient_gone(
    uow: UnitOfWork, network: Network, address: str, reason: str, now: datetime
) -> None:
    """Mark the contact inactive, give up its queued messages, and notify coordinators once."""
    contact = uow.members.contact(network, address)
    if contact is not None:
        uow.members.update_contact(network, address, active=False)
        hub = False
    else:
        hub = any(ch.address == address for ch in uow.hub_channels.all(network))
    dropped = uow.outbox.fail_pending_for(network, address, f"recipient gone: {reason}")
    if contact is None and not hub:
        return
    log.warning("%s %s can no longer receive (%s); %d queued messages dropped",
                "a contact of a member on" if contact else "a hub channel on", network.value,
                reason, dropped)
    told = [c for c in uow.members.coordinators_contacts()
            if (c.network, c.address) != (network, address)]
    languages = recipient_languages(uow, [(c.network, c.address) for c in told])
    texts = in_each_language(languages.values(),
                             partial(_notice, network, address, contact, reason, dropped))
    messages = []
    for coordinator in told:
        language = languages[(coordinator.network, coordinator.address)]
        messages.append(NewMessage(
            network=coordinator.network,
            address=coordinator.address,
            kind="notice",
            dedup_key=f"notice|gone|{network.value}|{address}|{coordinator.network.value}|"
                      f"{coordinator.address}|{now:%Y%m%d}",
            payload=DeliveryNotice(texts[language], language),
            priority=NOTICE_PRIORITY,
            member=coordinator.member,
        ))
    # A notice quotes no advisory (TLP:CLEAR) and goes to coordinators' contacts only.
    outgoing.queue(uow, messages, now, admins=frozenset())


def _notice(network: Network, address: str, contact: Contact | None, reason: str,
            dropped: int) -> str:
    """What the coordinators are told, in the active language."""
    if contact is not None:
        # TRANSLATORS: {network} is telegram or matrix; {reason} is the network's error.
        gone = _("A {network} contact of {member} can no longer receive messages "
                 "({reason}).").format(network=network.value, member=contact.member,
                                       reason=reason)
    else:
        gone = _("The hub {network} channel {address} can no longer receive messages "
                 "({reason}).").format(network=network.value, address=address, reason=reason)
    return gone + " " + ngettext(
        "It is marked inactive and {n} queued message to it was dropped; it becomes active "
        "again when it writes to the bot.",
        "It is marked inactive and {n} queued messages to it were dropped; it becomes active "
        "again when it writes to the bot.", dropped).format(n=dropped)
