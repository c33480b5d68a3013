"""The members repository: organisations, their roles and settings, and their contacts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.domain.members import Contact, Member, Network, Role
from bot.domain.queued_messages import OutboxState
from bot.domain.severity import Severity
from bot.store.report_repository import SqlReports
from bot.store.tables import (
    AffectedAnswerRow,
    ContactRow,
    HeldAlertRow,
    InviteRow,
    MemberRow,
    OutboxRow,
    ProductRow,
)


class SqlMembers:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _row(self, name: str) -> MemberRow | None:
        return self._s.exec(select(MemberRow).where(MemberRow.name == name)).first()

    def add(self, name: str, now: datetime) -> Member:
        if self._row(name) is not None:
            raise ValueError(f"member {name!r} already exists")
        row = MemberRow(name=name, created_at=now)
        self._s.add(row)
        self._s.flush()
        assert row.id is not None
        return Member(row.id, row.name)

    def get(self, name: str) -> Member | None:
        row = self._row(name)
        return None if row is None else _member(row)

    def all(self) -> list[Member]:
        return [_member(r) for r in self._s.exec(select(MemberRow).order_by(MemberRow.name))]

    def remove(self, name: str) -> bool:
        row = self._row(name)
        if row is None:
            return False
        for table in (ContactRow, ProductRow, InviteRow, HeldAlertRow, AffectedAnswerRow):
            for child in self._s.exec(select(table).where(table.member_id == row.id)):
                self._s.delete(child)
        assert row.id is not None
        SqlReports(self._s).remove_member(row.id)
        # Nothing more reaches a removed member, not even what was already queued.
        self._s.exec(
            update(OutboxRow)
            .where(
                col(OutboxRow.member_id) == row.id,
                col(OutboxRow.state).in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
            )
            .values(state=OutboxState.FAILED.value, last_error="member removed")
        )
        self._s.flush()
        self._s.delete(row)
        self._s.flush()
        return True

    def _set(self, name: str, **values: object) -> bool:
        """Change fields of the member's row; False when there is no such member."""
        row = self._row(name)
        if row is None:
            return False
        for field, value in values.items():
            setattr(row, field, value)
        self._s.add(row)
        self._s.flush()
        return True

    def set_min_severity(self, name: str, severity: Severity | None) -> bool:
        return self._set(name, min_severity=int(severity) if severity else None)

    def add_contact(self, member: str, network: Network, address: str, now: datetime) -> None:
        row = self._row(member)
        if row is None:
            raise ValueError(f"no member {member!r}")
        taken = self._s.exec(
            select(ContactRow).where(
                ContactRow.network == network.value, ContactRow.address == address
            )
        ).first()
        if taken is not None:
            raise ValueError(f"{network.value} address {address} is already linked to a member")
        assert row.id is not None
        self._s.add(
            ContactRow(member_id=row.id, network=network.value, address=address, created_at=now)
        )
        self._s.flush()

    def set_alert_rule(self, name: str, rule: str | None) -> bool:
        return self._set(name, alert_rule=rule)

    def set_digest_hour(self, name: str, hour: int | None) -> bool:
        return self._set(name, digest_hour=hour)

    def set_role(self, name: str, role: Role) -> bool:
        return self._set(name, role=role.value)

    def contact(self, network: Network, address: str) -> Contact | None:
        """The member contact at this address, if the address is linked."""
        found = self._s.exec(
            select(ContactRow, MemberRow.name)
            .join(MemberRow, col(MemberRow.id) == col(ContactRow.member_id))
            .where(ContactRow.network == network.value, ContactRow.address == address)
        ).first()
        if found is None:
            return None
        c, name = found
        return _contact(name, c)

    def update_contact(
        self, network: Network, address: str, *, active: bool | None = None,
        muted_until: datetime | None | bool = False, timezone: str | None | bool = False,
        language: str | None | bool = False, network_language: str | None | bool = False,
    ) -> bool:
        """Change a contact's state; `muted_until=None` unmutes, `False` leaves it."""
        row = self._s.exec(
            select(ContactRow).where(
                ContactRow.network == network.value, ContactRow.address == address
            )
        ).first()
        if row is None:
            return False
        if active is not None:
            row.active = active
        if muted_until is not False:
            row.muted_until = muted_until  # type: ignore[assignment]
        if timezone is not False:
            row.timezone = timezone  # type: ignore[assignment]
        if language is not False:
            row.language = language  # type: ignore[assignment]
        if network_language is not False:
            row.network_language = network_language  # type: ignore[assignment]
        self._s.add(row)
        self._s.flush()
        return True

    def contacts(self, members: Sequence[str] | None = None) -> list[Contact]:
        stmt = select(ContactRow, MemberRow.name).join(
            MemberRow, col(MemberRow.id) == col(ContactRow.member_id)
        )
        if members is not None:
            stmt = stmt.where(col(MemberRow.name).in_(list(members)))
        return [
            _contact(name, c)
            for c, name in self._s.exec(stmt.order_by(col(ContactRow.id)))
        ]

    def coordinators_contacts(self) -> list[Contact]:
        """Active contacts of coordinator members: who hears about delivery problems."""
        names = self._s.exec(
            select(MemberRow.name).where(MemberRow.role == Role.COORDINATOR.value)
        ).all()
        return [c for c in self.contacts(list(names)) if c.active] if names else []


def _member(row: MemberRow) -> Member:
    assert row.id is not None
    severity = Severity(row.min_severity) if row.min_severity else None
    return Member(row.id, row.name, severity, Role(row.role), row.digest_hour, row.alert_rule)


def _contact(member: str, c: ContactRow) -> Contact:
    return Contact(member, Network(c.network), c.address, c.active, c.muted_until, c.timezone,
                   c.language, c.network_language)
