"""The chat port: what a network adapter hands the command service, and what it may ask of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.domain.members import Network


@dataclass(frozen=True)
class Sender:
    """Who wrote, and where the answer goes (a private chat or direct room)."""

    network: Network
    address: str  # the user's id on the network: what a contact is linked by
    chat: str  # where to answer
    language: str | None = None  # the language their chat app says they use (Telegram)


class IncomingCommands(Protocol):
    """The command service as the chat adapters see it (synchronous: call it off the loop)."""

    def handle(self, sender: Sender, text: str, update_key: str,
               attachment: bool = False) -> str | None: ...
    def language_of(self, sender: Sender) -> str: ...
    def expects_text(self, sender: Sender) -> bool: ...


class DirectRoomBook(Protocol):
    """Which direct room reaches which Matrix user, as the Matrix adapter asks it (off the loop)."""

    async def room_for(self, user_id: str) -> str | None: ...
    async def remember(self, user_id: str, room_id: str) -> None: ...
    async def forget_room(self, room_id: str) -> None: ...
    async def forget_if_left(self, room_id: str, user_id: str) -> bool: ...
    async def forget_shared(self, room_ids: Sequence[str]) -> dict[str, str]: ...
    async def hub_addresses(self) -> list[str]: ...
