"""The admin's other use cases on the command line: what the hub holds (members, products, hub
channels, the audit log), hub channels added and removed, roles given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.alerts import HubChannel
from bot.domain.coordination import AuditEntry
from bot.domain.members import Contact, Member, Network, Role
from bot.domain.products import RegisteredProduct
from bot.domain.reports import Report, report_ref
from bot.services.ports import UnitOfWorkFactory
from bot.services.registrations import RegistrationError


@dataclass(frozen=True)
class MembersOverview:
    members: list[Member]
    contacts: list[Contact]
    products: list[RegisteredProduct]


def members_overview(uow_factory: UnitOfWorkFactory) -> MembersOverview:
    with uow_factory() as uow:
        return MembersOverview(uow.members.all(), uow.members.contacts(), uow.products.all())


def registered_products(uow_factory: UnitOfWorkFactory,
                        member: str | None = None) -> list[RegisteredProduct]:
    with uow_factory() as uow:
        return uow.products.all(member)


def hub_channels(uow_factory: UnitOfWorkFactory) -> list[HubChannel]:
    with uow_factory() as uow:
        return uow.hub_channels.all()


def add_hub_channel(uow_factory: UnitOfWorkFactory, channel: HubChannel, now: datetime) -> None:
    with uow_factory() as uow:
        try:
            uow.hub_channels.add(channel, now)
        except ValueError as exc:
            raise RegistrationError(str(exc)) from None
        uow.commit()


def remove_hub_channel(uow_factory: UnitOfWorkFactory, network: Network, address: str) -> None:
    with uow_factory() as uow:
        if not uow.hub_channels.remove(network, address):
            raise RegistrationError(
                f"no {network.value} hub channel {address}; see `hubbot channel list`")
        uow.commit()


def set_role(uow_factory: UnitOfWorkFactory, name: str, role: Role, now: datetime) -> None:
    """Give a member a role; the audit log keeps who did it (the admin, on the command line)."""
    with uow_factory() as uow:
        if not uow.members.set_role(name, role):
            raise RegistrationError(f"no member {name!r}; see `hubbot member list`")
        uow.audit.add("cli", "grant", f"{name}: {role.value}", now)
        uow.commit()


def audit_entries(uow_factory: UnitOfWorkFactory, limit: int) -> list[AuditEntry]:
    with uow_factory() as uow:
        return uow.audit.latest(limit)


def report_for_export(uow_factory: UnitOfWorkFactory, report_id: int, form: str,
                      now: datetime) -> Report:
    """A member's report for the hub's other tools; the export is in the audit log."""
    with uow_factory() as uow:
        report = uow.reports.get(report_id)
        if report is None:
            raise RegistrationError(f"no report {report_ref(report_id)}")
        uow.audit.add("cli", f"report export {form}", report.ref, now)
        uow.commit()
        return report
