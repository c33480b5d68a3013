"""The `hubbot` command line (typer): run the bot, poll, manage members and products."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated

import typer

from bot.app.private_files import restrict_new_files
from bot.app.settings import Settings
from bot.cli.chat import audit, channel_app, invite_app, member_role
from bot.cli.common import fail, load_settings, open_cli_store, refusals_reported
from bot.cli.report_cli import export
from bot.domain.clock import utc_now
from bot.domain.members import Network
from bot.domain.product_csv import (
    ProductCsvError,
    ProductLine,
    parse_product_csv,
    read_product_csv,
    refused_rows,
)
from bot.domain.products import ProductSpec
from bot.feeds.config import FeedsFileError, load_feeds
from bot.services import administration, registrations

app = typer.Typer(help="hubbot: security advisories matched to members' products, as alerts.",
                  no_args_is_help=True, add_completion=False)
member_app = typer.Typer(help="Member organisations and their contacts.", no_args_is_help=True)
product_app = typer.Typer(help="Members' registered products.", no_args_is_help=True)
feeds_app = typer.Typer(help="The advisory feeds in feeds.yaml.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(member_app, name="member")
app.add_typer(product_app, name="product")
app.add_typer(feeds_app, name="feeds")
app.add_typer(db_app, name="db")
app.add_typer(invite_app, name="invite")
app.add_typer(channel_app, name="channel")
member_app.command("role")(member_role)
app.command("audit")(audit)
app.command("export")(export)


def _feeds(settings: Settings):  # type: ignore[no-untyped-def]
    try:
        return load_feeds(settings.feeds_file)
    except FeedsFileError as exc:
        fail(f"{exc}\nhubbot does not start on an invalid feeds file.")


@app.command()
def run() -> None:
    """Poll the feeds on schedule and deliver alerts until Ctrl-C or SIGTERM."""
    from bot.app.bootstrap import run_forever
    from bot.channels.telegram_updates import WEBHOOK_SECRET_MISSING

    settings = load_settings()
    if settings.telegram_webhook_url and settings.telegram_webhook_secret is None:
        fail(WEBHOOK_SECRET_MISSING)
    _feeds(settings)
    asyncio.run(run_forever(settings))


@app.command()
def poll(
    once: Annotated[bool, typer.Option("--once", help="poll every feed once, deliver, exit")],
    feed: Annotated[list[str] | None, typer.Option(help="only this feed (repeatable)")] = None,
) -> None:
    """Poll the feeds once now and deliver what matched."""
    if not once:
        fail("use `hubbot poll --once`, or `hubbot run` to poll on schedule", 2)
    settings = load_settings()
    feeds = _feeds(settings)
    if feed:
        unknown = set(feed) - {f.name for f in feeds}
        if unknown:
            fail(f"no feed named {', '.join(sorted(unknown))} in {settings.feeds_file}")
        feeds = [f for f in feeds if f.name in feed]
    failed = asyncio.run(_poll_once(settings, feeds))
    polled = [f for f in feeds if f.enabled and f.advisories]
    raise typer.Exit(1 if failed and failed == len(polled) else 0)


async def _poll_once(settings: Settings, feeds: list) -> int:  # type: ignore[type-arg]
    from bot.app.bootstrap import build_bot

    async with AsyncExitStack() as stack:
        bot = await build_bot(settings, stack, feeds=feeds, receive_commands=False)
        outcomes = await bot.poll_all()
        sent = await bot.drain()
    for o in outcomes:
        detail = o.error or f"{o.new} new, {o.merged} merged, {o.messages} messages queued"
        typer.echo(f"{o.feed:<28} {o.status:<13} {detail}", err=True)
    typer.echo(f"{sent} messages delivered", err=True)
    return sum(1 for o in outcomes if o.status == "failed")


@app.command()
def demo() -> None:
    """Offline demo: example feeds on a loopback server, sample members, one poll, the alerts."""
    from bot.cli.demo import run_demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    raise typer.Exit(asyncio.run(run_demo()))


_SKIP_INVALID = typer.Option(
    "--skip-invalid", help="report the rows that cannot be used and go on with the others")


def _product_lines(csv_file: Path, skip_invalid: bool) -> list[ProductLine]:
    """The product CSV's rows: all or none; with skip_invalid, the good ones, the refused
    ones reported on stderr."""
    text = csv_file.read_text(encoding="utf-8-sig")
    if not skip_invalid:
        return parse_product_csv(text, csv_file.name)
    read = read_product_csv(text, csv_file.name)
    if read.refused:
        typer.echo(f"{csv_file.name}: skipped {len(read.refused)} invalid row(s):\n  "
                   f"{refused_rows(read.refused)}", err=True)
    return read.lines


@app.command()
def match(
    products: Annotated[Path, typer.Option(help="CSV: member,vendor,product[,aliases]")],
    advisories: Annotated[Path, typer.Option(help="JSON lines with id, title, summary")],
    skip_invalid: Annotated[bool, _SKIP_INVALID] = False,
) -> None:
    """Match advisories against products offline; print one JSON line per match."""
    from bot.cli.offline_match import match_files

    try:
        lines = _product_lines(products, skip_invalid)
        for line in match_files(lines, advisories):
            typer.echo(json.dumps(line, ensure_ascii=False))
    except (ProductCsvError, ValueError, OSError) as exc:
        fail(str(exc))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (hubbot run does this itself)."""
    from bot.store.database import safe_url

    settings = load_settings()
    open_cli_store(settings)
    typer.echo(f"database {safe_url(settings.db_url)} is up to date")


