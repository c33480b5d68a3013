"""Hub coordination on Matrix, as members, a coordinator and an admin see it in their rooms: the
real bot (admins and the hub's time zone set) against a real Synapse on 127.0.0.1, people as
plain matrix-nio clients, advisories from the loopback feed server.

Nothing is asserted after a fixed sleep: where a message must *not* come, a later message that
must come is the barrier (a room's timeline is ordered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from nio import MemoryDownloadResponse

from bot.domain.clock import utc_now
from bot.domain.members import Network, Role
from bot.domain.tlp import Tlp
from bot.services import registrations
from tests.support.feedserver import rss
from tests.support.homeserver import MatrixUser, Message
from tests.support.matrix_hub import Hub
from tests.support.stories import item

BERLIN = ZoneInfo("Europe/Berlin")
DRAEGER = item(1, "Dräger Infinity Delta: authentication bypass",
               "CVSS v3.1 base score 8.1", "CVE-2026-90002")


@dataclass
class Coordination:
    """The hub and its people, each in a direct room with the bot."""

    hub: Hub
    admin: MatrixUser  # in HUBBOT_ADMINS, linked to no member
    coordinator: MatrixUser  # Hub Office, a coordinator
    coordinator_dm: str
    member: MatrixUser  # Klinikum Nord, a member
    member_dm: str

    async def coordinator_says(self, text: str) -> str:
        return await self.hub.say(self.coordinator, self.coordinator_dm, text)

    async def member_says(self, text: str) -> str:
        return await self.hub.say(self.member, self.member_dm, text)

    def from_bot(self, user: MatrixUser, room: str) -> list[Message]:
        return [m for m in user.messages_in(room) if m.sender == self.hub.bot_id]

    async def bot_messages(self, user: MatrixUser, room: str, count: int,
                           timeout: float = 15) -> list[Message]:
        """Sync until the bot wrote at least `count` messages into the room; returns them all."""
        return await user.wait_until(lambda: len(self.from_bot(user, room)) >= count, timeout,
                                     lambda: self.from_bot(user, room))


@pytest.fixture
def hub(matrix_hub: Hub) -> Hub:
    return matrix_hub


@pytest.fixture
async def hub_people(hub: Hub) -> Coordination:
    admin = await hub.person()
    hub.extra_settings = {"admins": admin.user_id, "timezone": "Europe/Berlin"}
    bot = await hub.start()
    now = utc_now()
    registrations.add_member(bot.store, "Hub Office", [], now)
    registrations.add_member(bot.store, "Klinikum Nord", [], now)
    with bot.store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.commit()
    coordinator, member = await hub.person(), await hub.person()
    coordinator_dm, member_dm = await hub.dm(coordinator), await hub.dm(member)
    await hub.link(coordinator, coordinator_dm, "Hub Office")
    await hub.link(member, member_dm, "Klinikum Nord")
    return Coordination(hub, admin, coordinator, coordinator_dm, member, member_dm)


def meeting_day() -> date:
    """Ten days ahead: after the clocks change if they change soon, and clear of reminders."""
    return datetime.now(BERLIN).date() + timedelta(days=10)


async def download(user: MatrixUser, file: Message) -> str:
    assert file.content["msgtype"] == "m.file", file.content
    got = await user.client.download(mxc=file.content["url"])
    assert isinstance(got, MemoryDownloadResponse), got
    return bytes(got.body).decode()


# Roles and refusals


async def test_a_member_is_refused_coordinator_commands_until_an_admin_grants_the_role(
    hub_people: Coordination,
) -> None:
    people, hub = hub_people, hub_people.hub
    later = meeting_day().isoformat()
    for command, name in (("!announce x", "announce"),
                          (f"!meeting add {later} 14:00 Exercise", "meeting"),
                          ("!situation 1", "situation")):
        assert (await people.member_says(command)).startswith(
            f"Only the hub's coordinators may use !{name}. If you need to reach the hub, ask a "
            "coordinator."), command
    assert await people.member_says("!grant Klinikum Nord coordinator") == \
        "Only the hub's admins may use !grant."

    admin_dm = await hub.dm(people.admin)
    assert await hub.say(people.admin, admin_dm, "!grant Klinikum Nord coordinator") == \
        "Klinikum Nord is now a coordinator."
    assert hub.bot is not None
    with hub.bot.store() as uow:  # what `hubbot audit` lists
        [entry] = uow.audit.latest(10)
    assert (entry.actor, entry.action, entry.detail) == (
        f"matrix:{people.admin.user_id}", "grant", "Klinikum Nord: coordinator")
    # The member's same command is now done, not refused.
    assert await people.member_says("!situation 1") == "There is no alert 1."


# Announcements


async def test_an_announcement_reaches_the_hub_room_only_after_the_coordinators_yes(
    hub_people: Coordination,
) -> None:
    people, hub = hub_people, hub_people.hub
    coordinator = people.coordinator
    hub_room = await hub.hub_room(coordinator, "Hub announcements", max_tlp=Tlp.CLEAR)

    preview = await people.coordinator_says("!announce Tabletop exercise Friday")
    assert preview.startswith("Preview — this goes to 1 hub channel:")
    assert "📣 Announcement from the hub\n\nTabletop exercise Friday" in preview
    [pending] = re.findall(r"Answer: !yes (\d+) · !no \1$", preview)
    assert coordinator.messages_in(people.coordinator_dm)[-1].content["msgtype"] == "m.notice"
    # The preview was delivered, so the command's transaction is done: nothing waits for the
    # hub room, and (a message is sent before it is recorded as sent) nothing is in it.
    assert hub.bot is not None
    with hub.bot.store() as uow:
        assert uow.outbox.pending_for(Network.MATRIX, hub_room) == 0
    await coordinator.sync()
    assert people.from_bot(coordinator, hub_room) == []

    # Chatter that merely starts with "yes" is not an answer: the bot says nothing to it (the
    # whole room is checked at the end).
    await coordinator.send(people.coordinator_dm, "yes please")
    assert await people.coordinator_says("yes") == \
        "Sent: the announcement is on its way to 1 address."
    [announcement] = await people.bot_messages(coordinator, hub_room, 1)
    assert announcement.body == "📣 Announcement from the hub\n\nTabletop exercise Friday"
    assert announcement.content["msgtype"] == "m.text"

    # --dm, then no: nothing anywhere.
    preview = await people.coordinator_says("!announce --dm Patch the monitors tonight")
    assert preview.startswith("Preview — this goes to 1 hub channel and 2 member contacts:")
    assert int(re.findall(r"!yes (\d+)", preview)[0]) > int(pending)
    assert await people.coordinator_says("no") == "Cancelled; nothing was sent."

    # A last announcement, confirmed with a bare "y", is the barrier: the hub room shows the first
    # one once and the cancelled one never; the member's room only the last one.
    await people.coordinator_says("!announce --dm Exercise moved to 10:00")
    before = len(coordinator.messages_in(people.coordinator_dm))
    await coordinator.send(people.coordinator_dm, "y")
    answers = await coordinator.wait_for_messages(people.coordinator_dm, before + 2)
    assert sorted(m.body for m in answers[before:]) == [
        "Sent: the announcement is on its way to 3 addresses.",
        "📣 Announcement from the hub\n\nExercise moved to 10:00"]
    bodies = [m.body.split("\n", 1)[0] for m in coordinator.messages_in(people.coordinator_dm)]
    assert bodies[:-2] == [
        "This chat is now linked to Hub Office. You will receive an alert whenever an advisory "
        "names one of its products. !products lists them, !subscribe adds one.",
        "Preview — this goes to 1 hub channel:", "Sent: the announcement is on its way to 1 "
        "address.", "Preview — this goes to 1 hub channel and 2 member contacts:",
        "Cancelled; nothing was sent.",
        "Preview — this goes to 1 hub channel and 2 member contacts:"]
    posts = await people.bot_messages(coordinator, hub_room, 2)
    assert [m.body.rsplit("\n", 1)[-1] for m in posts] == [
        "Tabletop exercise Friday", "Exercise moved to 10:00"]
    member_room = await people.bot_messages(people.member, people.member_dm, 2)
    assert [m.body for m in member_room[1:]] == [
        "📣 Announcement from the hub\n\nExercise moved to 10:00"]  # after "now linked"


# Meetings


async def test_a_meeting_in_berlin_time_brings_its_calendar_file_rsvps_and_cancellation(
    hub_people: Coordination,
) -> None:
    people, hub = hub_people, hub_people.hub
    coordinator, member = people.coordinator, people.member
    hub_room = await hub.hub_room(coordinator, "Hub meetings", max_tlp=Tlp.CLEAR)
    day = meeting_day()
    local = datetime.combine(day, time(14, 0), BERLIN)
    utc = local.astimezone(UTC)
    when = (f"{local:%a} {local.day} {local:%b %Y}, 14:00 {local.tzname()} "
            f"(Europe/Berlin; {utc:%H:%M} UTC)")

    answer = await people.coordinator_says(
        f"!meeting add {day.isoformat()} 14:00 Europe/Berlin Quarterly exercise "
        "| https://meet.example/q")
    [number] = re.findall(r"^Meeting (\d+) scheduled for ", answer)
    assert f"scheduled for {when}; posted to 1 hub channel." in answer

    notice, file = await people.bot_messages(coordinator, hub_room, 2)
    assert notice.body.startswith(f"📅 Hub meeting {number}: Quarterly exercise\n"
                                  f"When: {when}\nJoin: https://meet.example/q\n")
    assert notice.body.endswith(f"\n\nAnswer: !rsvp {number} yes · !rsvp {number} maybe · "
                                f"!rsvp {number} no")
    assert file.body == f"meeting-{number}.ics"
    assert file.content["info"]["mimetype"] == "text/calendar"
    ics = await download(coordinator, file)
    assert f"DTSTART;TZID=Europe/Berlin:{day:%Y%m%d}T140000" in ics
    [event] = Calendar.from_ical(ics).walk("VEVENT")
    start = event.decoded("dtstart")
    assert start.astimezone(UTC) == utc and str(event["summary"]) == "Quarterly exercise"

    assert (await people.member_says(f"!rsvp {number} yes")).startswith(
        f"Noted: you attend meeting {number}, Quarterly exercise, on {when}.")
    listing = await people.coordinator_says("!meetings")
    assert f"• {number}: Quarterly exercise — {when}" in listing
    assert "RSVP: 1 yes · 0 maybe · 0 no" in listing

    assert await people.coordinator_says(f"!meeting cancel {number}") == \
        f"Meeting {number} cancelled; 2 notifications on their way."
    # Both rooms had two messages from the bot: the notice and its file; "now linked" and the
    # answer to the rsvp.
    for user, room in ((coordinator, hub_room), (member, people.member_dm)):
        cancel, cancel_file = (await people.bot_messages(user, room, 4))[2:]
        assert cancel.body.startswith(
            f"❌ Cancelled: hub meeting {number}, Quarterly exercise, which was set for {when}.")
        assert cancel_file.body == f"meeting-{number}-cancelled.ics"
        cancelled = await download(user, cancel_file)
        assert "METHOD:CANCEL" in cancelled and "STATUS:CANCELLED" in cancelled
        assert Calendar.from_ical(cancelled).walk("VEVENT")[0]["uid"] == event["uid"]


# Who is affected


async def test_a_member_answers_an_alert_and_the_coordinator_sees_counts_then_names(
    hub_people: Coordination,
) -> None:
    people, hub = hub_people, hub_people.hub
    assert "Added Dräger | Infinity Delta" in await people.member_says(
        "!subscribe Dräger | Infinity Delta")
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    assert hub.bot is not None
    await hub.bot.poll_all()
    alert = (await people.bot_messages(people.member, people.member_dm, 3))[-1]
    assert alert.body.startswith("[HIGH (CVSS 8.1)] Dräger Infinity Delta: authentication")
    [ref] = re.findall(r"Answer: !affected (\d+) yes · !affected \1 no · !affected \1 patched$",
                       alert.body)
    assert f"Alert ID {ref}" in (alert.formatted_body or "")

    assert (await people.member_says(f"!affected {ref} patched")).startswith(
        f"Recorded: Klinikum Nord has patched alert {ref} (Dräger Infinity Delta: "
        "authentication bypass).")
    summary = await people.coordinator_says(f"!situation {ref}")
    assert "Matched 1 member; 1 answered, 0 not yet." in summary
    assert "Affected: 0 · Patched: 1 · Not affected: 0" in summary
    assert "Klinikum" not in summary
    detail = await people.coordinator_says(f"!situation {ref} detail")
    assert "• Klinikum Nord: patched" in detail


async def test_the_alert_id_line_is_in_the_plain_body_and_written_with_an_exclamation_mark(
    hub_people: Coordination,
) -> None:
    people, hub = hub_people, hub_people.hub
    await people.member_says("!subscribe Dräger | Infinity Delta")
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    assert hub.bot is not None
    await hub.bot.poll_all()
    alert = (await people.bot_messages(people.member, people.member_dm, 3))[-1]
    [ref] = set(re.findall(r"!affected (\d+) yes", alert.body))
    assert f"Alert ID {ref}" in alert.body
    assert "/affected" not in (alert.formatted_body or "")


# Digest


async def test_a_member_turns_the_daily_digest_on_and_off(hub_people: Coordination) -> None:
    people = hub_people
    assert (await people.member_says("!digest on")).startswith(
        "Digest on: Klinikum Nord's alerts below critical arrive in one message a day at 08:00 "
        "(Europe/Berlin).")
    assert (await people.member_says("!digest off")) == \
        "Digest off: Klinikum Nord's alerts arrive as they come."
