"""Which use case answers each parsed chat command: a table filled by decorators, checked
against the declared commands so a command cannot be declared without a handler."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.domain.commands import Command, CommandSpec
from bot.services.replies import Reply

Context = TypeVar("Context")
HandlerT = TypeVar("HandlerT", bound=Callable[..., Reply])


class IncompleteRegistry(Exception):
    """A declared command has no handler: the bot could parse it but not answer it."""


@dataclass(frozen=True)
class Binding(Generic[Context]):
    handler: Callable[[Any, Context], Reply]
    # False: answered also in a chat linked to no member (an admin's own, or to get linked).
    needs_contact: bool


class CommandRegistry(Generic[Context]):
    """Parsed command type → the function that answers it, `handler(command, context)`."""

    def __init__(self) -> None:
        self._bindings: dict[type[Command], Binding[Context]] = {}

    def handles(self, *kinds: type[Command], needs_contact: bool = True
                ) -> Callable[[HandlerT], HandlerT]:
        """Decorator: the function answers commands of these types."""
        def register(handler: HandlerT) -> HandlerT:
            for kind in kinds:
                if kind in self._bindings:
                    raise ValueError(f"{kind.__name__} already has a handler")
                self._bindings[kind] = Binding(handler, needs_contact)
            return handler

        return register

    def binding(self, command: Command) -> Binding[Context]:
        return self._bindings[type(command)]

    def check_complete(self, declared: Iterable[CommandSpec]) -> None:
        """Raise IncompleteRegistry naming every declared command that has no handler."""
        missing = [f"/{spec.name} ({kind.__name__})" for spec in declared
                   for kind in spec.parses_to if kind not in self._bindings]
        if missing:
            raise IncompleteRegistry("no handler for " + ", ".join(missing))
