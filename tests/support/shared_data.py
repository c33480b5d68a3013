"""Where the real advisories of ../shared/data are, and how tests that need them skip or fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def require_shared_data(relative: str = "") -> Path:
    """Path to ../shared/data/<relative>: skip when it is absent, but fail when CI=true."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"real data not found at {path.resolve()} (the shared/ folder beside the repo)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI must run the real-data tests")
        pytest.skip(message)
    return path
