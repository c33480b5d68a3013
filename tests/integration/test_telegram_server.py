"""TelegramServer, the loopback Bot API, driven by python-telegram-bot's real Bot and Application.

If these pass, a test of hubbot's Telegram adapter that sees a 429, a 403 or a "can't parse
entities" from this server sees what Telegram would have said.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, MessageHandler
from telegram.ext import filters as ptb_filters

from tests.support.telegram_server import (
    TELEGRAM_TEST_TOKEN,
    ManualClock,
    RateLimits,
    TelegramServer,
)

# Reading RetryAfter.retry_after warns until PTB_TIMEDELTA is set; `seconds` handles both types.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

ANNA = 100001
GROUP = -1001234567890
SERVER_SCRIPT = Path(__file__).parents[1] / "support" / "telegram_server.py"


@pytest.fixture
def clock() -> ManualClock:
    """The flood limits' clock: it stands still until a test advances it."""
    return ManualClock()


@pytest.fixture
async def server(clock: ManualClock) -> AsyncIterator[TelegramServer]:
    async with TelegramServer(token=TELEGRAM_TEST_TOKEN, clock=clock) as server:
        server.add_private_chat(ANNA, "Anna", username="anna_ciso", language_code="de")
        server.add_group(GROUP, "Hub: Klinikum Nord", type="supergroup")
        yield server


@pytest.fixture
async def bot(server: TelegramServer) -> AsyncIterator[Bot]:
    async with Bot(
        TELEGRAM_TEST_TOKEN, base_url=server.bot_base_url, base_file_url=server.file_base_url
    ) as bot:
        yield bot


def build_application(server: TelegramServer) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(TELEGRAM_TEST_TOKEN)
        .base_url(server.bot_base_url)
        .base_file_url(server.file_base_url)
        .build()
    )


def seconds(retry_after: int | dtm.timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else retry_after


async def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# ---- identity, envelopes, HTTP ---------------------------------------------------------------


async def test_bot_initialises_with_get_me(bot: Bot) -> None:
    assert (bot.id, bot.username, bot.first_name) == (123456, "hubbot_test_bot", "Hubbot Test")


async def test_envelopes_are_telegrams_for_json_form_and_query_requests(
    server: TelegramServer,
) -> None:
    api = server.bot_base_url + TELEGRAM_TEST_TOKEN
    async with httpx.AsyncClient() as client:
        by_json = await client.post(api + "/sendMessage", json={"chat_id": ANNA, "text": "json"})
        by_form = await client.post(api + "/sendMessage", data={"chat_id": str(ANNA), "text": "f"})
        by_query = await client.get(api + "/getMe")
        wrong_token = await client.post(server.bot_base_url + "999:nope/getMe")
        unknown = await client.post(api + "/sendTelepathy")
    assert by_json.json()["ok"] is True
    assert by_json.json()["result"]["text"] == "json"
    assert by_form.json()["result"]["chat"] == {"id": ANNA, "type": "private",
                                                "first_name": "Anna", "username": "anna_ciso"}
    assert by_query.json()["result"]["is_bot"] is True
    assert (wrong_token.status_code, wrong_token.content) == (
        401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}'
    )
    assert (unknown.status_code, unknown.content) == (
        404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
    )


async def test_keep_alive_connection_serves_many_requests(server: TelegramServer) -> None:
    api = server.bot_base_url + TELEGRAM_TEST_TOKEN
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client:
        answers = [await client.get(api + "/getMe") for _ in range(20)]
    assert all(a.status_code == 200 for a in answers)
    assert server.requests["getMe"] == 20


async def test_many_concurrent_connections(server: TelegramServer) -> None:
    api = server.bot_base_url + TELEGRAM_TEST_TOKEN
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200)) as client:
        answers = await asyncio.gather(*(client.get(api + "/getMe") for _ in range(200)))
    assert {a.status_code for a in answers} == {200}


# ---- sendMessage: HTML parse mode, limits, errors -----------------------------------------------


