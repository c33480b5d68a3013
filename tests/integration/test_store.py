"""The store on SQLite and PostgreSQL: what the admin and the pipeline rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import bot.store.tables  # noqa: F401  (the tables' declaration)
from bot.domain.advisory import Advisory
from bot.domain.matching import AdvisoryMatcher
from bot.domain.members import Network
from bot.domain.outbox_payload import AlertMessage, AnnouncementMessage, ReplyMessage
from bot.domain.products import ProductSpec
from bot.domain.queued_messages import NewMessage, OutboxState
from bot.domain.severity import Severity
from bot.services import registrations
from bot.services.ingest import ingest_advisories
from bot.store.database import create_db_engine, upgrade
from bot.store.unit_of_work import SqlStore

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def advisory(id_: str, title: str, summary: str = "", source: str = "cisa", **kw) -> Advisory:
    return Advisory(id=id_, title=title, summary=summary, link=f"https://x.test/{id_}",
                    source=source, **kw)


def charite(store: SqlStore) -> None:
    registrations.add_member(store, "Charité", [(Network.TELEGRAM, "1001")], NOW)
    registrations.add_product(store, "Charité", ProductSpec("Dräger", "Infinity Delta"), NOW)


def ingest(store: SqlStore, *advisories: Advisory, console: bool = False):
    with store() as uow:
        matcher = AdvisoryMatcher(uow.products.all())
        report = ingest_advisories(uow, advisories, matcher, NOW, console=console)
        uow.commit()
    return report


def queued(store: SqlStore, network: Network = Network.TELEGRAM):
    with store() as uow:
        items = uow.outbox.claim_due(network, NOW + timedelta(days=1), 1000)
        uow.rollback()
    return items


def test_migrations_create_every_table_and_run_twice(database_url: str) -> None:
    engine = create_db_engine(database_url)
    upgrade(engine)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"feed_state", "advisory", "advisory_source", "member", "contact", "product",
            "advisory_match", "outbox", "alembic_version"} <= tables
    engine.dispose()


def test_the_migrations_build_the_schema_the_code_declares(database_url: str) -> None:
    """A column added to a table but not to a migration would exist in tests, not in a
    deployed database: the migrated schema must equal the tables' declaration."""
    engine = create_db_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_member_with_contacts_and_products_round_trips(store: SqlStore) -> None:
    charite(store)
    with store() as uow:
        assert [m.name for m in uow.members.all()] == ["Charité"]
        [contact] = uow.members.contacts()
        assert (contact.network, contact.address) == (Network.TELEGRAM, "1001")
        [product] = uow.products.all("Charité")
        assert product.spec == ProductSpec("Dräger", "Infinity Delta")


def test_a_telegram_id_links_to_one_member_only(store: SqlStore) -> None:
    charite(store)
    with pytest.raises(registrations.RegistrationError, match="already linked"):
        registrations.add_member(store, "Vivantes", [(Network.TELEGRAM, "1001")], NOW)
    with store() as uow:  # the failed add left nothing behind
        assert [m.name for m in uow.members.all()] == ["Charité"]


def test_matching_advisory_queues_one_alert_per_contact(store: SqlStore) -> None:
    charite(store)
    report = ingest(store, advisory("a1", "Draeger Infinity Delta: buffer overflow",
                                    severity=Severity.HIGH))
    assert report.new == ["a1"] and report.messages == 1
    [item] = queued(store)
    assert isinstance(item.payload, AlertMessage)
    assert item.address == "1001" and item.payload.alert.advisory.id == "a1"
    assert "Infinity Delta" in item.payload.alert.products[0].why


def test_same_advisory_seen_again_never_alerts_twice(store: SqlStore) -> None:
    charite(store)
    first = advisory("a1", "Dräger Infinity Delta flaw", cves=("CVE-2026-1111",))
    ingest(store, first)
    again = ingest(store, first)
    assert again.known == 1 and again.messages == 0
    assert len(queued(store)) == 1


