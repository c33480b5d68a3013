"""Matrix: one matrix-nio AsyncClient for sending and syncing, its login kept across restarts.

Logging in with the password makes a new device each time (it cannot read earlier encrypted
messages, and Synapse's transaction-id de-duplication is per device), so the bot logs in once and
keeps user id, device id and access token in its store directory; so too the sync token.

End-to-end encryption: nio's olm store lives in the same directory, encrypted with a pickle key
that must never change (a new key cannot open the store): it is generated once and kept there
(mode 0600), or taken from HUBBOT_MATRIX_PICKLE_KEY. Without a working olm machine nio would send
plaintext into encrypted rooms; the channel refuses that instead (`encryption_ready`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    KeysUploadError,
    LocalProtocolError,
    LoginResponse,
    MatrixRoom,
    Response,
    RoomGetStateEventError,
    RoomSendError,
    RoomSendResponse,
    SyncResponse,
    WhoamiResponse,
)

from bot.channels.matrix_cross_signing import CrossSigning

log = logging.getLogger(__name__)

_CREDENTIALS = "credentials.json"
_SYNC_TOKEN = "sync_token"
_PICKLE_KEY = "pickle_key"
PICKLE_KEY_ENV = "HUBBOT_MATRIX_PICKLE_KEY"


# How long a send waits for the sync loop to learn a room the bot has just joined or opened.
ROOM_WAIT = 5.0


class EncryptionUnavailable(LocalProtocolError):  # type: ignore[misc]
    """The room is encrypted but the bot's encryption is not working: nothing is sent."""


class HubClient(AsyncClient):  # type: ignore[misc]
    """nio's client, but it never sends plaintext into an encrypted room it has not synced yet.

    nio learns rooms (and whether they are encrypted) only from syncs; with encryption on it
    refuses a room it does not know, and without it would send plaintext. A room just joined or
    opened is waited for (the sync loop brings it); if it does not come, the room's state decides.
    """

    room_wait = ROOM_WAIT

    async def room_send(
        self, room_id: str, message_type: str, content: dict[Any, Any],
        tx_id: str | None = None, ignore_unverified_devices: bool = False,
    ) -> RoomSendResponse | RoomSendError:
        if await self.room_encrypted(room_id) and self.olm is None:
            raise EncryptionUnavailable(
                "Matrix: the room is end-to-end encrypted but the bot's encryption is not "
                "working (see the log at start); not sending in plaintext")
        return await super().room_send(room_id, message_type, content, tx_id=tx_id,
                                       ignore_unverified_devices=ignore_unverified_devices)

    @cached_property
    def _synced(self) -> asyncio.Condition:
        """Notified after each sync, the only thing that brings nio new rooms."""
        return asyncio.Condition()

    async def receive_response(self, response: Response) -> None:
        await super().receive_response(response)
        if isinstance(response, SyncResponse):
            async with self._synced:
                self._synced.notify_all()

    async def room_encrypted(self, room_id: str) -> bool:
        if room_id not in self.rooms and self.olm is not None:
            with suppress(TimeoutError):
                async with asyncio.timeout(self.room_wait), self._synced:
                    await self._synced.wait_for(lambda: room_id in self.rooms)
        room = self.rooms.get(room_id)
        if room is not None:
            return bool(room.encrypted)
        answer = await self.room_get_state_event(room_id, "m.room.encryption")
        if isinstance(answer, RoomGetStateEventError):
            if answer.status_code != "M_NOT_FOUND":
                raise LocalProtocolError(
                    f"cannot read the encryption state of {room_id}: {_reason(answer)}")
            encrypted = False
        else:
            encrypted = bool(answer.content.get("algorithm"))
        if encrypted:
            if self.olm is None:
                return True
            raise LocalProtocolError(f"the encrypted room {room_id} is not synced yet")
        self.known_unencrypted(room_id)
        return False

    def known_unencrypted(self, room_id: str) -> None:
        """The room is not encrypted (the bot made it so): send without waiting for a sync."""
        if self.olm is not None and room_id not in self.rooms:
            self.rooms[room_id] = MatrixRoom(room_id, str(self.user_id))  # a sync fills it in


class MatrixLoginError(RuntimeError):
    """The bot cannot log in; the message says what the admin should do."""


@dataclass(frozen=True)
class MatrixConfig:
    homeserver: str
    user: str  # @bot:server, or just the local part
    store_path: Path
    password: str | None = None
    access_token: str | None = None
    device_name: str = "hubbot"
    request_timeout: float = 30.0
    sync_timeout_ms: int = 30_000
    encryption: bool = True

    def __repr__(self) -> str:  # never print the secrets
        return f"MatrixConfig(homeserver={self.homeserver!r}, user={self.user!r})"


