"""`hubbot invite`, `hubbot channel` and `hubbot member role`: the chat side of the admin's work."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from bot.cli.common import fail, load_settings, open_cli_store, refusals_reported
from bot.domain.alerts import HubChannel
from bot.domain.clock import utc_now
from bot.domain.language import languages, supported
from bot.domain.members import Network, Role, check_address
from bot.domain.severity import Severity
from bot.domain.tlp import Tlp
from bot.services import administration

invite_app = typer.Typer(help="One-time codes that link a chat to a member.",
                         no_args_is_help=True)
channel_app = typer.Typer(help="The hub's channels and rooms that carry advisories.",
                          no_args_is_help=True)


@invite_app.command("create")
def invite_create(
    member: str,
    days: Annotated[int, typer.Option(min=1, max=90, help="days the code stays valid")] = 7,
) -> None:
    """Print a one-time code; the member's user sends /start CODE to the bot to link a chat."""
    from bot.services.invites import create_invite

    store = open_cli_store(load_settings())
    try:
        code = create_invite(store, member, utc_now(), timedelta(days=days))
    except ValueError as exc:
        fail(f"{exc}; see `hubbot member list`")
    typer.echo(f"Invite code for {member}, valid {days} days, usable once:\n\n  /start {code}\n")


@channel_app.command("add", context_settings={"ignore_unknown_options": True})
def channel_add(
    network: Network,
    address: str,
    min_severity: Annotated[
        str | None, typer.Option(help="only advisories of this severity or above")
    ] = None,
    max_tlp: Annotated[str, typer.Option(help="the most restricted TLP it may receive")] = "CLEAR",
    language: Annotated[
        str | None, typer.Option(help="the language of its messages (default: the hub's)")
    ] = None,
) -> None:
    """Add a hub channel: a Telegram chat id (groups' are negative), or a Matrix room."""
    settings = load_settings()
    if language is not None and supported(language) != language.strip().lower():
        fail(f"--language must be one of {', '.join(languages())}")
    severity = Severity.from_word(min_severity) if min_severity else None
    if min_severity and severity is None:
        fail("--min-severity must be low, medium, high or critical")
    try:
        tlp = Tlp.parse(max_tlp)
        if network is Network.TELEGRAM:
            address = check_address(network, address)
        elif network is Network.MATRIX and not address.startswith(("!", "#")):
            raise ValueError("a Matrix room is !id:server or #alias:server")
        elif network is Network.CONSOLE:
            raise ValueError("the console is not a hub channel")
    except ValueError as exc:
        fail(str(exc))
    store = open_cli_store(settings)
    code = language.strip().lower() if language else None
    with refusals_reported():
        administration.add_hub_channel(store, HubChannel(network, address, severity, tlp, code),
                                       utc_now())
    typer.echo(f"added {network.value} hub channel {address} (up to {tlp.label}"
               + (f", {severity.label} and above" if severity else "")
               + f", in {code or settings.default_language})")


@channel_app.command("list")
def channel_list() -> None:
    """List the hub channels."""
    store = open_cli_store(load_settings())
    channels = administration.hub_channels(store)
    if not channels:
        typer.echo("no hub channels; add one with `hubbot channel add telegram CHAT_ID`")
    for ch in channels:
        severity = ch.min_severity.label if ch.min_severity else "all"
        typer.echo(f"{ch.network.value}\t{ch.address}\tseverity {severity}\t"
                   f"up to {ch.max_tlp.label}\tlanguage {ch.language or 'default'}")


@channel_app.command("remove")
def channel_remove(network: Network, address: str) -> None:
    """Stop posting to a hub channel."""
    store = open_cli_store(load_settings())
    with refusals_reported():
        administration.remove_hub_channel(store, network, address)
    typer.echo(f"removed {network.value} hub channel {address}")


def member_role(name: str, role: Role) -> None:
    """Make a member a coordinator (announcements, meetings, situations) or a member again."""
    store = open_cli_store(load_settings())
    with refusals_reported():
        administration.set_role(store, name, role, utc_now())
    typer.echo(f"{name} is now a {role.value}")


def audit(
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="how many entries")] = 50,
) -> None:
    """What coordinators and admins did, newest first: when, who, what."""
    store = open_cli_store(load_settings())
    entries = administration.audit_entries(store, limit)
    if not entries:
        typer.echo("the audit log is empty")
    for e in entries:
        detail = " ".join(e.detail.split())
        typer.echo(f"{e.at:%Y-%m-%d %H:%M:%S} UTC\t{e.actor}\t{e.action}\t"
                   f"{detail[:200] + ('…' if len(detail) > 200 else '')}")
