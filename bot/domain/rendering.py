"""How alerts read: plain text (console) and HTML for chat networks (Telegram, Matrix)."""

from __future__ import annotations

import re
import textwrap
from datetime import datetime
from html import escape
from urllib.parse import urlsplit

from bot.domain.alerts import Alert
from bot.domain.commands import SPECS
from bot.domain.language import _, decimal_text, in_language, moment_text, ngettext, percent_text
from bot.domain.outbox_payload import (
    MAX_BUTTON_COMMAND_BYTES,
    AlertMessage,
    Attachment,
    Button,
    OutboxPayload,
    TextMessage,
)
from bot.domain.severity import Severity, severity_heading

_SUMMARY_CHARS = 600
# A longer advisory link is shown as its host (real ones are under 200 characters; a feed may
# carry tracking links of kilobytes, which no message should spell out).
LONG_LINK_CHARS = 1_000
_HOST_CHARS = 100
_MARKS = {Severity.CRITICAL: "🔴", Severity.HIGH: "🟠", Severity.MEDIUM: "🟡", Severity.LOW: "🔵"}


def alert_headline(alert: Alert) -> str:
    a = alert.advisory
    score = f" (CVSS {decimal_text(a.cvss)})" if a.cvss is not None else ""
    return f"[{severity_heading(a.severity)}{score}] {a.title}"


def _short_summary(summary: str) -> str:
    return textwrap.shorten(" ".join(summary.split()), _SUMMARY_CHARS, placeholder=" …")


def published_text(moment: datetime, zone: str | None) -> str:
    """The publication time in the reader's zone and language ('12 Apr 2026, 08:00 CEST' /
    '12.04.2026, 08:00 MESZ'); the hub's zone when the reader set none, UTC when unknown."""
    return moment_text(moment, zone)


def _epss_line(epss: float) -> str:
    return _("EPSS: {chance} chance of exploitation in the next 30 days").format(
        chance=percent_text(epss))


def _recipient_without_member(alert: Alert) -> str:
    if alert.withheld:
        # TRANSLATORS: who an alert is for, when only the hub's coordinators may read it.
        return _("hub coordinators")
    return _("hub channel")


def withheld_text(alert: Alert) -> str:
    """For coordinators: how many members the advisory matched who may not read it (never
    who, never their products)."""
    # TRANSLATORS: {tlp} is the advisory's label, e.g. TLP:RED.
    return ngettext("Matched {n} member, who was not sent it: {tlp} is above a member's "
                    "clearance.",
                    "Matched {n} members, who were not sent it: {tlp} is above a member's "
                    "clearance.", alert.withheld).format(n=alert.withheld,
                                                        tlp=alert.advisory.tlp.label)


def render_alert_text(alert: Alert, zone: str | None = None) -> str:
    """A readable multi-line alert: headline, CVEs, matched products and why, link, summary."""
    a = alert.advisory
    lines = [alert_headline(alert)]
    if alert.change:
        lines.append(_("Updated: {change}").format(change=in_language(alert.change)))
    if alert.exploited:
        lines.append(_("KNOWN EXPLOITED in the wild") + " (CISA KEV)")
    # TRANSLATORS: {recipient} is a member's name or "hub channel"; {tlp} is e.g. TLP:CLEAR.
    lines.append(_("For: {recipient}   Source: {source}   {tlp}").format(
        recipient=alert.member or _recipient_without_member(alert), source=a.source,
        tlp=a.tlp.label))
    if alert.withheld:
        lines.append(withheld_text(alert))
    if a.published:
        lines.append(_("Published: {moment}").format(moment=published_text(a.published, zone)))
    if a.cves:
        lines.append(_("CVEs: {cves}").format(cves=_cve_list(a.cves)))
    if alert.epss is not None:
        lines.append(_epss_line(alert.epss))
    for p in alert.products:
        lines.append(_("Your product: {product}").format(product=f"{p.vendor} | {p.product}"))
        lines.append("  " + _("matched because {why}").format(why=in_language(p.why)))
        if p.note:
            lines.append(f"  {in_language(p.note)}")
    if a.link:
        lines.append(_("Link: {link}").format(link=a.link))
    if a.summary:
        lines.extend(textwrap.wrap(_short_summary(a.summary), 100))
    return "\n".join(lines)


def render_alert_html(alert: Alert, zone: str | None = None, *,
                      link_button: bool = False) -> list[str]:
    """The alert as lines of chat HTML (Telegram's subset); every feed string is escaped.

    Each line is balanced on its own, so a long message may be split between any two lines.
    `link_button`: the network shows the advisory's link as a button too (Telegram).
    """
    a = alert.advisory
    mark = _MARKS.get(a.severity, "⚪") if a.severity else "⚪"
    severity = escape(severity_heading(a.severity))
    score = f" · CVSS {decimal_text(a.cvss)}" if a.cvss is not None else ""
    lines = [f"{mark} <b>{severity}{score}</b>", f"<b>{escape(a.title)}</b>"]
    if alert.change:
        updated = escape(_("Updated:"))
        lines.insert(0, f"🔁 <b>{updated}</b> {escape(in_language(alert.change))}")
    if alert.exploited:
        exploited = escape(_("KNOWN EXPLOITED in the wild"))
        lines.insert(0, f"🚨 <b>{exploited}</b> (CISA KEV)")
    facts = [a.tlp.label, escape(a.source)]
    if a.published:
        facts.append(escape(published_text(a.published, zone)))
    lines.append(" · ".join(facts))
    if alert.withheld:
        lines.append(f"<b>{escape(withheld_text(alert))}</b>")
    if a.cves:
        lines.append(escape(_cve_list(a.cves)))
    if alert.epss is not None:
        lines.append(escape(_("EPSS {chance}: chance of exploitation in the next 30 days").format(
            chance=percent_text(alert.epss))))
    for p in alert.products:
        product = f"<b>{escape(p.vendor)} | {escape(p.product)}</b>"
        lines.append(escape(_("Your product: {product}")).format(product=product))
        why = escape(_("matched: {why}")).format(why=escape(in_language(p.why)))
        lines.append(f"<i>{why}</i>")
        if p.note:
            lines.append(f"<b>{escape(in_language(p.note))}</b>")
    if a.summary:
        lines.append("")
        lines.extend(escape(part) for part in textwrap.wrap(_short_summary(a.summary), 300))
    if a.link:
        lines.append(advisory_link_line(a.link, button=link_button))
    return lines


