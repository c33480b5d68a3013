"""The suite's fixtures: one per network and per store, in tests/support/, listed here."""

from __future__ import annotations

import pytest
from hypothesis import settings

from bot.app import i18n

pytest_plugins = [
    "tests.support.feeds",  # feed_server, shared_feeds_dir
    "tests.support.stores",  # store, database_url: SQLite and PostgreSQL
    "tests.support.console",  # hubbot: the command line in a subprocess
    "tests.support.telegram_hub",  # telegram_server, telegram_hub
    "tests.support.matrix_hub",  # synapse, matrix_hub
]


@pytest.fixture(autouse=True)
def languages_installed() -> None:
    """Every test starts with the catalogs loaded and English as the hub's default language
    (a test wanting German as the default calls `i18n.install("de")`)."""
    i18n.install("en")


# By default Hypothesis fails an example that takes over 200 ms ("Unreliable test timings"),
# and a loaded machine stalls that long; no test may depend on the machine's speed. Its example
# database is off: unit tests write no file (a failure prints the example to reproduce it).
settings.register_profile("hubbot", deadline=None, database=None)
settings.load_profile("hubbot")
