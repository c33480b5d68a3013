"""Feed fixtures: the loopback feed server and the real feeds in ../shared/data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.feedserver import FeedServer
from tests.support.shared_data import require_shared_data


@pytest.fixture
def shared_feeds_dir() -> Path:
    """../shared/data/feeds, holding real advisory feeds as their publishers served them."""
    return require_shared_data("feeds")


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A started loopback FeedServer; register routes on it, read `.requests` afterwards."""
    async with FeedServer() as server:
        yield server
