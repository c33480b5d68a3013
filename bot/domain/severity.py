"""Severity levels of advisories and how they are read from scores and feed words."""

from __future__ import annotations

import enum

from bot.domain.language import N_, _


class Severity(enum.IntEnum):
    """Ordered severity; a member's threshold compares with `>=`."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        """The English word, as stored and as the `/severity` command takes it."""
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


_LABELS: dict[Severity, str] = {
    # TRANSLATORS: a severity as a word in a sentence ("alerts of severity low and above").
    Severity.LOW: N_("low"),
    Severity.MEDIUM: N_("medium"),
    Severity.HIGH: N_("high"),
    Severity.CRITICAL: N_("critical"),
}
_HEADINGS: dict[Severity, str] = {
    # TRANSLATORS: a severity as the heading of an alert, in capitals.
    Severity.LOW: N_("LOW"),
    Severity.MEDIUM: N_("MEDIUM"),
    Severity.HIGH: N_("HIGH"),
    Severity.CRITICAL: N_("CRITICAL"),
}


def severity_label(severity: Severity) -> str:
    """The severity's word in the reader's language ('high' / 'hoch')."""
    return _(_LABELS[severity])


def severity_heading(severity: Severity | None) -> str:
    """The severity as an alert's heading ('HIGH' / 'HOCH'), or that it is not known."""
    if severity is None:
        # TRANSLATORS: an alert's heading when the advisory gives no severity.
        return _("SEVERITY UNKNOWN")
    return _(_HEADINGS[severity])
