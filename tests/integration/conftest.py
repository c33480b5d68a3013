"""Store fixtures: every store test runs on a real SQLite file and, when configured, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from bot.store.database import create_db_engine, normalise_url, upgrade
from bot.store.unit_of_work import SqlStore

POSTGRES_ENV = "HUBBOT_TEST_POSTGRES_URL"


def _postgres_url_or_skip() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return normalise_url(url)
    if os.environ.get("CI") == "true":
        pytest.fail(f"{POSTGRES_ENV} must be set in CI: the store tests must run on PostgreSQL")
    pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL store tests skipped")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new schema on the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hubbot.db'}"
        return
    base = _postgres_url_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield SqlStore(engine)
    engine.dispose()
