"""Look-alike product names on a real store: written with invisible characters, in another case
or in compatibility forms, they are the name already registered (admin CLI use cases)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from bot.domain.matching import AdvisoryMatcher
from bot.domain.product_csv import parse_product_csv
from bot.domain.products import ProductSpec
from bot.services import registrations
from bot.store.tables import ProductRow
from bot.store.unit_of_work import SqlStore

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _products(store: SqlStore) -> list[tuple[str, str]]:
    with store() as uow:
        return [(p.spec.vendor, p.spec.product) for p in uow.products.all("Klinikum Nord")]


def test_product_add_refuses_a_look_alike_of_a_registered_product(store: SqlStore) -> None:
    registrations.add_member(store, "Klinikum Nord", [], NOW)
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Dräger", "Infinity Delta"), NOW)
    for vendor, product in [("Dr\u200bäger", "Infinity\u2060 Delta"),
                            ("DRÄGER", "infinity\ufeff delta"),
                            ("Dräger\u00ad", "Ｉｎｆｉｎｉｔｙ Delta"),
                            ("Dräger", "Infinity Delta\U000e0041\U000e007f")]:
        with pytest.raises(registrations.RegistrationError,
                           match="already has Dräger | Infinity Delta"):
            registrations.add_product(store, "Klinikum Nord", ProductSpec(vendor, product), NOW)
    assert _products(store) == [("Dräger", "Infinity Delta")]


def test_a_product_added_with_hidden_characters_is_kept_without_them(store: SqlStore) -> None:
    registrations.add_member(store, "Klinikum Nord", [], NOW)
    registrations.add_product(store, "Klinikum Nord",
                          ProductSpec("Dr\u2060äger", "Infinity\u180e Del\u00adta"), NOW)
    assert _products(store) == [("Dräger", "Infinity Delta")]


def test_import_skips_look_alikes_of_registered_products_and_of_its_own_rows(
        store: SqlStore) -> None:
    registrations.add_member(store, "Klinikum Nord", [], NOW)
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Dräger", "Infinity Delta"), NOW)
    lines = parse_product_csv(
        "member,vendor,product\n"
        "Klinikum Nord,Dr\u200bäger,Infinity\u2060 Delta\n"  # the registered one, disguised
        "Klinikum Nord,BD,Alaris 8015\n"
        "Klinikum Nord,bd,ALARIS\u00ad 8015\n")  # the row above, disguised
    added, skipped, _created = registrations.import_products(store, lines, NOW, False)
    assert (added, skipped) == (1, 2)
    assert _products(store) == [("Dräger", "Infinity Delta"), ("BD", "Alaris 8015")]


def test_a_stored_name_of_invisible_characters_only_never_stops_matching_for_everyone(
        store: SqlStore, caplog: pytest.LogCaptureFixture) -> None:
    # Before names were cleaned, /subscribe took a product named by a Hangul filler (U+3164).
    registrations.add_member(store, "Klinikum Nord", [], NOW)
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Dräger", "Infinity Delta"), NOW)
    with store() as uow:
        member = uow.members.get("Klinikum Nord")
        assert member is not None
    with Session(store.engine) as session:
        session.add(ProductRow(member_id=member.id, vendor="Dräger", product="\u3164",
                               created_at=NOW))
        session.commit()
    with caplog.at_level(logging.WARNING), store() as uow:
        products = uow.products.all()
    assert [(p.spec.vendor, p.spec.product) for p in products] == [("Dräger", "Infinity Delta")]
    [warning] = [r.getMessage() for r in caplog.records if "not valid" in r.getMessage()]
    assert "product #2 is not valid" in warning and "hubbot product remove 2" in warning
    assert "\u3164" not in warning and "Dräger" not in warning
    matcher = AdvisoryMatcher(products)
    assert [m.product.spec.product for m in matcher.match("Dräger Infinity Delta flaw", "")] \
        == ["Infinity Delta"]
