"""Announcements with answer buttons and a calendar file reach members on Matrix, and their
"yes" / "no" reaches the bot: the real bot against a real Synapse on 127.0.0.1, people as plain
or encrypting matrix-nio clients."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from nio import MemoryDownloadResponse, RoomEncryptedFile, RoomMessagesResponse
from nio.crypto.attachments import decrypt_attachment

from bot.channels.matrix import MAX_ATTACHMENT_BYTES, MatrixChannel
from bot.domain.clock import utc_now
from bot.domain.members import Network
from bot.domain.outbox_payload import AnnouncementMessage, Attachment, Button
from bot.domain.queued_messages import NewMessage, OutboxItem
from bot.domain.tlp import Tlp
from bot.outbox.channel import DeliveryError
from bot.services import registrations
from bot.services.invites import create_invite
from tests.e2e.test_matrix_e2ee import EncryptedUser, person
from tests.support.matrix_hub import Hub

ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hubbot//meetings//EN\r\nBEGIN:VEVENT\r\n"
       "UID:meeting-3@hubbot\r\nDTSTART:20260505T120000Z\r\nSUMMARY:Hub call – Infusionspumpen"
       "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def announcement(text: str = "Hub call on 5 May, 14:00: infusion pumps <b>&</b> patching",
                 ics: str = ICS) -> AnnouncementMessage:
    return AnnouncementMessage(
        text, buttons=((Button("Yes", "/rsvp 3 yes"), Button("No", "/rsvp 3 no"),
                        Button("Maybe", "/rsvp 3 maybe")),),
        attachment=Attachment("meeting-3.ics", "text/calendar", ics))


ANSWERS = "Answer: !rsvp 3 yes · !rsvp 3 no · !rsvp 3 maybe"


@pytest.fixture
async def hub(matrix_hub: Hub) -> Hub:
    bot = await matrix_hub.start()
    registrations.add_member(bot.store, "Klinikum Nord", [], utc_now())
    return matrix_hub


@pytest.fixture
async def people():
    """Encrypting people (closed after the test)."""
    people: list[EncryptedUser] = []
    try:
        yield people
    finally:
        for p in people:
            await p.close()


def queue(hub: Hub, address: str, payload: AnnouncementMessage, key: str) -> None:
    """What the announcement service does: one outbox row, then the dispatcher is woken."""
    assert hub.bot is not None
    with hub.bot.store() as uow:
        assert uow.outbox.add(NewMessage(network=Network.MATRIX, address=address,
                                         kind="announcement", dedup_key=key, payload=payload),
                              utc_now())
        uow.commit()
    for dispatcher in hub.bot.dispatchers:
        dispatcher.wake()


def channel(hub: Hub) -> MatrixChannel:
    assert hub.bot is not None
    [matrix] = [c for c in hub.bot.channels if isinstance(c, MatrixChannel)]
    return matrix


async def download(user_client: Any, mxc: str) -> MemoryDownloadResponse:
    answer = await user_client.download(mxc=mxc)
    assert isinstance(answer, MemoryDownloadResponse), answer
    return answer


async def test_member_sees_the_answer_commands_and_gets_the_calendar_file(hub: Hub) -> None:
    alice = await hub.person()
    room = await hub.dm(alice)
    queue(hub, alice.user_id, announcement(), "announcement-3-alice")
    text, file = await alice.wait_for_messages(room, 2)
    assert text.body.startswith("Hub call on 5 May, 14:00: infusion pumps <b>&</b> patching")
    assert text.body.endswith("\n\n" + ANSWERS)
    html = text.formatted_body or ""
    assert "infusion pumps &lt;b&gt;&amp;&lt;/b&gt; patching" in html  # shown, not rendered
    assert html.endswith("<br>\n" + ANSWERS)
    assert file.content["msgtype"] == "m.file" and file.body == "meeting-3.ics"
    assert file.content["info"] == {"mimetype": "text/calendar",
                                    "size": len(ICS.encode())}
    got = await download(alice.client, file.content["url"])
    assert got.body.decode() == ICS
    assert got.content_type.startswith("text/calendar")
    assert hub.bot is not None
    with hub.bot.store() as uow:
        assert uow.outbox.backlog().get(("matrix", "sent")) == 1
    await asyncio.sleep(1)
    await alice.sync()
    assert len(alice.messages_in(room)) == 2  # each once


async def test_encrypted_room_gets_text_and_file_encrypted(
    hub: Hub, people: list[EncryptedUser], tmp_path: Path
) -> None:
    bob = await person(hub, people, tmp_path)
    room = await bob.open_encrypted_dm(hub.bot_id)
    assert hub.bot is not None
    code = create_invite(hub.bot.store, "Klinikum Nord", utc_now())
    assert "now linked" in (await bob.say(room, f"/start {code}"))[2]
    queue(hub, bob.user_id, announcement(), "announcement-3-bob")
    await bob.wait_until(lambda: len(bob.texts_in(room)) >= 2)
    _, text_id, body, decrypted = bob.texts_in(room)[1]
    assert decrypted and body.endswith(ANSWERS)
    file = await _encrypted_file(bob, room, hub.bot_id)
    assert file.decrypted and file.body == "meeting-3.ics"
    assert file.source["content"]["info"] == {"mimetype": "text/calendar",
                                              "size": len(ICS.encode())}
    for event_id in (text_id, file.event_id):
        raw = await bob.raw_event(room, event_id)
        assert raw["type"] == "m.room.encrypted"
        assert "meeting-3" not in json.dumps(raw) and "rsvp" not in json.dumps(raw)
    stored = await download(bob.client, file.url)
    assert b"VCALENDAR" not in stored.body  # the media repository holds ciphertext only
    plain = decrypt_attachment(stored.body, file.key["k"], file.hashes["sha256"], file.iv)
    assert plain.decode() == ICS


async def _encrypted_file(user: EncryptedUser, room: str, sender: str,
                          timeout: float = 15) -> RoomEncryptedFile:
    """The room's encrypted file event from `sender`, as the user's client decrypts it."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await user.client.room_messages(room, limit=20)
        assert isinstance(answer, RoomMessagesResponse), answer
        files = [e for e in answer.chunk
                 if isinstance(e, RoomEncryptedFile) and e.sender == sender]
        if files:
            [file] = files
            return file
        assert time.monotonic() < deadline, "no decryptable file event arrived"
        await user.sync(timeout_ms=300)


