"""The `/report` conversation: its steps, the state kept between messages, reading answers.

One question at a time: what happened, the product concerned, indicators, the TLP, how the
report may be shared, then a last look before filing. A coordinator's edit of a report's summary
is a conversation of one step. The state is saved as JSON between messages (it survives a
restart) and read back strictly: an unreadable state is dropped, never guessed at.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace
from typing import Any

from bot.domain.command_text import without_control
from bot.domain.language import N_, _
from bot.domain.reports import (
    DEFAULT_TLP,
    MAX_SUMMARY_CHARS,
    Indicator,
    IndicatorFlag,
    IndicatorKind,
    ProductName,
    Sharing,
)
from bot.domain.tlp import Tlp

DRAFT_VERSION = 1
MAX_REPORT_INDICATORS = 500  # on one report, over every paste


class Step(enum.StrEnum):
    WHAT = "what"
    PRODUCT = "product"
    INDICATORS = "indicators"
    TLP = "tlp"
    SHARING = "sharing"
    CONFIRM = "confirm"
    EDIT = "edit"  # a coordinator writes a report's new summary


@dataclass(frozen=True)
class Draft:
    step: Step
    summary: str = ""
    product: ProductName | None = None
    indicators: tuple[Indicator, ...] = ()
    tlp: Tlp = DEFAULT_TLP
    sharing: Sharing = Sharing.ANONYMOUS
    editing: int | None = None  # the report whose summary a coordinator rewrites

    def at(self, step: Step) -> Draft:
        return replace(self, step=step)

    def to_data(self) -> dict[str, Any]:
        return {
            "version": DRAFT_VERSION, "step": self.step.value, "summary": self.summary,
            "product": [self.product.vendor, self.product.product] if self.product else None,
            "indicators": [[i.kind.value, i.value, i.flag.value if i.flag else None]
                           for i in self.indicators],
            "tlp": self.tlp.name, "sharing": self.sharing.value, "editing": self.editing,
        }


def draft_from_data(data: dict[str, Any]) -> Draft | None:
    """The draft saved by `Draft.to_data`; None when it cannot be read (another version, or
    damaged): the person is told to start again rather than filing something half-read."""
    try:
        if data.get("version") != DRAFT_VERSION:
            return None
        product = data["product"]
        return Draft(
            step=Step(data["step"]), summary=str(data["summary"]),
            product=ProductName(str(product[0]), str(product[1])) if product else None,
            indicators=tuple(
                Indicator(IndicatorKind(kind), str(value),
                          IndicatorFlag(flag) if flag else None)
                for kind, value, flag in data["indicators"]),
            tlp=Tlp[data["tlp"]], sharing=Sharing(data["sharing"]),
            editing=int(data["editing"]) if data.get("editing") is not None else None)
    except (KeyError, ValueError, TypeError, IndexError):
        return None


# The order the choices are offered in, so a number answers too.
TLP_CHOICES = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)
SHARING_CHOICES = (Sharing.COORDINATORS, Sharing.ANONYMOUS, Sharing.NAMED)
_SHARING_WORDS = {
    Sharing.COORDINATORS: {"coordinators", "coordinator", "coordinators only", "koordinatoren",
                           "nur koordinatoren", "hub"},
    Sharing.ANONYMOUS: {"anonymous", "anonymised", "anonymized", "anonym", "anonymisiert"},
    Sharing.NAMED: {"named", "name", "with name", "organisation named", "organization named",
                    "genannt", "namentlich", "mit namen"},
}
_DONE_WORDS = {"done", "finished", "next", "fertig", "weiter"}
_CLEAR_WORDS = {"clear list", "start over", "neu", "von vorn"}
_YES = {"yes", "y", "ja", "j", "file", "send", "absenden"}
_NO = {"no", "n", "nein"}
_SPACE = re.compile(r"\s+")


def _word(text: str) -> str:
    return _SPACE.sub(" ", without_control(text).strip().lstrip("/!").strip().rstrip(".!")
                      ).lower()


def summary_answer(text: str) -> str:
    """The "what happened" text (or a new summary); ValueError with what was wrong."""
    summary = without_control(text).strip()
    if not summary:
        raise ValueError(_("Please describe what happened in a few sentences."))
    if len(summary) > MAX_SUMMARY_CHARS:
        raise ValueError(_("That is {length} characters; please keep it under {limit} (the "
                           "indicators come next, separately).").format(
            length=len(summary), limit=MAX_SUMMARY_CHARS))
    return summary


def tlp_answer(text: str) -> Tlp:
    word = _word(text)
    if word in {"", "default", "standard"}:
        return DEFAULT_TLP
    if word.isdigit() and 1 <= int(word) <= len(TLP_CHOICES):
        return TLP_CHOICES[int(word) - 1]
    try:
        return Tlp.parse(word)
    except ValueError:
        raise ValueError(_("Answer with one of CLEAR, GREEN, AMBER, AMBER+STRICT or RED (or "
                           "1 to 5).")) from None


def sharing_answer(text: str) -> Sharing:
    word = _word(text)
    if word.isdigit() and 1 <= int(word) <= len(SHARING_CHOICES):
        return SHARING_CHOICES[int(word) - 1]
    for sharing, words in _SHARING_WORDS.items():
        if word in words:
            return sharing
    raise ValueError(_("Answer 1 (coordinators only), 2 (members, anonymised) or 3 (members, "
                       "with your organisation named)."))


def is_done(text: str) -> bool:
    return _word(text) in _DONE_WORDS


def is_start_over(text: str) -> bool:
    return _word(text) in _CLEAR_WORDS


def yes_or_no(text: str) -> bool | None:
    word = _word(text)
    return True if word in _YES else False if word in _NO else None


# What each step asks (its first asking; an answer that was wrong is asked again with why).
QUESTIONS = {
    Step.WHAT: N_("What happened? Describe it in a few sentences: what you saw, since when, "
                  "what it affects. Do not paste patient data. (/cancel stops the report.)"),
    Step.PRODUCT: N_("Which vendor and product does it concern? Write e.g. \"Siemens SIMATIC "
                     "S7-1500\" — or /skip if none."),
    # TRANSLATORS: "done" is the word the conversation takes (German readers may send "fertig").
    Step.INDICATORS: N_("Paste the indicators as text: IP addresses, domains, URLs, e-mail "
                        "addresses, hashes, CVE IDs (defanged hxxp:// and [.] are fine). Send "
                        "done when finished, or /skip if there are none."),
    # TRANSLATORS: keep CLEAR, GREEN, AMBER, AMBER+STRICT, RED and /skip as they are.
    Step.TLP: N_("Which TLP should the report have? 1 CLEAR, 2 GREEN, 3 AMBER, 4 AMBER+STRICT, "
                 "5 RED (/skip: AMBER). TLP:RED stays with the hub's coordinators."),
    Step.SHARING: N_("How may the hub share it? 1 coordinators only, 2 members anonymised "
                     "(/skip), 3 members with your organisation named."),
    Step.EDIT: N_("Send the new summary of the report as members will read it (/cancel keeps "
                  "the old one)."),
}
