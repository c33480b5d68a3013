"""Two `/start` with one invite code at the same moment, on two real connections (SQLite and
PostgreSQL): exactly one chat is linked, the other is told the code was already used."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import text

from bot.domain.members import Network
from bot.services import registrations
from bot.services.chat_commands import ChatCommands, Sender
from bot.services.invites import code_hash, create_invite
from bot.store.unit_of_work import SqlStore, SqlUnitOfWork

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ALICE = Sender(Network.TELEGRAM, "1001", "1001")
MALLORY = Sender(Network.MATRIX, "@mallory:evil.example", "!dm:evil.example")


def _wait_until_blocked_by(store: SqlStore, first: SqlUnitOfWork) -> None:
    """On PostgreSQL, wait until another connection waits for a lock `first` holds: the second
    redemption has read the code as unused and now stands at its write. (SQLite lets one writer
    at a time: the second waits at its first write, whatever it is.)"""
    if store.engine.dialect.name != "postgresql":
        return
    pid = first._session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    deadline = time.monotonic() + 60
    with store.engine.connect() as watcher:
        while not watcher.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
            {"pid": pid},
        ).scalar():
            assert time.monotonic() < deadline, "the second /start never reached the code"
            time.sleep(0.05)


def test_two_simultaneous_starts_with_one_code_link_exactly_one_chat(store: SqlStore) -> None:
    registrations.add_member(store, "Klinikum Nord", [], NOW)
    code = create_invite(store, "Klinikum Nord", NOW)
    service = ChatCommands(store, lambda: NOW)
    with ThreadPoolExecutor(1) as pool, store() as first:
        # The first /start has claimed the code and not yet committed when the second comes.
        assert first.invites.redeem(code_hash(code), NOW, "telegram:1001") == "Klinikum Nord"
        second = pool.submit(service.handle, MALLORY, f"/start {code}", "mallory-1")
        _wait_until_blocked_by(store, first)
        first.members.add_contact("Klinikum Nord", ALICE.network, ALICE.address, NOW)
        first.commit()
        answer = second.result(timeout=120)
    assert answer == "That invite code was already used. Ask your hub coordinator for a new one."
    with store() as uow:
        assert [(c.network, c.address) for c in uow.members.contacts(["Klinikum Nord"])] == [
            (Network.TELEGRAM, "1001")]
        assert uow.members.contact(MALLORY.network, MALLORY.address) is None


def test_of_two_redemptions_at_once_the_later_finds_the_code_used(store: SqlStore) -> None:
    registrations.add_member(store, "Klinikum Nord", [], NOW)
    code = code_hash(create_invite(store, "Klinikum Nord", NOW))

    def redeem_second() -> str:
        with store() as uow:
            try:
                return uow.invites.redeem(code, NOW, "matrix:@mallory:evil.example")
            except ValueError as refused:
                return f"refused: {refused}"
            finally:
                uow.commit()

    with ThreadPoolExecutor(1) as pool, store() as first:
        assert first.invites.redeem(code, NOW, "telegram:1001") == "Klinikum Nord"
        second = pool.submit(redeem_second)
        _wait_until_blocked_by(store, first)
        first.commit()
        assert second.result(timeout=120) == "refused: used"
