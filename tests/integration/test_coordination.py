"""Hub coordination through the command service on a real store (SQLite and PostgreSQL):
roles and refusals, the audit log, announcements with their confirmation, meetings with calendar
files, RSVPs and reminders across restarts (controllable clock), who is affected, digests and
the weekly summary. The chat networks' own tests drive the same service through Telegram and
Matrix."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from icalendar import Calendar

from bot.domain.advisory import Advisory
from bot.domain.alerts import HubChannel
from bot.domain.matching import AdvisoryMatcher
from bot.domain.members import Network, Role
from bot.domain.products import ProductSpec
from bot.domain.roles import parse_admins
from bot.domain.severity import Severity
from bot.jobs.coordination import CoordinationJobs
from bot.services import registrations
from bot.services.chat_commands import NOT_LINKED, NOTHING_TO_CONFIRM, Sender
from bot.services.hub_messages import HubPolicy
from bot.services.ingest import ingest_advisories
from bot.store.tables import OutboxRow
from bot.store.unit_of_work import SqlStore
from tests.support.command_hub import CommandHub

NOW = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)  # summer time in Berlin (CEST)
COORD = Sender(Network.TELEGRAM, "3003", "3003")
COORD_MX = Sender(Network.MATRIX, "@coord:hub.test", "!dm-coord:hub.test")
NORD = Sender(Network.TELEGRAM, "1001", "1001")
NORD_MX = Sender(Network.MATRIX, "@ann:hub.test", "!dm-ann:hub.test")
VIV = Sender(Network.TELEGRAM, "2002", "2002")
ADMIN = Sender(Network.TELEGRAM, "9999", "9999")  # not linked to any member
STRANGER = Sender(Network.TELEGRAM, "6666", "6666")
HUB_TG, HUB_MX = "-100500", "!hub:hub.test"
POLICY = HubPolicy(admins=parse_admins("9999 @admin:hub.test"), zone="Europe/Berlin")


class Hub(CommandHub):
    """The command service on a real store, with what it queued readable back."""

    def to(self, kind: str) -> set[tuple[str, str]]:
        return {(r.network, r.address) for r in self.rows(kind)}

    def ingest(self, *advisories: Advisory) -> None:
        with self.store() as uow:
            matcher = AdvisoryMatcher(uow.products.all())
            ingest_advisories(uow, advisories, matcher, self.clock(), False)
            uow.commit()

    def audit(self) -> list[tuple[str, str, str]]:
        with self.store() as uow:
            return [(e.actor, e.action, e.detail) for e in uow.audit.latest(100)]


@pytest.fixture
def hub(store: SqlStore) -> Hub:
    registrations.add_member(store, "Hub Office", [(Network.TELEGRAM, "3003"),
                                               (Network.MATRIX, "@coord:hub.test")], NOW)
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, "1001"),
                                                  (Network.MATRIX, "@ann:hub.test")], NOW)
    registrations.add_member(store, "Vivantes", [(Network.TELEGRAM, "2002")], NOW)
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Dräger", "Infinity Delta"), NOW)
    registrations.add_product(store, "Vivantes", ProductSpec("Dräger", "Infinity Delta"), NOW)
    registrations.add_product(store, "Vivantes", ProductSpec("Philips", "IntelliVue MX40"), NOW)
    with store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, HUB_TG), NOW)
        uow.hub_channels.add(HubChannel(Network.MATRIX, HUB_MX), NOW)
        uow.commit()
    return Hub(store, NOW, POLICY)


def advisory(n: int, title: str, severity: Severity | None = Severity.HIGH) -> Advisory:
    return Advisory(f"adv-{n}", title, "", f"https://adv.example/{n}", "cisa", severity=severity)


# Roles and refusals


def test_coordinator_commands_refuse_members_and_strangers(hub: Hub) -> None:
    for sender in (NORD, VIV, STRANGER):
        for text in ("/announce Hello", "/meeting add 2026-11-02 14:00 Exercise",
                     "/meeting cancel 1", "/situation 1"):
            answer = hub.say(sender, text)
            if sender is STRANGER:  # not linked: only told how to get linked
                assert answer == NOT_LINKED
            else:
                assert "Only the hub's coordinators may use" in answer
    assert "Only the hub's admins may use /grant" in hub.say(COORD, "/grant Vivantes coordinator")
    assert "Only the hub's admins" in hub.say(NORD, "/grant Klinikum Nord coordinator")
    assert not hub.rows("announcement") and not hub.rows("meeting")
    assert hub.say(STRANGER, "/rsvp 1 yes") == NOT_LINKED
    assert hub.audit() == []


def test_help_shows_each_person_the_commands_they_may_use(hub: Hub) -> None:
    member, coordinator, admin = (hub.say(s, "/help") for s in (NORD, COORD, ADMIN))
    assert "/affected" in member and "/announce" not in member and "/grant" not in member
    assert "/announce" in coordinator and "/situation" in coordinator
    assert "/grant" not in coordinator
    assert "/grant" in admin and "/announce" in admin


def test_an_admin_grants_the_coordinator_role_and_it_is_audited(hub: Hub) -> None:
    assert "Vivantes is now a coordinator" in hub.say(ADMIN, "/grant Vivantes coordinator")
    assert "Preview" in hub.say(VIV, "/announce Exercise on Friday")
    assert "There is no member 'Nobody'" in hub.say(ADMIN, "/grant Nobody coordinator")
    assert "Hub Office is now a member" in hub.say(ADMIN, "/grant Hub Office member")
    assert "Only the hub's coordinators" in hub.say(COORD, "/situation 1")
    assert hub.audit() == [("telegram:9999", "grant", "Hub Office: member"),
                           ("telegram:9999", "grant", "Vivantes: coordinator")]


# Announcements


def test_an_announcement_goes_out_only_after_the_authors_yes(hub: Hub) -> None:
    preview = hub.say(COORD, "/announce Tabletop exercise on Friday, 10:00.")
    assert "Preview — this goes to 2 hub channels" in preview
    assert "Tabletop exercise on Friday" in preview
    buttons = hub.last_reply(COORD)["buttons"]
    [[send, cancel]] = buttons
    assert send["command"].startswith("yes ") and cancel["command"].startswith("no ")
    assert hub.rows("announcement") == []  # nothing before the confirmation
    assert "on its way to 2 addresses" in hub.say(COORD, send["command"])
    assert hub.to("announcement") == {("telegram", HUB_TG), ("matrix", HUB_MX)}
    text = json.loads(hub.rows("announcement")[0].payload)["text"]
    assert text.startswith("📣 Announcement from the hub") and "Tabletop exercise" in text
    # Pressing the button again (or a stale yes) sends nothing more.
    assert hub.say(COORD, send["command"]) == NOTHING_TO_CONFIRM
    assert len(hub.rows("announcement")) == 2
    [(who, action, detail)] = hub.audit()
    assert (who, action) == ("telegram:3003", "announce") and "Tabletop" in detail


def test_announce_dm_reaches_every_member_contact_too(hub: Hub) -> None:
    assert "2 hub channels and 5 member contacts" in hub.say(COORD_MX, "/announce --dm Patch!")
    hub.say(COORD_MX, "yes")  # on Matrix, a plain yes in the direct room
    assert hub.to("announcement") == {
        ("telegram", HUB_TG), ("matrix", HUB_MX), ("telegram", "3003"), ("telegram", "1001"),
        ("telegram", "2002"), ("matrix", "@coord:hub.test"), ("matrix", "@ann:hub.test"),
    }


def test_no_cancels_and_a_late_or_replaced_yes_sends_nothing(hub: Hub) -> None:
    hub.say(COORD, "/announce First draft")
    assert "Cancelled; nothing was sent" in hub.say(COORD, "no")
    hub.say(COORD, "/announce Second draft")
    old = hub.last_reply(COORD)["buttons"][0][0]["command"]
    hub.say(COORD, "/announce Third draft")
    assert "replaced by a newer one" in hub.say(COORD, old)
    hub.say(COORD, "/announce Fourth draft")
    hub.clock.now += timedelta(minutes=31)
    assert "has expired" in hub.say(COORD, "yes")
    assert hub.rows("announcement") == []
    assert hub.say(NORD, "yes") == NOTHING_TO_CONFIRM
    assert hub.say(STRANGER, "yes") == NOT_LINKED


def test_a_member_cannot_confirm_someone_elses_announcement(hub: Hub) -> None:
    hub.say(COORD, "/announce Only mine")
    pending = hub.last_reply(COORD)["buttons"][0][0]["command"]
    assert hub.say(NORD, pending) == NOTHING_TO_CONFIRM
    assert hub.rows("announcement") == []


def test_a_coordinator_demoted_after_the_preview_cannot_send_it(hub: Hub) -> None:
    preview = hub.say(COORD, "/announce Exercise on Friday")
    assert "Preview" in preview
    send = hub.last_reply(COORD)["buttons"][0][0]["command"]
    assert "Hub Office is now a member" in hub.say(ADMIN, "/grant Hub Office member")
    # The button pressed, or a typed yes, after the role was taken: nothing goes out.
    assert hub.say(COORD, send) == (
        "You are no longer one of the hub's coordinators, so your announcement was not sent.")
    assert hub.rows("announcement") == []
    assert ("telegram:3003", "announce refused",
            "no longer a coordinator: Exercise on Friday") in hub.audit()
    # The preview is void for good: given the role back, the old yes sends nothing either.
    hub.say(ADMIN, "/grant Hub Office coordinator")
    assert hub.say(COORD, send) == NOTHING_TO_CONFIRM
    assert hub.say(COORD_MX, "yes") == NOTHING_TO_CONFIRM
    assert hub.rows("announcement") == []


def test_a_coordinator_removed_after_the_preview_cannot_send_it(hub: Hub) -> None:
    hub.say(COORD_MX, "/announce --dm Patch now")  # on Matrix, answered with a plain yes
    registrations.remove_member(hub.store, "Hub Office")
    assert hub.say(COORD_MX, "yes") == NOT_LINKED  # no longer anyone's: only the refusal
    assert hub.rows("announcement") == []


def test_an_admin_dropped_from_the_settings_after_the_preview_cannot_send_it(
        hub: Hub) -> None:
    hub.say(ADMIN, "/announce Admin note")
    restarted = Hub(hub.store, hub.clock.now, HubPolicy(admins=parse_admins("@admin:hub.test"),
                                                        zone="Europe/Berlin"))
    # Linked to no member and no longer an admin: only the refusal.
    assert restarted.service.handle(ADMIN, "yes", "after-restart") == NOT_LINKED
    assert restarted.rows("announcement") == []


# Meetings


def _meeting_ics(row: OutboxRow) -> Calendar:
    payload = json.loads(row.payload)
    assert payload["attachment"]["mime_type"] == "text/calendar"
    return Calendar.from_ical(payload["attachment"]["text"])


def test_a_meeting_set_in_berlin_shows_the_right_time_across_the_dst_change(hub: Hub) -> None:
    # Set in summer time for a date after the clocks went back (25 Oct 2026): 14:00 CET.
    answer = hub.say(COORD, "/meeting add 2026-11-02 14:00 Europe/Berlin Quarterly exercise "
                            "| https://meet.example/q4")
    assert "Meeting 1 scheduled for Mon 2 Nov 2026, 14:00 CET (Europe/Berlin; 13:00 UTC)" \
        in answer
    notices = hub.rows("meeting")
    assert {(r.network, r.address) for r in notices} == {("telegram", HUB_TG), ("matrix", HUB_MX)}
    payload = json.loads(notices[0].payload)
    assert "14:00 CET" in payload["text"] and "https://meet.example/q4" in payload["text"]
    assert [b["command"] for b in payload["buttons"][0]] == \
        ["/rsvp 1 yes", "/rsvp 1 maybe", "/rsvp 1 no"]
    [event] = _meeting_ics(notices[0]).walk("VEVENT")
    start = event.decoded("dtstart")
    assert start.astimezone(UTC) == datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
    assert str(start.tzinfo) == "Europe/Berlin" and start.hour == 14
    assert str(event["summary"]) == "Quarterly exercise"
    # The same wall-clock time before the change is summer time: 12:00 UTC.
    assert "14:00 CEST (Europe/Berlin; 12:00 UTC)" in hub.say(
        COORD, "/meeting add 2026-10-23 14:00 Europe/Berlin Before the change")
    assert hub.meetings_changed == 2
    assert [a for _, a, _ in hub.audit()] == ["meeting add", "meeting add"]


def test_a_meeting_without_a_zone_is_in_the_hubs_and_bad_times_are_refused(hub: Hub) -> None:
    assert "15:30 CET (Europe/Berlin; 14:30 UTC)" in hub.say(
        COORD, "/meeting add 2026-11-10 15:30 Board meeting")
    assert "does not exist in Europe/Berlin" in hub.say(
        COORD, "/meeting add 2027-03-28 02:30 Europe/Berlin Skipped hour")
    assert "in the past" in hub.say(COORD, "/meeting add 2026-10-01 10:00 Too late")
    assert "Unknown time zone Mars/Base" in hub.say(
        COORD, "/meeting add 2026-11-10 10:00 Mars/Base Away")
    assert len(hub.rows("meeting")) == 2


@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\u2028", "\u2029"])
def test_a_meeting_title_cannot_forge_an_extra_line_in_the_notice(
        hub: Hub, line_break: str) -> None:
    forged = (f"/meeting add 2026-11-02 14:00 Quarterly exercise{line_break}When: moved to "
              "2026-11-03, join at https://evil.example/q4")
    assert hub.say(COORD, forged).startswith(
        "Write the meeting on one line: its title and link may not hold line breaks.")
    link_forged = f"/meeting add 2026-11-02 14:00 Exercise | https://meet.example/q4{line_break}x"
    assert "one line" in hub.say(COORD, link_forged)
    assert hub.rows("meeting") == [] and hub.meetings_changed == 0
    with hub.store() as uow:
        assert uow.meetings.upcoming(NOW) == []


def test_a_meeting_notice_has_exactly_its_own_lines(hub: Hub) -> None:
    hub.say(COORD, "/meeting add 2026-11-02 14:00 Quarterly\t exercise\u2060\u202e "
                   "| https://meet.example/q4")
    notice = json.loads(hub.rows("meeting")[0].payload)["text"]
    assert notice.splitlines() == [
        "📅 Hub meeting 1: Quarterly exercise",
        "When: Mon 2 Nov 2026, 14:00 CET (Europe/Berlin; 13:00 UTC)",
        "Join: https://meet.example/q4",
        "The attached calendar file adds it to your calendar. Answer with /rsvp 1 yes, no or "
        "maybe."]


def test_rsvp_counts_are_for_coordinators_and_cancelling_notifies_everyone(hub: Hub) -> None:
    hub.say(COORD, "/meeting add 2026-11-02 14:00 Quarterly exercise")
    assert "Noted: you attend meeting 1" in hub.say(NORD, "/rsvp 1 yes")
    assert "you may attend" in hub.say(NORD_MX, "/rsvp 1 maybe")
    assert "you do not attend" in hub.say(VIV, "/rsvp 1 no")
    assert "you attend" in hub.say(VIV, "/rsvp 1 yes")  # changed their mind: counted once
    assert "There is no meeting 7" in hub.say(NORD, "/rsvp 7 yes")
    member_view = hub.say(NORD, "/meetings")
    assert "Quarterly exercise" in member_view and "RSVP" not in member_view
    assert "RSVP: 2 yes · 1 maybe · 0 no" in hub.say(COORD, "/meetings")

    assert "Meeting 1 cancelled; 5 notifications" in hub.say(COORD, "/meeting cancel 1")
    cancels = [r for r in hub.rows("meeting") if "Cancelled" in json.loads(r.payload)["text"]]
    assert {(r.network, r.address) for r in cancels} == {
        ("telegram", HUB_TG), ("matrix", HUB_MX), ("telegram", "1001"),
        ("matrix", "@ann:hub.test"), ("telegram", "2002")}
    calendar = _meeting_ics(cancels[0])
    assert str(calendar["method"]) == "CANCEL"
    [event] = calendar.walk("VEVENT")
    assert str(event["status"]) == "CANCELLED"
    notice_uid = _meeting_ics(hub.rows("meeting")[0]).walk("VEVENT")[0]["uid"]
    assert event["uid"] == notice_uid  # calendars remove the very event they added
    assert "was cancelled" in hub.say(NORD, "/rsvp 1 yes")
    assert "already cancelled" in hub.say(COORD, "/meeting cancel 1")
    assert "No meetings are scheduled" in hub.say(NORD, "/meetings")


def _jobs(hub: Hub) -> tuple[CoordinationJobs, AsyncIOScheduler]:
    """A fresh bot process's jobs: built from the database, on a scheduler not yet started."""
    jobs = CoordinationJobs(hub.store, POLICY, hub.clock)
    scheduler = AsyncIOScheduler(timezone="UTC")
    jobs.attach(scheduler)
    return jobs, scheduler


