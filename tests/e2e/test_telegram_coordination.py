"""Hub coordination in Telegram: who may do what, announcements confirmed by typing, meetings
across time zones and DST, reminders after a restart, who is affected, daily digests.

The real ptb Application against the loopback Bot API server, feeds from the loopback feed
server, a real SQLite store. Where a story needs another moment than now (a reminder, a digest
hour), the coordination jobs and an outbox dispatcher run with a controllable clock, as a
restarted bot at that moment would.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app.bootstrap import open_store
from bot.domain.alerts import HubChannel
from bot.domain.clock import utc_now
from bot.domain.members import Network, Role
from bot.domain.products import ProductSpec
from bot.jobs.coordination import CoordinationJobs
from bot.outbox.dispatcher import OutboxDispatcher
from bot.services import registrations
from bot.services.chat_commands import NOT_LINKED
from tests.support.feedserver import rss
from tests.support.stories import item
from tests.support.telegram_hub import StartTelegramHub, TelegramHub
from tests.support.telegram_server import TelegramServer

ALICE = 100001  # Klinikum Nord
CISO = 100002  # the hub office's coordinator
BOB = 100003  # Vivantes
ADMIN = 100009  # one of the hub's admins (settings), linked to no member
STRANGER = 100006  # linked to no member
HUB_GROUP = -1001234567890
BERLIN = ZoneInfo("Europe/Berlin")
ZONE = "Europe/Berlin"
CRITICAL = item(1, "Dräger Infinity Delta: remote code execution", "CVSS v3.1 base score 9.8",
                "CVE-2026-90001")
HIGH = item(2, "Dräger Infinity Delta: information disclosure", "CVSS v3.1 base score 8.1",
            "CVE-2026-90002")


class Clock:
    """A clock the test sets; what the restarted bot's jobs and dispatcher read."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def coordination_jobs(hub: TelegramHub, clock: Clock) -> CoordinationJobs:
    """The coordination jobs a bot started at `clock`'s moment builds."""
    return CoordinationJobs(open_store(hub.settings), hub.settings.policy(), clock)


async def deliver_as_of(hub: TelegramHub, clock: Clock) -> int:
    """Send, over the running bot's Telegram channel, what is due at `clock`'s moment."""
    [channel] = [c for c in hub.bot.channels if c.network is Network.TELEGRAM]
    return await OutboxDispatcher(hub.bot.store, channel, clock=clock).drain()


def texts(hub: TelegramHub, chat: int) -> list[str]:
    return [m.text or "" for m in hub.telegram.messages_to(chat)]


@pytest.fixture
async def hub(telegram_server: TelegramServer, telegram_hub: StartTelegramHub) -> TelegramHub:
    for user in (ALICE, CISO, BOB, ADMIN, STRANGER):
        telegram_server.add_private_chat(user, first_name=f"user{user}")
    telegram_server.add_group(HUB_GROUP, "Hub", type="supergroup")
    hub = await telegram_hub(
                             admins=str(ADMIN), timezone=ZONE)
    now = utc_now()
    for name, user in (("Klinikum Nord", ALICE), ("Hub Office", CISO), ("Vivantes", BOB)):
        registrations.add_member(hub.bot.store, name, [(Network.TELEGRAM, str(user))], now)
    with hub.bot.store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(HUB_GROUP)), now)
        uow.commit()
    return hub


def describe(start: datetime) -> str:
    """How the bot shows a Berlin meeting time, worked out here with zoneinfo."""
    local = start.astimezone(BERLIN)
    return (f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} {local.tzname()} "
            f"({ZONE}; {start.astimezone(UTC):%H:%M} UTC)")


