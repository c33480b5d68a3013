"""The outbox dispatcher's promises: retried until delivered, never sent twice once recorded,
given up only for good reasons, with the server's retry-after honoured."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from telegram import Bot

from bot.channels.telegram import TelegramChannel
from bot.domain.members import Network
from bot.domain.outbox_payload import ReplyMessage
from bot.domain.queued_messages import UNEXPECTED_ATTEMPTS, NewMessage, OutboxItem
from bot.outbox.channel import DeliveryError
from bot.outbox.dispatcher import OutboxDispatcher
from bot.store.unit_of_work import SqlStore
from tests.support.telegram_server import TELEGRAM_TEST_TOKEN, TelegramServer

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class ScriptedChannel:
    """A channel whose network answers as scripted: an exception to raise, or success."""

    network = Network.TELEGRAM

    def __init__(self, *answers: DeliveryError | Exception | None) -> None:
        self.answers = list(answers)
        self.delivered: list[OutboxItem] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, item: OutboxItem) -> str | None:
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        self.delivered.append(item)
        return f"msg-{len(self.delivered)}"


def queue(store: SqlStore, *keys: str, address: str = "42") -> None:
    with store() as uow:
        for key in keys:
            uow.outbox.add(NewMessage(Network.TELEGRAM, address, "reply", key, ReplyMessage(key)),
                           START)
        uow.commit()


def states(store: SqlStore) -> dict[tuple[str, str], int]:
    with store() as uow:
        return uow.outbox.backlog()


async def test_transient_failures_are_retried_until_delivered(store: SqlStore) -> None:
    clock = Clock()
    channel = ScriptedChannel(DeliveryError("502", transient=True),
                              RuntimeError("adapter bug"), None)
    dispatcher = OutboxDispatcher(store, channel, clock=clock)
    queue(store, "a")
    for _ in range(3):
        await dispatcher.drain()
        clock.now += timedelta(minutes=10)
    assert [i.payload.text for i in channel.delivered] == ["a"]
    assert channel.delivered[0].attempts == 3
    assert states(store) == {("telegram", "sent"): 1}


async def test_retry_after_is_honoured(store: SqlStore) -> None:
    clock = Clock()
    channel = ScriptedChannel(DeliveryError("429", transient=True, retry_after=120))
    dispatcher = OutboxDispatcher(store, channel, clock=clock)
    queue(store, "a")
    await dispatcher.drain()
    clock.now += timedelta(seconds=119)
    assert await dispatcher.drain() == 0
    clock.now += timedelta(seconds=2)
    await dispatcher.drain()
    assert len(channel.delivered) == 1


async def test_a_long_outage_loses_nothing_and_ends_with_delivery_within_minutes(
    store: SqlStore,
) -> None:
    clock = Clock()
    outage = [DeliveryError("502 Bad Gateway", transient=True)] * 40
    channel = ScriptedChannel(*outage)
    dispatcher = OutboxDispatcher(store, channel, clock=clock)
    queue(store, "a")
    while not channel.delivered:
        await dispatcher.drain()
        clock.now += timedelta(seconds=30)
        assert clock.now - START < timedelta(hours=4)
    # Backoff is capped at 5 minutes: 40 failed tries take a few hours, not days.
    assert clock.now - START > timedelta(hours=1)


async def test_permanent_failure_is_final_and_recorded(store: SqlStore) -> None:
    channel = ScriptedChannel(DeliveryError("message is too long", transient=False))
    dispatcher = OutboxDispatcher(store, channel, clock=Clock())
    queue(store, "a")
    await dispatcher.drain()
    await dispatcher.drain()
    assert channel.delivered == [] and states(store) == {("telegram", "failed"): 1}


async def test_messages_older_than_three_days_are_given_up(store: SqlStore) -> None:
    clock = Clock()
    channel = ScriptedChannel(DeliveryError("502", transient=True))
    dispatcher = OutboxDispatcher(store, channel, clock=clock)
    queue(store, "a")
    clock.now += timedelta(days=3, minutes=1)
    await dispatcher.drain()
    assert states(store) == {("telegram", "failed"): 1}


@pytest.mark.parametrize("gone", [True, False])
async def test_recipient_gone_stops_everything_queued_for_it(store: SqlStore, gone) -> None:
    channel = ScriptedChannel(DeliveryError("blocked", transient=False, recipient_gone=gone))
    dispatcher = OutboxDispatcher(store, channel, clock=Clock())
    queue(store, "a", "b", "c")
    await dispatcher.drain()
    expected = {("telegram", "failed"): 3} if gone else {("telegram", "failed"): 1,
                                                          ("telegram", "sent"): 2}
    assert states(store) == expected


async def test_a_restart_resends_what_was_in_flight_and_nothing_else(store: SqlStore) -> None:
    queue(store, "a", address="1")
    queue(store, "b", address="2")
    with store() as uow:
        uow.outbox.claim_due(Network.TELEGRAM, START, 1)  # "a" was being sent at the crash
        uow.commit()
    channel = ScriptedChannel()
    dispatcher = OutboxDispatcher(store, channel, clock=Clock())
    assert await dispatcher.recover() == 1
    await dispatcher.drain()
    assert sorted(i.payload.text for i in channel.delivered) == ["a", "b"]


# ---- a message fails alone (issue 14): what can never be sent never holds back the next ----


class PickyChannel:
    """A channel that answers per message text: the scripted errors first, then success."""

    network = Network.TELEGRAM

    def __init__(self, **answers: list[Exception]) -> None:
        self.answers = answers
        self.delivered: list[str] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, item: OutboxItem) -> str | None:
        script = self.answers.get(item.payload.text, [])
        if script:
            raise script.pop(0)
        self.delivered.append(item.payload.text)
        return f"msg-{len(self.delivered)}"


def rows(store: SqlStore) -> dict[str, tuple[str, int, str | None]]:
    """Each queued message's text: (state, attempts, last error)."""
    with store.engine.connect() as connection:
        found = connection.execute(text("select payload, state, attempts, last_error from outbox"))
        return {json.loads(p)["text"]: (s, a, e) for p, s, a, e in found}


