"""Hub coordination in chat: the commands members and coordinators type, and what they read back."""

from __future__ import annotations

import json
from datetime import date, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.advisory import Advisory
from bot.domain.alerts import Alert
from bot.domain.commands import MAX_COMMAND_CHARS, CommandError, parse_command
from bot.domain.coordination_commands import (
    AddMeeting,
    Affected,
    AffectedStatus,
    Announce,
    CancelMeeting,
    Confirm,
    Digest,
    Grant,
    ListMeetings,
    Rsvp,
    RsvpAnswer,
    Situation,
    parse_confirmation,
)
from bot.domain.outbox_payload import (
    AlertMessage,
    AnnouncementMessage,
    Attachment,
    Button,
    OutboxPayload,
    button_rows,
    payload_from_json,
    payload_to_json,
)
from bot.domain.rendering import (
    alert_ref_line,
    button_hint_lines,
    payload_attachment,
    payload_buttons,
)
from bot.domain.situation import SituationReport, situation_text

MEETING_USAGE = "Usage: /meeting add <YYYY-MM-DD HH:MM>"


def error_of(text: str) -> str:
    """The answer to a command the user got wrong (fails the test if it was accepted)."""
    result = parse_command(text)
    assert isinstance(result, CommandError), f"{text!r} was accepted as {result!r}"
    return result.message


# --- /affected --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("/affected 12 yes", Affected(12, AffectedStatus.YES)),
    ("/affected #12 no", Affected(12, AffectedStatus.NO)),
    ("/affected 7 PATCHED", Affected(7, AffectedStatus.PATCHED)),
    ("/Affected@hubbot 7 patched", Affected(7, AffectedStatus.PATCHED)),
    ("  /affected   3   yes  ", Affected(3, AffectedStatus.YES)),
])
def test_member_reports_whether_an_alert_affects_them(text: str, expected: Affected) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("/affected", "Give the alert's ID and yes, no or patched."),
    ("/affected 12", "Give the alert's ID and yes, no or patched."),
    ("/affected 12 yes please", "Give the alert's ID and yes, no or patched."),
    ("/affected 12 maybe", "Answer yes (affected), no (not affected) or patched."),
    ("/affected abc yes", "The alert ID is a number, as shown in the message."),
    ("/affected 0 yes", "The alert ID is a number, as shown in the message."),
    ("/affected -4 yes", "The alert ID is a number, as shown in the message."),
    ("/affected 1234567890 yes", "The alert ID is a number, as shown in the message."),
])
def test_affected_with_wrong_arguments_says_what_is_wrong_and_the_usage(
        text: str, reason: str) -> None:
    assert error_of(text) == f"{reason}\nUsage: /affected <alert-id> <yes|no|patched>"


@pytest.mark.parametrize("text", ["/affected ² yes", "/rsvp ¹ yes", "/meeting cancel ³",
                                  "/situation ² detail", "/latest ²", "/digest on ²"])
def test_superscript_digits_get_a_readable_answer_not_a_python_error(text: str) -> None:
    assert "invalid literal" not in error_of(text)


# --- /digest, /meetings, /rsvp ----------------------------------------------------------------

@pytest.mark.parametrize(("text", "hour"), [
    ("/digest on", -1), ("/digest ON", -1), ("/digest on 8", 8), ("/digest on 08:00", 8),
    ("/digest on 17h", 17), ("/digest on 0", 0), ("/digest on 23", 23), ("/digest off", None),
])
def test_member_turns_the_daily_digest_on_at_an_hour_or_off(text: str, hour: int | None) -> None:
    assert parse_command(text) == Digest(hour)


@pytest.mark.parametrize(("text", "reason"), [
    ("/digest", "Say on (optionally with the hour, like on 8) or off."),
    ("/digest daily", "Say on (optionally with the hour, like on 8) or off."),
    ("/digest on 8 17", "Say on (optionally with the hour, like on 8) or off."),
    ("/digest off 8", "Say on (optionally with the hour, like on 8) or off."),
    ("/digest on 24", "The hour is a whole hour from 0 to 23, like 8 or 17."),
    ("/digest on 8:30", "The hour is a whole hour from 0 to 23, like 8 or 17."),
    ("/digest on -1", "The hour is a whole hour from 0 to 23, like 8 or 17."),
])
def test_digest_with_wrong_arguments_is_explained(text: str, reason: str) -> None:
    assert error_of(text) == f"{reason}\nUsage: /digest <on [hour]|off>"


