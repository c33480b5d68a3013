"""The hub coordination commands' arguments (roles, announcements, meetings, who is affected,
digests, time zones) and the yes/no that confirms a preview: parsed, never acted on here."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.command_text import CONTROL, is_number


class AffectedStatus(enum.StrEnum):
    YES = "yes"
    NO = "no"
    PATCHED = "patched"


class RsvpAnswer(enum.StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


@dataclass(frozen=True)
class Affected:
    ref: int
    status: AffectedStatus


@dataclass(frozen=True)
class Digest:
    hour: int | None  # None: off (alerts at once again); -1: on at the hub's default hour


@dataclass(frozen=True)
class ListMeetings:
    pass


@dataclass(frozen=True)
class SetTimezone:
    zone: str | None  # None: back to the hub's zone (or, with `show`, only tell the current)
    show: bool = False


@dataclass(frozen=True)
class Rsvp:
    meeting: int
    answer: RsvpAnswer


@dataclass(frozen=True)
class Announce:
    text: str
    dm: bool


@dataclass(frozen=True)
class AddMeeting:
    """As written: the date, time and zone are checked against the clock by the service."""

    day: date
    clock_time: time
    zone: str | None
    title: str
    link: str | None


@dataclass(frozen=True)
class CancelMeeting:
    meeting: int


@dataclass(frozen=True)
class Situation:
    ref: int
    detail: bool


@dataclass(frozen=True)
class Grant:
    member: str
    role: str


@dataclass(frozen=True)
class Confirm:
    """A `yes` or `no` answer to a preview, optionally naming which one."""

    yes: bool
    pending: int | None


CoordinationCommand = (
    Affected | Digest | ListMeetings | Rsvp | Announce | AddMeeting | CancelMeeting | Situation
    | Grant | SetTimezone
)


_CONFIRM = re.compile(r"^/?(yes|no|y|n)(?:\s+#?(\d{1,9}))?[.!]?$", re.IGNORECASE)


def parse_confirmation(text: str) -> Confirm | None:
    """`yes`, `no`, `yes 12` (a button sends the number; `/yes` and `!yes` are read alike)."""
    match = _CONFIRM.match(CONTROL.sub("", text).strip().lstrip("!/"))
    if match is None:
        return None
    number = match.group(2)
    return Confirm(match.group(1).lower().startswith("y"), int(number) if number else None)


def _number(word: str, what: str) -> int:
    word = word.lstrip("#")
    if not is_number(word) or len(word) > 9 or int(word) < 1:
        raise ValueError(f"{what} is a number, as shown in the message.")
    return int(word)


def _list_meetings(rest: str) -> CoordinationCommand:
    if rest:
        raise ValueError("This command takes no arguments.")
    return ListMeetings()


def _affected(rest: str) -> CoordinationCommand:
    words = rest.split()
    if len(words) != 2:
        raise ValueError("Give the alert's ID and yes, no or patched.")
    try:
        status = AffectedStatus(words[1].lower())
    except ValueError:
        raise ValueError("Answer yes (affected), no (not affected) or patched.") from None
    return Affected(_number(words[0], "The alert ID"), status)


def _digest(rest: str) -> CoordinationCommand:
    words = rest.lower().split()
    if words == ["off"]:
        return Digest(None)
    if words and words[0] == "on" and len(words) <= 2:
        if len(words) == 1:
            return Digest(-1)
        hour = words[1].removesuffix(":00").removesuffix("h")
        if is_number(hour) and 0 <= int(hour) <= 23:
            return Digest(int(hour))
        raise ValueError("The hour is a whole hour from 0 to 23, like 8 or 17.")
    raise ValueError("Say on (optionally with the hour, like on 8) or off.")


def _rsvp(rest: str) -> CoordinationCommand:
    words = rest.split()
    if len(words) != 2:
        raise ValueError("Give the meeting's number and yes, no or maybe.")
    try:
        answer = RsvpAnswer(words[1].lower())
    except ValueError:
        raise ValueError("Answer yes, no or maybe.") from None
    return Rsvp(_number(words[0], "The meeting number"), answer)


def _announce(rest: str) -> CoordinationCommand:
    dm = False
    if rest.split(maxsplit=1)[:1] == ["--dm"]:
        dm, rest = True, rest[4:].strip()
    if not rest:
        raise ValueError("Write the announcement after /announce.")
    return Announce(rest, dm)


_MEETING_ADD = re.compile(r"^(\d{4}-\d{2}-\d{2})\s+(\d{1,2}:\d{2})\s+(.+)$", re.DOTALL)
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z_]*(?:/[A-Za-z0-9_+-]+)+$")  # Area/Location
_LINK = re.compile(r"^https?://[^\s<>\"]{1,500}$")


def _meeting(rest: str) -> CoordinationCommand:
    action, _, rest = rest.partition(" ")
    action, rest = action.lower(), rest.strip()
    if action == "cancel":
        if not rest or " " in rest:
            raise ValueError("Give the number of the meeting to cancel.")
        return CancelMeeting(_number(rest, "The meeting number"))
    if action != "add":
        raise ValueError("Use /meeting add … or /meeting cancel <number>.")
    match = _MEETING_ADD.match(rest)
    if match is None:
        raise ValueError("Give the date and time as YYYY-MM-DD HH:MM, then the title.")
    try:
        day = date.fromisoformat(match.group(1))
        hours, minutes = (int(x) for x in match.group(2).split(":"))
        clock_time = time(hours, minutes)
    except ValueError:
        raise ValueError(f"{match.group(1)} {match.group(2)} is not a valid date and time.") \
            from None
    rest = match.group(3).strip()
    zone = None
    first, _, after = rest.partition(" ")
    if _ZONE_NAME.match(first) or first.upper() == "UTC":
        zone = "UTC" if first.upper() == "UTC" else first
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"Unknown time zone {first}: use a name like Europe/Berlin.") \
                from None
        rest = after.strip()
    title, _, link = (part.strip() for part in rest.partition("|"))
    if not title:
        raise ValueError("The meeting needs a title.")
    if len(title) > 200:
        raise ValueError("A meeting title may have at most 200 characters.")
    if link and not _LINK.match(link):
        raise ValueError("The link must be a web address starting with https:// or http://.")
    return AddMeeting(day, clock_time, zone, title, link or None)


def _timezone(rest: str) -> CoordinationCommand:
    word = rest.strip()
    if not word:
        return SetTimezone(None, show=True)
    if word.lower() in {"off", "hub", "default"}:
        return SetTimezone(None)
    zone = "UTC" if word.upper() == "UTC" else word
    if not (_ZONE_NAME.match(zone) or zone == "UTC"):
        raise ValueError(f"{word} is not a time zone name: use one like Europe/Berlin.")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Unknown time zone {word}: use a name like Europe/Berlin.") from None
    return SetTimezone(zone)


def _situation(rest: str) -> CoordinationCommand:
    words = rest.split()
    if not 1 <= len(words) <= 2 or (len(words) == 2 and words[1].lower() != "detail"):
        raise ValueError("Give the alert's ID, and detail to see which members answered what.")
    return Situation(_number(words[0], "The alert ID"), len(words) == 2)


def _grant(rest: str) -> CoordinationCommand:
    member, _, role = rest.strip().rpartition(" ")
    role = role.lower()
    if not member.strip() or role not in {"coordinator", "member"}:
        raise ValueError("Give the member's name and coordinator or member.")
    return Grant(member.strip(), role)


COORDINATION_PARSERS: dict[str, Callable[[str], CoordinationCommand]] = {
    "affected": _affected,
    "digest": _digest,
    "meetings": _list_meetings,
    "rsvp": _rsvp,
    "announce": _announce,
    "meeting": _meeting,
    "situation": _situation,
    "grant": _grant,
    "timezone": _timezone,
}