async def test_a_message_that_can_never_be_sent_fails_alone_with_its_reason(
        store: SqlStore) -> None:
    channel = PickyChannel(a=[DeliveryError("Telegram: Bad Request: message is too long",
                                            transient=False)])
    dispatcher = OutboxDispatcher(store, channel, clock=Clock())
    queue(store, "a", "b", "c")
    await dispatcher.drain()  # no time passes: b and c need not wait for anything
    assert channel.delivered == ["b", "c"]
    assert rows(store)["a"] == ("failed", 1, "Telegram: Bad Request: message is too long")


async def test_an_unexpected_error_is_tried_a_few_times_then_fails_alone(
        store: SqlStore, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    bug = [ValueError("cannot fit 'Klinikum Nord: Infinity Delta'") for _ in range(10)]
    channel = PickyChannel(a=bug)
    dispatcher = OutboxDispatcher(store, channel, clock=clock)
    queue(store, "a", "b")
    while len(channel.delivered) < 1:
        await dispatcher.drain()
        clock.now += timedelta(seconds=20)
        assert clock.now - START < timedelta(minutes=10)  # not three days
    state, attempts, reason = rows(store)["a"]
    assert (state, attempts) == ("failed", UNEXPECTED_ATTEMPTS)
    assert reason is not None and reason.startswith(
        f"gave up after {UNEXPECTED_ATTEMPTS} attempts: unexpected error: ValueError at ")
    assert channel.delivered == ["b"]
    assert "Klinikum" not in caplog.text and "Infinity" not in caplog.text  # no message text
    assert "ValueError" in caplog.text and "test_dispatcher.py" in caplog.text  # where it broke


async def test_a_429_pauses_every_send_with_one_warning_and_is_then_waited_out(
        store: SqlStore, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()

    def told_to_wait() -> list[Exception]:
        return [DeliveryError("too many requests", transient=True, retry_after=30,
                              rate_limited=True)]

    channel = PickyChannel(a=told_to_wait(), b=told_to_wait(), c=told_to_wait())
    dispatcher = OutboxDispatcher(store, channel, clock=clock, concurrency=3)
    for address, key in enumerate("abcd"):
        queue(store, key, address=str(address))
    caplog.set_level(logging.DEBUG, logger="bot.outbox.dispatcher")
    await dispatcher.drain()
    assert channel.delivered == ["d"]  # in flight together with the three told to wait
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "telegram: the server asks to slow down (429); sending waits 30 s"]
    queue(store, "e", address="9")
    clock.now += timedelta(seconds=29)
    assert await dispatcher.drain() == 0  # nothing goes out while the server's wait lasts
    clock.now += timedelta(seconds=3)
    await dispatcher.drain()
    assert sorted(channel.delivered) == ["a", "b", "c", "d", "e"]
    assert {attempts for _, attempts, _ in rows(store).values()} <= {1, 2}


async def test_a_message_that_cannot_be_read_fails_at_once_and_the_next_is_sent(
        store: SqlStore, telegram_server: TelegramServer) -> None:
    telegram_server.add_private_chat(100001)
    with store() as uow:  # an alert whose payload lost its advisory, then an answer
        uow.outbox.add(NewMessage(Network.TELEGRAM, "100001", "alert", "broken",
                                  ReplyMessage("broken"), priority=4), START)
        uow.outbox.add(NewMessage(Network.TELEGRAM, "100001", "reply", "next",
                                  ReplyMessage("next")), START)
        uow.commit()
    with store.engine.begin() as connection:
        connection.execute(text("update outbox set payload = :payload where dedup_key = 'broken'"),
                           {"payload": json.dumps({"kind": "alert", "text": "broken"})})
    async with Bot(TELEGRAM_TEST_TOKEN, base_url=telegram_server.bot_base_url) as bot:
        dispatcher = OutboxDispatcher(store, TelegramChannel(bot, private_chat_gap=0),
                                      clock=Clock())
        await dispatcher.drain()
    [sent] = telegram_server.messages_to(100001)
    assert sent.text == "next"
    state, attempts, reason = rows(store)["broken"]
    assert (state, attempts) == ("failed", 1)
    assert reason == ("could not read the message: a field of the alert payload is missing or "
                      "malformed (KeyError)")