def _reminder_jobs(scheduler: AsyncIOScheduler) -> dict[str, datetime]:
    return {j.id: j.trigger.run_date for j in scheduler.get_jobs() if j.id.startswith("rem")}


def test_reminder_jobs_are_rebuilt_from_the_database_and_none_is_lost_or_doubled(
        hub: Hub) -> None:
    hub.say(COORD, "/meeting add 2026-11-02 14:00 Quarterly exercise")
    hub.say(NORD, "/rsvp 1 yes")
    hub.say(VIV, "/rsvp 1 no")
    start = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
    _, scheduler = _jobs(hub)
    assert _reminder_jobs(scheduler) == {"reminder:1:24h": start - timedelta(hours=24),
                                         "reminder:1:1h": start - timedelta(hours=1)}
    assert hub.rows("reminder") == []

    # The job fires at its time: the 24h reminder goes to the channels and to who attends.
    hub.clock.now = start - timedelta(hours=24)
    jobs, scheduler = _jobs(hub)
    assert _reminder_jobs(scheduler) == {"reminder:1:1h": start - timedelta(hours=1)}
    assert hub.to("reminder") == {("telegram", HUB_TG), ("matrix", HUB_MX),
                                  ("telegram", "1001")}
    assert "starts in 24 hours" in json.loads(hub.rows("reminder")[0].payload)["text"]

    # Down from before the 1h moment until 20 minutes before the start: sent late, once.
    hub.clock.now = start - timedelta(minutes=20)
    _jobs(hub)
    _, scheduler = _jobs(hub)  # and a second restart sends nothing more
    reminders = hub.rows("reminder")
    assert len(reminders) == 6
    assert "starts in 20 minutes" in json.loads(reminders[-1].payload)["text"]
    assert _reminder_jobs(scheduler) == {}


