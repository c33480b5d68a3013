"""Who an alert affects: members' answers to an alert, counted for the coordinators."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.domain.language import N_, _, ngettext

# A member's answer (the word of `/affected`) as shown to coordinators; `_()` when shown.
STATUS_WORDS = {"yes": N_("affected"), "no": N_("not affected"), "patched": N_("patched")}


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
        _("Alert {ref}: {title}").format(ref=report.ref, title=report.title),
        ngettext("Matched {n} member; {answered} answered, {unanswered} not yet.",
                 "Matched {n} members; {answered} answered, {unanswered} not yet.",
                 report.matched).format(n=report.matched, answered=len(report.answers),
                                        unanswered=report.unanswered),
        _("Affected: {affected} · Patched: {patched} · Not affected: {not_affected}").format(
            affected=c["yes"], patched=c["patched"], not_affected=c["no"]),
    ]
    if detail is not None:
        lines.append("")
        for name in sorted(detail, key=str.casefold):
            answer = report.answers.get(name)
            said = _(STATUS_WORDS[answer]) if answer else _("no answer yet")
            lines.append(f"• {name}: {said}")
    return "\n".join(lines)
