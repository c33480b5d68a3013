"""A crash between handling a command and confirming it to Telegram replays nothing."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

from tests.support.stories import HANG_GUARD
from tests.support.telegram_server import TELEGRAM_TEST_TOKEN, TelegramServer

ALICE = 100001


async def test_killed_bot_restarts_without_executing_a_command_twice(
    hubbot, telegram_server: TelegramServer
) -> None:
    telegram_server.add_private_chat(ALICE)
    hubbot.write_feeds("feeds:\n  - name: none\n    url: http://127.0.0.1:9/x.xml\n"
                       "    interval: 1h\n    enabled: false\n")
    assert hubbot("member", "add", "Klinikum Nord", "--telegram", str(ALICE)).code == 0
    env = {**hubbot.env, "HUBBOT_TELEGRAM_TOKEN": TELEGRAM_TEST_TOKEN,
           "HUBBOT_TELEGRAM_BASE_URL": telegram_server.bot_base_url}

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *hubbot.command("run"), env=env, cwd=hubbot.home,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)

    first = await start()
    try:
        await _wait(lambda: telegram_server.requests["getUpdates"] >= 1)
        # From now on Telegram never hears that the update was handled ...
        telegram_server.fail_next(method="getUpdates", status=502, times=10_000)
        telegram_server.user_sends(ALICE, "/subscribe Dräger | Infinity Delta")
        await telegram_server.wait_for_messages(ALICE, 1, timeout=HANG_GUARD)
        # Killed after the answer is recorded as sent (a kill between the send and that record
        # resends the answer: at-least-once, which the crash benchmark counts).
        await _wait(lambda: _sent_rows(hubbot.home / "data" / "hubbot.db") == 1)
    finally:
        first.send_signal(signal.SIGKILL)  # ... and the bot dies.
        await first.wait()
    assert len(telegram_server.pending_updates()) == 1  # Telegram will deliver it again
    telegram_server._faults.clear()

    second = await start()
    try:
        await _wait(lambda: not telegram_server.pending_updates())
        telegram_server.user_sends(ALICE, "/products")
        messages = await telegram_server.wait_for_messages(ALICE, 2, timeout=HANG_GUARD)
        await asyncio.sleep(1)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), HANG_GUARD)
    texts = [m.text for m in telegram_server.messages_to(ALICE)]
    assert len(texts) == 2, texts  # the redelivered /subscribe was not answered again
    assert "Added Dräger | Infinity Delta" in texts[0]
    assert "Klinikum Nord's products (1)" in messages[1].text


def _sent_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from outbox where state = 'sent'").fetchone()[0]


async def _wait(condition, timeout: float = HANG_GUARD) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)
