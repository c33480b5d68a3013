"""Periodic tidying that keeps the database from growing without bound."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.services.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)

# Telegram redelivers an unconfirmed update for at most 24 h; a week is a wide margin.
HANDLED_UPDATES_KEPT = timedelta(days=7)


def forget_old_updates(uow_factory: UnitOfWorkFactory, now: datetime) -> int:
    with uow_factory() as uow:
        removed = uow.inbound.forget_before(now - HANDLED_UPDATES_KEPT)
        uow.commit()
    if removed:
        log.info("housekeeping: forgot %d handled chat updates older than %s", removed,
                 HANDLED_UPDATES_KEPT)
    return removed
