"""Shared pytest fixtures. Each team appends its own section below."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from feedserver import FeedServer

# ---- feeds: loopback feed server and the real data in ../shared/data -------------------

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def require_shared_data(relative: str = "") -> Path:
    """Path to ../shared/data/<relative>: skip when it is absent, but fail when CI=true."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"real data not found at {path.resolve()} (the shared/ folder beside the repo)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI must run the real-data tests")
        pytest.skip(message)
    return path


@pytest.fixture
def shared_feeds_dir() -> Path:
    """../shared/data/feeds, holding real advisory feeds as their publishers served them."""
    return require_shared_data("feeds")


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A started loopback FeedServer; register routes on it, read `.requests` afterwards."""
    async with FeedServer() as server:
        yield server
