"""A member's first conversation with the bot, through the command service on the in-memory
store: what they are answered, and that a redelivered update is answered once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.members import Network
from bot.services import registrations
from bot.services.chat_commands import ChatCommands, Sender
from bot.services.invites import create_invite
from tests.support.fake_store import FakeStore

NOW = datetime(2026, 4, 14, 12, 0, tzinfo=UTC)
ALICE = Sender(Network.TELEGRAM, "1001", "1001")


def hub() -> tuple[FakeStore, ChatCommands, str]:
    store = FakeStore()
    registrations.add_member(store, "Klinikum Nord", [], NOW)
    code = create_invite(store, "Klinikum Nord", NOW)
    return store, ChatCommands(store, lambda: NOW), code


def test_a_member_links_with_an_invite_then_subscribes_and_lists_the_product() -> None:
    store, commands, code = hub()
    assert "now linked to Klinikum Nord" in (commands.handle(ALICE, f"/start {code}", "u1") or "")
    assert "Added Dräger | Infinity Delta" in (
        commands.handle(ALICE, "/subscribe Dräger | Infinity Delta", "u2") or "")
    assert "Dräger | Infinity Delta" in (commands.handle(ALICE, "/products", "u3") or "")
    assert len(store.replies_to(ALICE.chat)) == 3  # every answer leaves through the outbox


def test_someone_not_linked_only_learns_how_to_get_linked() -> None:
    store, commands, _code = hub()
    answer = commands.handle(ALICE, "/subscribe Dräger | Infinity Delta", "u1") or ""
    assert "not linked" in answer and "/start CODE" in answer
    assert not store.committed.products


def test_an_invite_code_works_once() -> None:
    _store, commands, code = hub()
    commands.handle(ALICE, f"/start {code}", "u1")
    bob = Sender(Network.TELEGRAM, "1002", "1002")
    assert "already used" in (commands.handle(bob, f"/start {code}", "u2") or "")


def test_an_expired_invite_code_is_refused() -> None:
    store, _commands, code = hub()
    later = ChatCommands(store, lambda: NOW + timedelta(days=365))
    assert "expired" in (later.handle(ALICE, f"/start {code}", "u1") or "")


def test_a_redelivered_update_is_answered_once() -> None:
    store, commands, code = hub()
    assert commands.handle(ALICE, f"/start {code}", "u1") is not None
    assert commands.handle(ALICE, f"/start {code}", "u1") is None
    assert len(store.replies_to(ALICE.chat)) == 1