def _write_private(path: Path, text: str) -> None:
    """Atomically replace `path`, readable by the bot's user only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _make_private(store: Path) -> None:
    """The store and everything in it are the bot's user's only (keys, tokens). A file the bot
    may not change (another user's) is left to `hubbot run`'s warning."""
    for path in (store, *store.rglob("*")):
        if not path.is_symlink():
            with suppress(PermissionError):
                os.chmod(path, 0o700 if path.is_dir() else 0o600)


class MatrixSession:
    """Owns the AsyncClient: logs in once, restores the login after, keeps the sync token."""

    def __init__(self, config: MatrixConfig) -> None:
        self.config = config
        config.store_path.mkdir(mode=0o700, parents=True, exist_ok=True)
        _make_private(config.store_path)
        # 429s and timeouts come back to us (the outbox schedules the retry) instead of nio
        # sleeping and retrying for ever inside a send.
        client_config = AsyncClientConfig(
            max_limit_exceeded=0, max_timeouts=0, request_timeout=config.request_timeout,
            store_sync_tokens=False, encryption_enabled=config.encryption,
            pickle_key=self._pickle_key() if config.encryption else "DEFAULT_KEY",
        )
        self.client = HubClient(config.homeserver, config.user, config=client_config,
                                  store_path=str(config.store_path))
        self.cross_signed = False

    @property
    def encryption_ready(self) -> bool:
        """True when nio can encrypt: never send into an encrypted room otherwise."""
        return self.client.olm is not None

    def _pickle_key(self) -> str:
        """The key of nio's olm store: from the environment, or made once and kept."""
        configured = os.environ.get(PICKLE_KEY_ENV)
        if configured:
            return configured
        path = self.config.store_path / _PICKLE_KEY
        try:
            key = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            key = ""
        if not key:
            key = secrets.token_urlsafe(32)
            _write_private(path, key)
        return key

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def connect(self) -> None:
        """Log in or restore the login; then make encryption ready (keys, cross-signing)."""
        await self._connect()
        _make_private(self.config.store_path)  # nio's encryption store is created by the login
        await self.setup_encryption()

    async def setup_encryption(self) -> None:
        """Check the olm machine, upload the device keys, bootstrap cross-signing."""
        if not self.config.encryption:
            return
        if self.client.olm is None:
            log.error("Matrix: end-to-end encryption could not be enabled (is matrix-nio[e2e] "
                      "installed, is %s writable?); nothing will be sent into encrypted rooms",
                      self.config.store_path)
            return
        if self.client.should_upload_keys:
            answer = await self.client.keys_upload()
            if isinstance(answer, KeysUploadError):
                log.warning("Matrix: uploading the device keys failed (%s); retrying after "
                            "the next sync", _reason(answer))
                return
        try:
            self.cross_signed = await CrossSigning(
                self.config.homeserver, self.user_id, str(self.client.device_id),
                str(self.client.access_token), self.config.store_path, self.config.password,
                self.config.request_timeout,
            ).ensure()
        except Exception as exc:
            log.error("Matrix: cross-signing could not be set up (%s); Element users may not "
                      "see the bot's encrypted messages", exc)

    async def _connect(self) -> None:
        """Restore the saved login, or log in once (token or password) and save it."""
        saved = self._load_credentials()
        token = self.config.access_token
        if saved and saved.get("homeserver") == self.config.homeserver and (
            token is None or token == saved.get("access_token")
        ):
            self.client.restore_login(saved["user_id"], saved["device_id"],
                                      saved["access_token"])
            log.info("Matrix: restored the login of %s (device %s)", saved["user_id"],
                     saved["device_id"])
            return
        if token is not None:
            await self._use_token(token)
        elif self.config.password is not None:
            await self.login(device_id=saved.get("device_id") if saved else None)
        else:
            raise MatrixLoginError(
                "Matrix: set HUBBOT_MATRIX_PASSWORD or HUBBOT_MATRIX_ACCESS_TOKEN")

    async def _use_token(self, token: str) -> None:
        self.client.access_token = token
        answer = await self.client.whoami()
        if not isinstance(answer, WhoamiResponse):
            raise MatrixLoginError(
                f"Matrix: HUBBOT_MATRIX_ACCESS_TOKEN was refused ({_reason(answer)})")
        if not answer.device_id:
            raise MatrixLoginError("Matrix: the access token has no device; log in with a "
                                   "password instead (HUBBOT_MATRIX_PASSWORD)")
        self.client.restore_login(answer.user_id, answer.device_id, token)
        self._save_credentials()
        log.info("Matrix: using the configured access token of %s (device %s)",
                 answer.user_id, answer.device_id)

    async def login(self, device_id: str | None = None) -> None:
        """Log in with the password, re-using `device_id` (the same device) when known."""
        if self.config.password is None:
            raise MatrixLoginError(
                "Matrix: the access token is no longer valid and no HUBBOT_MATRIX_PASSWORD is "
                "set; set a new HUBBOT_MATRIX_ACCESS_TOKEN (or a password) and restart")
        if device_id:
            self.client.device_id = device_id
        answer = await self.client.login(self.config.password,
                                         device_name=self.config.device_name)
        if not isinstance(answer, LoginResponse):
            raise MatrixLoginError(f"Matrix: login as {self.config.user} failed "
                                   f"({_reason(answer)}); check HUBBOT_MATRIX_USER/PASSWORD")
        self._save_credentials()
        log.info("Matrix: logged in as %s (device %s)", answer.user_id, answer.device_id)

    async def relogin(self) -> None:
        """The server forgot the token (M_UNKNOWN_TOKEN): log in again as the same device."""
        await self.login(device_id=self.client.device_id)

    def load_sync_token(self) -> str | None:
        path = self.config.store_path / _SYNC_TOKEN
        try:
            token = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return token or None

    def save_sync_token(self, token: str) -> None:
        _write_private(self.config.store_path / _SYNC_TOKEN, token)

    async def close(self) -> None:
        await self.client.close()

    def _load_credentials(self) -> dict[str, Any] | None:
        path = self.config.store_path / _CREDENTIALS
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("Matrix: %s is unreadable; logging in again", path)
            return None
        if not all(isinstance(data.get(k), str) for k in ("user_id", "device_id",
                                                            "access_token")):
            return None
        return dict(data)

    def _save_credentials(self) -> None:
        data = {"homeserver": self.config.homeserver, "user_id": self.client.user_id,
                "device_id": self.client.device_id, "access_token": self.client.access_token}
        _write_private(self.config.store_path / _CREDENTIALS, json.dumps(data))


def _reason(answer: object) -> str:
    code = getattr(answer, "status_code", None)
    message = getattr(answer, "message", None)
    return " ".join(str(p) for p in (code, message) if p) or type(answer).__name__
