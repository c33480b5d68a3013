"""Matrix, outbound: outbox messages as `m.room.message` events with a plain `body` and HTML.

An outbox address is a room id (`!…`), a room alias (`#…`, hub rooms) or a user id (`@…`, a
member's contact): a user is reached in their direct room, opened on the first message if none.
Each outbox row is sent with the transaction id `hubbot-<row id>`, so a retried send (after a
timeout, or a crash between sending and recording it) is de-duplicated by the homeserver.

A payload's buttons are shown as the commands they would send ("Answer: !rsvp 3 yes · …"); its
attachment (a meeting's .ics) follows the text as an `m.file` event with the transaction id
`hubbot-<row id>-file`, so a retry after a failure between the two shows each once.

Into an encrypted room a message goes encrypted (nio shares the room key with every device of the
members, `ignore_unverified_devices`), and never in plaintext: without a working olm machine such
a message fails for good with the reason. So too a file: uploaded encrypted (the keys go in the
encrypted event's `file`, never in plaintext to the media repository) or not at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from html import escape, unescape
from typing import Any

import aiohttp
from nio import (
    EncryptionError,
    ErrorResponse,
    JoinError,
    LocalProtocolError,
    RoomCreateError,
    RoomPreset,
    RoomResolveAliasResponse,
    RoomSendResponse,
    SendRetryError,
    UploadResponse,
)

from bot.channels.matrix_client import EncryptionUnavailable, MatrixSession
from bot.domain.language import speaking
from bot.domain.members import Network
from bot.domain.message_parts import split_lines, visible_text
from bot.domain.outbox_payload import AlertMessage, Attachment, OutboxPayload, ReplyMessage
from bot.domain.queued_messages import OutboxItem
from bot.domain.rendering import (
    alert_ref_line,
    button_hint_lines,
    chat_message_lines,
    payload_attachment,
    render_alert_text,
    with_command_prefix,
)
from bot.outbox.channel import DeliveryError, rendering
from bot.services.ports.chat import DirectRoomBook

log = logging.getLogger(__name__)

# Synapse refuses an event over 65,536 bytes, counted with everything the server adds (ids,
# hashes, signatures: about 1.5 KB). In an encrypted room the content travels as base64 of
# its encrypted JSON (4/3 of it), so the content, measured as nio writes it (non-ASCII
# escaped, never shorter than the canonical UTF-8 form), stays under 3/4 of what is left.
MAX_CONTENT_BYTES = 45_000
# Attachments are small text files (a meeting's .ics); anything bigger is a mistake upstream.
MAX_ATTACHMENT_BYTES = 1_000_000
_GONE = {"M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_ROOM"}
_LINE_BREAK = "<br>\n"


def content_bytes(content: dict[str, Any]) -> int:
    """The size of an event's content as nio sends it (ASCII JSON, the larger form)."""
    return len(json.dumps(content))


def json_length(text: str) -> int:
    """The bytes `text` takes inside a JSON string as nio writes it (non-ASCII escaped)."""
    return len(json.dumps(text)) - 2


def message_contents(payload: OutboxPayload) -> list[dict[str, Any]]:
    """The events that carry the payload, in the reader's language: one, or several when it is
    too big for one event."""
    with speaking(payload.language):
        return _contents(payload)


def message_content(payload: OutboxPayload) -> dict[str, Any]:
    """The first (usually the only) event of the payload."""
    return message_contents(payload)[0]