def test_when_both_reminders_passed_while_down_only_the_latest_goes(hub: Hub) -> None:
    hub.say(COORD, "/meeting add 2026-11-02 14:00 Quarterly exercise")
    start = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
    hub.clock.now = start - timedelta(minutes=40)
    _jobs(hub)
    texts = [json.loads(r.payload)["text"] for r in hub.rows("reminder")]
    assert len(texts) == 2 and all("starts in 40 minutes" in t for t in texts)
    # After the start, nothing is sent at all.
    hub.say(COORD, "/meeting add 2026-11-03 14:00 Second")
    hub.clock.now = datetime(2026, 11, 3, 13, 5, tzinfo=UTC)
    _jobs(hub)
    assert len(hub.rows("reminder")) == 2


def test_a_cancelled_meeting_loses_its_reminder_jobs(hub: Hub) -> None:
    hub.say(COORD, "/meeting add 2026-11-02 14:00 Quarterly exercise")
    jobs, scheduler = _jobs(hub)
    assert len(_reminder_jobs(scheduler)) == 2
    hub.say(COORD, "/meeting cancel 1")
    jobs.resync_reminders()  # what the command's on_meetings_changed hook runs
    assert _reminder_jobs(scheduler) == {}
    hub.clock.now = datetime(2026, 11, 2, 12, 30, tzinfo=UTC)
    _jobs(hub)
    assert hub.rows("reminder") == []


