"""Every chat command is declared once (`COMMANDS`) and answered by one handler: a command
declared without a handler, a parser or a German summary is caught here, not by a member."""

from __future__ import annotations

from typing import get_args

import pytest
from babel.messages.pofile import read_po

from bot.app import i18n
from bot.domain.commands import (
    COMMANDS,
    Audience,
    Command,
    CommandSpec,
    Latest,
    Status,
    help_text,
    menu,
    parse_command,
)
from bot.domain.language import speaking
from bot.services.command_handlers import HANDLERS
from bot.services.command_registry import CommandRegistry, IncompleteRegistry
from bot.services.replies import Reply

# What each command is sent with: its parser must turn it into one of its declared commands.
EXAMPLES = {
    "start": "/start", "help": "/help", "subscribe": "/subscribe Dräger | Infinity Delta",
    "unsubscribe": "/unsubscribe Dräger | Infinity Delta", "products": "/products",
    "severity": "/severity high", "mute": "/mute 2h", "status": "/status", "latest": "/latest 3",
    "affected": "/affected 12 yes", "digest": "/digest on 8", "meetings": "/meetings",
    "timezone": "/timezone Europe/Berlin", "language": "/language de", "rsvp": "/rsvp 3 maybe",
    "announce": "/announce --dm Patch today.", "meeting": "/meeting cancel 4",
    "situation": "/situation 12 detail", "grant": "/grant Klinikum Nord coordinator",
    "report": "/report", "seen": "/seen R12 185.220.101.4", "skip": "/skip",
    "cancel": "/cancel", "reports": "/reports", "approve": "/approve R12",
    "edit": "/edit R12 A member sees beaconing.", "reject": "/reject R12 duplicate",
}


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda spec: spec.name)
def test_every_declared_command_parses_to_what_it_declares_and_has_a_handler(
        spec: CommandSpec) -> None:
    assert spec.name in EXAMPLES, f"give /{spec.name} an example in EXAMPLES"
    parsed = parse_command(EXAMPLES[spec.name])
    assert isinstance(parsed, spec.parses_to), parsed
    assert callable(HANDLERS.binding(parsed).handler)


def test_every_kind_of_command_is_declared_by_exactly_one_command() -> None:
    declared = [kind for spec in COMMANDS for kind in spec.parses_to]
    assert len(declared) == len(set(declared))
    assert set(declared) == set(get_args(Command))
    assert len({spec.name for spec in COMMANDS}) == len(COMMANDS)


def test_every_declared_command_has_a_handler() -> None:
    HANDLERS.check_complete(COMMANDS)  # raises IncompleteRegistry naming what lacks one


def test_a_command_declared_without_a_handler_fails_the_check() -> None:
    registry: CommandRegistry[object] = CommandRegistry()
    for spec in COMMANDS:
        for kind in spec.parses_to:
            if kind is not Latest:
                registry.handles(kind)(lambda command, turn: Reply("ok"))
    with pytest.raises(IncompleteRegistry, match=r"/latest \(Latest\)"):
        registry.check_complete(COMMANDS)


def test_a_second_handler_for_the_same_command_is_refused() -> None:
    registry: CommandRegistry[object] = CommandRegistry()
    registry.handles(Status)(lambda command, turn: Reply("one"))
    with pytest.raises(ValueError, match="Status"):
        registry.handles(Status)(lambda command, turn: Reply("two"))


def test_every_summary_and_argument_text_has_a_german_translation() -> None:
    with i18n.catalog_files()["de"].open("rb") as fp:
        german = read_po(fp, locale="de", domain=i18n.DOMAIN)
    for spec in COMMANDS:
        for text in (spec.summary, spec.arguments):
            if not text:
                continue
            message = german.get(text)
            assert message is not None, f"/{spec.name}: {text!r} is not in the German catalog"
            assert message.string and not message.fuzzy, f"/{spec.name}: {text!r} untranslated"


def test_a_german_reader_sees_every_command_of_theirs_in_help_and_menu_in_german() -> None:
    with speaking("de"):
        text = help_text(Audience.ADMIN)
        entries = dict(menu())
    for spec in COMMANDS:
        assert f"/{spec.name}" in text
    members = {spec.name for spec in COMMANDS
               if spec.audience in (Audience.ANYONE, Audience.MEMBER)}
    assert set(entries) == members
    assert entries["subscribe"] != "alert me about a product (of that version)"
    assert "announce" not in entries and "grant" not in entries