def _contents(payload: OutboxPayload) -> list[dict[str, Any]]:
    """Plain `body` and HTML `formatted_body` (every feed string escaped).

    Alerts notify (`m.text`); answers and alerts to a muted chat are `m.notice`, which clients
    do not ring for and other bots do not answer. Matrix has no buttons: the commands they would
    send are shown as text, with "!" (Element runs "/…" itself), after the last part. A message
    too big for one event is cut into several (as on Telegram), each part's body the text of
    its HTML.
    """
    lines, _link = chat_message_lines(payload)  # the link is an anchor in the HTML already
    lines = [with_command_prefix(line, "!") for line in lines]
    if isinstance(payload, AlertMessage):
        body = render_alert_text(payload.alert, payload.zone)
        ref_line = alert_ref_line(payload)
        if ref_line:
            body += "\n" + ref_line
    else:
        body = payload.text
    body = with_command_prefix(body, "!")
    hints = button_hint_lines(payload, "!")
    body_hints = "\n\n" + "\n".join(hints) if hints else ""
    html_hints = _LINE_BREAK * 2 + _LINE_BREAK.join(escape(h) for h in hints) if hints else ""
    quiet = isinstance(payload, ReplyMessage) or (
        isinstance(payload, AlertMessage) and payload.silent)
    msgtype = "m.notice" if quiet else "m.text"

    def content(text: str, html: str) -> dict[str, Any]:
        return {"msgtype": msgtype, "body": text, "format": "org.matrix.custom.html",
                "formatted_body": html}

    whole = content(body + body_hints, _LINE_BREAK.join(lines) + html_hints)
    if content_bytes(whole) <= MAX_CONTENT_BYTES:
        return [whole]
    # Each part's body is its HTML's text, never longer in JSON than the HTML itself.
    room = (MAX_CONTENT_BYTES - content_bytes(content(body_hints, html_hints))) // 2
    parts = split_lines(lines, room, json_length, _LINE_BREAK)
    last = len(parts) - 1
    return [content(html_text(part) + (body_hints if i == last else ""),
                    part + (html_hints if i == last else ""))
            for i, part in enumerate(parts)]


def html_text(html: str) -> str:
    """The plain text of chat HTML made here (lines joined by <br>, text escaped)."""
    return unescape(visible_text(html.replace(_LINE_BREAK, "\n")))