def test_meetings_lists_and_takes_no_arguments() -> None:
    assert parse_command("/meetings") == ListMeetings()
    assert error_of("/meetings next").startswith("This command takes no arguments.")


@pytest.mark.parametrize(("text", "expected"), [
    ("/rsvp 3 yes", Rsvp(3, RsvpAnswer.YES)),
    ("/rsvp #3 No", Rsvp(3, RsvpAnswer.NO)),
    ("/rsvp 3 maybe", Rsvp(3, RsvpAnswer.MAYBE)),
])
def test_member_answers_a_meeting_invitation(text: str, expected: Rsvp) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("/rsvp", "Give the meeting's number and yes, no or maybe."),
    ("/rsvp 3", "Give the meeting's number and yes, no or maybe."),
    ("/rsvp 3 perhaps", "Answer yes, no or maybe."),
    ("/rsvp three yes", "The meeting number is a number, as shown in the message."),
    ("/rsvp 0 yes", "The meeting number is a number, as shown in the message."),
])
def test_rsvp_with_wrong_arguments_is_explained(text: str, reason: str) -> None:
    assert error_of(text) == f"{reason}\nUsage: /rsvp <meeting-id> <yes|no|maybe>"


# --- /announce --------------------------------------------------------------------------------

def test_coordinator_announces_to_channels_or_also_to_every_member() -> None:
    assert parse_command("/announce Meeting moved to Friday.") == Announce(
        "Meeting moved to Friday.", dm=False)
    assert parse_command("/announce --dm Patch now.") == Announce("Patch now.", dm=True)
    assert parse_command("/announce --dm\nFirst line\n\nSecond paragraph") == Announce(
        "First line\n\nSecond paragraph", dm=True)
    # Only the flag as its own word: text that merely starts with it is the announcement.
    assert parse_command("/announce --dmz is a word") == Announce("--dmz is a word", dm=False)


@pytest.mark.parametrize("text", ["/announce", "/announce --dm", "/announce --dm   "])
def test_announcement_without_text_is_refused(text: str) -> None:
    assert error_of(text) == ("Write the announcement after /announce.\n"
                              "Usage: /announce [--dm] <text>")


def test_announcement_of_a_few_paragraphs_is_taken_but_a_very_long_one_refused() -> None:
    prefix = "/announce "
    longest = prefix + "x" * (MAX_COMMAND_CHARS - len(prefix))
    assert parse_command(longest) == Announce("x" * (MAX_COMMAND_CHARS - len(prefix)), False)
    assert error_of(longest + "x") == (
        f"That command is too long (over {MAX_COMMAND_CHARS} characters).")


# Every character that can reorder how text is displayed (Unicode Bidi_Control), and C0 controls.
BIDI_CONTROLS = ["\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
                 "\u2066", "\u2067", "\u2068", "\u2069"]
C0_CONTROLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F)]


@pytest.mark.parametrize("char", [*BIDI_CONTROLS, *C0_CONTROLS, "\u200b", "\u200d"])
def test_announcement_loses_control_and_bidi_characters(char: str) -> None:
    assert parse_command(f"/announce Pat{char}ch{char} now") == Announce("Patch now", False)


def test_announcement_loses_the_arabic_letter_mark() -> None:
    assert parse_command("/announce Pat\u061cch now") == Announce("Patch now", False)


@pytest.mark.parametrize("char", ["\x85", "\x9b"])
def test_announcement_loses_c1_control_characters(char: str) -> None:
    assert parse_command(f"/announce Pat{char}ch now") == Announce("Patch now", False)


def test_hidden_characters_cannot_disguise_a_command_word() -> None:
    assert parse_command("/aff\u200bected 12 y\u202ees") == Affected(12, AffectedStatus.YES)


# --- /meeting add | cancel --------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("/meeting add 2026-12-03 14:00 Hub call",
     AddMeeting(date(2026, 12, 3), time(14, 0), None, "Hub call", None)),
    ("/meeting add 2026-12-03 9:05 Europe/Berlin Hub call | https://meet.example/hub?x=1",
     AddMeeting(date(2026, 12, 3), time(9, 5), "Europe/Berlin", "Hub call",
                "https://meet.example/hub?x=1")),
    ("/meeting ADD 2026-12-03 14:00 utc Hub call | http://meet.example/a",
     AddMeeting(date(2026, 12, 3), time(14, 0), "UTC", "Hub call", "http://meet.example/a")),
    ("/meeting add 2026-12-03 14:00 America/Argentina/Buenos_Aires Joint call",
     AddMeeting(date(2026, 12, 3), time(14, 0), "America/Argentina/Buenos_Aires",
                "Joint call", None)),
])
def test_coordinator_schedules_a_meeting(text: str, expected: AddMeeting) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(("words", "title"), [
    ("Berlin hub call", "Berlin hub call"),
    ("CERT sync", "CERT sync"),
    ("UTCx review", "UTCx review"),
    ("Utc-aligned review", "Utc-aligned review"),
])
def test_a_first_word_that_is_no_time_zone_starts_the_title(words: str, title: str) -> None:
    assert parse_command(f"/meeting add 2026-12-03 14:00 {words}") == AddMeeting(
        date(2026, 12, 3), time(14, 0), None, title, None)


