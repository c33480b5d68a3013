"""Use cases for the admin's member and product lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.members import Member, Network, check_address, check_member_name
from bot.domain.name_folding import name_key
from bot.domain.product_csv import ProductLine
from bot.domain.products import ProductSpec, RegisteredProduct
from bot.services.ports import UnitOfWorkFactory


class RegistrationError(ValueError):
    """A request the admin can correct; the message says how."""


def add_member(
    uow_factory: UnitOfWorkFactory,
    name: str,
    contacts: Sequence[tuple[Network, str]],
    now: datetime,
) -> Member:
    """Create a member with its contacts, all or nothing."""
    try:
        name = check_member_name(name)
        checked = [(net, check_address(net, addr)) for net, addr in contacts]
    except ValueError as exc:
        raise RegistrationError(str(exc)) from None
    with uow_factory() as uow:
        try:
            member = uow.members.add(name, now)
            for network, address in checked:
                uow.members.add_contact(name, network, address, now)
        except ValueError as exc:
            raise RegistrationError(str(exc)) from None
        uow.commit()
    return member


def remove_member(uow_factory: UnitOfWorkFactory, name: str) -> None:
    with uow_factory() as uow:
        if not uow.members.remove(name):
            raise RegistrationError(f"no member {name!r}; see `hubbot member list`")
        uow.commit()


def add_product(
    uow_factory: UnitOfWorkFactory, member: str, spec: ProductSpec, now: datetime
) -> RegisteredProduct:
    with uow_factory() as uow:
        if uow.members.get(member) is None:
            raise RegistrationError(f"no member {member!r}; add it with `hubbot member add`")
        same = uow.products.find(member, spec.vendor, spec.product)
        if same is not None:  # also written another way: other case, invisible characters
            raise RegistrationError(f"{member} already has {same.spec.vendor} | "
                                 f"{same.spec.product} (product #{same.id})")
        try:
            product = uow.products.add(member, spec, now)
        except ValueError as exc:
            raise RegistrationError(str(exc)) from None
        uow.commit()
    return product


def remove_product(uow_factory: UnitOfWorkFactory, product_id: int) -> None:
    with uow_factory() as uow:
        if not uow.products.remove(product_id):
            raise RegistrationError(f"no product with id {product_id}; see `hubbot product list`")
        uow.commit()


def import_products(
    uow_factory: UnitOfWorkFactory, lines: Sequence[ProductLine], now: datetime,
    create_members: bool,
) -> tuple[int, int, list[str]]:
    """Add every line's product in one transaction; returns (added, already there, new members).

    A product the member already has is skipped, so importing the same file twice is harmless.
    """
    added = skipped = 0
    created: list[str] = []
    with uow_factory() as uow:
        known = {m.name for m in uow.members.all()}
        missing = sorted({line.member for line in lines} - known)
        if missing and not create_members:
            raise RegistrationError(
                f"unknown member(s): {', '.join(missing[:10])}; add them first or pass "
                "--create-members"
            )
        for name in missing:
            uow.members.add(name, now)
            created.append(name)
        existing = {
            (p.member, name_key(p.spec.vendor), name_key(p.spec.product))
            for p in uow.products.all()
        }
        for line in lines:
            key = (line.member, name_key(line.spec.vendor), name_key(line.spec.product))
            if key in existing:
                skipped += 1
                continue
            uow.products.add(line.member, line.spec, now)
            existing.add(key)
            added += 1
        uow.commit()
    return added, skipped, created
