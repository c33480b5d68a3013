"""Daily digests (what waits and when) and who may do what: members, coordinators, admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.commands import help_text
from bot.domain.digest import held_for_digest, latest_slot
from bot.domain.members import Contact, Network, Role
from bot.domain.roles import Authority, authority_of, parse_admins
from bot.domain.severity import Severity

BERLIN = "Europe/Berlin"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- held_for_digest --------------------------------------------------------------------------

@pytest.mark.parametrize(("severity", "held"), [
    (Severity.LOW, True), (Severity.MEDIUM, True), (Severity.HIGH, True),
    (Severity.CRITICAL, False), (None, False),
])
def test_critical_and_unknown_severity_alerts_never_wait_for_the_digest(
        severity: Severity | None, held: bool) -> None:
    assert held_for_digest(severity) is held


# --- latest_slot ------------------------------------------------------------------------------

@pytest.mark.parametrize(("now", "expected"), [
    (utc(2026, 1, 15, 7, 30), utc(2026, 1, 15, 7, 0)),  # 08:30 CET: today's 08:00
    (utc(2026, 1, 15, 7, 0), utc(2026, 1, 15, 7, 0)),  # 08:00 CET sharp: that very slot
    (utc(2026, 1, 15, 6, 59), utc(2026, 1, 14, 7, 0)),  # 07:59 CET: yesterday's
    (utc(2026, 7, 15, 6, 30), utc(2026, 7, 15, 6, 0)),  # 08:30 CEST
    (utc(2026, 7, 15, 5, 30), utc(2026, 7, 14, 6, 0)),  # 07:30 CEST
])
def test_the_digest_slot_is_the_last_eight_oclock_local(now: datetime,
                                                        expected: datetime) -> None:
    assert latest_slot(now, 8, BERLIN) == expected


def test_across_the_spring_dst_change_the_slot_stays_at_the_local_hour() -> None:
    # 07:30 CEST on the day clocks went forward: the last 08:00 was the day before, in CET.
    assert latest_slot(utc(2026, 3, 29, 5, 30), 8, BERLIN) == utc(2026, 3, 28, 7, 0)
    assert latest_slot(utc(2026, 3, 29, 6, 30), 8, BERLIN) == utc(2026, 3, 29, 6, 0)


def test_across_the_autumn_dst_change_the_slot_stays_at_the_local_hour() -> None:
    # 07:30 CET on the day clocks went back: the last 08:00 was the day before, in CEST.
    assert latest_slot(utc(2026, 10, 25, 6, 30), 8, BERLIN) == utc(2026, 10, 24, 6, 0)
    assert latest_slot(utc(2026, 10, 25, 7, 30), 8, BERLIN) == utc(2026, 10, 25, 7, 0)


def test_the_digest_hour_is_read_in_the_hubs_zone() -> None:
    now = utc(2026, 1, 15, 12, 0)
    assert latest_slot(now, 8, "UTC") == utc(2026, 1, 15, 8, 0)
    assert latest_slot(now, 8, "America/New_York") == utc(2026, 1, 14, 13, 0)


@given(now=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2029, 12, 31),
                        timezones=st.just(UTC)),
       hour=st.integers(min_value=0, max_value=23).filter(lambda h: h != 2))
def test_each_day_has_one_slot_at_the_hour_and_the_latest_is_never_ahead(
        now: datetime, hour: int) -> None:
    """Hour 2 is left out: on the spring change day 02:00 does not exist in Berlin."""
    tz = ZoneInfo(BERLIN)
    slot = latest_slot(now, hour, BERLIN)
    local = slot.astimezone(tz)
    assert (local.hour, local.minute, local.second, local.microsecond) == (hour, 0, 0, 0)
    assert slot <= now
    next_day = datetime.combine(local.date() + timedelta(days=1), local.time(), tzinfo=tz)
    assert next_day.astimezone(UTC) > now


# --- parse_admins -----------------------------------------------------------------------------

def test_admins_are_read_from_telegram_ids_and_matrix_ids() -> None:
    assert parse_admins("123456789, @ann:hub.example  987\n@bob:matrix.org:8448,") == {
        (Network.TELEGRAM, "123456789"), (Network.TELEGRAM, "987"),
        (Network.MATRIX, "@ann:hub.example"), (Network.MATRIX, "@bob:matrix.org:8448"),
    }


@pytest.mark.parametrize("text", [None, "", " , ,\n"])
def test_no_admins_configured_means_none(text: str | None) -> None:
    assert parse_admins(text) == frozenset()


@pytest.mark.parametrize("bad", ["ann", "@ann", "ann:hub.example", "-100123", "12a", "@:hub"])
def test_a_bad_admin_entry_is_refused_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="neither a Telegram user id") as caught:
        parse_admins(f"123, {bad}, @ann:hub.example")
    assert repr(bad) in str(caught.value)


# --- authority_of, Authority.audience ---------------------------------------------------------

ADMINS = parse_admins("42, @root:hub.example")


def authority(network: Network, address: str, role: Role | None,
              linked: bool = True) -> Authority:
    contact = Contact("Charité", network, address) if linked else None
    return authority_of(network, address, contact, role, ADMINS)


def test_an_admin_is_admin_even_before_linking_to_a_member() -> None:
    assert authority(Network.TELEGRAM, "42", None, linked=False) is Authority.ADMIN
    assert authority(Network.MATRIX, "@root:hub.example", Role.MEMBER) is Authority.ADMIN


def test_an_admin_id_counts_only_on_its_own_network() -> None:
    assert authority(Network.MATRIX, "42", Role.MEMBER) is Authority.MEMBER
    assert authority(Network.TELEGRAM, "43", None, linked=False) is Authority.NONE


def test_linked_people_are_members_or_coordinators_by_their_members_role() -> None:
    assert authority(Network.TELEGRAM, "7", Role.COORDINATOR) is Authority.COORDINATOR
    assert authority(Network.TELEGRAM, "7", Role.MEMBER) is Authority.MEMBER
    assert authority(Network.TELEGRAM, "7", None) is Authority.MEMBER
    assert authority(Network.TELEGRAM, "7", Role.COORDINATOR, linked=False) is Authority.NONE


@pytest.mark.parametrize(("who", "audience"), [
    (Authority.NONE, "member"), (Authority.MEMBER, "member"),
    (Authority.COORDINATOR, "coordinator"), (Authority.ADMIN, "admin"),
])
def test_each_authority_sees_its_audiences_help(who: Authority, audience: str) -> None:
    assert who.audience == audience


# --- help_text by audience --------------------------------------------------------------------

MEMBER_COMMANDS = ["/affected", "/digest", "/meetings", "/rsvp", "/subscribe", "/help"]
COORDINATOR_COMMANDS = ["/announce", "/meeting add", "/situation"]


def commands_in(text: str) -> set[str]:
    return {line.split()[0] for line in text.splitlines() if line.startswith("/")}


def test_a_member_sees_only_members_commands() -> None:
    text = help_text(Authority.MEMBER.audience)
    shown = commands_in(text)
    assert {c.split()[0] for c in MEMBER_COMMANDS} <= shown
    assert not shown & {"/announce", "/meeting", "/situation", "/grant"}
    assert "For coordinators" not in text
    assert help_text(Authority.NONE.audience) == text
    assert help_text("someone") == text


def test_a_coordinator_also_sees_coordinators_commands_but_not_grant() -> None:
    text = help_text(Authority.COORDINATOR.audience)
    coordinators_part = text.split("For coordinators:")[1]
    for command in COORDINATOR_COMMANDS:
        assert command in coordinators_part
    assert "/affected" in text
    assert "/grant" not in text


def test_an_admin_sees_every_command_with_grant_last() -> None:
    text = help_text(Authority.ADMIN.audience)
    assert "/grant <member> <coordinator|member>" in text.split("For admins:")[1]
    assert "/announce" in text.split("For coordinators:")[1].split("For admins:")[0]
    assert {c.split()[0] for c in MEMBER_COMMANDS} <= commands_in(text)
