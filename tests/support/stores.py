"""Store fixtures: `store` runs its test on a real SQLite file and, when configured, on
PostgreSQL (`database_url` is the fresh empty database under it)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bot.store.database import create_db_engine, temporary_schema, upgrade
from bot.store.unit_of_work import SqlStore

POSTGRES_ENV = "HUBBOT_TEST_POSTGRES_URL"


def _postgres_url_or_skip() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"{POSTGRES_ENV} must be set in CI: the store tests must run on PostgreSQL")
    pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL store tests skipped")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new schema on the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hubbot.db'}"
        return
    with temporary_schema(_postgres_url_or_skip(), prefix="t_") as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield SqlStore(engine)
    engine.dispose()
