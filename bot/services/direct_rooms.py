"""Contacts' direct Matrix rooms as the store keeps them, for the Matrix adapter; every call
runs its unit of work in a store thread, so a locked database never stops the sync loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from bot.domain.members import Network
from bot.services.ports import UnitOfWork, UnitOfWorkFactory
from bot.services.store_boundary import StoreBoundary, store_boundary


class DirectRooms:
    def __init__(self, store: UnitOfWorkFactory | StoreBoundary,
                 clock: Callable[[], datetime]) -> None:
        self._store = store_boundary(store)
        self._clock = clock

    async def room_for(self, user_id: str) -> str | None:
        return await self._store.unit(lambda uow: uow.matrix_rooms.room_for(user_id))

    async def remember(self, user_id: str, room_id: str) -> None:
        """The user's direct room is `room_id` from now on."""
        now = self._clock()

        def note(uow: UnitOfWork) -> None:
            if uow.matrix_rooms.room_for(user_id) != room_id:
                uow.matrix_rooms.set(user_id, room_id, now)

        await self._store.unit(note)

    async def forget_room(self, room_id: str) -> None:
        await self._store.unit(lambda uow: uow.matrix_rooms.forget_room(room_id))

    async def forget_if_left(self, room_id: str, user_id: str) -> bool:
        """Forget the room if it is `user_id`'s direct room (who has just left it)."""
        def forget(uow: UnitOfWork) -> bool:
            if uow.matrix_rooms.user_for(room_id) != user_id:
                return False
            uow.matrix_rooms.forget_room(room_id)
            return True

        return await self._store.unit(forget)

    async def forget_shared(self, room_ids: Sequence[str]) -> dict[str, str]:
        """Forget those of the rooms that are a contact's direct room; returns them with their
        contacts."""
        def forget(uow: UnitOfWork) -> dict[str, str]:
            contacts = {room_id: uow.matrix_rooms.user_for(room_id) for room_id in room_ids}
            shared = {room_id: user for room_id, user in contacts.items() if user is not None}
            for room_id in shared:
                uow.matrix_rooms.forget_room(room_id)
            return shared

        return await self._store.unit(forget)

    async def hub_addresses(self) -> list[str]:
        """The Matrix hub rooms' addresses as configured (room ids or aliases)."""
        return await self._store.unit(
            lambda uow: [ch.address for ch in uow.hub_channels.all(Network.MATRIX)])
