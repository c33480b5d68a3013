"""Messages queued before the upgrade to the versioned payload are still delivered after it.

`outbox_rows_v1.json` holds, for every kind of message, a payload as the bot stored it before
payloads had a version (commit 1a8b32a), captured from that version's own runs. Each is put into
a row exactly as that code wrote it, `json.dumps(payload, ensure_ascii=False)`, and then sent by
today's dispatcher through the real Telegram adapter to the loopback Bot API server.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select
from telegram import Bot

from bot.channels.telegram import TelegramChannel
from bot.domain.members import Network
from bot.domain.outbox_payload import (
    PAYLOAD_VERSION,
    AlertMessage,
    payload_from_json,
    payload_to_json,
)
from bot.domain.queued_messages import OutboxState
from bot.outbox.dispatcher import OutboxDispatcher
from bot.services import digests, registrations
from bot.store.tables import HeldAlertRow, OutboxRow
from bot.store.unit_of_work import SqlStore
from tests.support.telegram_server import TELEGRAM_TEST_TOKEN, TelegramServer

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CASES: list[dict[str, Any]] = json.loads(
    Path(__file__).with_name("outbox_rows_v1.json").read_text(encoding="utf-8"))
QUEUED = [case for case in CASES if case["kind"] != "held"]
FIRST_CHAT = 500_001


def queue_as_before(store: SqlStore) -> dict[int, dict[str, Any]]:
    """Each queued payload in its own private chat, written as the earlier code wrote it."""
    by_chat = {}
    with Session(store.engine) as s:
        for n, case in enumerate(QUEUED):
            chat = FIRST_CHAT + n
            s.add(OutboxRow(created_at=NOW, network="telegram", address=str(chat),
                            kind=case["kind"], dedup_key=f"before-upgrade|{n}",
                            payload=json.dumps(case["payload"], ensure_ascii=False),
                            priority=0, next_attempt_at=NOW))
            by_chat[chat] = case
        s.commit()
    return by_chat


async def deliver(store: SqlStore, server: TelegramServer) -> int:
    async with Bot(TELEGRAM_TEST_TOKEN, base_url=server.bot_base_url) as bot:
        dispatcher = OutboxDispatcher(store, TelegramChannel(bot, private_chat_gap=0),
                                      clock=lambda: NOW)
        return await dispatcher.drain()


def first_line(text: str) -> str:
    return text.splitlines()[0]


async def test_every_kind_of_message_queued_before_the_upgrade_is_delivered(
        store: SqlStore, telegram_server: TelegramServer) -> None:
    by_chat = queue_as_before(store)
    for chat in by_chat:
        telegram_server.add_private_chat(chat)
    assert await deliver(store, telegram_server) == len(QUEUED)
    with Session(store.engine) as s:
        states = {(r.state, r.attempts, r.last_error) for r in s.exec(select(OutboxRow))}
    assert states == {(OutboxState.SENT.value, 1, None)}
    for chat, case in by_chat.items():
        payload = case["payload"]
        [message, *files] = telegram_server.messages_to(chat)
        assert message.text is not None
        shown = payload["advisory"]["title"] if case["kind"] == "alert" else first_line(
            payload["text"])
        assert shown in message.text, case["case"]
        commands = [b["command"] for row in payload.get("buttons", []) for b in row]
        assert [b["callback_data"] for b in message.buttons if "callback_data" in b] == \
            commands, case["case"]
        assert message.disable_notification is bool(payload.get("silent")), case["case"]
        attachment = payload.get("attachment")
        assert [(f.method, f.files[0].filename, f.files[0].content.decode()) for f in files] == (
            [("sendDocument", attachment["filename"], attachment["text"])] if attachment else [])


async def test_an_old_alert_still_reads_in_its_readers_language(
        store: SqlStore, telegram_server: TelegramServer) -> None:
    by_chat = queue_as_before(store)
    for chat in by_chat:
        telegram_server.add_private_chat(chat)
    await deliver(store, telegram_server)
    sent = {case["case"]: telegram_server.messages_to(chat)[0] for chat, case in by_chat.items()}
    german = sent["a member's alert in German, its reasons kept as phrases, with answer buttons"]
    assert german.text is not None
    assert "Produkt „Infinity Delta“ im Titel, Hersteller „Dräger“ im Titel" in german.text
    assert "Warnungs-ID 1 · betroffen? /affected 1 yes|no|patched" in german.text
    assert [b["text"] for b in german.buttons] == [
        "Betroffen", "Nicht betroffen", "Gepatcht", "Sicherheitshinweis öffnen"]
    revision = sent["a revision's re-alert: what changed, and the version decision"].text
    assert revision is not None
    assert "Updated: your version is now affected (version B.06.12 is listed as known " \
           "affected" in revision
    coordinators = sent["the coordinators' alert of an advisory kept from members"].text
    assert coordinators is not None and "Matched 1 member, who was not sent it" in coordinators


def test_an_alert_held_for_the_digest_before_the_upgrade_is_in_the_digest(
        store: SqlStore) -> None:
    [held] = [case["payload"] for case in CASES if case["kind"] == "held"]
    registrations.add_member(store, held["member"], [(Network.TELEGRAM, "2001")], NOW)
    with store() as uow:
        member = uow.members.get(held["member"])
    assert member is not None
    with Session(store.engine) as s:
        s.add(HeldAlertRow(member_id=member.id, network="telegram", address="2001",
                           advisory_id=held["advisory"]["id"],
                           payload=json.dumps(held, ensure_ascii=False), held_at=NOW))
        s.commit()
    with store() as uow:
        assert digests.release(uow, held["member"], NOW, None, key="upgrade") == 1
        uow.commit()
    with Session(store.engine) as s:
        [row] = s.exec(select(OutboxRow).where(col(OutboxRow.kind) == "digest")).all()
    digest = json.loads(row.payload)
    assert digest["version"] == PAYLOAD_VERSION
    assert f"[{held['ref']}] " in digest["text"]
    assert held["advisory"]["title"] in digest["text"]


def test_what_is_stored_now_keeps_every_key_an_earlier_bot_reads() -> None:
    """Rolling back to the earlier version still delivers what this one queued: today's rows
    hold the earlier keys with the same values, plus the version."""
    for case in QUEUED:
        before = case["payload"]
        now = json.loads(payload_to_json(payload_from_json(json.dumps(before), case["kind"])))
        assert now.pop("version") == PAYLOAD_VERSION
        assert now == before, case["case"]
        assert isinstance(payload_from_json(json.dumps(before)), AlertMessage) is (
            case["kind"] == "alert")