def plain_lines_html(text: str) -> list[str]:
    """A plain-text reply as escaped HTML lines (a line too long for a message is wrapped when
    the message is cut to the network's size, after escaping)."""
    return [escape(line) for line in text.splitlines()] or [""]


def advisory_link_line(link: str, *, button: bool) -> str:
    """The line leading to the advisory. A link of over LONG_LINK_CHARS is shown as its host:
    with `button` (Telegram) the button "Open the advisory" carries it; else the host is the
    text of the link."""
    read = escape(_("Read the advisory"))
    href = escape(link, quote=True)
    if len(link) <= LONG_LINK_CHARS:
        return f'<a href="{href}">{read}</a>'
    host = escape(link_host(link))
    if button:
        # TRANSLATORS: {host} is a web server's name, e.g. www.cisa.gov; keep the button's name
        # as "Open the advisory" is translated.
        return escape(_("Read the advisory on {host}: button “Open the advisory”")).format(
            host=f"<b>{host}</b>")
    return f'{read}: <a href="{href}">{host}</a>'


def link_host(link: str) -> str:
    """The host a link leads to ("www.cisa.gov"), or its beginning when it names none."""
    try:
        host = urlsplit(link).hostname or ""
    except ValueError:
        host = ""
    shown = host or link
    return shown if len(shown) <= _HOST_CHARS else shown[: _HOST_CHARS - 1] + "…"


def _cve_list(cves: tuple[str, ...]) -> str:
    shown = ", ".join(cves[:10])
    if len(cves) <= 10:
        return shown
    more = len(cves) - 10
    # TRANSLATORS: {cves} is a list of ten CVE ids; {n} how many more the advisory names.
    return ngettext("{cves} and {n} more", "{cves} and {n} more", more).format(cves=shown, n=more)


def chat_message_lines(payload: OutboxPayload, *,
                       link_button: bool = False) -> tuple[list[str], str | None]:
    """Chat HTML lines for any outbox payload, and the advisory link to offer as a button
    (`link_button`: the network shows it, so a long link in the text is only its host)."""
    if isinstance(payload, AlertMessage):
        alert = payload.alert
        lines = render_alert_html(alert, payload.zone, link_button=link_button)
        ref_line = alert_ref_line(payload)
        if ref_line:
            lines.append(escape(ref_line))
        return lines, alert.advisory.link or None
    return plain_lines_html(payload.text), None


def alert_ref_line(message: AlertMessage) -> str | None:
    """The alert's short number, and for a member how to say whether it affects them."""
    ref = message.ref
    if ref is None:
        return None
    if message.alert.member:
        # TRANSLATORS: keep the command and its words "/affected {ref} yes|no|patched" as they are.
        return _("Alert ID {ref} · affected? /affected {ref} yes|no|patched").format(ref=ref)
    return _("Alert ID {ref}").format(ref=ref)


def payload_buttons(payload: OutboxPayload) -> list[list[Button]]:
    """The payload's buttons, rows in order; a command too long for Telegram is left out."""
    rows = [[b for b in row if len(b.command.encode()) <= MAX_BUTTON_COMMAND_BYTES]
            for row in payload.buttons]
    return [row for row in rows if row]


def button_hint_lines(payload: OutboxPayload, prefix: str = "/") -> list[str]:
    """For networks without buttons: the commands the buttons would send, as plain text."""
    lines = []
    for row in payload_buttons(payload):
        commands = " · ".join(prefix + b.command.removeprefix("/") for b in row)
        # TRANSLATORS: followed by the commands a reader may send, e.g. "/rsvp 3 yes · /rsvp 3 no".
        lines.append(_("Answer: {commands}").format(commands=commands))
    return lines


def payload_attachment(payload: OutboxPayload) -> Attachment | None:
    """The file sent after the message, if it has one (an alert never has)."""
    return payload.attachment if isinstance(payload, TextMessage) else None


def with_command_prefix(text: str, prefix: str) -> str:
    """Write the bot's commands in `text` with another prefix ("!" on Matrix, where Element
    runs "/…" itself); links and paths are left alone."""
    if prefix == "/":
        return text
    names = "|".join(sorted(SPECS, key=len, reverse=True))
    return re.sub(rf"(?<![\w/.:])/({names})\b", rf"{prefix}\1", text)
