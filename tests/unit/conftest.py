"""Unit tests open no socket and write no file: a test that needs either belongs in
tests/integration. The guard below makes such a test fail at once, saying so."""

from __future__ import annotations

import builtins
import io
import socket
from collections.abc import Callable
from typing import Any

import pytest

WHY = "unit tests touch no network or file; move this test to tests/integration"


def _refuse(*_args: Any, **_kwargs: Any) -> None:
    raise AssertionError(WHY)


def _read_only(real_open: Callable[..., Any]) -> Callable[..., Any]:
    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(flag in mode for flag in "wax+"):
            raise AssertionError(f"{WHY} (open {file!r} with mode {mode!r})")
        return real_open(file, mode, *args, **kwargs)
    return guarded_open


@pytest.fixture(autouse=True)
def no_socket_and_no_file_written(monkeypatch: pytest.MonkeyPatch) -> None:
    for method in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, method, _refuse)
    monkeypatch.setattr(builtins, "open", _read_only(builtins.open))
    monkeypatch.setattr(io, "open", _read_only(io.open))