# Who is affected


def test_members_answer_alerts_and_coordinators_see_counts_without_names(hub: Hub) -> None:
    hub.ingest(advisory(1, "Dräger Infinity Delta: authentication bypass"))
    alerts = [json.loads(r.payload) for r in hub.rows("alert")]
    member_alerts = [a for a in alerts if a["member"]]
    ref = member_alerts[0]["ref"]
    assert {a["ref"] for a in alerts} == {ref}
    assert [b["command"] for b in member_alerts[0]["buttons"][0]] == [
        f"/affected {ref} yes", f"/affected {ref} no", f"/affected {ref} patched"]
    assert all("buttons" not in a for a in alerts if not a["member"])  # hub channels

    assert "Recorded: Klinikum Nord is affected" in hub.say(NORD, f"/affected {ref} yes")
    assert "Klinikum Nord has patched" in hub.say(NORD_MX, f"/affected {ref} patched")
    assert "Vivantes is not affected" in hub.say(VIV, f"/affected {ref} no")
    # A member the alert did not reach learns nothing, not even that the number exists.
    assert hub.say(COORD, f"/affected {ref} yes") == hub.say(COORD, "/affected 999 yes") \
        .replace("999", str(ref))

    summary = hub.say(COORD, f"/situation {ref}")
    assert "Matched 2 members; 2 answered, 0 not yet." in summary
    assert "Affected: 0 · Patched: 1 · Not affected: 1" in summary
    assert "Klinikum" not in summary and "Vivantes" not in summary
    detail = hub.say(COORD, f"/situation {ref} detail")
    assert "• Klinikum Nord: patched" in detail and "• Vivantes: not affected" in detail
    assert [(a, d) for _, a, d in hub.audit()] == [("situation detail", str(ref)),
                                                   ("situation", str(ref))]
    assert "There is no alert 999" in hub.say(COORD, "/situation 999")