def test_a_title_with_a_slash_that_is_no_zone_is_kept_as_the_title() -> None:
    assert parse_command("/meeting add 2026-12-03 14:00 24/7 ops handover") == AddMeeting(
        date(2026, 12, 3), time(14, 0), None, "24/7 ops handover", None)


def test_a_title_with_a_slash_can_follow_an_explicit_zone() -> None:
    assert parse_command("/meeting add 2026-12-03 14:00 UTC 24/7 ops handover") == AddMeeting(
        date(2026, 12, 3), time(14, 0), "UTC", "24/7 ops handover", None)


def test_the_longest_title_is_accepted() -> None:
    command = parse_command(f"/meeting add 2026-12-03 14:00 {'T' * 200}")
    assert isinstance(command, AddMeeting) and command.title == "T" * 200


@pytest.mark.parametrize(("rest", "reason"), [
    ("add 2026-02-30 14:00 Hub call", "2026-02-30 14:00 is not a valid date and time."),
    ("add 2026-12-03 25:00 Hub call", "2026-12-03 25:00 is not a valid date and time."),
    ("add 2026-12-03 14:60 Hub call", "2026-12-03 14:60 is not a valid date and time."),
    ("add 2026-13-01 14:00 Hub call", "2026-13-01 14:00 is not a valid date and time."),
    ("add 3.12.2026 14:00 Hub call",
     "Give the date and time as YYYY-MM-DD HH:MM, then the title."),
    ("add 2026-12-03 2pm Hub call",
     "Give the date and time as YYYY-MM-DD HH:MM, then the title."),
    ("add 2026-12-03 14:00", "Give the date and time as YYYY-MM-DD HH:MM, then the title."),
    ("add", "Give the date and time as YYYY-MM-DD HH:MM, then the title."),
    ("add 2026-12-03 14:00 Europe/Berlin", "The meeting needs a title."),
    ("add 2026-12-03 14:00 UTC | https://meet.example/a", "The meeting needs a title."),
    ("add 2026-12-03 14:00 | https://meet.example/a", "The meeting needs a title."),
    ("add 2026-12-03 14:00 Mars/Olympus_Mons Hub call",
     "Unknown time zone Mars/Olympus_Mons: use a name like Europe/Berlin."),
    ("add 2026-12-03 14:00 Mars/Olympus_Mons Hub call",
     "Unknown time zone Mars/Olympus_Mons: use a name like Europe/Berlin."),
    ("add 2026-12-03 14:00 Hub call | javascript:alert(1)",
     "The link must be a web address starting with https:// or http://."),
    ("add 2026-12-03 14:00 Hub call | ftp://files.example/a",
     "The link must be a web address starting with https:// or http://."),
    ("add 2026-12-03 14:00 Hub call | https://meet.example/a b",
     "The link must be a web address starting with https:// or http://."),
    ("add 2026-12-03 14:00 Hub call | https://meet.example/<script>",
     "The link must be a web address starting with https:// or http://."),
    (f"add 2026-12-03 14:00 Hub call | https://meet.example/{'a' * 500}",
     "The link must be a web address starting with https:// or http://."),
    (f"add 2026-12-03 14:00 {'T' * 201}", "A meeting title may have at most 200 characters."),
    ("cancel", "Give the number of the meeting to cancel."),
    ("cancel 3 4", "Give the number of the meeting to cancel."),
    ("cancel three", "The meeting number is a number, as shown in the message."),
    ("cancel 0", "The meeting number is a number, as shown in the message."),
    ("move 3", "Use /meeting add … or /meeting cancel <number>."),
    ("", "Use /meeting add … or /meeting cancel <number>."),
])
def test_meeting_with_wrong_arguments_is_explained(rest: str, reason: str) -> None:
    message = error_of(f"/meeting {rest}")
    assert message.startswith(f"{reason}\n{MEETING_USAGE}")


