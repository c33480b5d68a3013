"""An answer to a chat command: text, and buttons where the network has them."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.outbox_payload import Button
from bot.domain.tlp import Tlp


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    tlp: Tlp = Tlp.CLEAR  # the highest TLP of the advisories the text quotes
