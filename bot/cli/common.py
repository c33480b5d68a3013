"""What every `hubbot` subcommand needs: the settings (or a clear error), the store, an exit."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from pydantic import ValidationError

from bot.app import i18n, log_redaction
from bot.app.settings import Settings
from bot.services.registrations import RegistrationError
from bot.store.unit_of_work import SqlStore


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def refusals_reported() -> Iterator[None]:
    """A request the admin can correct (a RegistrationError) ends the command with its message."""
    try:
        yield
    except RegistrationError as exc:
        fail(str(exc))


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"HUBBOT_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        fail(f"bad configuration: {problems}")
    log_redaction.configure(settings.log_level, settings.secrets(), wire=settings.log_wire,
                            stream=sys.stderr)
    i18n.install(settings.default_language, settings.timezone)
    return settings


def open_cli_store(settings: Settings) -> SqlStore:
    # Imported here: the chat libraries bootstrap loads are not needed by most subcommands.
    from bot.app.bootstrap import open_store

    return open_store(settings)
