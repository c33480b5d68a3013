"""Traffic Light Protocol labels (FIRST TLP 2.0), ordered from most to least shareable."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Tlp(enum.IntEnum):
    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        return "TLP:" + self.name.replace("_", "+")

    @classmethod
    def parse(cls, text: str) -> Tlp:
        """Parse `TLP:AMBER+STRICT`, `amber`, or TLP 1.0's `WHITE`; raise ValueError otherwise."""
        word = text.strip().upper().removeprefix("TLP:").removeprefix("TLP ").strip()
        word = word.replace("+", "_").replace(" ", "_")
        if word == "WHITE":
            return cls.CLEAR
        try:
            return cls[word]
        except KeyError:
            raise ValueError(
                f"unknown TLP label {text!r}; use CLEAR, GREEN, AMBER, AMBER+STRICT or RED"
            ) from None


def highest(labels: Iterable[Tlp | None]) -> Tlp:
    """The most restrictive of the labels given (TLP:CLEAR when none is): an advisory's TLP is
    the highest of its feed's, its own label's and every merged source's, never lowered."""
    return max((t for t in labels if t is not None), default=Tlp.CLEAR)