def next_offset_change(after: datetime, direction: int = 0) -> date:
    """The first local day after `after` whose noon has another UTC offset than the day before
    (with `direction` 1 only clocks going forward, with -1 only going back)."""
    day = after.astimezone(BERLIN).date()
    for _ in range(400):
        offset = datetime.combine(day, time(12), BERLIN).utcoffset()
        day += timedelta(days=1)
        new = datetime.combine(day, time(12), BERLIN).utcoffset()
        assert offset is not None and new is not None
        if new != offset and direction * (new - offset).total_seconds() >= 0:
            return day
    raise AssertionError("Europe/Berlin changed no clocks within 400 days")


# Who may do what


async def test_members_and_strangers_are_refused_the_coordinators_commands(
        hub: TelegramHub) -> None:
    day = (utc_now() + timedelta(days=3)).astimezone(BERLIN).date()
    commands = {"announce": "/announce Hello", "meeting": f"/meeting add {day} 14:00 Exercise",
                "situation": "/situation 1"}

    async def refusals(user: int) -> None:
        for name, text in commands.items():
            assert f"Only the hub's coordinators may use /{name}." in await hub.say(user, text)
        assert "Only the hub's coordinators may use /meeting" in await hub.say(
            user, "/meeting cancel 1")
        assert await hub.say(user, "/grant Klinikum Nord coordinator") == \
            "Only the hub's admins may use /grant."

    async def not_linked(user: int) -> None:  # a stranger learns only how to get linked
        for text in [*commands.values(), "/meeting cancel 1", "/grant Klinikum Nord coordinator"]:
            assert await hub.say(user, text) == NOT_LINKED

    await asyncio.gather(refusals(ALICE), not_linked(STRANGER))
    assert await hub.say(CISO, "/grant Vivantes coordinator") == \
        "Only the hub's admins may use /grant."
    assert hub.telegram.messages_to(HUB_GROUP) == []
    with hub.bot.store() as uow:
        assert uow.audit.latest(10) == [] and uow.meetings.upcoming(utc_now()) == []


async def test_an_admin_grants_the_coordinator_role_and_it_is_audited(hub: TelegramHub) -> None:
    assert await hub.say(ADMIN, "/grant Vivantes coordinator") == \
        "Vivantes is now a coordinator."
    with hub.bot.store() as uow:
        [entry] = uow.audit.latest(10)
    assert (entry.actor, entry.action, entry.detail) == \
        (f"telegram:{ADMIN}", "grant", "Vivantes: coordinator")
    assert "Preview" in await hub.say(BOB, "/announce Exercise on Friday")
    assert "There is no member 'Nobody'" in await hub.say(ADMIN, "/grant Nobody coordinator")
    # An admin needs no membership to announce either.
    assert "Preview — this goes to 1 hub channel" in await hub.say(ADMIN, "/announce Admin note")
    assert "on its way to 1 address" in await hub.say(ADMIN, "yes")
    [post] = await hub.telegram.wait_for_messages(HUB_GROUP, 1)
    assert post.text == "📣 Announcement from the hub\n\nAdmin note"


async def test_help_shows_each_person_the_commands_they_may_use(hub: TelegramHub) -> None:
    member, coordinator, admin = await asyncio.gather(
        hub.say(ALICE, "/help"), hub.say(CISO, "/help"), hub.say(ADMIN, "/help"))
    assert "/affected" in member and "/rsvp" in member
    assert "/announce" not in member and "/situation" not in member and "/grant" not in member
    assert "/announce" in coordinator and "/situation" in coordinator
    assert "/meeting add" in coordinator and "/grant" not in coordinator
    assert "/grant" in admin and "/announce" in admin
    assert len({member, coordinator, admin}) == 3


# Announcements