def test_same_cve_set_from_another_feed_is_merged_into_one_advisory(store: SqlStore) -> None:
    charite(store)
    ingest(store, advisory("cisa:1", "Dräger Infinity Delta", cves=("CVE-2026-1", "CVE-2026-2")))
    report = ingest(store, advisory("bsi:9", "Dräger Infinity Delta: Schwachstelle",
                                    source="certbund", cves=("CVE-2026-2", "CVE-2026-1")))
    assert report.merged == ["cisa:1"] and report.messages == 0
    with store() as uow:
        assert uow.advisories.sources("cisa:1") == ["cisa", "certbund"]
        assert uow.advisories.count() == 1
    assert len(queued(store)) == 1


def test_merged_advisory_still_alerts_a_member_only_the_later_entry_names(
    store: SqlStore,
) -> None:
    charite(store)
    registrations.add_member(store, "Vivantes", [(Network.TELEGRAM, "2002")], NOW)
    registrations.add_product(store, "Vivantes", ProductSpec("B. Braun", "Infusomat Space"), NOW)
    ingest(store, advisory("cisa:1", "Dräger Infinity Delta", cves=("CVE-2026-7",)))
    ingest(store, advisory("vendor:1", "B. Braun Infusomat Space", source="psirt",
                           cves=("CVE-2026-7",)))
    assert sorted(i.address for i in queued(store)) == ["1001", "2002"]


def test_member_below_its_severity_threshold_gets_no_alert(store: SqlStore) -> None:
    charite(store)
    with store() as uow:
        assert uow.members.set_min_severity("Charité", Severity.CRITICAL)
        uow.commit()
    ingest(store, advisory("a1", "Dräger Infinity Delta", severity=Severity.MEDIUM))
    ingest(store, advisory("a2", "Dräger Infinity Delta again", severity=Severity.CRITICAL))
    assert [i.payload.alert.advisory.id for i in queued(store)
                                               if isinstance(i.payload, AlertMessage)] == ["a2"]


def test_failed_ingest_leaves_nothing_half_written(store: SqlStore) -> None:
    charite(store)

    class Exploding(AdvisoryMatcher):
        def match(self, title, summary):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError), store() as uow:
        ingest_advisories(uow, [advisory("a1", "Dräger Infinity Delta")], Exploding([]), NOW,
                          console=False)
        uow.commit()
    with store() as uow:
        assert uow.advisories.count() == 0
    assert queued(store) == []


def _message(address: str, key: str, priority: int = 0) -> NewMessage:
    return NewMessage(Network.TELEGRAM, address, "alert", key, ReplyMessage(key), priority)


def test_outbox_sends_critical_first_and_equal_messages_in_order(store: SqlStore) -> None:
    with store() as uow:
        for key, address, priority in [("a-low-1", "A", 0), ("b-low", "B", 0), ("a-low-2", "A", 0),
                                       ("a-critical", "A", 4), ("c-critical", "C", 4)]:
            uow.outbox.add(_message(address, key, priority), NOW)
        uow.commit()
    order = []
    while True:
        with store() as uow:
            batch = uow.outbox.claim_due(Network.TELEGRAM, NOW, 10)
            for item in batch:
                uow.outbox.mark_sent(item.id, None, NOW)
            uow.commit()
        if not batch:
            break
        order.append([i.payload.text for i in batch])
    # One message per address at a time; per address: most urgent first, then oldest first.
    assert order == [["a-critical", "c-critical", "b-low"], ["a-low-1"], ["a-low-2"]]


def test_outbox_ignores_a_second_message_with_the_same_key(store: SqlStore) -> None:
    with store() as uow:
        assert uow.outbox.add(_message("A", "k"), NOW) is True
        assert uow.outbox.add(_message("A", "k"), NOW) is False
        uow.commit()
    assert len(queued(store)) == 1


def test_messages_claimed_before_a_crash_are_sent_again(store: SqlStore) -> None:
    with store() as uow:
        uow.outbox.add(_message("A", "k"), NOW)
        uow.commit()
    with store() as uow:
        assert len(uow.outbox.claim_due(Network.TELEGRAM, NOW, 10)) == 1
        uow.commit()
    assert queued(store) == []  # claimed: nobody else sends it ...
    with store() as uow:
        assert uow.outbox.release_claims(Network.TELEGRAM) == 1
        uow.commit()
    assert len(queued(store)) == 1  # ... until the restart releases it


