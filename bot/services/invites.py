"""Invite codes: how a coordinator lets a new chat join a member organisation."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from bot.services.ports import UnitOfWorkFactory

DEFAULT_VALIDITY = timedelta(days=7)


def code_hash(code: str) -> str:
    """Codes are kept only as hashes: a copy of the database links no one."""
    return hashlib.sha256(code.strip().encode()).hexdigest()


def create_invite(
    uow_factory: UnitOfWorkFactory, member: str, now: datetime,
    valid_for: timedelta = DEFAULT_VALIDITY,
) -> str:
    """A new one-time code for `member`, valid for `valid_for`; raises ValueError if unknown."""
    code = secrets.token_urlsafe(12)
    with uow_factory() as uow:
        uow.invites.add(member, code_hash(code), now, now + valid_for)
        uow.commit()
    return code
