"""The log formatter and filter: invite codes and secrets masked in any line, third-party
DEBUG lines (bodies) dropped unless the admin asks for the wire."""

from __future__ import annotations

import logging
from io import StringIO

import pytest

from bot.app import log_redaction


@pytest.mark.parametrize("line", [
    "/start {code}", '{"text": "/start {code}", "entities": []}', "!start {code}",
    "/start@hubbot_bot {code}", "text='/START {code}'",
])
def test_the_formatter_masks_invite_codes_in_any_line(line: str) -> None:
    code = "Xq3_vB-9kLm2NpQr"
    stream = StringIO()
    handler = log_redaction.configure("DEBUG", ["s3cret-value"], stream=stream)
    try:
        logging.getLogger("telegram.ext.ExtBot").warning(line.replace("{code}", code))
        logging.getLogger("bot.test").debug("with s3cret-value inside")
    finally:
        logging.getLogger().removeHandler(handler)
    logged = stream.getvalue()
    assert code not in logged and "***" in logged
    assert "s3cret-value" not in logged
    assert line.replace("{code}", "***") in logged  # the rest of the line is kept


def test_third_party_debug_lines_are_dropped_and_the_bots_kept() -> None:
    stream = StringIO()
    handler = log_redaction.configure("DEBUG", [], stream=stream)
    try:
        logging.getLogger("some.new.library").debug("body: Quortex")
        logging.getLogger("sqlalchemy.engine.Engine").info("INSERT ... ('Quortex',)")
        logging.getLogger("some.new.library").info("connected")
        logging.getLogger("bot.feeds.fetch").debug("feed x: Fetched in 0.1 s")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    logged = stream.getvalue()
    assert "Quortex" not in logged
    assert "connected" in logged and "feed x: Fetched" in logged


@pytest.fixture(autouse=True)
def _restore_library_levels():
    names = (*log_redaction.CONTENT_AT_INFO, *log_redaction.CONTENT_AT_DEBUG,
             *log_redaction.QUIET)
    before = {name: logging.getLogger(name).level for name in names}
    root = logging.getLogger().level
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger().setLevel(root)