# Digest


def test_digest_holds_alerts_below_critical_until_the_hour(hub: Hub) -> None:
    assert "one message a day at 08:00 (Europe/Berlin)" in hub.say(NORD, "/digest on")
    hub.clock.now = datetime(2026, 10, 20, 10, 0, tzinfo=UTC)  # 12:00 in Berlin
    hub.ingest(advisory(1, "Dräger Infinity Delta: information disclosure"),
               advisory(2, "Dräger Infinity Delta: remote code execution", Severity.CRITICAL),
               advisory(3, "Dräger Infinity Delta: unknown impact", None))
    nord = {("telegram", "1001"), ("matrix", "@ann:hub.test")}
    alerted = {(r.network, r.address, r.advisory_id) for r in hub.rows("alert")}
    assert {(n, a, "adv-2") for n, a in nord} <= alerted  # critical: at once
    assert {(n, a, "adv-3") for n, a in nord} <= alerted  # unknown severity: at once
    assert not any(adv == "adv-1" and (n, a) in nord for n, a, adv in alerted)
    assert ("telegram", "2002", "adv-1") in alerted  # Vivantes has no digest

    jobs = CoordinationJobs(hub.store, POLICY, hub.clock)
    hub.clock.now = datetime(2026, 10, 21, 5, 59, tzinfo=UTC)  # 07:59 in Berlin
    assert jobs.release_digests() == 0
    hub.clock.now = datetime(2026, 10, 21, 6, 0, tzinfo=UTC)  # 08:00 CEST
    assert jobs.release_digests() == 2
    assert jobs.release_digests() == 0
    digests = hub.rows("digest")
    assert {(r.network, r.address) for r in digests} == nord
    text = json.loads(digests[0].payload)["text"]
    assert "Daily digest for Klinikum Nord: 1 alert" in text
    assert "information disclosure" in text and "remote code" not in text


