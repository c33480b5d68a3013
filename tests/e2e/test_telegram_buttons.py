"""Members answer with inline buttons and get files in Telegram: the real ptb Application
against the loopback Bot API server, a real SQLite store, messages queued in its outbox."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import pytest

from bot.domain.advisory import Advisory
from bot.domain.alerts import Alert, HubChannel
from bot.domain.clock import utc_now
from bot.domain.members import Network, Role
from bot.domain.outbox_payload import (
    AlertMessage,
    AnnouncementMessage,
    Attachment,
    Button,
    OutboxPayload,
)
from bot.domain.queued_messages import NewMessage
from bot.services import registrations
from tests.support.telegram_hub import StartTelegramHub, TelegramHub
from tests.support.telegram_server import TelegramServer

ALICE = 100001
CISO = 100002  # the hub office's coordinator
HUB_GROUP = -1001234567890
ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Hub call\r\nEND:VEVENT\r\n" \
      "END:VCALENDAR\r\n"
NOTICE = AnnouncementMessage(
    "Hub call on Thursday 10:00. Will you join?",
    buttons=((Button("Yes", "/help"), Button("No", "/status")),),
    attachment=Attachment("meeting-1.ics", "text/calendar", ICS))
_keys = itertools.count(1)


def queue(hub: TelegramHub, chat: int, payload: OutboxPayload) -> None:
    """Put a message in the outbox, as a service would, and have it sent now."""
    with hub.bot.store() as uow:
        uow.outbox.add(NewMessage(Network.TELEGRAM, str(chat), "announcement",
                                  f"test-announcement:{next(_keys)}", payload), utc_now())
        uow.commit()
    for dispatcher in hub.bot.dispatchers:
        dispatcher.wake()


@pytest.fixture
async def hub(telegram_server: TelegramServer, telegram_hub: StartTelegramHub) -> TelegramHub:
    for user in (ALICE, CISO):
        telegram_server.add_private_chat(user, first_name=f"user{user}")
    telegram_server.add_group(HUB_GROUP, "Hub meetings", type="supergroup")
    hub = await telegram_hub(feed_list=[])
    registrations.add_member(hub.bot.store, "Klinikum Nord", [(Network.TELEGRAM, str(ALICE))],
                         utc_now())
    registrations.add_member(hub.bot.store, "Hub Office", [(Network.TELEGRAM, str(CISO))],
                         utc_now())
    with hub.bot.store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(HUB_GROUP)), utc_now())
        uow.commit()
    return hub


async def test_meeting_notice_arrives_with_answer_buttons_and_calendar_file(
        hub: TelegramHub) -> None:
    queue(hub, ALICE, NOTICE)
    notice, document = await hub.telegram.wait_for_messages(ALICE, 2)
    assert notice.method == "sendMessage" and notice.text == NOTICE.text
    assert notice.reply_markup == {"inline_keyboard": [[
        {"text": "Yes", "callback_data": "/help"}, {"text": "No", "callback_data": "/status"},
    ]]}  # fmt: skip
    assert document.method == "sendDocument"
    [upload] = document.files
    assert upload.filename == "meeting-1.ics" and upload.content_type == "text/calendar"
    assert upload.content.decode() == ICS
    assert not document.disable_notification


async def test_an_alerts_answer_buttons_come_before_the_advisory_link(hub: TelegramHub) -> None:
    advisory = Advisory("cisa:1", "Dräger Infinity Delta: remote code execution", "",
                        "https://adv.example.org/1", "cisa")
    payload = AlertMessage(Alert(advisory, "Klinikum Nord", ()), ref=7, buttons=(
        (Button("Affected", "/affected 7 yes"), Button("Not affected", "/affected 7 no")),))
    queue(hub, ALICE, payload)
    [alert] = await hub.telegram.wait_for_messages(ALICE, 1)
    assert alert.reply_markup == {"inline_keyboard": [
        [{"text": "Affected", "callback_data": "/affected 7 yes"},
         {"text": "Not affected", "callback_data": "/affected 7 no"}],
        [{"text": "Open the advisory", "url": "https://adv.example.org/1"}],
    ]}  # fmt: skip


async def test_pressing_a_button_runs_its_command_like_typing_it(hub: TelegramHub) -> None:
    queue(hub, ALICE, NOTICE)
    notice, _ = await hub.telegram.wait_for_messages(ALICE, 2)
    hub.telegram.user_presses(ALICE, notice, "/help")
    answer = (await hub.telegram.wait_for_messages(ALICE, 3))[2]
    assert "/subscribe" in answer.text  # the help text
    [pressed] = hub.telegram.callback_answers
    assert pressed["text"] and "reply" in pressed["text"]


async def test_a_button_pressed_in_a_group_is_answered_privately(hub: TelegramHub) -> None:
    queue(hub, HUB_GROUP, NOTICE)
    post, _ = await hub.telegram.wait_for_messages(HUB_GROUP, 2)
    hub.telegram.user_presses(ALICE, post, "/help")
    [answer] = await hub.telegram.wait_for_messages(ALICE, 1)
    assert "/subscribe" in answer.text
    [pressed] = hub.telegram.callback_answers
    assert "private chat" in pressed["text"]
    await asyncio.sleep(0.5)
    assert len(hub.telegram.messages_to(HUB_GROUP)) == 2  # the notice and its file only


async def test_a_failed_file_is_resent_without_repeating_the_message(hub: TelegramHub) -> None:
    hub.telegram.fail_next(ALICE, status=502, description="Bad Gateway", method="sendDocument")
    queue(hub, ALICE, NOTICE)
    notice, document = await hub.telegram.wait_for_messages(ALICE, 2, timeout=10)
    assert notice.method == "sendMessage" and document.method == "sendDocument"
    assert hub.telegram.stats.errors[502] == 1  # the first try of the file failed
    await asyncio.sleep(0.5)
    assert len(hub.telegram.messages_to(ALICE)) == 2
    with hub.bot.store() as uow:
        assert uow.outbox.backlog()[("telegram", "sent")] == 1


async def test_member_answers_a_meeting_notice_in_the_hub_channel_by_button(
        hub: TelegramHub) -> None:
    day = (utc_now() + timedelta(days=2)).strftime("%Y-%m-%d")
    assert "scheduled" in await hub.say(CISO, f"/meeting add {day} 10:00 UTC Hub call")
    notice, calendar = await hub.telegram.wait_for_messages(HUB_GROUP, 2)
    assert [b["text"] for b in notice.buttons] == ["Attend", "Maybe", "Decline"]
    assert calendar.files[0].filename.endswith(".ics")
    await hub.press(ALICE, notice, "Attend")
    [noted] = await hub.telegram.wait_for_messages(ALICE, 1)
    assert noted.text.startswith("Noted: you attend meeting 1, Hub call")
    await asyncio.sleep(0.5)
    assert len(hub.telegram.messages_to(HUB_GROUP)) == 2  # nothing more in the group


async def test_coordinator_sends_an_announcement_by_pressing_send(hub: TelegramHub) -> None:
    assert "Send it?" in await hub.say(CISO, "/announce The hub call moves to Friday.")
    preview = hub.telegram.messages_to(CISO)[-1]
    await hub.press(CISO, preview, "Send")
    [post] = await hub.telegram.wait_for_messages(HUB_GROUP, 1)
    assert "The hub call moves to Friday." in post.text
    sent = (await hub.telegram.wait_for_messages(CISO, 2))[1]
    assert "Sent: the announcement is on its way to 1 address" in sent.text