@member_app.command("add")
def member_add(
    name: str,
    telegram: Annotated[list[str] | None, typer.Option(help="Telegram user or chat id")] = None,
    matrix: Annotated[list[str] | None, typer.Option(help="Matrix id, @user:server")] = None,
) -> None:
    """Add a member organisation, optionally with its chat contacts."""
    contacts = [(Network.TELEGRAM, t) for t in telegram or []]
    contacts += [(Network.MATRIX, m) for m in matrix or []]
    store = open_cli_store(load_settings())
    with refusals_reported():
        member = registrations.add_member(store, name, contacts, utc_now())
    typer.echo(f"added member {member.name} with {len(contacts)} contact(s)")


@member_app.command("list")
def member_list() -> None:
    """List members with their contacts and number of products."""
    store = open_cli_store(load_settings())
    overview = administration.members_overview(store)
    members, contacts, products = overview.members, overview.contacts, overview.products
    if not members:
        typer.echo("no members yet; add one with `hubbot member add NAME`")
    for m in members:
        own = [f"{c.network.value}:{c.address}" + ("" if c.active else " (inactive)")
               for c in contacts if c.member == m.name]
        count = sum(1 for p in products if p.member == m.name)
        role = "\tcoordinator" if m.role.value == "coordinator" else ""
        typer.echo(f"{m.name}\t{count} products\t{', '.join(own) or 'no contacts'}{role}")


@member_app.command("remove")
def member_remove(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Remove a member, its contacts and products; nothing queued for it is sent."""
    if not yes:
        typer.confirm(f"Remove member {name} with all its products and contacts?", abort=True)
    with refusals_reported():
        registrations.remove_member(open_cli_store(load_settings()), name)
    typer.echo(f"removed member {name}")


@product_app.command("add")
def product_add(
    member: str,
    vendor: str,
    product: str,
    alias: Annotated[list[str] | None, typer.Option(help="another name (repeatable)")] = None,
    vendor_alias: Annotated[list[str] | None, typer.Option(help="another vendor name")] = None,
    distinctive: Annotated[
        bool, typer.Option(help="match the product name even without the vendor's")
    ] = False,
    versions: Annotated[
        str | None, typer.Option(help="the version run, or a vers: range (CSAF decides by it)")
    ] = None,
) -> None:
    """Register a product for a member."""
    try:
        spec = ProductSpec(vendor, product, tuple(alias or ()), tuple(vendor_alias or ()),
                           distinctive, versions)
    except ValueError as exc:
        fail(str(exc))
    with refusals_reported():
        store = open_cli_store(load_settings())
        registered = registrations.add_product(store, member, spec, utc_now())
    typer.echo(f"added product #{registered.id}: {member}: {vendor} | {product}")


@product_app.command("list")
def product_list(
    member: Annotated[str | None, typer.Option(help="only this member's products")] = None,
) -> None:
    """List registered products (confidential: each maps a member's attack surface)."""
    store = open_cli_store(load_settings())
    products = administration.registered_products(store, member)
    for p in products:
        extra = f"\taliases: {'; '.join(p.spec.aliases)}" if p.spec.aliases else ""
        flag = "\tdistinctive" if p.spec.distinctive else ""
        flag += f"\tversions: {p.spec.versions}" if p.spec.versions else ""
        typer.echo(f"#{p.id}\t{p.member}\t{p.spec.vendor} | {p.spec.product}{extra}{flag}")


@product_app.command("remove")
def product_remove(product_id: int) -> None:
    """Remove a registered product by its id (see `hubbot product list`)."""
    with refusals_reported():
        registrations.remove_product(open_cli_store(load_settings()), product_id)
    typer.echo(f"removed product #{product_id}")


@product_app.command("import")
def product_import(
    csv_file: Path,
    create_members: Annotated[
        bool, typer.Option(help="create members named in the file that do not exist yet")
    ] = False,
    skip_invalid: Annotated[bool, _SKIP_INVALID] = False,
) -> None:
    """Import products from CSV (member,vendor,product[,aliases]); all rows or none, unless
    --skip-invalid: then the rows that cannot be used are reported and the others imported."""
    try:
        lines = _product_lines(csv_file, skip_invalid)
    except (OSError, UnicodeDecodeError, ProductCsvError) as exc:
        fail(str(exc))
    with refusals_reported():
        added, skipped, created = registrations.import_products(
            open_cli_store(load_settings()), lines, utc_now(), create_members
        )
    typer.echo(f"imported {added} products ({skipped} already registered)"
               + (f"; new members: {', '.join(created)}" if created else ""))


@feeds_app.command("check")
def feeds_check(
    name: Annotated[str | None, typer.Argument(help="fetch this feed now")] = None,
    entries: Annotated[int, typer.Option(help="how many parsed entries to show")] = 10,
) -> None:
    """Validate feeds.yaml; with NAME, fetch that feed now and show what was parsed."""
    settings = load_settings()
    feeds = _feeds(settings)
    if name is None:
        for f in feeds:
            state = "" if f.enabled else "  (disabled)"
            typer.echo(f"{f.name:<28} {f.type:<5} every {f.interval}  {f.tlp.label:<10} "
                       f"{f.url}{state}")
        typer.echo(f"{settings.feeds_file}: {len(feeds)} feeds, valid")
        return
    chosen = next((f for f in feeds if f.name == name), None)
    if chosen is None:
        fail(f"no feed named {name!r} in {settings.feeds_file}")
    from bot.cli.feed_check import check_feed

    ok = asyncio.run(check_feed(chosen, settings, entries, typer.echo))
    raise typer.Exit(0 if ok else 1)


def main() -> None:
    restrict_new_files()  # the database, alert log and Matrix store: the bot's user's only
    app()