async def test_html_message_is_stored_as_the_recipient_sees_it(
    bot: Bot, server: TelegramServer
) -> None:
    html = "🛡 <b>ICSMA-24-123</b> AT&T &amp; &lt;pump&gt; <a href=\"https://cisa.gov/x\">CISA</a>"
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Gelesen", callback_data="ack:1"),
                                      InlineKeyboardButton("Details", url="https://cisa.gov/x")]])
    message = await bot.send_message(
        ANNA, html, parse_mode="HTML", reply_markup=keyboard, disable_notification=True,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )

    plain = "🛡 ICSMA-24-123 AT&T & <pump> CISA"
    assert message.text == plain
    assert message.parse_entity(message.entities[0]) == "ICSMA-24-123"  # UTF-16 offsets
    assert message.entities[1].url == "https://cisa.gov/x"
    assert message.reply_markup == keyboard
    record = server.messages_to(ANNA)[0]
    assert (record.text, record.raw_text, record.parse_mode) == (plain, html, "HTML")
    assert record.disable_notification and record.link_preview_disabled
    assert [b["text"] for b in record.buttons] == ["Gelesen", "Details"]
    assert record.message_id == message.message_id == 1


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<x>CVE</x>", 'unsupported start tag "x" at byte offset 0'),
        ("<b>bold", "can't find end tag corresponding to start tag \"b\""),
        ("<b><i>x</b></i>", 'unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("CVSS < 7", 'unsupported start tag "" at byte offset 5'),
        ("x</b>", "unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_bad_html_is_refused_like_telegram(
    bot: Bot, server: TelegramServer, html: str, reason: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        await bot.send_message(ANNA, html, parse_mode="HTML")
    # ptb drops "Bad Request: " and str.capitalize()s the rest: compare case-insensitively
    assert refused.value.message.lower() == f"can't parse entities: {reason}".lower()
    assert server.sent == []


async def test_message_length_counts_utf16_after_parsing(bot: Bot, server: TelegramServer) -> None:
    await bot.send_message(ANNA, "a" * 4096)
    await bot.send_message(ANNA, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(ANNA, "😀" * 2048)
    for too_long in ("a" * 4097, "😀" * 2048 + "a"):
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(ANNA, too_long)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(ANNA, "  \n ")
    assert len(server.messages_to(ANNA)) == 3


async def test_blocked_user_unknown_chat_and_kicked_group(bot: Bot, server: TelegramServer) -> None:
    server.block(ANNA)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ANNA, "alert")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "alert")
    server.kick(GROUP)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP, "alert")
    server.user_sends(ANNA, "/start")  # writing to the bot again means it is unblocked
    await bot.send_message(ANNA, "welcome back")


async def test_reply_to_a_missing_message_is_refused(bot: Bot, server: TelegramServer) -> None:
    question = server.user_sends(ANNA, "/status")
    assert question is not None
    answer = await bot.send_message(ANNA, "ok", reply_to_message_id=1)
    assert answer.reply_to_message is not None and answer.reply_to_message.text == "/status"
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(ANNA, "ok", reply_to_message_id=99)


async def test_edit_message_text_and_not_modified(bot: Bot, server: TelegramServer) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Gelesen", callback_data="ack")]])
    sent = await bot.send_message(ANNA, "<b>neu</b>", parse_mode="HTML", reply_markup=keyboard)
    edited = await bot.edit_message_text("<b>gelesen</b>", ANNA, sent.message_id,
                                         parse_mode="HTML")
    assert (edited.text, edited.reply_markup) == ("gelesen", None)  # no markup: keyboard gone
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("<b>gelesen</b>", ANNA, sent.message_id, parse_mode="HTML")
    assert [r.method for r in server.sent] == ["sendMessage", "editMessageText"]
    assert len(server.messages_to(ANNA)) == 1


# ---- flood limits --------------------------------------------------------------------------------


async def test_burst_of_40_sends_gets_429_after_30(bot: Bot, server: TelegramServer) -> None:
    users = server.add_private_chats(40)
    results = await asyncio.gather(
        *(bot.send_message(user, "alert") for user in users), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, RetryAfter)]
    assert len(server.sent) == 30  # the burst Telegram tolerates; the clock did not move
    assert len(refused) == 40 - len(server.sent) == server.stats.too_many_requests
    assert {seconds(r.retry_after) for r in refused} == {1}


async def test_overall_limit_refills_at_30_messages_per_second(
    bot: Bot, server: TelegramServer, clock: ManualClock
) -> None:
    users = server.add_private_chats(90)

    async def burst(chats: list[int]) -> int:
        results = await asyncio.gather(
            *(bot.send_message(user, "alert") for user in chats), return_exceptions=True
        )
        assert all(isinstance(r, RetryAfter) for r in results if isinstance(r, Exception))
        return sum(not isinstance(r, RetryAfter) for r in results)

    assert await burst(users[:30]) == 30
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(users[30], "alert")
    assert seconds(flood.value.retry_after) == 1
    clock.advance(0.5)
    assert await burst(users[30:50]) == 15  # half a second earns 15 messages
    clock.advance(10)
    assert await burst(users[50:90]) == 30  # the bucket holds no more than the burst


