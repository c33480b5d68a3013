"""`hubbot export`: a member's report as a MISP event or a STIX 2.1 bundle, for the hub's tools."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import fail, load_settings, open_cli_store, refusals_reported
from bot.cli.report_export import misp_event_json, stix_bundle_json
from bot.domain.clock import utc_now
from bot.domain.report_commands import report_id
from bot.domain.reports import ReportStatus
from bot.domain.tlp import Tlp
from bot.services import administration


class ExportForm(enum.StrEnum):
    MISP = "misp"
    STIX = "stix"


def export(
    form: Annotated[ExportForm, typer.Argument(help="misp (a MISP event) or stix (STIX 2.1)")],
    report: Annotated[str, typer.Argument(help="the report's ID, e.g. R12")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="write to this file (mode 0600) instead of standard output")]
    = None,
) -> None:
    """A member's report for MISP or a STIX 2.1 consumer; the export is in the audit log."""
    try:
        wanted = report_id(report)
    except ValueError:
        fail(f"{report!r} is not a report ID; give it as shown in the chat, e.g. R12")
    store = open_cli_store(load_settings())
    with refusals_reported():
        found = administration.report_for_export(store, wanted, form.value, utc_now())
    text = misp_event_json(found) if form is ExportForm.MISP else stix_bundle_json(found)
    if found.status is not ReportStatus.APPROVED:
        typer.echo(f"note: {found.ref} is {found.status.value}, not approved", err=True)
    if found.tlp >= Tlp.AMBER:
        typer.echo(f"note: {found.ref} is {found.tlp.label}: share the file accordingly",
                   err=True)
    if output is None:
        typer.echo(text)
        return
    output.touch(mode=0o600)
    output.write_text(text + "\n", encoding="utf-8")
    typer.echo(f"wrote {found.ref} as {form.value} to {output}", err=True)
