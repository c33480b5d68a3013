"""A real Synapse homeserver on 127.0.0.1 for the Matrix tests, and a plain matrix-nio test user.

Synapse lives in its own cached venv (`.ci/synapse-setup`; `$HUBBOT_SYNAPSE_VENV`, default
~/.cache/hubbot/synapse-venv): its pins are strict, so it never shares the project's venv.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    RoomCreateError,
    RoomInviteError,
    RoomPreset,
    RoomSendError,
    SyncError,
    SyncResponse,
)

ROOT = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = ROOT / ".ci" / "synapse-setup"
SERVER_NAME = "localhost"
# Generous limits: the suite must never meet a 429 it did not ask for (see override_ratelimit).
_HIGH = {"per_second": 10_000, "burst_count": 10_000}
RATE_LIMITS: dict[str, Any] = {
    "rc_message": _HIGH,
    "rc_registration": _HIGH,
    "rc_login": {"address": _HIGH, "account": _HIGH, "failed_attempts": _HIGH},
    "rc_joins": {"local": _HIGH, "remote": _HIGH},
    "rc_joins_per_room": _HIGH,
    "rc_invites": {"per_room": _HIGH, "per_user": _HIGH, "per_issuer": _HIGH},
    "rc_room_creation": _HIGH,
    "rc_3pid_validation": _HIGH,
    "rc_admin_redaction": _HIGH,
    "rc_key_requests": _HIGH,
    "rc_presence": {"per_user": _HIGH},
    "rc_delayed_event_mgmt": _HIGH,
}
_LOG_CONFIG = """version: 1
formatters:
  precise: {format: '%(asctime)s %(levelname)s %(name)s %(message)s'}
handlers:
  file: {class: logging.FileHandler, formatter: precise, filename: LOGFILE}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
