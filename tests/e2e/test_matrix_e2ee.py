"""End-to-end encryption in Matrix: the real bot and a person's own encrypting nio client on a
real Synapse. The person's client has its own olm store; what travels is `m.room.encrypted`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import vodozemac
from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    MegolmEvent,
    RoomMessageNotice,
    RoomMessageText,
    SyncResponse,
)

from bot.channels.matrix import MatrixChannel
from bot.channels.matrix_client import MatrixConfig, MatrixSession
from bot.channels.matrix_cross_signing import KEYS_FILE, canonical_json
from bot.channels.matrix_sync import UNREADABLE
from bot.domain.clock import utc_now
from bot.domain.members import Network
from bot.domain.outbox_payload import ReplyMessage
from bot.domain.queued_messages import OutboxItem
from bot.outbox.channel import DeliveryError
from bot.services import registrations
from bot.services.direct_rooms import DirectRooms
from bot.services.invites import create_invite
from tests.e2e.test_matrix import DRAEGER
from tests.support.feedserver import rss
from tests.support.homeserver import Account, Synapse
from tests.support.matrix_hub import Hub

ENCRYPTION = {"type": "m.room.encryption", "state_key": "",
              "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


class EncryptedUser:
    """A person whose nio client encrypts: its own store, keys uploaded, claimed, queried."""

    def __init__(self, server: Synapse, account: Account, store: Path) -> None:
        self.server = server
        self.account = account
        store.mkdir(parents=True, exist_ok=True)
        config = AsyncClientConfig(max_limit_exceeded=0, max_timeouts=2,
                                   encryption_enabled=True, store_sync_tokens=False)
        self.client = AsyncClient(server.url, account.user_id, store_path=str(store),
                                  config=config)
        self.client.restore_login(account.user_id, account.device_id, account.access_token)
        assert self.client.olm is not None, "the test client must encrypt"
        # Text from others as the client read it: (room, event id, body, was it encrypted).
        self.texts: list[tuple[str, str, str, bool]] = []
        self.undecrypted: list[tuple[str, MegolmEvent]] = []

    @property
    def user_id(self) -> str:
        return self.account.user_id

    async def sync(self, timeout_ms: int = 0) -> None:
        client = self.client
        answer = await client.sync(timeout=timeout_ms)
        assert isinstance(answer, SyncResponse), answer
        for room_id, info in answer.rooms.join.items():
            for event in info.timeline.events:
                if getattr(event, "sender", None) == self.user_id:
                    continue
                if isinstance(event, (RoomMessageText, RoomMessageNotice)):
                    self.texts.append((room_id, event.event_id, event.body, event.decrypted))
                elif isinstance(event, MegolmEvent):
                    self.undecrypted.append((room_id, event))
        await client.send_to_device_messages()
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        for room_id, megolm in list(self.undecrypted):  # its room key came after it
            try:
                event = client.decrypt_event(megolm)
            except EncryptionError:
                continue
            self.undecrypted.remove((room_id, megolm))
            if isinstance(event, (RoomMessageText, RoomMessageNotice)):
                self.texts.append((room_id, event.event_id, event.body, event.decrypted))

    async def wait_until(self, done: Any, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := done()):
            assert time.monotonic() < deadline, f"timed out; read {self.texts!r}"
            await self.sync(timeout_ms=300)
        return value

    def texts_in(self, room_id: str) -> list[tuple[str, str, str, bool]]:
        return [t for t in self.texts if t[0] == room_id]

    async def open_encrypted_dm(self, bot_id: str) -> str:
        answer = await self.client.room_create(is_direct=True, invite=[bot_id],
                                               initial_state=[ENCRYPTION])
        room_id = str(answer.room_id)

        def bot_joined() -> bool:
            room = self.client.rooms.get(room_id)
            return room is not None and room.encrypted and bot_id in room.users and not (
                room.users[bot_id].invited)

        await self.wait_until(bot_joined)
        return room_id

    async def send(self, room_id: str, text: str) -> str:
        answer = await self.client.room_send(room_id, "m.room.message",
                                             {"msgtype": "m.text", "body": text},
                                             ignore_unverified_devices=True)
        return str(answer.event_id)

    async def say(self, room_id: str, text: str) -> tuple[str, str, str, bool]:
        """Send encrypted; returns the bot's next answer (room, event id, body, encrypted)."""
        before = len(self.texts_in(room_id))
        await self.send(room_id, text)
        await self.wait_until(lambda: len(self.texts_in(room_id)) > before)
        return self.texts_in(room_id)[before]

    async def raw_event(self, room_id: str, event_id: str) -> dict[str, Any]:
        """The event as the server has it (what went over the wire), not decrypted."""
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(
                f"{self.server.url}/_matrix/client/v3/rooms/{room_id}/event/{event_id}",
                headers={"Authorization": f"Bearer {self.account.access_token}"})
        answer.raise_for_status()
        return dict(answer.json())

    async def close(self) -> None:
        await self.client.close()


