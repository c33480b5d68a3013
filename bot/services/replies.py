"""An answer to a chat command: text, and buttons where the network has them."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.rendering import Button


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