async def test_an_announcement_is_confirmed_by_typing_yes_and_reaches_everyone_once(
        hub: TelegramHub) -> None:
    preview = await hub.say(CISO, "/announce --dm First draft: exercise on Friday")
    assert "Preview — this goes to 1 hub channel and 3 member contacts" in preview
    assert "First draft" in preview and "Send it? Answer yes or no" in preview
    assert await hub.say(CISO, "no") == "Cancelled; nothing was sent."
    await asyncio.sleep(0.3)
    assert hub.telegram.messages_to(HUB_GROUP) == []
    second = "Second draft: patch <Alaris 8015> & reboot, Monday"  # HTML-like, shown as typed
    assert "Preview" in await hub.say(CISO, f"/announce --dm {second}")
    assert await hub.say(CISO, "yes") == \
        "Sent: the announcement is on its way to 4 addresses."
    heading = f"📣 Announcement from the hub\n\n{second}"
    for chat in (HUB_GROUP, ALICE, BOB):
        [post] = await hub.telegram.wait_for_messages(chat, 1)
        assert post.text == heading
    announced = await hub.telegram.wait_for_messages(CISO, 5)
    assert announced[-1].text == heading
    await asyncio.sleep(0.5)  # room for a (wrong) second copy or the cancelled draft
    everything = [t for chat in (HUB_GROUP, ALICE, BOB, CISO) for t in texts(hub, chat)]
    assert sum(t == heading for t in everything) == 4
    assert not any(t.startswith("📣") and "First draft" in t for t in everything)
    with hub.bot.store() as uow:
        actions = [e.action for e in uow.audit.latest(10)]
    assert actions == ["announce", "announce cancelled"]


# Meetings


async def test_a_meeting_after_the_dst_change_shows_berlin_wall_time_and_utc(
        hub: TelegramHub) -> None:
    now = utc_now()
    day = next_offset_change(now) + timedelta(days=2)
    start = datetime.combine(day, time(14), BERLIN)
    assert start.utcoffset() != now.astimezone(BERLIN).utcoffset()  # the other side of it
    answer = await hub.say(CISO, f"/meeting add {day} 14:00 Europe/Berlin Quarterly exercise "
                                 "| https://meet.example/q")
    assert f"Meeting 1 scheduled for {describe(start)}; posted to 1 hub channel" in answer
    assert f"14:00 {start.tzname()}" in describe(start)
    notice, calendar = await hub.telegram.wait_for_messages(HUB_GROUP, 2)
    assert notice.text is not None
    assert f"When: {describe(start)}" in notice.text
    assert "Join: https://meet.example/q" in notice.text
    assert [b["text"] for b in notice.buttons] == ["Attend", "Maybe", "Decline"]
    assert calendar.method == "sendDocument"
    [ics] = calendar.files
    assert ics.filename == "meeting-1.ics" and ics.content_type == "text/calendar"
    text = ics.content.decode()
    assert f"DTSTART;TZID=Europe/Berlin:{day:%Y%m%d}T140000" in text
    assert "METHOD:PUBLISH" in text and "BEGIN:VTIMEZONE" in text


async def test_a_skipped_dst_hour_is_refused_and_a_repeated_one_read_as_the_first(
        hub: TelegramHub) -> None:
    day = next_offset_change(utc_now(), direction=1)
    answer = await hub.say(CISO, f"/meeting add {day} 02:30 Europe/Berlin Skipped hour")
    assert answer.startswith("Not scheduled:")
    assert f"{day} 02:30 does not exist in Europe/Berlin: the clocks go forward" in answer
    # The hour that happens twice when the clocks go back is read as the first (summer time).
    day = next_offset_change(utc_now(), direction=-1)
    first = datetime.combine(day, time(2, 30, fold=0), BERLIN)
    assert first.tzname() == "CEST"
    answer = await hub.say(CISO, f"/meeting add {day} 02:30 Europe/Berlin Twice hour")
    assert f"Meeting 1 scheduled for {describe(first)}" in answer
    [notice, _] = await hub.telegram.wait_for_messages(HUB_GROUP, 2)
    assert "Skipped hour" not in (notice.text or "") and "Twice hour" in (notice.text or "")


