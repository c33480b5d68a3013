"""The chat port: what a network adapter hands the command service, and what it may ask of it."""

from __future__ import annotations

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

    def handle(self, sender: Sender, text: str, update_key: str) -> str | None: ...
    def language_of(self, sender: Sender) -> str: ...
