"""What happens when an address can no longer receive: stop sending, tell the coordinators."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.domain.members import Network
from bot.domain.outbox import NewMessage
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
        who = f"A {network.value} contact of {contact.member}"
    else:
        hub = any(ch.address == address for ch in uow.hub_channels.all(network))
        who = f"The hub {network.value} channel {address}" if hub else None
    dropped = uow.outbox.fail_pending_for(network, address, f"recipient gone: {reason}")
    if who is None:
        return
    log.warning("%s can no longer receive (%s); %d queued messages dropped", who, reason,
                dropped)
    text = (f"{who} can no longer receive messages ({reason}). It is marked inactive and "
            f"{dropped} queued message(s) to it were dropped; it becomes active again when "
            "it writes to the bot.")
    for coordinator in uow.members.coordinators_contacts():
        if (coordinator.network, coordinator.address) == (network, address):
            continue
        uow.outbox.add(
            NewMessage(
                network=coordinator.network,
                address=coordinator.address,
                kind="notice",
                dedup_key=f"notice|gone|{network.value}|{address}|{coordinator.network.value}|"
                          f"{coordinator.address}|{now:%Y%m%d}",
                payload={"kind": "notice", "text": text},
                priority=NOTICE_PRIORITY,
                member=coordinator.member,
            ),
            now,
        )