async def test_rsvp_counts_are_for_coordinators_and_cancelling_tells_who_answered(
        hub: TelegramHub) -> None:
    day = (utc_now() + timedelta(days=5)).astimezone(BERLIN).date()
    await hub.say(CISO, f"/meeting add {day} 14:00 Hub call")
    await hub.telegram.wait_for_messages(HUB_GROUP, 2)
    assert "Noted: you attend meeting 1, Hub call" in await hub.say(ALICE, "/rsvp 1 yes")
    member_view, coordinator_view = await asyncio.gather(
        hub.say(ALICE, "/meetings"), hub.say(CISO, "/meetings"))
    assert "1: Hub call" in member_view and "RSVP" not in member_view
    assert "RSVP: 1 yes · 0 maybe · 0 no" in coordinator_view

    assert "Meeting 1 cancelled; 2 notifications" in await hub.say(CISO, "/meeting cancel 1")
    for chat, before in ((HUB_GROUP, 2), (ALICE, 2)):
        cancel, calendar = (await hub.telegram.wait_for_messages(chat, before + 2))[-2:]
        assert cancel.text is not None and cancel.text.startswith(
            "❌ Cancelled: hub meeting 1, Hub call")
        [ics] = calendar.files
        assert ics.filename == "meeting-1-cancelled.ics"
        assert "METHOD:CANCEL" in ics.content.decode()
        assert "STATUS:CANCELLED" in ics.content.decode()
    await asyncio.sleep(0.3)
    assert len(hub.telegram.messages_to(BOB)) == 0  # Bob never answered


# Reminders across a restart


async def test_a_reminder_due_while_the_bot_was_down_is_sent_once_after_restart(
        hub: TelegramHub) -> None:
    day = (utc_now() + timedelta(days=3)).astimezone(BERLIN).date()
    start = datetime.combine(day, time(14), BERLIN).astimezone(UTC)
    await hub.say(CISO, f"/meeting add {day} 14:00 Restart drill")
    await hub.telegram.wait_for_messages(HUB_GROUP, 2)
    assert "you attend" in await hub.say(ALICE, "/rsvp 1 yes")
    assert "you do not attend" in await hub.say(BOB, "/rsvp 1 no")
    # A bot started now would schedule both reminders.
    scheduler = AsyncIOScheduler(timezone="UTC")
    coordination_jobs(hub, Clock(utc_now())).attach(scheduler)
    assert {j.id: j.trigger.run_date for j in scheduler.get_jobs()
            if j.id.startswith("reminder:")} == {"reminder:1:24h": start - timedelta(hours=24),
                                                 "reminder:1:1h": start - timedelta(hours=1)}
    await hub.stop()

    # Restarted 40 minutes before the start: the 1-hour reminder's moment passed while down.
    clock = Clock(start - timedelta(minutes=40))
    scheduler = AsyncIOScheduler(timezone="UTC")
    coordination_jobs(hub, clock).attach(scheduler)
    assert not [j for j in scheduler.get_jobs() if j.id.startswith("reminder:")]
    await hub.start()
    assert await deliver_as_of(hub, clock) == 2
    reminder = "⏰ Reminder: hub meeting 1, Restart drill, starts in 40 minutes"
    [post] = (await hub.telegram.wait_for_messages(HUB_GROUP, 3))[2:]
    [mine] = (await hub.telegram.wait_for_messages(ALICE, 2))[1:]
    for message in (post, mine):
        assert message.text is not None and message.text.startswith(reminder)
        assert f"When: {describe(start)}" in message.text

    # A second restart at the same moment sends nothing more.
    await hub.stop()
    coordination_jobs(hub, clock).attach(AsyncIOScheduler(timezone="UTC"))
    await hub.start()
    assert await deliver_as_of(hub, clock) == 0
    await asyncio.sleep(0.3)
    assert len(hub.telegram.messages_to(HUB_GROUP)) == 3
    assert len(hub.telegram.messages_to(ALICE)) == 2
    assert len(hub.telegram.messages_to(BOB)) == 1  # only the answer to their /rsvp


# Who is affected


