"""Shared pytest fixtures. Each team appends its own section below."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from feedserver import FeedServer
from shared_data import require_shared_data

# ---- feeds: loopback feed server and the real data in ../shared/data -------------------

@pytest.fixture
def shared_feeds_dir() -> Path:
    """../shared/data/feeds, holding real advisory feeds as their publishers served them."""
    return require_shared_data("feeds")


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A started loopback FeedServer; register routes on it, read `.requests` afterwards."""
    async with FeedServer() as server:
        yield server


# ---- telegram: loopback fake of the Bot API for python-telegram-bot's real Application ----

from telegram_server import TELEGRAM_TEST_TOKEN, TelegramServer  # noqa: E402


@pytest.fixture
async def telegram_server() -> AsyncIterator[TelegramServer]:
    """A started TelegramServer for TELEGRAM_TEST_TOKEN, Telegram's default flood limits.

    Wire ptb with `.base_url(server.bot_base_url).base_file_url(server.file_base_url)`.
    """
    async with TelegramServer(token=TELEGRAM_TEST_TOKEN) as server:
        yield server


# ---- matrix: a real Synapse on 127.0.0.1 (its own cached venv; .ci/synapse-setup) --------

from synapse import Synapse, SynapseUnavailable, in_ci, start_synapse  # noqa: E402


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A started Synapse for the whole session: `register()`, `user()`, `override_ratelimit()`.

    Outside CI a machine that cannot install Synapse skips the Matrix tests; under CI=true
    they fail, so a broken install never passes unnoticed.
    """
    try:
        server: Synapse = start_synapse(tmp_path_factory.mktemp("synapse"))
    except SynapseUnavailable as exc:
        if in_ci():
            pytest.fail(f"CI needs Synapse for the Matrix tests: {exc}", pytrace=False)
        pytest.skip(f"no Synapse here: {exc}")
    try:
        yield server
    finally:
        server.stop()


# ---- languages: the German and English catalogs, English by default -----------------------

from bot.app import i18n  # noqa: E402


@pytest.fixture(autouse=True)
def languages_installed() -> None:
    """Every test starts with the catalogs loaded and English as the hub's default language
    (a test wanting German as the default calls `i18n.install("de")`)."""
    i18n.install("en")


# ---- property tests: Hypothesis judges what a test asserts, never how fast it ran ----------

from hypothesis import settings  # noqa: E402

# By default Hypothesis fails an example that takes over 200 ms ("Unreliable test timings"),
# and a loaded machine stalls that long; no test may depend on the machine's speed.
settings.register_profile("hubbot", deadline=None)
settings.load_profile("hubbot")