def test_coordinator_cancels_a_meeting_by_its_number() -> None:
    assert parse_command("/meeting cancel 4") == CancelMeeting(4)
    assert parse_command("/meeting Cancel #4") == CancelMeeting(4)


# --- /situation, /grant -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("/situation 12", Situation(12, detail=False)),
    ("/situation #12 detail", Situation(12, detail=True)),
    ("/situation 12 DETAIL", Situation(12, detail=True)),
])
def test_coordinator_asks_for_an_alerts_situation(text: str, expected: Situation) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("/situation", "Give the alert's ID, and detail to see which members answered what."),
    ("/situation 12 all", "Give the alert's ID, and detail to see which members answered what."),
    ("/situation 12 detail more",
     "Give the alert's ID, and detail to see which members answered what."),
    ("/situation x12", "The alert ID is a number, as shown in the message."),
])
def test_situation_with_wrong_arguments_is_explained(text: str, reason: str) -> None:
    assert error_of(text) == f"{reason}\nUsage: /situation <alert-id or report-id> [detail]"


@pytest.mark.parametrize(("text", "expected"), [
    ("/grant Charité coordinator", Grant("Charité", "coordinator")),
    ("/grant Klinikum Nord GmbH Member", Grant("Klinikum Nord GmbH", "member")),
])
def test_admin_grants_or_takes_the_coordinator_role(text: str, expected: Grant) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", ["/grant", "/grant coordinator", "/grant Charité",
                                  "/grant Charité admin", "/grant Charité coordinator please"])
def test_grant_with_wrong_arguments_is_explained(text: str) -> None:
    assert error_of(text) == ("Give the member's name and coordinator or member.\n"
                              "Usage: /grant <member> <coordinator|member>")


# --- yes / no to a preview --------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("yes", Confirm(True, None)), ("no", Confirm(False, None)),
    ("Yes.", Confirm(True, None)), ("NO!", Confirm(False, None)),
    ("y", Confirm(True, None)), ("n", Confirm(False, None)),
    ("yes 12", Confirm(True, 12)), ("no #12", Confirm(False, 12)),
    ("!yes 12", Confirm(True, 12)), ("/no", Confirm(False, None)),
    ("  yes\u200b 12  ", Confirm(True, 12)),
    ("yesterday", None), ("yes please", None), ("no way", None), ("noyes", None),
    ("ok", None), ("", None), ("yes 1234567890", None), ("yes twelve", None),
])
def test_only_a_plain_yes_or_no_confirms_a_preview(text: str, expected: Confirm | None) -> None:
    assert parse_confirmation(text) == expected


@given(st.text(max_size=40))
def test_any_text_is_read_as_a_confirmation_or_not_without_failing(text: str) -> None:
    result = parse_confirmation(text)
    if result is not None:
        first_letter = next(c for c in text if c.isalpha())
        # yes/y and the German ja/j confirm; no/n and nein cancel
        assert first_letter.lower() in (("y", "j") if result.yes else ("n",))


# --- what coordinators read: the situation of an alert ----------------------------------------

REPORT = SituationReport(ref=12, title="Dräger Infinity Delta overflow", matched=4,
                         answers={"Vivantes": "yes", "Charité": "patched", "Helios": "no"})


def test_situation_counts_without_naming_anyone() -> None:
    text = situation_text(REPORT)
    assert text == ("Alert 12: Dräger Infinity Delta overflow\n"
                    "Matched 4 members; 3 answered, 1 not yet.\n"
                    "Affected: 1 · Patched: 1 · Not affected: 1")
    for name in ("Vivantes", "Charité", "Helios"):
        assert name not in text


def test_situation_in_detail_lists_every_matched_member_and_who_has_not_answered() -> None:
    text = situation_text(REPORT, detail=["Vivantes", "Charité", "Helios", "asklepios"])
    assert text.split("\n\n")[1].splitlines() == [
        "• asklepios: no answer yet",
        "• Charité: patched",
        "• Helios: not affected",
        "• Vivantes: affected",
    ]


def test_situation_of_an_alert_nobody_answered_yet() -> None:
    text = situation_text(SituationReport(3, "X", matched=1, answers={}))
    assert "Matched 1 member; 0 answered, 1 not yet." in text
    assert "Affected: 0 · Patched: 0 · Not affected: 0" in text


# --- buttons, attachments and the alert ID line -----------------------------------------------