def test_digest_off_sends_what_waits_at_once(hub: Hub) -> None:
    hub.say(VIV, "/digest on 17")
    hub.ingest(advisory(1, "Philips IntelliVue MX40: weak crypto", Severity.MEDIUM))
    assert hub.rows("alert") == [] or all(r.address != "2002" for r in hub.rows("alert"))
    assert "The 1 alert waiting was sent now" in hub.say(VIV, "/digest off")
    [digest] = hub.rows("digest")
    assert digest.address == "2002" and "weak crypto" in json.loads(digest.payload)["text"]
    assert "hour from 0 to 23" in hub.say(VIV, "/digest on 25")


# Weekly summary


def test_the_weekly_summary_goes_to_coordinators_and_admins_once(hub: Hub) -> None:
    hub.ingest(advisory(1, "Dräger Infinity Delta: authentication bypass"))
    ref = json.loads(hub.rows("alert")[0].payload)["ref"]
    hub.say(NORD, f"/affected {ref} yes")
    jobs = CoordinationJobs(hub.store, POLICY, hub.clock)
    assert jobs.weekly_summary() == 4
    assert jobs.weekly_summary() == 0  # the same week: nothing twice
    assert hub.to("summary") == {("telegram", "3003"), ("matrix", "@coord:hub.test"),
                                 ("telegram", "9999"), ("matrix", "@admin:hub.test")}
    text = json.loads(hub.rows("summary")[0].payload)["text"]
    assert f"• {ref}: Dräger Infinity Delta: authentication bypass — 1 affected" in text
    assert "Klinikum" not in text  # counts, never names