async def test_group_gets_429_at_its_21st_message_within_a_minute(
    bot: Bot, server: TelegramServer, clock: ManualClock
) -> None:
    for n in range(20):
        await bot.send_message(GROUP, f"alert {n}")
        clock.advance(1)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(GROUP, "alert 21")
    assert seconds(flood.value.retry_after) == 40  # the first message leaves the minute then
    await bot.send_message(ANNA, "other chats are not held up")
    clock.advance(39.5)
    with pytest.raises(RetryAfter):
        await bot.send_message(GROUP, "alert 21")
    clock.advance(0.5)
    await bot.send_message(GROUP, "alert 21")
    assert len(server.messages_to(GROUP)) == 21


async def test_group_window_is_configurable_and_slides(
    bot: Bot, server: TelegramServer, clock: ManualClock
) -> None:
    server.set_limits(RateLimits(group_messages=2, group_window=0.5))
    await bot.send_message(GROUP, "1")
    clock.advance(0.25)
    await bot.send_message(GROUP, "2")
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(GROUP, "3")
    assert seconds(flood.value.retry_after) == 1  # whole seconds, at least 1
    clock.advance(0.25)  # "1" has left the window, "2" has not
    await bot.send_message(GROUP, "3")
    with pytest.raises(RetryAfter):
        await bot.send_message(GROUP, "4")
    assert [m.text for m in server.messages_to(GROUP)] == ["1", "2", "3"]


async def test_private_chat_tolerates_a_burst_then_asks_for_one_per_second(
    bot: Bot, server: TelegramServer, clock: ManualClock
) -> None:
    for n in range(10):
        await bot.send_message(ANNA, f"part {n}")
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(ANNA, "part 10")
    assert seconds(flood.value.retry_after) == 1
    clock.advance(1)
    await bot.send_message(ANNA, "part 10")
    with pytest.raises(RetryAfter):
        await bot.send_message(ANNA, "part 11")
    server.set_limits(RateLimits.unlimited())
    await bot.send_message(ANNA, "part 11")
    assert len(server.messages_to(ANNA)) == 12


# ---- fault injection -----------------------------------------------------------------------------


async def test_fail_next_429_reaches_ptb_as_retry_after(bot: Bot, server: TelegramServer) -> None:
    server.fail_next(ANNA, 429, retry_after=7)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(ANNA, "alert")
    assert seconds(flood.value.retry_after) == 7
    await bot.send_message(ANNA, "alert")
    assert [m.text for m in server.messages_to(ANNA)] == ["alert"]


async def test_fail_next_only_hits_its_chat_and_count(bot: Bot, server: TelegramServer) -> None:
    server.fail_next(GROUP, 502, times=2)
    await bot.send_message(ANNA, "unaffected")
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(GROUP, "alert")
    await bot.send_message(GROUP, "alert")
    assert server.stats.errors[502] == 2


async def test_outage_answers_502_to_everything(bot: Bot, server: TelegramServer) -> None:
    server.set_down(True)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.get_me()
    server.set_down(False)
    await bot.send_message(ANNA, "back")


async def test_dropped_connection_is_a_network_error(bot: Bot, server: TelegramServer) -> None:
    server.drop_connection_next()
    with pytest.raises(NetworkError):
        await bot.send_message(ANNA, "lost")
    assert server.sent == []
    server.drop_connection_next(deliver=True)  # delivered, but the answer is lost
    with pytest.raises(NetworkError):
        await bot.send_message(ANNA, "delivered")
    assert [m.text for m in server.sent] == ["delivered"]


async def test_slow_send_times_out_yet_is_delivered(bot: Bot, server: TelegramServer) -> None:
    server.delay(0.4)
    with pytest.raises(TimedOut):
        await bot.send_message(ANNA, "slow", read_timeout=0.1)
    messages = await server.wait_for_messages(ANNA, 1, timeout=30)
    assert messages[0].text == "slow"


async def test_wait_for_messages_says_what_arrived(server: TelegramServer, bot: Bot) -> None:
    await bot.send_message(ANNA, "only one")
    with pytest.raises(AssertionError, match=r"got 1: \['only one'\]"):
        await server.wait_for_messages(ANNA, 2, timeout=0.1)


# ---- getUpdates: long polling, offsets, webhook ------------------------------------------------


async def test_long_poll_answers_as_soon_as_a_user_writes(
    bot: Bot, server: TelegramServer
) -> None:
    # Held for up to an hour unless a user writes: an answer at all proves it came on the write.
    poll = asyncio.create_task(bot.get_updates(timeout=3600))
    await wait_until(lambda: server.requests["getUpdates"] == 1)
    assert not poll.done()
    server.user_sends(ANNA, "/start")
    updates = await asyncio.wait_for(poll, 60)
    assert updates[0].message is not None and updates[0].message.text == "/start"
    assert updates[0].message.entities[0].type == "bot_command"


