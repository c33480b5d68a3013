"""Severity levels of advisories and how they are read from scores and feed words."""

from __future__ import annotations

import enum


class Severity(enum.IntEnum):
    """Ordered severity; a member's threshold compares with `>=`."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_cvss(cls, score: float) -> Severity | None:
        """CVSS v3/v4 qualitative rating; 0.0 (none) has no severity."""
        if score >= 9.0:
            return cls.CRITICAL
        if score >= 7.0:
            return cls.HIGH
        if score >= 4.0:
            return cls.MEDIUM
        if score > 0.0:
            return cls.LOW
        return None

    @classmethod
    def from_word(cls, word: str) -> Severity | None:
        """Read a severity word as feeds write it (English or German, as CERT-Bund does)."""
        return _WORDS.get(word.strip().lower())


_WORDS: dict[str, Severity] = {
    "low": Severity.LOW,
    "niedrig": Severity.LOW,
    "gering": Severity.LOW,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "mittel": Severity.MEDIUM,
    "important": Severity.HIGH,
    "high": Severity.HIGH,
    "hoch": Severity.HIGH,
    "critical": Severity.CRITICAL,
    "kritisch": Severity.CRITICAL,
    "sehr hoch": Severity.CRITICAL,
}
