"""What every command parser needs: characters never to keep, and what a number is."""

from __future__ import annotations

import re

from bot.domain.name_folding import without_invisible

# Control characters but tab and line feed (an announcement may have paragraphs).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def without_control(text: str) -> str:
    """`text` without control and invisible characters (bidi controls that reverse how text is
    shown, zero-width characters, tag characters …): stripped before parsing, never shown
    back."""
    return without_invisible(_CONTROL.sub("", text))


def is_number(word: str) -> bool:
    """ASCII digits only: `str.isdigit` also takes '²', which `int` refuses."""
    return word.isascii() and word.isdigit()
