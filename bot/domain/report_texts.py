"""The texts of members' reports, in the active language: the reporter's last look before
filing, the coordinators' triage card, the relayed report members read, the indicators' lines.

The relayed text is made only of what the reporter wrote, the product's name, the indicators
and the hub's own words: never the organisation (unless the reporter chose to be named), never
a contact or chat.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.language import N_, _, ngettext
from bot.domain.report_conversation import Draft
from bot.domain.reports import Indicator, IndicatorFlag, Report, Sharing, report_ref
from bot.domain.tlp import Tlp

# How long a list of indicators a chat message shows; the rest is counted (exports have all).
SHOWN_INDICATORS = 40

_FLAGS = {
    IndicatorFlag.PRIVATE: N_("private address: inside a network, not the attacker's"),
    IndicatorFlag.DOCUMENTATION: N_("documentation example, not a real address"),
}
_SHARING = {
    Sharing.COORDINATORS: N_("coordinators only"),
    Sharing.ANONYMOUS: N_("members, anonymised"),
    Sharing.NAMED: N_("members, with the organisation named"),
}
# What a reader may do with what they read (FIRST TLP 2.0, shortened).
_TLP_RULE = {
    Tlp.CLEAR: N_("no limit on sharing"),
    Tlp.GREEN: N_("share within the community, not publicly"),
    Tlp.AMBER: N_("share within your organisation and its clients on a need-to-know basis"),
    Tlp.AMBER_STRICT: N_("share only within your organisation, on a need-to-know basis"),
    Tlp.RED: N_("for the named recipients only"),
}


def sharing_text(sharing: Sharing) -> str:
    return _(_SHARING[sharing])


def indicator_lines(indicators: Sequence[Indicator], limit: int = SHOWN_INDICATORS) -> list[str]:
    """One line per indicator ("• 203.0.113.5 (ipv4)"), flagged ones with why; then how many
    more there are."""
    lines = []
    for indicator in indicators[:limit]:
        note = indicator.kind.value
        if indicator.flag is not None:
            note += ", " + _(_FLAGS[indicator.flag])
        lines.append(f"• {indicator.value} ({note})")
    if len(indicators) > limit:
        lines.append(_("… and {count} more.").format(count=len(indicators) - limit))
    return lines


def draft_review(draft: Draft) -> str:
    """What the reporter checks before filing."""
    lines = [_("Please check your report:"), "", _("What happened:"), draft.summary, ""]
    product = draft.product.display if draft.product else _("none named")
    lines.append(_("Product: {product}").format(product=product))
    lines.append(draft.tlp.label)
    lines.append(_("Shared with: {sharing}").format(sharing=sharing_text(draft.sharing)))
    if draft.tlp is Tlp.RED and draft.sharing is not Sharing.COORDINATORS:
        lines.append(_("(TLP:RED: only the hub's coordinators will read it.)"))
    if draft.indicators:
        lines += ["", _("Indicators ({count}):").format(count=len(draft.indicators))]
        lines += indicator_lines(draft.indicators)
    else:
        lines.append(_("Indicators: none"))
    lines += ["", _("Send yes to file it with the hub, or /cancel to drop it.")]
    return "\n".join(lines)


def triage_card(report: Report) -> str:
    """A filed report as coordinators decide on it: with who filed it (for them only)."""
    lines = [_("📝 Report {ref} from {member}, waiting for your decision").format(
        ref=report.ref, member=report.member), ""]
    lines.append(_("Summary (as members would read it):"))
    lines += [report.summary, ""]
    if report.product:
        lines.append(_("Product: {product}").format(product=report.product.display))
    lines.append(report.tlp.label)
    lines.append(_("The reporter allows: {sharing}").format(
        sharing=sharing_text(report.sharing)))
    if report.indicators:
        lines += ["", _("Indicators ({count}):").format(count=len(report.indicators))]
        lines += indicator_lines(report.indicators)
    lines += ["", _("/approve {ref} relays it, /edit {ref} <summary> rewrites the summary "
                    "first, /reject {ref} [reason] declines it.").format(ref=report.ref)]
    return "\n".join(lines)


def relayed_report(report: Report, product_is_yours: bool = False) -> str:
    """The report as members read it: anonymised unless its reporter chose to be named."""
    ref = report.ref
    if report.sharing is Sharing.NAMED:
        heading = _("🛡 {member} reports ({ref}, {tlp}):").format(
            member=report.member, ref=ref, tlp=report.tlp.label)
    else:
        heading = _("🛡 A member organisation reports ({ref}, {tlp}):").format(
            ref=ref, tlp=report.tlp.label)
    lines = [heading, "", report.summary, ""]
    if report.product:
        lines.append(_("Product: {product}").format(product=report.product.display))
        if product_is_yours:
            lines.append(_("Your organisation registered this product."))
    # A reporter's internal addresses say something of its network and help no other member.
    shared = [i for i in report.indicators if i.flag is not IndicatorFlag.PRIVATE]
    if shared:
        lines += ["", _("Indicators ({count}):").format(count=len(shared))]
        lines += indicator_lines(shared)
    if len(shared) < len(report.indicators):
        lines.append(ngettext("({count} internal address of the reporter is not shown.)",
                              "({count} internal addresses of the reporter are not shown.)",
                              len(report.indicators) - len(shared)).format(
            count=len(report.indicators) - len(shared)))
    lines += ["", _("{tlp}: {rule}.").format(tlp=report.tlp.label, rule=_(_TLP_RULE[report.tlp])),
              _("Do you see this too? /seen {ref} — not here: /seen {ref} no — or /seen {ref} "
                "followed by the indicators you see.").format(ref=ref)]
    return "\n".join(lines)


def seen_buttons_text(report_id: int) -> tuple[tuple[str, str], ...]:
    """The buttons under a relayed report: (label, command)."""
    ref = report_ref(report_id)
    return ((_("We see this too"), f"/seen {ref}"), (_("Not here"), f"/seen {ref} no"))
