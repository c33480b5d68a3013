"""The logs never carry what members wrote or received: a whole conversation with `hubbot run`
at DEBUG, through the real Telegram path (python-telegram-bot against the loopback Bot API
server), leaves no invite code, product name or message text in them."""

from __future__ import annotations

import asyncio
import re
import signal

from tests.support.feedserver import FeedServer, rss
from tests.support.stories import item
from tests.support.telegram_server import TELEGRAM_TEST_TOKEN, TelegramServer

ALICE = 100001
VENDOR, PRODUCT = "Zyxomed", "Quortex Infusor 9000"
TITLE = "Zyxomed Quortex Infusor 9000: heap overflow in the Kestrelwing module"
# What members wrote and were sent, none of which a log line may hold.
CONFIDENTIAL = ("Zyxomed", "Quortex", "Infusor", "Kestrelwing", "now linked")


async def conversation(hubbot, telegram: TelegramServer, feeds: FeedServer, *, wire: bool,
                       alert: bool = True) -> tuple[str, str]:
    """`hubbot run` at DEBUG: a new member links with an invite code, registers a product,
    lists its products, and gets an alert for it. Returns (invite code, the whole log)."""
    feeds.serve("/cisa.xml", rss([]))
    hubbot.write_feeds("feeds:\n  - name: cisa\n    url: " + feeds.url("/cisa.xml")
                       + "\n    interval: 2s\n")
    assert hubbot("member", "add", "Klinikum Nord").code == 0
    invite = hubbot("invite", "create", "Klinikum Nord").out
    code = re.search(r"/start (\S+)", invite).group(1)
    telegram.add_private_chat(ALICE, first_name="Alice")
    hubbot.extra_env = {"HUBBOT_TELEGRAM_TOKEN": TELEGRAM_TEST_TOKEN,
                        "HUBBOT_TELEGRAM_BASE_URL": telegram.bot_base_url,
                        "HUBBOT_LOG_LEVEL": "DEBUG", "HUBBOT_LOG_WIRE": str(wire).lower()}
    log = hubbot.home / f"run-wire-{wire}.log"
    with log.open("w") as err:
        proc = await asyncio.create_subprocess_exec(
            *hubbot.command("run"), env=hubbot.env, cwd=hubbot.home,
            stdout=asyncio.subprocess.DEVNULL, stderr=err)
        try:
            await say(telegram, f"/start {code}", 1, "now linked")
            await say(telegram, f"/subscribe {VENDOR} | {PRODUCT}", 2, PRODUCT)
            await say(telegram, "/products", 3, PRODUCT)
            if alert:
                feeds.serve("/cisa.xml", rss([item(1, TITLE, "CVSS v3.1 base score 9.8")]))
                [sent] = (await telegram.wait_for_messages(ALICE, 4, timeout=30))[3:]
                assert TITLE in (sent.text or "")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            finally:
                if proc.returncode is None:
                    proc.kill()
    return code, log.read_text()


async def say(telegram: TelegramServer, text: str, count: int, expect: str) -> None:
    telegram.user_sends(ALICE, text)
    answer = (await telegram.wait_for_messages(ALICE, count, timeout=30))[-1]
    assert expect in (answer.text or ""), answer.text


async def test_a_whole_conversation_at_debug_leaves_no_content_in_the_logs(
    hubbot, telegram_server: TelegramServer, feed_server: FeedServer
) -> None:
    code, logs = await conversation(hubbot, telegram_server, feed_server, wire=False)
    # The log is there and at DEBUG: the bot's own lines of this conversation are in it ...
    assert " DEBUG " in logs
    assert "telegram command /subscribe from a member chat answered" in logs
    assert "feed cisa: 1 entries, 1 new" in logs
    # ... but nothing anyone wrote or was sent.
    assert code not in logs
    for word in CONFIDENTIAL:
        assert word not in logs, [line for line in logs.splitlines() if word in line][:3]
    assert TELEGRAM_TEST_TOKEN.split(":")[1] not in logs


async def test_wire_logging_is_the_admins_explicit_choice_and_still_hides_invite_codes(
    hubbot, telegram_server: TelegramServer, feed_server: FeedServer
) -> None:
    code, logs = await conversation(hubbot, telegram_server, feed_server, wire=True,
                                    alert=False)
    assert PRODUCT in logs  # HUBBOT_LOG_WIRE=true shows the Bot API calls' bodies ...
    assert code not in logs  # ... but an invite code never
    assert "/start ***" in logs
