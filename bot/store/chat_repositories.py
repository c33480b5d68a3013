"""Repositories for what chat networks need: hub channels, invite codes, handled updates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from bot.domain.alerts import HubChannel
from bot.domain.members import Network
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp
from bot.store.tables import HubChannelRow, InboundUpdateRow, InviteRow, MemberRow


class SqlHubChannels:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, channel: HubChannel, now: datetime) -> None:
        if self._row(channel.network, channel.address) is not None:
            raise ValueError(f"{channel.network.value} channel {channel.address} is already added")
        self._s.add(
            HubChannelRow(
                network=channel.network.value,
                address=channel.address,
                min_severity=int(channel.min_severity) if channel.min_severity else None,
                max_tlp=int(channel.max_tlp),
                language=channel.language,
                created_at=now,
            )
        )
        self._s.flush()

    def all(self, network: Network | None = None) -> list[HubChannel]:
        stmt = select(HubChannelRow).order_by(col(HubChannelRow.id))
        if network is not None:
            stmt = stmt.where(HubChannelRow.network == network.value)
        return [
            HubChannel(
                Network(r.network),
                r.address,
                Severity(r.min_severity) if r.min_severity else None,
                Tlp(r.max_tlp),
                r.language,
            )
            for r in self._s.exec(stmt)
        ]

    def remove(self, network: Network, address: str) -> bool:
        row = self._row(network, address)
        if row is None:
            return False
        self._s.delete(row)
        self._s.flush()
        return True

    def _row(self, network: Network, address: str) -> HubChannelRow | None:
        return self._s.exec(
            select(HubChannelRow).where(
                HubChannelRow.network == network.value, HubChannelRow.address == address
            )
        ).first()


class SqlInvites:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, member: str, code_hash: str, now: datetime, expires_at: datetime) -> None:
        owner = self._s.exec(select(MemberRow).where(MemberRow.name == member)).first()
        if owner is None or owner.id is None:
            raise ValueError(f"no member {member!r}")
        self._s.add(
            InviteRow(
                code_hash=code_hash, member_id=owner.id, created_at=now, expires_at=expires_at
            )
        )
        self._s.flush()

    def redeem(self, code_hash: str, now: datetime, used_by: str) -> str:
        """Use the code once; returns the member's name or raises ValueError saying why not.

        The claim is one conditional UPDATE (… WHERE used_at IS NULL): of two redemptions at
        once, the second waits for the first's row lock and then finds the code used.
        """
        row = self._s.exec(select(InviteRow).where(InviteRow.code_hash == code_hash)).first()
        if row is None:
            raise ValueError("unknown")
        if row.used_at is not None:
            raise ValueError("used")
        if row.expires_at <= now:
            raise ValueError("expired")
        claimed = self._s.exec(
            update(InviteRow)
            .where(col(InviteRow.id) == row.id, col(InviteRow.used_at).is_(None))
            .values(used_at=now, used_by=used_by[:300])
        )
        if claimed.rowcount != 1:
            raise ValueError("used")
        member = self._s.get(MemberRow, row.member_id)
        assert member is not None
        return member.name

    def remove_for_member(self, member_id: int) -> None:
        self._s.exec(delete(InviteRow).where(col(InviteRow.member_id) == member_id))


class SqlInboundUpdates:
    def __init__(self, session: Session) -> None:
        self._s = session

    def first_time(self, network: Network, key: str, now: datetime) -> bool:
        """Record an update; False when it was handled before (a redelivery)."""
        if self._s.get(InboundUpdateRow, (network.value, key)) is not None:
            return False
        self._s.add(InboundUpdateRow(network=network.value, update_key=key, received_at=now))
        self._s.flush()
        return True

    def forget_before(self, moment: datetime) -> int:
        result = self._s.exec(
            delete(InboundUpdateRow).where(col(InboundUpdateRow.received_at) < moment)
        )
        return int(result.rowcount or 0)