class MatrixChannel:
    """Sends one outbox message into its room; opens a user's direct room when needed."""

    network = Network.MATRIX

    def __init__(self, session: MatrixSession, rooms: DirectRoomBook) -> None:
        self._session = session
        self._rooms = rooms
        self._aliases: dict[str, str] = {}
        self._joined: set[str] = set()
        self._room_locks: dict[str, asyncio.Lock] = {}
        # After a 429 every send waits: the limit is the account's, not the room's.
        self._paused_until = 0.0
        self.connected = True  # False while the homeserver cannot be reached or fails

    async def start(self) -> None:
        return None  # the gateway connects and syncs once before anything is sent

    async def stop(self) -> None:
        return None  # the gateway closes the client after the dispatcher finished

    async def send(self, item: OutboxItem) -> str | None:
        attachment = payload_attachment(item.payload)
        if attachment is not None and len(attachment.text.encode()) > MAX_ATTACHMENT_BYTES:
            raise DeliveryError(
                f"Matrix: the attachment {attachment.filename!r} is larger than "
                f"{MAX_ATTACHMENT_BYTES // 1_000_000} MB; nothing was sent", transient=False)
        with rendering():
            contents = message_contents(item.payload)
        room_id = await self.room_for(item.address)
        event_id = ""
        for index, content in enumerate(contents):
            # A retry sends the parts already delivered again with their transaction ids: the
            # homeserver shows each once.
            tx_id = f"hubbot-{item.id}" if index == 0 else f"hubbot-{item.id}-part{index + 1}"
            event_id = await self._send_event(item, room_id, content, tx_id)
        if attachment is not None:
            # The text is what matters: it goes first, even while the media repository fails.
            # A retry sends it again with the same transaction id (shown once) and uploads again.
            file_content = await self._upload(room_id, attachment)
            await self._send_event(item, room_id, file_content, f"hubbot-{item.id}-file")
        return f"matrix:{room_id}:{event_id}"

    async def _send_event(self, item: OutboxItem, room_id: str, content: dict[str, Any],
                          tx_id: str) -> str:
        """One `m.room.message` (encrypted in an encrypted room); returns its event id."""
        answer = await self._request(room_id, lambda: self._session.client.room_send(
            room_id, "m.room.message", content, tx_id=tx_id, ignore_unverified_devices=True,
        ))
        if isinstance(answer, RoomSendResponse):
            self.connected = True
            return str(answer.event_id)
        error = self._refused(answer, "send")
        if error.recipient_gone and item.address.startswith("@"):
            await self._rooms.forget_room(room_id)
        raise error

    async def _upload(self, room_id: str, attachment: Attachment) -> dict[str, Any]:
        """Upload the file (encrypted for an encrypted room); returns the `m.file` content."""
        data = attachment.text.encode()
        client = self._session.client
        encrypted = await self._request(room_id, lambda: client.room_encrypted(room_id))
        if encrypted and client.olm is None:
            raise DeliveryError("Matrix: the room is end-to-end encrypted but the bot's "
                                "encryption is not working; not uploading the file in plaintext",
                                transient=False)
        # nio uploads without a timeout; a stalled upload must not hold the dispatcher.
        answer, keys = await self._request(room_id, lambda: asyncio.wait_for(client.upload(
            lambda _limited, _timeouts: data, content_type=attachment.mime_type,
            filename=attachment.filename, encrypt=encrypted, filesize=len(data),
        ), self._session.config.request_timeout))
        if not isinstance(answer, UploadResponse):
            error = self._refused(answer, f"upload {attachment.filename!r}")
            if not error.transient or error.recipient_gone:
                # Refused by the media repository, not by the room: the room stays known.
                error = DeliveryError(f"{error.reason} (the text was sent, the file not)",
                                      transient=False)
            raise error
        content: dict[str, Any] = {
            "msgtype": "m.file", "body": attachment.filename, "filename": attachment.filename,
            "info": {"mimetype": attachment.mime_type, "size": len(data)},
        }
        if encrypted:  # the spec's EncryptedFile: the keys travel inside the encrypted event
            content["file"] = {"url": answer.content_uri, **(keys or {})}
        else:
            content["url"] = answer.content_uri
        return content

    async def _request(self, room_id: str, request: Callable[[], Awaitable[Any]]) -> Any:
        """Make a request after any 429 pause; a lost connection or failed encryption raises."""
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            return await request()
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.connected = False
            raise DeliveryError(f"Matrix: {type(exc).__name__}", transient=True) from None
        except EncryptionUnavailable as exc:
            log.error("%s (room %s)", exc, room_id)
            raise DeliveryError(str(exc), transient=False) from None
        except (EncryptionError, LocalProtocolError, SendRetryError) as exc:
            log.warning("Matrix: could not encrypt for %s (%s); retrying later", room_id, exc)
            raise DeliveryError(f"Matrix: encrypting failed: {exc}", transient=True,
                                retry_after=5.0) from None

    def _refused(self, answer: ErrorResponse, doing: str) -> DeliveryError:
        """The homeserver's error answer as a DeliveryError; a 429 pauses every send."""
        error = _delivery_error(answer, doing)
        status = getattr(answer.transport_response, "status", None)
        self.connected = status is not None and status < 500
        if error.retry_after:
            self._paused_until = max(self._paused_until, time.monotonic() + error.retry_after)
        return error

    async def room_for(self, address: str) -> str:
        """The room id to send to: a room as it is, an alias resolved, a user's direct room."""
        if address.startswith("@"):
            return await self._direct_room(address)
        room_id = await self._resolve(address) if address.startswith("#") else address
        if not room_id.startswith("!"):
            raise DeliveryError(f"Matrix: not a room or user: {address!r}", transient=False)
        await self._ensure_joined(room_id)
        return room_id

    def joined(self, room_id: str) -> None:
        """The gateway joined a room (an accepted invite)."""
        self._joined.add(room_id)

    def left(self, room_id: str) -> None:
        self._joined.discard(room_id)

    async def _resolve(self, alias: str) -> str:
        if alias not in self._aliases:
            answer = await self._call(self._session.client.room_resolve_alias(alias))
            if not isinstance(answer, RoomResolveAliasResponse):
                raise _delivery_error(answer, "resolve alias")
            self._aliases[alias] = answer.room_id
        return self._aliases[alias]

    async def resolve_alias(self, alias: str) -> str | None:
        """The room id of a hub room's alias, or None when the server does not know it."""
        try:
            return await self._resolve(alias)
        except DeliveryError:
            return None

    async def _ensure_joined(self, room_id: str) -> None:
        if room_id in self._joined or room_id in self._session.client.rooms:
            return
        # A hub room the bot was invited to before it ran, or a public one: join it now.
        answer = await self._call(self._session.client.join(room_id))
        if isinstance(answer, JoinError):
            raise _delivery_error(answer, "join")
        self._joined.add(room_id)

    def room_lock(self, user_id: str) -> asyncio.Lock:
        """Held while a user's direct room is looked up, opened or noted: two messages for a new
        user must not open two rooms, nor a message open one while the user's own is being
        joined."""
        return self._room_locks.setdefault(user_id, asyncio.Lock())

    async def _direct_room(self, user_id: str) -> str:
        async with self.room_lock(user_id):
            room_id = await self._rooms.room_for(user_id)
            if room_id is not None:
                return room_id
            room_id = await self._room_shared_with(user_id)
            if room_id is not None:
                # Opened by a run that stopped before it noted the room (or by the user, who
                # has not written in it yet): the member's direct room, not a second one.
                await self._rooms.remember(user_id, room_id)
                log.info("Matrix: took up direct room %s, already shared with a contact", room_id)
                return room_id
            answer = await self._call(self._session.client.room_create(
                is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat,
            ))
            if isinstance(answer, RoomCreateError):
                raise _delivery_error(answer, "open a direct room")
            room_id = str(answer.room_id)
            self._session.client.known_unencrypted(room_id)  # made without m.room.encryption
            await self._rooms.remember(user_id, room_id)
            self._joined.add(room_id)
            log.info("Matrix: opened direct room %s for a contact", room_id)
            return room_id

    async def _room_shared_with(self, user_id: str) -> str | None:
        """A room the bot shares with this user alone (joined or invited) that is no hub room.

        The bot stays only in hub rooms and direct chats (it declines other invitations and
        leaves a direct room that gains a third member), so such a room is the user's direct
        room. None when a hub room's alias cannot be resolved now: then it cannot be told apart.
        """
        client = self._session.client
        shared = [room.room_id for room in client.rooms.values()
                  if set(room.users) | set(room.invited_users) == {client.user_id, user_id}]
        if not shared:
            return None
        hub_addresses = await self._rooms.hub_addresses()
        hub_rooms: set[str] = set()
        for address in hub_addresses:
            if address.startswith("#"):
                resolved = await self.resolve_alias(address)
                if resolved is None:
                    return None
                address = resolved
            hub_rooms.add(address)
        return next((room_id for room_id in sorted(shared) if room_id not in hub_rooms), None)

    async def _call(self, request: Any) -> Any:
        try:
            return await request
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.connected = False
            raise DeliveryError(f"Matrix: {type(exc).__name__}", transient=True) from None


def _delivery_error(answer: ErrorResponse, doing: str) -> DeliveryError:
    """Translate the homeserver's error: 429 → retry after, gone → give up, else retry."""
    code = answer.status_code
    status = getattr(answer.transport_response, "status", None)
    reason = f"Matrix: {doing}: {code or status} {answer.message}".strip()
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        wait = (answer.retry_after_ms or 1000) / 1000
        return DeliveryError("Matrix: too many requests", transient=True, retry_after=wait,
                             rate_limited=True)
    if code == "M_TOO_LARGE" or status == 413:  # whoever said it (Synapse, a proxy): for good
        log.error("Matrix refused a message as too large (%s)", reason)
        return DeliveryError(reason, transient=False)
    if code in _GONE:
        return DeliveryError(reason, transient=False, recipient_gone=True)
    if code == "M_UNKNOWN_TOKEN":
        log.error("Matrix: the access token was refused while sending; the sync loop logs in "
                  "again if a password is set")
        return DeliveryError(reason, transient=True)
    if status is not None and 400 <= status < 500 and code not in (None, "M_UNKNOWN"):
        log.error("Matrix refused a message (%s)", reason)
        return DeliveryError(reason, transient=False)
    return DeliveryError(reason, transient=True)
