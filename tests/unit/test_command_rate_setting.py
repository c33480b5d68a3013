"""HUBBOT_COMMAND_RATE: the per-user command rate limit, in limits' syntax, or off."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.app.settings import Settings
from bot.services.command_rate import CommandRateLimit


def test_the_default_is_twenty_commands_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBBOT_COMMAND_RATE", raising=False)
    assert Settings().command_rate == "20/minute"


@pytest.mark.parametrize("value", ["5/second", "100 per hour", " 3/minute "])
def test_a_rate_limits_understands_is_taken(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HUBBOT_COMMAND_RATE", value)
    assert Settings().command_rate == value.strip()


@pytest.mark.parametrize("value", ["off", "none", "OFF", ""])
def test_off_turns_the_limit_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HUBBOT_COMMAND_RATE", value)
    assert Settings().command_rate is None
    limit = CommandRateLimit(Settings().command_rate)
    assert all(limit.allow("telegram", "1") for _ in range(1000))


@pytest.mark.parametrize("value", ["fast", "20/fortnight", "-1/minute"])
def test_a_rate_limits_cannot_read_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HUBBOT_COMMAND_RATE", value)
    with pytest.raises(ValidationError):
        Settings()


def test_the_configured_rate_is_enforced() -> None:
    limit = CommandRateLimit(Settings(command_rate="3/minute").command_rate)
    assert [limit.allow("telegram", "1") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("telegram", "2")
