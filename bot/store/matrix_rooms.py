"""Which direct room reaches which Matrix user (a contact's address is a user id, not a room)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.store.tables import MatrixDirectRoomRow


class SqlMatrixDirectRooms:
    def __init__(self, session: Session) -> None:
        self._s = session

    def room_for(self, user_id: str) -> str | None:
        row = self._s.get(MatrixDirectRoomRow, user_id)
        return row.room_id if row else None

    def user_for(self, room_id: str) -> str | None:
        row = self._s.exec(
            select(MatrixDirectRoomRow).where(MatrixDirectRoomRow.room_id == room_id)
        ).first()
        return row.user_id if row else None

    def set(self, user_id: str, room_id: str, now: datetime) -> None:
        row = self._s.get(MatrixDirectRoomRow, user_id)
        if row is None:
            row = MatrixDirectRoomRow(user_id=user_id, room_id=room_id, updated_at=now)
        else:
            row.room_id, row.updated_at = room_id, now
        self._s.add(row)
        self._s.flush()

    def forget_room(self, room_id: str) -> bool:
        """The room is gone (the user left it): the next message opens a new one."""
        rows = self._s.exec(
            select(MatrixDirectRoomRow).where(MatrixDirectRoomRow.room_id == room_id)
        ).all()
        for row in rows:
            self._s.delete(row)
        self._s.flush()
        return bool(rows)