RSVP_ROW = [{"label": "Yes", "command": "/rsvp 3 yes"}, {"label": "No", "command": "/rsvp 3 no"}]
_ADVISORY = Advisory("a1", "Title", "", "https://adv.example/a1", "cisa")


def _stored(**fields: object) -> OutboxPayload:
    """A payload read back from a row holding these fields (an announcement unless told)."""
    return payload_from_json(json.dumps({"kind": "announcement", "text": "", **fields}))


def _alert_to(member: str | None, ref: int | None) -> AlertMessage:
    return AlertMessage(Alert(_ADVISORY, member, ()), ref)


def test_buttons_round_trip_through_the_outbox_payload() -> None:
    rows = [[Button("Yes", "/rsvp 3 yes"), Button("No", "/rsvp 3 no")], [Button("Hm", "/x")]]
    message = AnnouncementMessage("t", buttons=button_rows(rows))
    assert payload_buttons(payload_from_json(payload_to_json(message))) == rows


def test_malformed_buttons_and_commands_over_64_bytes_are_left_out() -> None:
    payload = _stored(buttons=[
        [*RSVP_ROW, "junk", {"label": "", "command": "/x"}, {"label": "No command"},
         {"label": "Long", "command": "/" + "x" * 64}],
        [{"label": "Only bad", "command": "/" + "é" * 32}],  # 32 characters but 65 bytes
        [{"label": "Edge", "command": "/" + "x" * 63}],
    ])
    assert payload_buttons(payload) == [
        [Button("Yes", "/rsvp 3 yes"), Button("No", "/rsvp 3 no")],
        [Button("Edge", "/" + "x" * 63)],
    ]
    assert payload_buttons(_stored(text="no buttons")) == []
    assert payload_buttons(_stored(buttons=None)) == []


@pytest.mark.parametrize("row", [None, 5])
def test_a_row_that_is_not_a_list_is_left_out(row: object) -> None:
    assert payload_buttons(_stored(buttons=[row, RSVP_ROW])) == [
        [Button("Yes", "/rsvp 3 yes"), Button("No", "/rsvp 3 no")]]


def test_networks_without_buttons_show_the_commands_to_type() -> None:
    payload = _stored(buttons=[RSVP_ROW, [{"label": "Maybe", "command": "rsvp 3 maybe"}]])
    assert button_hint_lines(payload) == ["Answer: /rsvp 3 yes · /rsvp 3 no",
                                          "Answer: /rsvp 3 maybe"]
    assert button_hint_lines(payload, prefix="!") == ["Answer: !rsvp 3 yes · !rsvp 3 no",
                                                      "Answer: !rsvp 3 maybe"]
    assert button_hint_lines(_stored(text="plain")) == []


def test_a_meeting_invitation_carries_its_calendar_file() -> None:
    ics = {"filename": "meeting-3.ics", "mime_type": "text/calendar", "text": "BEGIN:VCALENDAR"}
    assert payload_attachment(_stored(kind="meeting", attachment=ics)) == Attachment(
        "meeting-3.ics", "text/calendar", "BEGIN:VCALENDAR")
    assert payload_attachment(_stored(attachment={"filename": "n.txt", "text": ""})) == \
        Attachment("n.txt", "text/plain", "")


@pytest.mark.parametrize("attachment", [None, "meeting.ics", {"text": "x"},
                                        {"filename": "", "text": "x"}, {"filename": "a.ics"}])
def test_a_malformed_attachment_is_not_sent(attachment: object) -> None:
    assert payload_attachment(_stored(attachment=attachment)) is None


def test_a_member_sees_how_to_answer_an_alert_a_hub_channel_only_its_id() -> None:
    assert alert_ref_line(_alert_to("Charité", 12)) == (
        "Alert ID 12 · affected? /affected 12 yes|no|patched")
    assert alert_ref_line(_alert_to(None, 12)) == "Alert ID 12"
    assert alert_ref_line(_alert_to("Charité", None)) is None
    stored = json.loads(payload_to_json(_alert_to("Charité", None)))
    assert alert_ref_line(_stored(**{**stored, "ref": "12"})) is None  # a ref not a number


def test_the_affected_hint_is_a_command_the_bot_understands() -> None:
    hint = alert_ref_line(_alert_to("Charité", 12))
    assert hint is not None
    command = hint.split("affected? ")[1].replace("yes|no|patched", "patched")
    assert parse_command(command) == Affected(12, AffectedStatus.PATCHED)