def test_a_member_with_answers_and_held_alerts_can_still_be_removed(hub: Hub) -> None:
    hub.say(NORD, "/digest on")
    hub.ingest(advisory(1, "Dräger Infinity Delta: authentication bypass"))
    ref = json.loads(hub.rows("alert")[0].payload)["ref"]
    hub.say(NORD, f"/affected {ref} yes")
    hub.say(COORD, "/meeting add 2026-11-02 14:00 Quarterly exercise")
    hub.say(NORD, "/rsvp 1 yes")
    registrations.remove_member(hub.store, "Klinikum Nord")
    assert "Matched 1 member; 0 answered" in hub.say(COORD, f"/situation {ref}")
    assert CoordinationJobs(hub.store, POLICY, hub.clock).release_digests() == 0


def test_the_coordinator_is_told_which_reminders_will_go(hub: Hub) -> None:
    assert "Reminders go 24 hours and 1 hour before." in hub.say(
        COORD, "/meeting add 2026-11-02 14:00 Far ahead")
    assert "Reminders go 1 hour before." in hub.say(
        COORD, "/meeting add 2026-10-20 20:00 Tonight")  # 18:00 UTC, 9 hours away
    assert "It is too close for reminders." in hub.say(
        COORD, "/meeting add 2026-10-20 11:30 Very soon")  # 09:30 UTC, half an hour away


def test_an_admin_without_a_member_sees_the_meetings_with_counts(hub: Hub) -> None:
    hub.say(ADMIN, "/meeting add 2026-11-02 14:00 Quarterly exercise")
    hub.say(NORD, "/rsvp 1 yes")
    assert "RSVP: 1 yes · 0 maybe · 0 no" in hub.say(ADMIN, "/meetings")
    assert hub.say(STRANGER, "/meetings") == NOT_LINKED


def test_every_upcoming_meeting_gets_its_reminder_jobs_however_many(hub: Hub) -> None:
    with hub.store() as uow:  # more than one person may type in a minute (command rate)
        for day in range(150):
            uow.meetings.add(f"Meeting {day}", NOW + timedelta(days=3 + day), "UTC", None,
                             "telegram:3003", NOW)
        uow.commit()
    _, scheduler = _jobs(hub)
    assert len(_reminder_jobs(scheduler)) == 300


def test_each_person_reads_times_in_their_own_time_zone(hub: Hub) -> None:
    assert "Times for you are shown in the hub's time zone, Europe/Berlin" in hub.say(
        NORD, "/timezone")
    assert "Times for you are now shown in America/New_York (now 05:00 EDT)" in hub.say(
        NORD, "/timezone America/New_York")
    assert "Unknown time zone Mars/Base" in hub.say(NORD, "/timezone Mars/Base")
    assert "is not a time zone name" in hub.say(NORD, "/timezone Berlin")
    hub.say(COORD, "/meeting add 2026-11-02 14:00 Europe/Berlin Quarterly exercise")
    # New York leaves summer time a week after Berlin: 14:00 CET is 08:00 EST on 2 November.
    assert "Mon 2 Nov 2026, 08:00 EST (America/New_York; 13:00 UTC)" in hub.say(
        NORD, "/meetings")
    assert "08:00 EST" in hub.say(NORD, "/rsvp 1 yes")
    assert "14:00 CET" in hub.say(NORD_MX, "/meetings")  # the same member's other chat
    assert "until 20 Oct 2026, 07:00 EDT" in hub.say(NORD, "/mute 2h")
    hub.clock.now = datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
    _jobs(hub)
    texts = {r.address: json.loads(r.payload)["text"] for r in hub.rows("reminder")}
    assert "When: Mon 2 Nov 2026, 08:00 EST" in texts["1001"]
    assert "When: Mon 2 Nov 2026, 14:00 CET" in texts[HUB_TG]
    assert "the hub's time zone" in hub.say(NORD, "/timezone off")


def test_an_alert_shows_its_publication_time_in_the_readers_zone(hub: Hub) -> None:
    from bot.domain.outbox_payload import payload_from_json
    from bot.domain.rendering import chat_message_lines

    hub.say(NORD, "/timezone Europe/Berlin")
    hub.ingest(Advisory("adv-9", "Dräger Infinity Delta: weak crypto", "",
                        "https://adv.example/9", "cisa", severity=Severity.HIGH,
                        published=datetime(2026, 10, 24, 22, 30, tzinfo=UTC)))
    by_address = {r.address: payload_from_json(r.payload) for r in hub.rows("alert")}
    assert "25 Oct 2026, 00:30 CEST" in "\n".join(chat_message_lines(by_address["1001"])[0])
    assert "24 Oct 2026, 22:30 UTC" in "\n".join(chat_message_lines(by_address["2002"])[0])
