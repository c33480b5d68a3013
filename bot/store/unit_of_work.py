"""The unit of work: one session, one transaction, every repository."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlmodel import Session

from bot.store.chat_repositories import SqlHubChannels, SqlInboundUpdates, SqlInvites
from bot.store.coordination_repositories import (
    SqlAffected,
    SqlAudit,
    SqlConfirmations,
    SqlHeldAlerts,
    SqlMeetings,
)
from bot.store.csaf_repository import SqlCsaf
from bot.store.exploitation_repository import SqlExploitation
from bot.store.match_repository import SqlMatches
from bot.store.matrix_rooms import SqlMatrixDirectRooms
from bot.store.member_repository import SqlMembers
from bot.store.outbox_repository import SqlOutbox
from bot.store.report_repository import SqlReports
from bot.store.repositories import SqlAdvisories, SqlFeedStates, SqlProducts


class SqlUnitOfWork:
    """Use as `with uow: ...; uow.commit()`; leaving without commit rolls back."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __enter__(self) -> SqlUnitOfWork:
        self._session = Session(self._engine, expire_on_commit=False)
        self.feeds = SqlFeedStates(self._session)
        self.advisories = SqlAdvisories(self._session)
        self.members = SqlMembers(self._session)
        self.products = SqlProducts(self._session)
        self.matches = SqlMatches(self._session)
        self.outbox = SqlOutbox(self._session)
        self.hub_channels = SqlHubChannels(self._session)
        self.invites = SqlInvites(self._session)
        self.inbound = SqlInboundUpdates(self._session)
        self.matrix_rooms = SqlMatrixDirectRooms(self._session)
        self.audit = SqlAudit(self._session)
        self.confirmations = SqlConfirmations(self._session)
        self.meetings = SqlMeetings(self._session)
        self.affected = SqlAffected(self._session)
        self.held_alerts = SqlHeldAlerts(self._session)
        self.exploitation = SqlExploitation(self._session)
        self.csaf = SqlCsaf(self._session)
        self.reports = SqlReports(self._session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._session.rollback()
        self._session.close()

    def commit(self) -> None:
        self._session.commit()

    def rollback(self) -> None:
        self._session.rollback()


class SqlStore:
    """Makes units of work on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)


if TYPE_CHECKING:
    from bot.services.ports.store import UnitOfWorkFactory

    def _satisfies_its_port(store: SqlStore) -> UnitOfWorkFactory:
        """Never called: mypy proves here that the store is the factory the services ask for."""
        return store
