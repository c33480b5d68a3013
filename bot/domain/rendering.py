"""How an alert reads as plain text (console, chat fallbacks)."""

from __future__ import annotations

import textwrap

from bot.domain.alerts import Alert

_SUMMARY_CHARS = 600


def alert_headline(alert: Alert) -> str:
    a = alert.advisory
    severity = a.severity.label.upper() if a.severity else "SEVERITY UNKNOWN"
    score = f" (CVSS {a.cvss:.1f})" if a.cvss is not None else ""
    return f"[{severity}{score}] {a.title}"


def render_alert_text(alert: Alert) -> str:
    """A readable multi-line alert: headline, CVEs, matched products and why, link, summary."""
    a = alert.advisory
    lines = [alert_headline(alert)]
    lines.append(f"For: {alert.member}   Source: {a.source}   {a.tlp.label}")
    if a.published:
        lines.append(f"Published: {a.published:%Y-%m-%d %H:%M} UTC")
    if a.cves:
        shown = ", ".join(a.cves[:10])
        more = f" and {len(a.cves) - 10} more" if len(a.cves) > 10 else ""
        lines.append(f"CVEs: {shown}{more}")
    for p in alert.products:
        lines.append(f"Your product: {p.vendor} | {p.product}")
        lines.append(f"  matched because {p.why}")
    if a.link:
        lines.append(f"Link: {a.link}")
    if a.summary:
        summary = textwrap.shorten(" ".join(a.summary.split()), _SUMMARY_CHARS, placeholder=" …")
        lines.extend(textwrap.wrap(summary, 100))
    return "\n".join(lines)
