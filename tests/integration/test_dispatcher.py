"""The outbox dispatcher's promises: retried until delivered, never sent twice once recorded,
given up only for good reasons, with the server's retry-after honoured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.channel import DeliveryError
from bot.domain.members import Network
from bot.domain.outbox import NewMessage, OutboxItem
from bot.outbox import OutboxDispatcher
from bot.store.unit_of_work import SqlStore

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
            uow.outbox.add(NewMessage(Network.TELEGRAM, address, "reply", key, {"text": key}),
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
    assert [i.payload["text"] for i in channel.delivered] == ["a"]
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
    assert dispatcher.recover() == 1
    await dispatcher.drain()
    assert sorted(i.payload["text"] for i in channel.delivered) == ["a", "b"]
