"""The console network: the real `hubbot` command line in a subprocess with its own data
directory (the `hubbot` fixture)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.stories import HANG_GUARD


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Hubbot:
    """`hubbot ARGS` with HUBBOT_DATA_DIR and HUBBOT_FEEDS_FILE in a temporary folder."""

    home: Path
    health_port: int = 0
    extra_env: dict[str, str] | None = None  # more HUBBOT_* settings

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUBBOT_")}
        env.update(HUBBOT_DATA_DIR=str(self.home / "data"),
                   HUBBOT_FEEDS_FILE=str(self.home / "feeds.yaml"), PYTHONUNBUFFERED="1",
                   HUBBOT_HEALTH_PORT=str(self.health_port),
                   # Every entry of a first poll alerts in these stories (the backlog rule
                   # has its own tests in tests/integration/test_first_poll.py).
                   HUBBOT_BACKLOG_DAYS="3650")
        env.update(self.extra_env or {})
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "bot", *args]

    def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = HANG_GUARD
    ) -> Result:
        done = subprocess.run(self.command(*args), env=self.env, cwd=self.home, input=stdin,
                              capture_output=True, text=True, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)

    async def run_async(self, *args: str, timeout: float = HANG_GUARD) -> Result:
        """For tests whose loopback servers live in the test's own event loop."""
        proc = await asyncio.create_subprocess_exec(
            *self.command(*args), env=self.env, cwd=self.home,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
        return Result(proc.returncode or 0, out.decode(), err.decode())

    def write_feeds(self, text: str) -> None:
        (self.home / "feeds.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def hubbot(tmp_path: Path) -> Hubbot:
    return Hubbot(tmp_path)
