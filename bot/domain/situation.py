"""Who an alert affects: members' answers to an alert, counted for the coordinators."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

STATUS_WORDS = {"yes": "affected", "no": "not affected", "patched": "patched"}


@dataclass(frozen=True)
class SituationReport:
    ref: int
    title: str
    matched: int
    answers: Mapping[str, str]  # member -> yes|no|patched, only members that matched

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.answers.values())

    @property
    def unanswered(self) -> int:
        return self.matched - len(self.answers)


def situation_text(report: SituationReport, detail: Sequence[str] | None = None) -> str:
    """The counts; with `detail` (the matched members' names), who answered what."""
    c = report.counts
    lines = [
        f"Alert {report.ref}: {report.title}",
        f"Matched {report.matched} member{'s' if report.matched != 1 else ''}; "
        f"{len(report.answers)} answered, {report.unanswered} not yet.",
        f"Affected: {c['yes']} · Patched: {c['patched']} · Not affected: {c['no']}",
    ]
    if detail is not None:
        lines.append("")
        for name in sorted(detail, key=str.casefold):
            answer = report.answers.get(name)
            lines.append(f"• {name}: {STATUS_WORDS[answer] if answer else 'no answer yet'}")
    return "\n".join(lines)
