"""CVSS scores, severity words and TLP labels as advisories write them in free text."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError

from bot.domain.severity import Severity
from bot.domain.tlp import Tlp

# "CVSS v3.1 base score of 9.8", "CVSS v3 9.8", "CVSSv4 score: 9.3", "CVSS 3.1 6.8"
_VERSIONED_SCORE = re.compile(
    r"\bCVSS\s*(?:v|version\s*)?(?:3(?:\.[01])?|4(?:\.0)?)\b(?!/)\s*(?:base\s*)?(?:score\s*)?"
    r"(?:of|is|[:=])?\s*(\d{1,2}\.\d)\b",
    re.IGNORECASE,
)
# "CVSS base score: 9.8", "CVSS score of 7.5" (no version: v3 or later in practice)
_BARE_SCORE = re.compile(
    r"\bCVSS\s*(?:base\s*)?score\s*(?:of|is|[:=])?\s*(\d{1,2}\.\d)\b", re.IGNORECASE
)
_VECTOR = re.compile(r"\bCVSS:(?:3\.[01]|4\.0)(?:/[A-Za-z]{1,3}:[A-Za-z])+")
_SEVERITY_PHRASE = re.compile(
    r"\b(?:severity|security impact rating|risk level|risikostufe)\s*[:=]?\s*"
    r"(critical|high|important|medium|moderate|low|kritisch|hoch|mittel|niedrig)\b",
    re.IGNORECASE,
)
_SEVERITY_TITLE = re.compile(
    r"\b(critical|high|medium|low)(?:[- ]severity)?\s+vulnerabilit(?:y|ies)\b", re.IGNORECASE
)
_TLP = re.compile(r"\bTLP\s*[:\-]?\s*((?i:CLEAR|WHITE|GREEN|AMBER\s*\+\s*STRICT|AMBER|RED))\b")
_SPACE = re.compile(r"\s+")


def highest_cvss(text: str) -> float | None:
    """Highest CVSS v3/v4 base score stated in `text` or computed from a vector in it."""
    scores = [
        float(m) for pattern in (_VERSIONED_SCORE, _BARE_SCORE) for m in pattern.findall(text)
    ]
    scores += [s for vector in dict.fromkeys(_VECTOR.findall(text)) if (s := _vector_score(vector))]
    valid = [score for score in scores if 0.0 <= score <= 10.0]
    return max(valid) if valid else None


def severity_from_words(words: Iterable[str], text: str = "", title: str = "") -> Severity | None:
    """Highest severity among single words (categories, title tags), a 'Severity: X' phrase in
    the text, or a title such as CERT-EU's '2026-010: Critical Vulnerabilities in ...'."""
    found = [s for word in words if (s := Severity.from_word(word)) is not None]
    found += [s for m in _SEVERITY_PHRASE.findall(text) if (s := Severity.from_word(m))]
    found += [s for m in _SEVERITY_TITLE.findall(title) if (s := Severity.from_word(m))]
    return max(found) if found else None


def tlp_in(texts: Iterable[str]) -> Tlp | None:
    """The most restrictive TLP label written in the texts (e.g. 'TLP:AMBER'), if any."""
    labels = [Tlp.parse(_SPACE.sub("", m)) for text in texts for m in _TLP.findall(text)]
    return max(labels) if labels else None


def _vector_score(vector: str) -> float | None:
    try:
        if vector.startswith("CVSS:4.0/"):
            return float(CVSS4(vector).base_score)
        return float(CVSS3(vector).scores()[0])
    except (CVSSError, ValueError, KeyError, IndexError):
        return None