@pytest.fixture
async def hub(matrix_hub: Hub) -> AsyncIterator[tuple[Hub, list[EncryptedUser]]]:
    bot = await matrix_hub.start()
    registrations.add_member(bot.store, "Klinikum Nord", [], utc_now())
    people: list[EncryptedUser] = []
    try:
        yield matrix_hub, people
    finally:
        for person in people:
            await person.close()


async def person(hub: Hub, people: list[EncryptedUser], tmp_path: Path) -> EncryptedUser:
    account = hub.synapse.register()
    user = EncryptedUser(hub.synapse, account, tmp_path / account.user_id.split(":")[0][1:])
    people.append(user)
    await user.sync()
    return user


async def test_encrypted_direct_chat_link_subscribe_alert_and_restart(
    hub: tuple[Hub, list[EncryptedUser]], tmp_path: Path
) -> None:
    hub_, people = hub
    alice = await person(hub_, people, tmp_path)
    room = await alice.open_encrypted_dm(hub_.bot_id)
    assert hub_.bot is not None
    code = create_invite(hub_.bot.store, "Klinikum Nord", utc_now())
    _, answer_id, body, encrypted = await alice.say(room, f"/start {code}")
    assert "now linked" in body and encrypted
    assert (await alice.raw_event(room, answer_id))["type"] == "m.room.encrypted"
    _, _, body, encrypted = await alice.say(room, "/subscribe Dräger | Infinity Delta")
    assert "Added Dräger | Infinity Delta" in body and encrypted

    hub_.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub_.bot.poll_all()
    await alice.wait_until(lambda: len(alice.texts_in(room)) >= 3)
    _, alert_id, alert, encrypted = alice.texts_in(room)[2]
    assert alert.startswith("[CRITICAL (CVSS 9.8)] Dräger Infinity Delta: remote code")
    assert encrypted
    raw = await alice.raw_event(room, alert_id)
    assert raw["type"] == "m.room.encrypted"
    assert raw["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert "Dräger" not in json.dumps(raw, ensure_ascii=False)  # no plaintext on the wire

    device = hub_.gateway.session.client.device_id
    await hub_.stop()
    await hub_.start()
    assert hub_.gateway.session.client.device_id == device  # same device, same keys
    _, _, body, encrypted = await alice.say(room, "/products")
    assert "Dräger | Infinity Delta" in body and encrypted


async def test_unreadable_message_is_asked_for_again_once(
    hub: tuple[Hub, list[EncryptedUser]], tmp_path: Path
) -> None:
    hub_, people = hub
    bob = await person(hub_, people, tmp_path)
    room = await bob.open_encrypted_dm(hub_.bot_id)
    hub_.gateway.key_wait = 1.0
    # A megolm session whose key never reaches the bot (as if sent before its device existed).
    session = vodozemac.GroupSession()
    olm = bob.client.olm
    assert olm is not None

    async def send_unreadable(text: str) -> None:
        plaintext = json.dumps({"type": "m.room.message", "room_id": room,
                                "content": {"msgtype": "m.text", "body": text}}).encode()
        content = {"algorithm": "m.megolm.v1.aes-sha2",
                   "sender_key": olm.account.identity_keys["curve25519"],
                   "device_id": bob.client.device_id, "session_id": session.session_id,
                   "ciphertext": session.encrypt(plaintext).to_base64()}
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.put(
                f"{hub_.synapse.url}/_matrix/client/v3/rooms/{room}/send/m.room.encrypted/"
                f"t{time.monotonic_ns()}", json=content,
                headers={"Authorization": f"Bearer {bob.account.access_token}"})
        answer.raise_for_status()

    await send_unreadable("/products")
    await asyncio.sleep(1.5)
    await send_unreadable("/help")  # same session: wakes the bot's sync; still one answer
    answers = await bob.wait_until(lambda: [t for t in bob.texts_in(room) if t[2] == UNREADABLE])
    assert len(answers) == 1 and answers[0][3]  # the apology is encrypted too
    await asyncio.sleep(2)
    await bob.send(room, "/help")  # a readable message still works, and no second apology
    await bob.wait_until(lambda: len(bob.texts_in(room)) >= 2)
    assert [t[2] for t in bob.texts_in(room)].count(UNREADABLE) == 1


def _verify(signed: dict[str, Any], user_id: str, signer_public: str) -> None:
    """`signed` carries a valid Ed25519 signature by `signer_public` (checked, not just there)."""
    signature = signed["signatures"][user_id][f"ed25519:{signer_public}"]
    payload = {k: v for k, v in signed.items() if k not in ("signatures", "unsigned")}
    vodozemac.Ed25519PublicKey.from_base64(signer_public).verify_signature(
        canonical_json(payload), vodozemac.Ed25519Signature.from_base64(signature))


async def _query(hub: Hub, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(f"{hub.synapse.url}/_matrix/client/v3/keys/query",
                                 json={"device_keys": {hub.bot_id: []}},
                                 headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    return dict(answer.json())


def _check_cross_signed(keys: dict[str, Any], user_id: str, device_id: str) -> tuple[str, str]:
    master = keys["master_keys"][user_id]
    ssk = keys["self_signing_keys"][user_id]
    assert master["usage"] == ["master"] and ssk["usage"] == ["self_signing"]
    [master_public] = master["keys"].values()
    [ssk_public] = ssk["keys"].values()
    _verify(ssk, user_id, master_public)
    _verify(keys["device_keys"][user_id][device_id], user_id, ssk_public)
    with pytest.raises(Exception):  # noqa: B017 (a wrong key must not verify)
        _verify({**ssk, "signatures": {user_id: {f"ed25519:{ssk_public}": next(iter(
            ssk["signatures"][user_id].values()))}}}, user_id, ssk_public)
    return master_public, ssk_public


async def test_the_bots_device_is_cross_signed_and_stays_so(
    hub: tuple[Hub, list[EncryptedUser]], caplog: pytest.LogCaptureFixture
) -> None:
    hub_, _ = hub
    other = hub_.synapse.register()
    session = hub_.gateway.session
    device = str(session.client.device_id)
    assert session.cross_signed
    master, ssk = _check_cross_signed(await _query(hub_, other.access_token), hub_.bot_id,
                                      device)
    keys_file = session.config.store_path / KEYS_FILE
    assert keys_file.stat().st_mode & 0o777 == 0o600
    assert (session.config.store_path / "pickle_key").stat().st_mode & 0o777 == 0o600

    # A restart keeps the keys; a new login (a new device) is signed by the same key.
    await hub_.stop()
    caplog.clear()
    await hub_.start()
    assert hub_.gateway.session.client.device_id == device
    assert hub_.gateway.session.cross_signed
    assert not [m for m in caplog.messages if "cross-signing keys uploaded" in m
                or "signed with the self-signing key" in m]  # nothing uploaded again
    await hub_.stop()
    (session.config.store_path / "credentials.json").unlink()
    await hub_.start()
    new_device = str(hub_.gateway.session.client.device_id)
    assert new_device != device
    keys = await _query(hub_, other.access_token)
    assert _check_cross_signed(keys, hub_.bot_id, new_device) == (master, ssk)


async def test_without_encryption_nothing_goes_into_an_encrypted_room_in_plaintext(
    hub: tuple[Hub, list[EncryptedUser]], tmp_path: Path
) -> None:
    hub_, people = hub
    carol = await person(hub_, people, tmp_path)
    room = await carol.open_encrypted_dm(hub_.bot_id)
    # A second session of the bot's account whose encryption is off (as if nio[e2e] were
    # missing): it must refuse the encrypted room, whether it has synced the room or not.
    config = MatrixConfig(homeserver=hub_.synapse.url, user=hub_.bot_id,
                          store_path=tmp_path / "plain", password=hub_.bot_account.password,
                          encryption=False)
    session = MatrixSession(config)
    try:
        await session.connect()
        assert not session.encryption_ready
        assert hub_.bot is not None
        channel = MatrixChannel(session, DirectRooms(hub_.bot.boundary, utc_now))
        item = OutboxItem(id=1, network=Network.MATRIX, address=room, kind="reply",
                          payload=ReplyMessage("secret"), priority=0, attempts=0,
                          created_at=utc_now())
        with pytest.raises(DeliveryError) as refused:
            await channel.send(item)
        assert not refused.value.transient and "not sending in plaintext" in refused.value.reason
        await session.client.sync(timeout=0, full_state=True)
        assert session.client.rooms[room].encrypted
        with pytest.raises(DeliveryError) as refused:
            await channel.send(item)
        assert not refused.value.transient
    finally:
        await session.close()
    await asyncio.sleep(0.5)
    await carol.sync()
    assert not [t for t in carol.texts_in(room) if "secret" in t[2]]
