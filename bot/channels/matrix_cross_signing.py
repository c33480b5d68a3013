"""Cross-signing for the bot's own Matrix account (matrix-nio has none, nio #229).

Element's clients no longer talk to devices that their owner has not cross-signed (MSC4153), so
the bot bootstraps cross-signing itself: a master, a self-signing and a user-signing Ed25519 key,
uploaded with `/keys/device_signing/upload` (user-interactive auth with the bot's password), and
its device key signed by the self-signing key (`/keys/signatures/upload`). The private keys are
kept in the store directory (mode 0600) and re-used on every start: nothing is uploaded again when
the server already has them, and a new device (a later login) is signed by the kept key.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa

log = logging.getLogger(__name__)

KEYS_FILE = "cross_signing.json"
_USAGES = ("master", "self_signing", "user_signing")


class CrossSigningError(RuntimeError):
    """The homeserver refused a step of the bootstrap; the message says which."""


def canonical_json(value: Any) -> bytes:
    """Matrix canonical JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      allow_nan=False).encode("utf-8")


def unpadded_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode_unpadded(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 key, kept as its 32-byte seed."""

    seed: bytes

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(secrets.token_bytes(32))

    @property
    def public(self) -> str:
        key = ECC.construct(curve="Ed25519", seed=self.seed)
        return unpadded_b64(key.public_key().export_key(format="raw"))

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public}"

    def sign(self, obj: dict[str, Any]) -> str:
        """The unpadded base64 signature of `obj` without its `signatures` and `unsigned`."""
        payload = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
        signer = eddsa.new(ECC.construct(curve="Ed25519", seed=self.seed), "rfc8032")
        return unpadded_b64(signer.sign(canonical_json(payload)))


@dataclass(frozen=True)
class CrossSigningKeys:
    master: SigningKey
    self_signing: SigningKey
    user_signing: SigningKey

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(SigningKey.generate(), SigningKey.generate(), SigningKey.generate())

    @classmethod
    def load(cls, path: Path, user_id: str) -> CrossSigningKeys | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("Matrix: %s is unreadable; making new cross-signing keys", path)
            return None
        if data.get("user_id") != user_id:
            return None
        try:
            return cls(*(SigningKey(b64decode_unpadded(data[u])) for u in _USAGES))
        except (KeyError, TypeError, ValueError):
            log.warning("Matrix: %s is incomplete; making new cross-signing keys", path)
            return None

    def save(self, path: Path, user_id: str) -> None:
        data = {"user_id": user_id, **{u: unpadded_b64(getattr(self, u).seed) for u in _USAGES}}
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(data))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def key_object(self, user_id: str, usage: str) -> dict[str, Any]:
        """The public key object of one usage; the sub-keys signed by the master key."""
        key: SigningKey = getattr(self, usage)
        obj: dict[str, Any] = {"user_id": user_id, "usage": [usage],
                               "keys": {key.key_id: key.public}}
        if usage != "master":
            obj["signatures"] = {user_id: {self.master.key_id: self.master.sign(obj)}}
        return obj


class CrossSigning:
    """Bootstraps and keeps up cross-signing for one logged-in device."""

    def __init__(self, homeserver: str, user_id: str, device_id: str, access_token: str,
                 store_path: Path, password: str | None, timeout: float = 30.0) -> None:
        self._homeserver = homeserver.rstrip("/")
        self.user_id = user_id
        self.device_id = device_id
        self._token = access_token
        self._path = store_path / KEYS_FILE
        self._password = password
        self._timeout = timeout

    async def ensure(self) -> bool:
        """Keys uploaded and this device signed; False (with a warning) when it cannot be done.

        The device's own keys must be on the server already (nio's `keys_upload`).
        """
        async with httpx.AsyncClient(
            base_url=f"{self._homeserver}/_matrix/client/v3", timeout=self._timeout,
            headers={"Authorization": f"Bearer {self._token}"},
        ) as http:
            self._http = http
            server = await self._query()
            keys = CrossSigningKeys.load(self._path, self.user_id)
            server_master = _only_key(server.get("master_keys", {}).get(self.user_id))
            server_ssk = _only_key(server.get("self_signing_keys", {}).get(self.user_id))
            have = keys is not None and server_master == keys.master.public and (
                server_ssk == keys.self_signing.public)
            if not have:
                if self._password is None:
                    log.warning("Matrix: no HUBBOT_MATRIX_PASSWORD, so the bot cannot set up "
                                "cross-signing; Element users may not see its encrypted "
                                "messages (clients exclude devices not cross-signed)")
                    return False
                if server_master is not None:
                    log.warning("Matrix: the server has other cross-signing keys for %s than "
                                "the store; replacing them", self.user_id)
                if keys is None:
                    keys = CrossSigningKeys.generate()
                keys.save(self._path, self.user_id)  # before the upload: never lose them
                await self._upload_keys(keys)
                log.info("Matrix: cross-signing keys uploaded for %s", self.user_id)
            assert keys is not None
            device = server.get("device_keys", {}).get(self.user_id, {}).get(self.device_id)
            if device is None:
                raise CrossSigningError(
                    f"device {self.device_id} has no keys on the server to sign")
            signed = device.get("signatures", {}).get(self.user_id, {})
            if not have or keys.self_signing.key_id not in signed:
                await self._sign_device(keys, device)
                log.info("Matrix: device %s signed with the self-signing key", self.device_id)
            return True

    async def _query(self) -> dict[str, Any]:
        answer = await self._http.post("/keys/query",
                                       json={"device_keys": {self.user_id: []}})
        if answer.status_code != 200:
            raise CrossSigningError(f"keys/query: {answer.status_code} {answer.text[:200]}")
        return dict(answer.json())

    async def _upload_keys(self, keys: CrossSigningKeys) -> None:
        body: dict[str, Any] = {
            "master_key": keys.key_object(self.user_id, "master"),
            "self_signing_key": keys.key_object(self.user_id, "self_signing"),
            "user_signing_key": keys.key_object(self.user_id, "user_signing"),
        }
        answer = await self._http.post("/keys/device_signing/upload", json=body)
        if answer.status_code == 401:  # user-interactive auth: the same call, with the password
            session = answer.json().get("session")
            body["auth"] = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": self.user_id},
                "password": self._password, "session": session,
            }
            answer = await self._http.post("/keys/device_signing/upload", json=body)
        if answer.status_code != 200:
            raise CrossSigningError(
                f"keys/device_signing/upload: {answer.status_code} {answer.text[:200]}")

    async def _sign_device(self, keys: CrossSigningKeys, device: dict[str, Any]) -> None:
        signed = {k: v for k, v in device.items() if k not in ("signatures", "unsigned")}
        signed["signatures"] = {self.user_id: {keys.self_signing.key_id:
                                               keys.self_signing.sign(device)}}
        answer = await self._http.post(
            "/keys/signatures/upload", json={self.user_id: {self.device_id: signed}})
        failures = answer.json().get("failures") if answer.status_code == 200 else None
        if answer.status_code != 200 or failures:
            raise CrossSigningError(
                f"keys/signatures/upload: {answer.status_code} {failures or answer.text[:200]}")


def _only_key(obj: dict[str, Any] | None) -> str | None:
    """The public key of a cross-signing key object (it has exactly one)."""
    if not obj:
        return None
    values = list(obj.get("keys", {}).values())
    return str(values[0]) if len(values) == 1 else None