"""


class SynapseUnavailable(RuntimeError):
    """Synapse could not be installed or started here."""


def synapse_venv() -> Path:
    """Install Synapse into its cached venv if needed (about 30 s once); returns the venv."""
    try:
        done = subprocess.run([str(SETUP_SCRIPT)], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SynapseUnavailable(f"{SETUP_SCRIPT} failed: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise SynapseUnavailable(f"{SETUP_SCRIPT} exited {done.returncode}:\n{tail}")
    return Path(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Account:
    user_id: str
    password: str
    access_token: str
    device_id: str


class Synapse:
    """One Synapse process: SQLite, no federation, shared-secret registration, high limits."""

    def __init__(self, venv: Path, directory: Path) -> None:
        self.venv = venv
        self.dir = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._admin: Account | None = None

    @property
    def config_path(self) -> Path:
        return self.dir / "homeserver.yaml"

    def configure(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(self.venv / "bin" / "python"), "-m", "synapse.app.homeserver",
             "--server-name", SERVER_NAME, "--config-path", str(self.config_path),
             "--data-directory", str(self.dir), "--generate-config", "--report-stats=no"],
            check=True, capture_output=True, timeout=120,
        )
        config = yaml.safe_load(self.config_path.read_text())
        log_config = self.dir / "log.yaml"
        log_config.write_text(_LOG_CONFIG.replace("LOGFILE", str(self.dir / "homeserver.log")))
        config.update(
            listeners=[{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http",
                        "tls": False, "x_forwarded": False,
                        "resources": [{"names": ["client"], "compress": False}]}],
            trusted_key_servers=[], suppress_key_server_warning=True,
            federation_domain_whitelist=[], enable_registration=False,
            registration_shared_secret=self.secret, log_config=str(log_config),
            presence={"enabled": False}, url_preview_enabled=False, enable_metrics=False,
            report_stats=False, bcrypt_rounds=4, **RATE_LIMITS,
        )
        self.config_path.write_text(yaml.safe_dump(config))

    def start(self, timeout: float = 60) -> None:
        self.configure()
        log = (self.dir / "stderr.log").open("wb")
        self._process = subprocess.Popen(
            [str(self.venv / "bin" / "python"), "-m", "synapse.app.homeserver",
             "--config-path", str(self.config_path)],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SynapseUnavailable(
                    f"Synapse exited {self._process.returncode}; see {self.dir}/stderr.log")
            try:
                if httpx.get(f"{self.url}/_matrix/client/versions", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise SynapseUnavailable(f"Synapse did not answer within {timeout} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def unique_name(self, prefix: str) -> str:
        return f"{prefix}{next(self._names)}x{secrets.token_hex(2)}"

    def register(self, name: str | None = None, admin: bool = False,
                 password: str | None = None) -> Account:
        """A new user through shared-secret registration (what register_new_matrix_user does)."""
        name = name or self.unique_name("user")
        password = password or secrets.token_urlsafe(12)
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        nonce = httpx.get(endpoint, timeout=10).json()["nonce"]
        mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), name.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        answer = httpx.post(endpoint, timeout=30, json={
            "nonce": nonce, "username": name, "password": password, "admin": admin,
            "mac": mac.hexdigest()})
        answer.raise_for_status()
        body = answer.json()
        return Account(body["user_id"], password, body["access_token"], body["device_id"])

    def admin(self) -> Account:
        if self._admin is None:
            self._admin = self.register(self.unique_name("admin"), admin=True)
        return self._admin

    def override_ratelimit(self, user_id: str, per_second: int, burst_count: int) -> None:
        """Low message limits for one user (the admin API), e.g. to provoke 429s."""
        answer = httpx.post(
            f"{self.url}/_synapse/admin/v1/users/{quote(user_id)}/override_ratelimit",
            json={"messages_per_second": per_second, "burst_count": burst_count},
            headers={"Authorization": f"Bearer {self.admin().access_token}"}, timeout=10)
        answer.raise_for_status()

    def user(self, account: Account | None = None) -> MatrixUser:
        return MatrixUser(self, account or self.register())


@dataclass
class Message:
    room_id: str
    event_id: str
    sender: str
    content: dict[str, Any]

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))

    @property
    def formatted_body(self) -> str | None:
        value = self.content.get("formatted_body")
        return str(value) if value is not None else None


@dataclass
class MatrixUser:
    """A plain matrix-nio client acting as a person: rooms, invites, text, what others sent."""

    server: Synapse
    account: Account
    messages: list[Message] = field(default_factory=list)
    _client: AsyncClient | None = None

    @property
    def user_id(self) -> str:
        return self.account.user_id

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            config = AsyncClientConfig(max_limit_exceeded=0, max_timeouts=2)
            self._client = AsyncClient(self.server.url, self.user_id, config=config)
            self._client.restore_login(self.user_id, self.account.device_id,
                                       self.account.access_token)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def __aenter__(self) -> MatrixUser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def create_dm(self, other: str) -> str:
        answer = await self.client.room_create(is_direct=True, invite=[other],
                                               preset=RoomPreset.trusted_private_chat)
        assert not isinstance(answer, RoomCreateError), answer
        return str(answer.room_id)

    async def create_room(self, invite: tuple[str, ...] = (), name: str = "hub") -> str:
        answer = await self.client.room_create(name=name, invite=list(invite),
                                               preset=RoomPreset.private_chat)
        assert not isinstance(answer, RoomCreateError), answer
        return str(answer.room_id)

    async def invite(self, room_id: str, user_id: str) -> None:
        answer = await self.client.room_invite(room_id, user_id)
        assert not isinstance(answer, RoomInviteError), answer

    async def join(self, room_id: str) -> None:
        answer = await self.client.join(room_id)
        assert not isinstance(answer, JoinError), answer

    async def send(self, room_id: str, text: str) -> str:
        answer = await self.client.room_send(room_id, "m.room.message",
                                             {"msgtype": "m.text", "body": text})
        assert not isinstance(answer, RoomSendError), answer
        return str(answer.event_id)

    async def sync(self, timeout_ms: int = 0) -> None:
        answer = await self.client.sync(timeout=timeout_ms)
        if isinstance(answer, SyncError):
            raise AssertionError(f"test user's sync failed: {answer}")
        assert isinstance(answer, SyncResponse)
        for room_id, info in answer.rooms.join.items():
            for event in info.timeline.events:
                source = event.source
                if source.get("type") == "m.room.message" and source.get("sender") != self.user_id:
                    self.messages.append(Message(room_id, source["event_id"], source["sender"],
                                                 source.get("content", {})))

    def messages_in(self, room_id: str) -> list[Message]:
        return [m for m in self.messages if m.room_id == room_id]

    async def wait_for_messages(self, room_id: str, count: int,
                                timeout: float = 30) -> list[Message]:
        """Sync until at least `count` messages from others are in the room."""
        return await self.wait_until(lambda: len(self.messages_in(room_id)) >= count,
                                     timeout, lambda: self.messages_in(room_id))

    async def wait_for_invite(self, timeout: float = 30) -> str:
        """The id of a room someone invited this user to."""
        await self.wait_until(lambda: bool(self.client.invited_rooms), timeout)
        return next(iter(self.client.invited_rooms))

    async def membership(self, room_id: str, user_id: str) -> str | None:
        answer = await self.client.room_get_state_event(room_id, "m.room.member", user_id)
        content = getattr(answer, "content", None)
        return content.get("membership") if isinstance(content, dict) else None

    async def wait_until(self, done: Callable[[], Any], timeout: float = 30,
                         result: Callable[[], Any] | None = None) -> Any:
        """Sync until `done()` is truthy; returns `result()`, or else what `done()` returned."""
        deadline = time.monotonic() + timeout
        while not (value := done()):
            if time.monotonic() > deadline:
                got = result() if result else value
                raise AssertionError(f"timed out after {timeout} s; got {got!r}")
            await self.sync(timeout_ms=300)
        return result() if result else value


def start_synapse(directory: Path) -> Synapse:
    """Install if needed and start one Synapse; raises SynapseUnavailable saying why not."""
    server = Synapse(synapse_venv(), directory)
    server.start()
    return server


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


async def wait_for(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)


if __name__ == "__main__":  # a manual check: python tests/synapse.py
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        hs = start_synapse(Path(tmp))
        print(f"Synapse on {hs.url} in {time.monotonic() - started:.1f} s", file=sys.stderr)
        print(hs.register("alice"))
        hs.stop()
