"""The admin's member and product lists, on the in-memory store: service rules without I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.members import Network
from bot.domain.product_csv import ProductLine
from bot.domain.products import ProductSpec
from bot.services import registrations
from bot.services.registrations import RegistrationError
from tests.support.fake_store import FakeStore

NOW = datetime(2026, 4, 14, 12, 0, tzinfo=UTC)


def test_a_member_is_added_with_its_contacts() -> None:
    store = FakeStore()
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, "1001")], NOW)
    assert [m.name for m in store.committed.members.values()] == ["Klinikum Nord"]
    assert store().members.contact(Network.TELEGRAM, "1001").member == "Klinikum Nord"


def test_a_member_whose_contact_is_taken_is_not_added_at_all() -> None:
    store = FakeStore()
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, "1001")], NOW)
    with pytest.raises(RegistrationError, match="already linked"):
        registrations.add_member(store, "Uniklinik Süd", [(Network.TELEGRAM, "1001")], NOW)
    assert "Uniklinik Süd" not in store.committed.members


def test_the_same_product_written_another_way_is_refused_naming_the_one_there() -> None:
    store = FakeStore()
    registrations.add_member(store, "Klinikum Nord", [], NOW)
    first = registrations.add_product(store, "Klinikum Nord",
                                      ProductSpec("Dräger", "Infinity Delta"), NOW)
    with pytest.raises(RegistrationError, match=rf"Dräger \| Infinity Delta \(product #{first.id}"):
        registrations.add_product(store, "Klinikum Nord", ProductSpec("DRÄGER", "infinity delta"),
                                  NOW)


def test_a_product_for_an_unknown_member_says_how_to_add_the_member() -> None:
    with pytest.raises(RegistrationError, match="hubbot member add"):
        registrations.add_product(FakeStore(), "Nobody", ProductSpec("Dräger", "X"), NOW)


def test_importing_the_same_lines_twice_adds_them_once() -> None:
    store = FakeStore()
    lines = [ProductLine(2, "Klinikum Nord", ProductSpec("Dräger", "Infinity Delta")),
             ProductLine(3, "Klinikum Nord", ProductSpec("Philips", "IntelliVue MX40"))]
    assert registrations.import_products(store, lines, NOW, create_members=True) == (
        2, 0, ["Klinikum Nord"])
    assert registrations.import_products(store, lines, NOW, create_members=True) == (0, 2, [])
    assert len(store.committed.products) == 2


def test_an_import_naming_unknown_members_changes_nothing_unless_asked() -> None:
    store = FakeStore()
    lines = [ProductLine(2, "Klinikum Nord", ProductSpec("Dräger", "Infinity Delta"))]
    with pytest.raises(RegistrationError, match="--create-members"):
        registrations.import_products(store, lines, NOW, create_members=False)
    assert store.commits == 0 and not store.committed.products