async def test_long_poll_without_updates_waits_its_timeout(bot: Bot) -> None:
    started = time.monotonic()
    # ptb gives up (TimedOut) at read_timeout + timeout: answered at all, answered in time.
    assert await bot.get_updates(timeout=1, read_timeout=60) == ()
    assert time.monotonic() - started >= 0.9  # a slow machine only answers later


async def test_unconfirmed_updates_are_redelivered(bot: Bot, server: TelegramServer) -> None:
    first = server.user_sends(ANNA, "/subscribe Alaris")
    second = server.user_sends(ANNA, "/list")
    assert first is not None and second is not None
    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    assert [u.update_id for u in await bot.get_updates(offset=first + 1)] == [second]
    assert await bot.get_updates(offset=second + 1) == ()
    assert server.pending_updates() == []


async def test_client_gone_during_long_poll_loses_nothing(server: TelegramServer) -> None:
    api = server.bot_base_url + TELEGRAM_TEST_TOKEN
    async with httpx.AsyncClient() as client:
        poll = asyncio.create_task(client.post(api + "/getUpdates", json={"timeout": 10}))
        await wait_until(lambda: server.requests["getUpdates"] == 1)  # the server holds it
        poll.cancel()
        await asyncio.gather(poll, return_exceptions=True)
    update_id = server.user_sends(ANNA, "hello")
    async with httpx.AsyncClient() as client:
        answer = (await client.post(api + "/getUpdates", json={"timeout": 0})).json()
    assert [u["update_id"] for u in answer["result"]] == [update_id]
    assert not server.stats.errors


async def test_a_second_poller_terminates_the_first(bot: Bot, server: TelegramServer) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await wait_until(lambda: server.requests["getUpdates"] == 1)  # first is held, then second
    api = server.bot_base_url + TELEGRAM_TEST_TOKEN
    async with httpx.AsyncClient() as other_instance:
        second = asyncio.create_task(
            other_instance.post(api + "/getUpdates", json={"timeout": 10})
        )
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first
        server.user_sends(ANNA, "hi")
        assert len((await second).json()["result"]) == 1


async def test_webhook_conflicts_with_get_updates(bot: Bot, server: TelegramServer) -> None:
    with pytest.raises(BadRequest, match="(?i)https url must be provided"):
        await bot.set_webhook("http://hub.example.org/telegram")
    await bot.set_webhook("https://hub.example.org/telegram", secret_token="s3cret")
    server.user_sends(ANNA, "/start")
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == ("https://hub.example.org/telegram", 1)
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_group_privacy_and_bot_added_to_group(bot: Bot, server: TelegramServer) -> None:
    added = server.bot_added_to_group(GROUP, by_user=ANNA)
    assert server.user_sends(ANNA, "just chatting", chat_id=GROUP) is None
    command = server.user_sends(ANNA, "/status@hubbot_test_bot", chat_id=GROUP)
    assert server.user_sends(ANNA, "/status@other_bot", chat_id=GROUP) is None
    updates = await bot.get_updates(allowed_updates=[Update.MESSAGE, Update.MY_CHAT_MEMBER])
    assert [u.update_id for u in updates] == [added, command]
    member = updates[0].my_chat_member
    assert member is not None and member.new_chat_member.status == "member"
    assert member.chat.title == "Hub: Klinikum Nord"


async def test_users_send_photos_files_voice_and_stickers(bot: Bot,
                                                          server: TelegramServer) -> None:
    sent = [server.user_sends_file(ANNA, kind) for kind in
            ("photo", "document", "voice", "video", "sticker")]
    captioned = server.user_sends_file(ANNA, "photo", caption="/report now")
    server.bot_added_to_group(GROUP, by_user=ANNA)
    assert server.user_sends_file(ANNA, "photo", chat_id=GROUP) is None  # privacy mode
    mentioned = server.user_sends_file(ANNA, "document", chat_id=GROUP,
                                       caption="for @hubbot_test_bot")
    updates = await bot.get_updates(allowed_updates=[Update.MESSAGE])
    assert [u.update_id for u in updates] == [*sent, captioned, mentioned]
    photo, document, voice, video, sticker, with_caption, in_group = (
        u.message for u in updates)
    assert photo is not None and len(photo.photo) == 2 and photo.text is None
    assert document is not None and document.document is not None
    assert document.document.file_name == "scan.pdf"
    assert voice is not None and voice.voice is not None
    assert video is not None and video.video is not None
    assert sticker is not None and sticker.sticker is not None
    assert with_caption is not None and with_caption.caption == "/report now"
    assert with_caption.text is None and with_caption.caption_entities[0].type == "bot_command"
    assert in_group is not None and in_group.chat.type == "supergroup"


