"""Matrix, inbound: the bot's own sync loop. Commands (and a bare "yes"/"no" confirming an
announcement) in direct rooms go to the network-independent command service; so do plain texts,
photos and files, but only from a person the service expects an answer from (an open report):
other chatter is ignored, so the bot never talks on with another bot. Invites are accepted for
direct chats and hub rooms and declined otherwise.

The bot owns its sync token: it is saved only after every event of a sync response was handled,
so a crash replays the last batch instead of losing it, and the command service skips event ids
it handled before (the event id is the update key).

Encryption: the loop does what nio's `sync_forever` would after each sync (send queued to-device
messages, upload, query and claim keys). A message the bot cannot decrypt yet is kept by its
session id, the room key is requested once per session, and decrypting is retried after every
sync (a key arrives as a to-device event); a message that stays unreadable is answered once,
asking the sender to send it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nio import (
    EncryptionError,
    InviteMemberEvent,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    RoomEncryptedMedia,
    RoomGetStateResponse,
    RoomMemberEvent,
    RoomMessageMedia,
    RoomMessageText,
    StickerEvent,
    SyncError,
    SyncResponse,
)

from bot.channels.matrix import MatrixChannel
from bot.channels.matrix_client import MatrixLoginError, MatrixSession
from bot.domain.coordination_commands import parse_confirmation
from bot.domain.language import N_, _, speaking
from bot.domain.members import Network
from bot.services.ports.chat import DirectRoomBook, IncomingCommands, Sender

log = logging.getLogger(__name__)

SORRY = N_("Sorry, something went wrong on my side and your command was not done. Please try "
           "again.")
# Without a saved sync token (a new store), older messages in the rooms are history, not commands.
FIRST_SYNC_HORIZON_MS = 10 * 60 * 1000
# Enough timeline per room that a short outage needs no paging back.
SYNC_FILTER = {"room": {"timeline": {"limit": 100}}, "presence": {"types": []}}
MAX_BACKOFF = 60.0
UNREADABLE = N_("I could not read your message (it was encrypted before I could decrypt it); "
                "please send it again.")
# How long the bot waits for a missing room key before it asks for the message again.
KEY_WAIT = 20.0
NO_LONGER_PRIVATE = N_("Someone else is in this chat now, so it is no longer private: I am "
                       "leaving it. Alerts and answers come in a new direct chat with me.")

Handler = Callable[..., Awaitable[None]]
# What a person may send that is not text: images, files, videos, audio (plain or encrypted).
MEDIA = (RoomMessageMedia, RoomEncryptedMedia, StickerEvent)


class MatrixGateway:
    """Runs the sync loop inside the bot's event loop; every callback is guarded."""

    def __init__(
        self,
        session: MatrixSession,
        channel: MatrixChannel,
        commands: IncomingCommands,
        rooms: DirectRoomBook,
        on_answer: Callable[[], None] = lambda: None,
    ) -> None:
        self.session = session
        self._channel = channel
        self._commands = commands
        self._rooms = rooms
        self._on_answer = on_answer
        self._token: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._oldest_ms = 0
        self.synced = asyncio.Event()  # set after each completed sync (tests wait on it)
        client = session.client
        client.add_event_callback(self._guard(self._on_invite), InviteMemberEvent)
        client.add_event_callback(self._guard(self._on_message), RoomMessageText)
        client.add_event_callback(self._guard(self._on_media), MEDIA)
        client.add_event_callback(self._guard(self._on_member), RoomMemberEvent)
        client.add_event_callback(self._guard(self._on_undecrypted), MegolmEvent)
        self._receiving = False
        # Undecryptable messages by session id: (room, event, when first seen).
        self._undecrypted: dict[str, list[tuple[MatrixRoom, MegolmEvent, float]]] = {}
        self._key_requested: set[str] = set()
        self.key_wait = KEY_WAIT

    async def start(self, receive: bool = True) -> None:
        """Log in (or restore), sync once with full state; with `receive`, keep syncing."""
        await self.session.connect()
        self._token = self.session.load_sync_token()
        if self._token is None:
            self._oldest_ms = int(time.time() * 1000) - FIRST_SYNC_HORIZON_MS
        self._receiving = receive
        # nio keeps no rooms between runs: learn them (and take what came while down) first.
        await self._sync_once(timeout_ms=0, full_state=True)
        if receive:
            self._task = asyncio.create_task(self._run(), name="matrix-sync")
            log.info("Matrix: syncing as %s", self.session.user_id)

    async def stop_receiving(self) -> None:
        """Take no new commands (shutdown begins); sending still works until `stop`."""
        self._receiving = False
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stop(self) -> None:
        await self.stop_receiving()
        await self.session.close()

    async def _run(self) -> None:
        """Sync until cancelled; errors back off, an expired token logs in again."""
        backoff = 1.0
        while True:
            try:
                ok = await self._sync_once(self.session.config.sync_timeout_ms)
            except asyncio.CancelledError:
                raise
            except MatrixLoginError as exc:
                log.error("%s", exc)
                ok = False
                backoff = MAX_BACKOFF
            except Exception as exc:
                log.warning("Matrix: sync failed (%s); retrying in %.0f s",
                            type(exc).__name__, backoff)
                ok = False
            if ok:
                backoff = 1.0
            else:
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)

    async def _sync_once(self, timeout_ms: int, full_state: bool = False) -> bool:
        """One sync; the callbacks run inside it; the token is saved only after them."""
        client = self.session.client
        # nio skips a response whose next_batch it has seen: after a failed batch, forget it.
        client.next_batch = self._token
        answer = await client.sync(timeout=timeout_ms, since=self._token, full_state=full_state,
                                   sync_filter=SYNC_FILTER)
        if isinstance(answer, SyncError):
            if answer.status_code == "M_UNKNOWN_TOKEN":
                log.warning("Matrix: the access token was refused; logging in again")
                await self.session.relogin()
                return True
            log.warning("Matrix: sync refused (%s %s)", answer.status_code, answer.message)
            return False
        assert isinstance(answer, SyncResponse)
        if self._receiving:
            await self._leave_shared_direct_rooms(answer)
        await self._keep_keys()
        await self._retry_undecrypted()
        if self._receiving:
            self._token = answer.next_batch
            self.session.save_sync_token(answer.next_batch)
            self._oldest_ms = 0
        self.synced.set()
        self.synced.clear()
        return True

    async def _keep_keys(self) -> None:
        """What nio's sync_forever does after a sync: to-device messages, key upload/query/claim."""
        client = self.session.client
        if client.olm is None:
            return
        try:
            await client.send_to_device_messages()
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
        except (LocalProtocolError, EncryptionError) as exc:
            log.warning("Matrix: key maintenance failed (%s); retrying after the next sync", exc)

    async def _on_undecrypted(self, room: MatrixRoom, event: MegolmEvent) -> None:
        """A message the bot cannot decrypt yet: keep it, ask the sender's devices for the key."""
        if event.sender == room.own_user_id or event.server_timestamp < self._oldest_ms:
            return
        if not self._is_direct(room):
            return  # only direct chats take commands; a hub room's chatter is not ours
        kept = self._undecrypted.setdefault(event.session_id, [])
        if any(e.event_id == event.event_id for _room, e, _since in kept):
            return
        kept.append((room, event, time.monotonic()))
        log.info("Matrix: cannot decrypt %s in %s yet (session %s)", event.event_id,
                 room.room_id, event.session_id)
        if event.session_id not in self._key_requested:
            self._key_requested.add(event.session_id)
            with contextlib.suppress(LocalProtocolError):  # nio: requested already
                await self.session.client.request_room_key(event)

    async def _retry_undecrypted(self) -> None:
        """Decrypt what the room keys that came meanwhile open; ask again for what stays shut."""
        if not self._undecrypted:
            return
        client = self.session.client
        now = time.monotonic()
        for session_id, kept in list(self._undecrypted.items()):
            waiting = []
            for room, event, since in kept:
                try:
                    decrypted = client.decrypt_event(event)
                except (EncryptionError, LocalProtocolError):
                    waiting.append((room, event, since))
                    continue
                if isinstance(decrypted, RoomMessageText) and self._receiving:
                    await self._guard(self._on_message)(room, decrypted)
                elif isinstance(decrypted, MEDIA) and self._receiving:
                    await self._guard(self._on_media)(room, decrypted)
            if not waiting:
                del self._undecrypted[session_id]
            elif now - min(since for _, _, since in waiting) > self.key_wait:
                # The key is not coming (encrypted before the bot's device existed): ask once.
                del self._undecrypted[session_id]
                writers = {r.room_id: e.sender for r, e, _since in waiting}
                for room_id in sorted(writers):
                    log.warning("Matrix: a message from a contact in %s stayed unreadable; "
                                "asking for it again", room_id)
                    await self._tell(room_id, UNREADABLE, writers[room_id])
            else:
                self._undecrypted[session_id] = waiting

    def _guard(self, handler: Handler) -> Handler:
        """An exception in a callback would end nio's sync: log it with the event id instead."""

        async def guarded(room: MatrixRoom, event: Any) -> None:
            if not self._receiving:
                return
            try:
                await handler(room, event)
            except Exception:
                log.exception("Matrix: handling event %s in %s failed",
                              getattr(event, "event_id", "-"), room.room_id)

        return guarded

    async def hub_rooms(self) -> set[str]:
        """Room ids of the configured hub rooms (aliases resolved)."""
        addresses = await self._rooms.hub_addresses()
        rooms = {a for a in addresses if a.startswith("!")}
        for alias in (a for a in addresses if a.startswith("#")):
            room_id = await self._channel.resolve_alias(alias)
            if room_id:
                rooms.add(room_id)
        return rooms

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        client = self.session.client
        if event.state_key != client.user_id or event.membership != "invite":
            return
        if room.room_id in await self.hub_rooms():
            await self._join(room.room_id, "a hub room")
        elif event.content.get("is_direct") is True:
            # Anyone may open a direct chat: that is how a new user sends /start CODE. An
            # unlinked user is only ever told how to get linked (the command service decides).
            async with self._channel.room_lock(event.sender):
                if not await self._join(room.room_id, "a direct chat"):
                    return
                private = await self._private(room.room_id)
                if private:
                    await self._rooms.remember(event.sender, room.room_id)
            if not private:  # "direct" with others invited: no private chat, never the contact's
                log.info("Matrix: the direct chat %s has more than two members; leaving it",
                         room.room_id)
                self._channel.left(room.room_id)
                await client.room_leave(room.room_id)
        else:
            log.info("Matrix: declining an invite to %s (neither direct nor a hub room)",
                     room.room_id)
            await client.room_leave(room.room_id)

    async def _join(self, room_id: str, what: str) -> bool:
        answer = await self.session.client.join(room_id)
        if getattr(answer, "room_id", None) != room_id:
            log.warning("Matrix: could not join %s %s: %s", what, room_id, answer)
            return False
        self._channel.joined(room_id)
        log.info("Matrix: joined %s %s", what, room_id)
        return True

    async def _private(self, room_id: str) -> bool:
        """The room just joined holds only the bot and one person (joined or invited), read
        from the server: the sync that tells it comes later. False when that cannot be read."""
        answer = await self.session.client.room_get_state(room_id)
        if not isinstance(answer, RoomGetStateResponse):
            log.warning("Matrix: could not read who is in %s (%s)", room_id, answer)
            return False
        members = {e.get("state_key") for e in answer.events
                   if e.get("type") == "m.room.member"
                   and e.get("content", {}).get("membership") in ("join", "invite")}
        return len(members) <= 2

    async def _on_member(self, room: MatrixRoom, event: RoomMemberEvent) -> None:
        if event.membership not in ("leave", "ban") or event.state_key == room.own_user_id:
            return
        if not await self._rooms.forget_if_left(room.room_id, event.state_key):
            return
        # The user closed the direct chat: leave it; the next message opens a new one.
        self._channel.left(room.room_id)
        await self.session.client.room_leave(room.room_id)
        log.info("Matrix: a contact left direct room %s; left it too", room.room_id)

    async def _on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == room.own_user_id or event.server_timestamp < self._oldest_ms:
            return
        text = event.body.strip()
        if text.startswith("!"):  # Element runs "/…" itself; "!…" is the usual bot prefix
            text = "/" + text[1:]
        if not self._is_direct(room):
            return
        sender = Sender(Network.MATRIX, event.sender, room.room_id)
        # Commands and a bare "yes"/"no" (a coordinator confirming an announcement), read by
        # the service's own parser so the two never disagree; other plain text only as the
        # answer to an open report: answering any text could start an endless talk with
        # another bot.
        command = text.startswith("/") or parse_confirmation(text) is not None
        if not command and not await self._expects_text(sender):
            return
        if room.room_id in await self.hub_rooms():
            return  # hub rooms are never answered
        await self._hand_on(room, event.event_id, sender, text)

    async def _on_media(self, room: MatrixRoom, event: Any) -> None:
        """A photo, file, video or audio: refused by the service (it takes text only, and asks
        the report's question again) when it is sent during a report; otherwise ignored, like
        other chatter. Its content is never downloaded."""
        if event.sender == room.own_user_id or event.server_timestamp < self._oldest_ms \
                or not self._is_direct(room):
            return
        sender = Sender(Network.MATRIX, event.sender, room.room_id)
        if not await self._expects_text(sender) or room.room_id in await self.hub_rooms():
            return
        await self._hand_on(room, event.event_id, sender, "", attachment=True)

    async def _expects_text(self, sender: Sender) -> bool:
        return await asyncio.to_thread(self._commands.expects_text, sender)

    async def _hand_on(self, room: MatrixRoom, event_id: str, sender: Sender, text: str,
                       attachment: bool = False) -> None:
        """Give the message to the command service, off the event loop (the event id is the
        update key); a failure is told to the sender."""
        try:
            answer = await asyncio.to_thread(self._commands.handle, sender, text, event_id,
                                             attachment=attachment)
        except Exception:
            log.exception("Matrix: command %s in %s failed", event_id, room.room_id)
            await self._tell(room.room_id, SORRY, sender.address)
            return
        await self._rooms.remember(sender.address, room.room_id)
        if answer is not None:
            self._on_answer()

    @staticmethod
    def _is_direct(room: MatrixRoom) -> bool:
        """Only the bot and one person (joined or invited): answers are private there."""
        return bool(room.member_count <= 2 and len(room.users) <= 2)

    async def _leave_shared_direct_rooms(self, answer: SyncResponse) -> None:
        """A contact's direct room that gained a third member (joined or only invited) is no
        longer private: it is forgotten for the contact (their next message opens a new direct
        room), told why, and left, so nothing of theirs goes there and nothing is answered."""
        client = self.session.client
        crowded = [room_id for room_id in answer.rooms.join
                   if (room := client.rooms.get(room_id)) is not None
                   and not self._is_direct(room)]
        if not crowded:
            return
        shared = await self._rooms.forget_shared(crowded)
        for room_id, user_id in shared.items():
            log.warning("Matrix: direct room %s gained another member; it is no longer used for "
                        "its contact, and the bot leaves it", room_id)
            await self._tell(room_id, NO_LONGER_PRIVATE, user_id)
            self._channel.left(room_id)
            await client.room_leave(room_id)

    async def _tell(self, room_id: str, message: str, user_id: str) -> None:
        """Straight to the room, not via the outbox: the store may be what failed. `message`
        (declared with N_) is written in the user's language."""
        room = self.session.client.rooms.get(room_id)
        if room is not None and room.encrypted and not self.session.encryption_ready:
            log.error("Matrix: not answering in plaintext in the encrypted room %s", room_id)
            return
        language = await asyncio.to_thread(self._commands.language_of,
                                           Sender(Network.MATRIX, user_id, room_id))
        with speaking(language):
            text = _(message)
        try:
            await self.session.client.room_send(
                room_id, "m.room.message", {"msgtype": "m.notice", "body": text},
                ignore_unverified_devices=True)
        except Exception:
            log.warning("Matrix: could not tell the user about the failure")
