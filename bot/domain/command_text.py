"""What every command parser needs: characters never to keep, and what a number is."""

from __future__ import annotations

import re

# Control and direction-changing characters: stripped before parsing, never shown back.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def is_number(word: str) -> bool:
    """ASCII digits only: `str.isdigit` also takes '²', which `int` refuses."""
    return word.isascii() and word.isdigit()
