"""Periodic tidying that keeps the database from growing without bound."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.domain.reports import DRAFT_LIFETIME
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


def forget_old_reports(uow_factory: UnitOfWorkFactory, now: datetime,
                       retention: timedelta) -> int:
    """Members' reports older than the retention go, with their indicators and sightings;
    report conversations nobody answered for the draft lifetime go too."""
    with uow_factory() as uow:
        removed = uow.reports.purge_before(now - retention)
        uow.reports.drop_drafts_before(now - DRAFT_LIFETIME)
        uow.commit()
    if removed:
        log.info("housekeeping: purged %d member reports older than %s", removed, retention)
    return removed
