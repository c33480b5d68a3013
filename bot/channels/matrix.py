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
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from html import escape
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

from bot.channels.channel import DeliveryError
from bot.channels.matrix_client import EncryptionUnavailable, MatrixSession
from bot.domain.alerts import alert_from_payload
from bot.domain.language import speaking
from bot.domain.members import Network
from bot.domain.outbox import OutboxItem
from bot.domain.rendering import (
    Attachment,
    alert_ref_line,
    button_hint_lines,
    chat_message_lines,
    payload_attachment,
    payload_language,
    render_alert_text,
    with_command_prefix,
)
from bot.services.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)

# Synapse's limit is 65,536 bytes per event; the rest of the event needs some room.
MAX_CONTENT_BYTES = 60_000
# Attachments are small text files (a meeting's .ics); anything bigger is a mistake upstream.
MAX_ATTACHMENT_BYTES = 1_000_000
_GONE = {"M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_ROOM"}


def message_content(payload: dict[str, Any]) -> dict[str, Any]:
    with speaking(payload_language(payload)):
        return _content(payload)


def _content(payload: dict[str, Any]) -> dict[str, Any]:
    """The event content, in the reader's language: plain `body`, HTML `formatted_body`
    (every feed string escaped).

    Alerts notify (`m.text`); answers and alerts to a muted chat are `m.notice`, which clients
    do not ring for and other bots do not answer. Matrix has no buttons: the commands they would
    send are shown as text, with "!" (Element runs "/…" itself), and are kept when cut short.
    """
    lines, _link = chat_message_lines(payload)  # the link is an anchor in the HTML already
    lines = [with_command_prefix(line, "!") for line in lines]
    if payload.get("kind") == "alert":
        zone = payload.get("zone")
        body = render_alert_text(alert_from_payload(payload),
                                 zone if isinstance(zone, str) else None)
        ref_line = alert_ref_line(payload)
        if ref_line:
            body += "\n" + ref_line
    else:
        body = str(payload.get("text", ""))
    body = with_command_prefix(body, "!")
    hints = button_hint_lines(payload, "!")
    body_hints = "\n\n" + "\n".join(hints) if hints else ""
    html_hints = ["", *(escape(h) for h in hints)] if hints else []
    quiet = payload.get("kind") == "reply" or bool(payload.get("silent"))
    content = {
        "msgtype": "m.notice" if quiet else "m.text",
        "body": body + body_hints,
        "format": "org.matrix.custom.html",
        "formatted_body": "<br>\n".join(lines + html_hints),
    }
    while len(str(content).encode()) > MAX_CONTENT_BYTES and len(lines) > 1:
        lines = lines[: max(1, len(lines) * 3 // 4)] + ["…"]
        content["formatted_body"] = "<br>\n".join(lines + html_hints)
        content["body"] = body[: MAX_CONTENT_BYTES // 4] + " …" + body_hints
    return content


class MatrixChannel:
    """Sends one outbox message into its room; opens a user's direct room when needed."""

    network = Network.MATRIX

    def __init__(self, session: MatrixSession, uow_factory: UnitOfWorkFactory,
                 clock: Callable[[], datetime]) -> None:
        self._session = session
        self._uow = uow_factory
        self._clock = clock
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
        room_id = await self.room_for(item.address)
        event_id = await self._send_event(item, room_id, message_content(item.payload),
                                          f"hubbot-{item.id}")
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
            self._forget_direct_room(room_id)
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

    async def _direct_room(self, user_id: str) -> str:
        lock = self._room_locks.setdefault(user_id, asyncio.Lock())
        async with lock:  # two messages for a new user must not open two rooms
            with self._uow() as uow:
                room_id = uow.matrix_rooms.room_for(user_id)
            if room_id is not None:
                return room_id
            answer = await self._call(self._session.client.room_create(
                is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat,
            ))
            if isinstance(answer, RoomCreateError):
                raise _delivery_error(answer, "open a direct room")
            room_id = str(answer.room_id)
            self._session.client.known_unencrypted(room_id)  # made without m.room.encryption
            with self._uow() as uow:
                uow.matrix_rooms.set(user_id, room_id, self._clock())
                uow.commit()
            self._joined.add(room_id)
            log.info("Matrix: opened direct room %s for a contact", room_id)
            return room_id

    def _forget_direct_room(self, room_id: str) -> None:
        with self._uow() as uow:
            uow.matrix_rooms.forget_room(room_id)
            uow.commit()

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
        return DeliveryError("Matrix: too many requests", transient=True, retry_after=wait)
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