async def test_a_retried_announcement_shows_text_and_file_once(hub: Hub) -> None:
    alice = await hub.person()
    room = await hub.dm(alice)
    item = OutboxItem(id=9001, network=Network.MATRIX, address=alice.user_id,
                      kind="announcement", payload=announcement(), priority=0, attempts=0,
                      created_at=utc_now())
    # As after a crash between sending and recording: the same row is sent again.
    first = await channel(hub).send(item)
    again = await channel(hub).send(item)
    assert first == again
    await alice.wait_for_messages(room, 2)
    await asyncio.sleep(1)
    await alice.sync()
    assert [m.content["msgtype"] for m in alice.messages_in(room)] == ["m.text", "m.file"]


async def test_an_oversized_attachment_fails_for_good_and_nothing_is_sent(hub: Hub) -> None:
    alice = await hub.person()
    room = await hub.dm(alice)
    item = OutboxItem(id=9002, network=Network.MATRIX, address=alice.user_id,
                      kind="announcement",
                      payload=announcement(ics="X" * (MAX_ATTACHMENT_BYTES + 1)), priority=0,
                      attempts=0, created_at=utc_now())
    with pytest.raises(DeliveryError) as refused:
        await channel(hub).send(item)
    assert not refused.value.transient and "meeting-3.ics" in refused.value.reason
    await asyncio.sleep(1)
    await alice.sync()
    assert alice.messages_in(room) == []


LONG_TEXT = "\n".join(f"Agenda item {n}: " + "details " * 20 for n in range(600))  # 106 KB


def agenda_items(text: str) -> list[str]:
    return [line.split(":")[0] for line in text.splitlines() if line.startswith("Agenda item")]


async def test_a_long_announcement_arrives_whole_in_several_events_its_answers_last(
        hub: Hub) -> None:
    alice = await hub.person()
    room = await hub.dm(alice)
    queue(hub, alice.user_id, announcement(text=LONG_TEXT), "announcement-long")
    *parts, file = await alice.wait_until(
        lambda: (got := alice.messages_in(room)) and got[-1].content["msgtype"] == "m.file"
        and got, 30)
    assert len(parts) >= 2 and file.body == "meeting-3.ics"
    assert agenda_items("\n".join(p.body for p in parts)) == agenda_items(LONG_TEXT)
    assert parts[-1].body.endswith(ANSWERS)
    assert (parts[-1].formatted_body or "").endswith(ANSWERS)
    assert not any(ANSWERS in p.body for p in parts[:-1])


async def test_a_long_announcement_fits_the_event_limit_encrypted_too(
    hub: Hub, people: list[EncryptedUser], tmp_path: Path
) -> None:
    bob = await person(hub, people, tmp_path)
    room = await bob.open_encrypted_dm(hub.bot_id)
    assert hub.bot is not None
    code = create_invite(hub.bot.store, "Klinikum Nord", utc_now())
    assert "now linked" in (await bob.say(room, f"/start {code}"))[2]
    queue(hub, bob.user_id, announcement(text=LONG_TEXT), "announcement-long-bob")
    # Encrypted, each event's content travels as base64: a third bigger than in plaintext.
    await bob.wait_until(lambda: bob.texts_in(room)[-1][2].endswith(ANSWERS), 30)
    parts = bob.texts_in(room)[1:]
    assert len(parts) >= 2 and all(decrypted for *_, decrypted in parts)
    assert agenda_items("\n".join(body for _, _, body, _ in parts)) == agenda_items(LONG_TEXT)


async def test_yes_in_a_direct_room_is_answered_plain_chat_is_not(hub: Hub) -> None:
    carol = await hub.person()
    room = await hub.dm(carol)
    await hub.link(carol, room, "Klinikum Nord")
    for reply in ("yes", "  No 12 "):
        before = len(carol.messages_in(room))
        await carol.send(room, reply)
        answers = await carol.wait_for_messages(room, before + 1)
        answer = answers[-1]
        assert answer.sender == hub.bot_id and answer.content["msgtype"] == "m.notice"
    count = len(carol.messages_in(room))
    for chatter in ("hello", "yes please", "no way"):
        await carol.send(room, chatter)
    await asyncio.sleep(1.5)
    await carol.sync()
    assert len(carol.messages_in(room)) == count


async def test_yes_in_a_hub_room_is_not_answered(hub: Hub) -> None:
    coordinator = await hub.person()
    room = await hub.hub_room(coordinator, "Hub announcements", max_tlp=Tlp.CLEAR)
    await coordinator.send(room, "yes")
    await asyncio.sleep(1.5)
    await coordinator.sync()
    assert not [m for m in coordinator.messages_in(room) if m.sender == hub.bot_id]