async def test_members_say_they_are_affected_and_coordinators_see_counts_first(
        hub: TelegramHub) -> None:
    for member in ("Klinikum Nord", "Vivantes"):
        registrations.add_product(hub.bot.store, member, ProductSpec("Dräger", "Infinity Delta"),
                              utc_now())
    hub.feeds.serve("/cisa.xml", rss([CRITICAL]))
    await hub.bot.poll_all()
    [alert] = await hub.telegram.wait_for_messages(ALICE, 1)
    assert alert.text is not None
    found = re.search(r"Alert ID (\d+)", alert.text)
    assert found, alert.text
    ref = found.group(1)
    assert f"Alert ID {ref} · affected? /affected {ref} yes|no|patched" in alert.text
    assert [(b["text"], b.get("callback_data")) for b in alert.buttons][:3] == [
        ("Affected", f"/affected {ref} yes"), ("Not affected", f"/affected {ref} no"),
        ("Patched", f"/affected {ref} patched")]
    await hub.press(ALICE, alert, "Affected")
    [recorded] = (await hub.telegram.wait_for_messages(ALICE, 2))[1:]
    assert f"Recorded: Klinikum Nord is affected by alert {ref}" in (recorded.text or "")

    summary = await hub.say(CISO, f"/situation {ref}")
    assert "Matched 2 members; 1 answered, 1 not yet." in summary
    assert "Affected: 1 · Patched: 0 · Not affected: 0" in summary
    assert "Klinikum" not in summary and "Vivantes" not in summary
    detail = await hub.say(CISO, f"/situation {ref} detail")
    assert "• Klinikum Nord: affected" in detail and "• Vivantes: no answer yet" in detail


# Daily digest


def next_eight_oclock(now: datetime) -> datetime:
    local = now.astimezone(BERLIN)
    slot = datetime.combine(local.date(), time(8), BERLIN)
    if slot <= local:
        slot = datetime.combine(local.date() + timedelta(days=1), time(8), BERLIN)
    return slot.astimezone(UTC)


async def test_a_digest_holds_high_alerts_until_the_hour_but_not_critical_ones(
        hub: TelegramHub) -> None:
    for member in ("Klinikum Nord", "Vivantes"):
        registrations.add_product(hub.bot.store, member, ProductSpec("Dräger", "Infinity Delta"),
                              utc_now())
    answer = await hub.say(ALICE, "/digest on 8")
    assert answer.startswith("Digest on: Klinikum Nord's alerts below critical arrive in one "
                             f"message a day at 08:00 ({ZONE}).")
    hub.feeds.serve("/cisa.xml", rss([CRITICAL, HIGH]))
    await hub.bot.poll_all()
    # Vivantes has no digest: both alerts reach Bob, which shows both were sent out.
    bobs = await hub.telegram.wait_for_messages(BOB, 2)
    assert {"remote code execution" in (m.text or "") for m in bobs} == {True, False}
    [critical] = (await hub.telegram.wait_for_messages(ALICE, 2))[1:]
    assert "remote code execution" in (critical.text or "")
    await asyncio.sleep(0.5)
    assert len(hub.telegram.messages_to(ALICE)) == 2  # the high one is held

    eight = next_eight_oclock(utc_now())
    jobs = coordination_jobs(hub, Clock(eight - timedelta(minutes=1)))
    assert jobs.release_digests() == 0
    clock = Clock(eight)
    jobs = coordination_jobs(hub, clock)
    assert jobs.release_digests() == 1
    assert jobs.release_digests() == 0
    assert await deliver_as_of(hub, clock) == 1
    [digest] = (await hub.telegram.wait_for_messages(ALICE, 3))[2:]
    assert digest.text is not None
    assert digest.text.startswith("Daily digest for Klinikum Nord: 1 alert")
    assert "information disclosure" in digest.text and "remote code" not in digest.text
    assert len(hub.telegram.messages_to(BOB)) == 2