def test_retry_waits_until_its_time_and_failure_is_final(store: SqlStore) -> None:
    with store() as uow:
        uow.outbox.add(_message("A", "k"), NOW)
        uow.commit()
    with store() as uow:
        [item] = uow.outbox.claim_due(Network.TELEGRAM, NOW, 10)
        uow.outbox.mark_retry(item.id, "429", NOW + timedelta(seconds=30))
        uow.commit()
    with store() as uow:
        assert uow.outbox.claim_due(Network.TELEGRAM, NOW + timedelta(seconds=29), 10) == []
        [item] = uow.outbox.claim_due(Network.TELEGRAM, NOW + timedelta(seconds=31), 10)
        assert item.attempts == 2
        uow.outbox.mark_failed(item.id, "chat not found", NOW)
        uow.commit()
    with store() as uow:
        assert uow.outbox.backlog() == {("telegram", OutboxState.FAILED.value): 1}


def test_removed_member_gets_nothing_already_queued(store: SqlStore) -> None:
    charite(store)
    ingest(store, advisory("a1", "Dräger Infinity Delta"))
    registrations.remove_member(store, "Charité")
    assert queued(store) == []
    with store() as uow:
        assert uow.products.all() == [] and uow.members.contacts() == []


def test_feed_state_keeps_validators_between_polls(store: SqlStore) -> None:
    with store() as uow:
        state = uow.feeds.get("cisa")
        assert state.etag is None
        state.etag, state.last_modified = '"abc"', "Tue, 24 Nov 2026 10:00:00 GMT"
        state.consecutive_failures = 2
        uow.feeds.save(state)
        uow.commit()
    with store() as uow:
        again = uow.feeds.get("cisa")
    assert (again.etag, again.last_modified, again.consecutive_failures) == (
        '"abc"', "Tue, 24 Nov 2026 10:00:00 GMT", 2)


def test_product_import_is_all_or_nothing_and_idempotent(store: SqlStore) -> None:
    from bot.domain.product_csv import parse_product_csv

    lines = parse_product_csv("member,vendor,product,aliases\n"
                              "Charité,Dräger,Infinity Delta,Delta XL\n"
                              "Charité,BD,Alaris 8015,\n")
    with pytest.raises(registrations.RegistrationError, match="unknown member"):
        registrations.import_products(store, lines, NOW, create_members=False)
    assert registrations.import_products(store, lines, NOW, create_members=True) == (
        2, 0, ["Charité"])
    assert registrations.import_products(store, lines, NOW, create_members=True) == (0, 2, [])
    with store() as uow:
        aliases = {p.spec.product: p.spec.aliases for p in uow.products.all()}
    assert aliases == {"Infinity Delta": ("Delta XL",), "Alaris 8015": ()}


def test_a_quiet_address_is_not_held_up_by_a_flood_to_another(store: SqlStore) -> None:
    with store() as uow:
        for i in range(5):
            uow.outbox.add(_message("busy", f"busy-{i}"), NOW)
        uow.outbox.add(_message("quiet", "quiet-0"), NOW + timedelta(seconds=1))
        uow.commit()
    order = []
    for step in range(6):
        moment = NOW + timedelta(seconds=2 + step)
        with store() as uow:
            [item] = uow.outbox.claim_due(Network.TELEGRAM, moment, 1)
            uow.outbox.mark_sent(item.id, None, moment)
            uow.commit()
        order.append(item.payload.text)
    # Round-robin between addresses: the quiet chat is answered second, not sixth.
    assert order == ["busy-0", "quiet-0", "busy-1", "busy-2", "busy-3", "busy-4"]


@pytest.mark.postgres
def test_a_fan_out_queues_each_message_once(store: SqlStore) -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def message(n: int) -> NewMessage:
        return NewMessage(Network.TELEGRAM, str(n), "announcement", f"announce|1|{n}",
                          AnnouncementMessage("hello"))

    with store() as uow:
        assert uow.outbox.add(message(1), now)
        added = uow.outbox.add_many([message(n) for n in (1, 2, 3, 3)], now)
        assert added == {"announce|1|2", "announce|1|3"}  # 1 was queued, 3 twice in the batch
        assert uow.outbox.add_many([message(2)], now) == set()
        uow.commit()
    with store() as uow:
        assert uow.outbox.pending_for(Network.TELEGRAM, "3") == 1
        assert sum(uow.outbox.backlog().values()) == 3