# ---- Application end to end, documents, commands, log ------------------------------------------


async def test_application_polls_answers_and_handles_a_button(server: TelegramServer) -> None:
    application = build_application(server)

    async def on_text(update: Update, context: object) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Gelesen", callback_data="ack")]])
        await update.effective_message.reply_text("Alert", reply_markup=keyboard)

    async def on_button(update: Update, context: object) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("Danke")

    application.add_handler(MessageHandler(ptb_filters.TEXT, on_text))
    application.add_handler(CallbackQueryHandler(on_button))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=10)
        server.user_sends(ANNA, "/start")
        [alert] = await server.wait_for_messages(ANNA, 1)
        server.user_presses(ANNA, alert, "ack")
        await wait_until(lambda: bool(server.callback_answers))
        await application.updater.stop()
        await application.stop()
    assert server.callback_answers[0]["text"] == "Danke"
    assert server.pending_updates() == []  # ptb confirmed both on stop
    assert not server.stats.errors


async def test_send_document_stores_the_file(bot: Bot, server: TelegramServer) -> None:
    csv = b"id,title\nICSMA-24-123,Alaris\n"
    message = await bot.send_document(ANNA, csv, filename="advisories.csv",
                                      caption="<b>1</b> Advisory", parse_mode="HTML")
    record = server.messages_to(ANNA)[0]
    assert (record.method, record.text) == ("sendDocument", "1 Advisory")
    assert (record.files[0].filename, record.files[0].content) == ("advisories.csv", csv)
    assert message.document is not None and message.document.file_name == "advisories.csv"
    downloaded = await (await bot.get_file(message.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == csv
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_document(ANNA, csv, filename="a.csv", caption="x" * 1025)


async def test_commands_are_kept_per_scope_and_language(bot: Bot, server: TelegramServer) -> None:
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    await bot.set_my_commands([BotCommand("hilfe", "Hilfe")], language_code="de")
    private = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands([BotCommand("abo", "Abonnieren")], scope=private,
                              language_code="de")
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert [c.command for c in await bot.get_my_commands(language_code="de")] == ["hilfe"]
    assert [c.command for c in await bot.get_my_commands(scope=private, language_code="de")] == [
        "abo"
    ]
    assert await bot.get_my_commands(language_code="fr") == ()
    await bot.delete_my_commands(language_code="de")
    assert await bot.get_my_commands(language_code="de") == ()
    assert server.commands(private.to_dict(), "de") == [
        {"command": "abo", "description": "Abonnieren"}
    ]
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start!", "Bad")])


async def test_log_path_gets_a_json_line_per_delivery(tmp_path: Path) -> None:
    log = tmp_path / "deliveries.jsonl"
    async with TelegramServer(log_path=log) as server:
        server.add_private_chat(ANNA)
        async with Bot(TELEGRAM_TEST_TOKEN, base_url=server.bot_base_url) as bot:
            await bot.send_message(ANNA, "<i>eins</i>", parse_mode="HTML")
            await bot.send_message(ANNA, "zwei")
            with pytest.raises(BadRequest):
                await bot.send_message(ANNA, "<drei>", parse_mode="HTML")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["chat_id"], line["text"]) for line in lines] == [(ANNA, "eins"), (ANNA, "zwei")]


async def test_runs_as_its_own_process_with_control_endpoint(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SERVER_SCRIPT), "--port", "0", "--users", "3",
        "--log", str(tmp_path / "sent.jsonl"), stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        base = banner.split(" on ")[1].strip()
        api = f"{base}/bot{TELEGRAM_TEST_TOKEN}"
        async with httpx.AsyncClient() as client:
            sent = await client.post(api + "/sendMessage", json={"chat_id": 100003, "text": "x"})
            unknown = await client.post(api + "/sendMessage", json={"chat_id": 100004, "text": "x"})
            await client.post(base + "/control/user_sends", json={"user_id": 100001, "text": "hi"})
            updates = (await client.post(api + "/getUpdates")).json()["result"]
            stats = (await client.get(base + "/control/stats")).json()["result"]
        assert sent.json()["ok"] and unknown.status_code == 400
        assert updates[0]["message"]["text"] == "hi"
        assert stats["successful_sends"] == 1 and stats["chats"] == 3
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
    assert len((tmp_path / "sent.jsonl").read_text().splitlines()) == 1
