"""The hub coordination commands' arguments (roles, announcements, meetings, who is affected,
digests, time zones) and the yes/no that confirms a preview: parsed, never acted on here."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.command_text import is_number, without_control
from bot.domain.language import N_, _
from bot.domain.name_folding import clean_name


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
    """A `yes` or `no` (or German `ja`/`nein`) answer to a preview, optionally naming which."""

    yes: bool
    pending: int | None


CoordinationCommand = (
    Affected | Digest | ListMeetings | Rsvp | Announce | AddMeeting | CancelMeeting | Situation
    | Grant | SetTimezone
)


# Matrix users answer a preview with a word, in either language.
_YES_WORDS = ("yes", "y", "ja", "j")
_NO_WORDS = ("no", "n", "nein")
_CONFIRM = re.compile(rf"^/?({'|'.join(_YES_WORDS + _NO_WORDS)})(?:\s+#?(\d{{1,9}}))?[.!]?$",
                      re.IGNORECASE)
# The things a number is given for, each a whole sentence to translate.
_ALERT_ID_NUMBER = N_("The alert ID is a number, as shown in the message.")
_MEETING_NUMBER = N_("The meeting number is a number, as shown in the message.")


def parse_confirmation(text: str) -> Confirm | None:
    """`yes`, `no`, `yes 12`, `ja`, `nein 12` (a button sends the number; `/yes` and `!yes`
    are read alike)."""
    match = _CONFIRM.match(without_control(text).strip().lstrip("!/"))
    if match is None:
        return None
    number = match.group(2)
    return Confirm(match.group(1).lower() in _YES_WORDS, int(number) if number else None)


def _number(word: str, error: str) -> int:
    """The number in `word`; else ValueError with `error` (an `N_` message) translated."""
    word = word.lstrip("#")
    if not is_number(word) or len(word) > 9 or int(word) < 1:
        raise ValueError(_(error))
    return int(word)


def parse_affected(rest: str) -> CoordinationCommand:
    words = rest.split()
    if len(words) != 2:
        # TRANSLATORS: yes, no and patched are the words the command takes.
        raise ValueError(_("Give the alert's ID and yes, no or patched."))
    try:
        status = AffectedStatus(words[1].lower())
    except ValueError:
        raise ValueError(_("Answer yes (affected), no (not affected) or patched.")) from None
    return Affected(_number(words[0], _ALERT_ID_NUMBER), status)


def parse_digest(rest: str) -> CoordinationCommand:
    words = rest.lower().split()
    if words == ["off"]:
        return Digest(None)
    if words and words[0] == "on" and len(words) <= 2:
        if len(words) == 1:
            return Digest(-1)
        hour = words[1].removesuffix(":00").removesuffix("h")
        if is_number(hour) and 0 <= int(hour) <= 23:
            return Digest(int(hour))
        raise ValueError(_("The hour is a whole hour from 0 to 23, like 8 or 17."))
    # TRANSLATORS: on and off are the words the command takes.
    raise ValueError(_("Say on (optionally with the hour, like on 8) or off."))


def parse_rsvp(rest: str) -> CoordinationCommand:
    words = rest.split()
    if len(words) != 2:
        # TRANSLATORS: yes, no and maybe are the words the command takes.
        raise ValueError(_("Give the meeting's number and yes, no or maybe."))
    try:
        answer = RsvpAnswer(words[1].lower())
    except ValueError:
        raise ValueError(_("Answer yes, no or maybe.")) from None
    return Rsvp(_number(words[0], _MEETING_NUMBER), answer)


def parse_announce(rest: str) -> CoordinationCommand:
    dm = False
    if rest.split(maxsplit=1)[:1] == ["--dm"]:
        dm, rest = True, rest[4:].strip()
    if not rest:
        raise ValueError(_("Write the announcement after /announce."))
    return Announce(rest, dm)


_MEETING_ADD = re.compile(r"^(\d{4}-\d{2}-\d{2})\s+(\d{1,2}:\d{2})\s+(.+)$")
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z_]*(?:/[A-Za-z0-9_+-]+)+$")  # Area/Location
_LINK = re.compile(r"^https?://[^\s<>\"]{1,500}$")
MAX_TITLE_CHARS = 200


def parse_meeting(rest: str) -> CoordinationCommand:
    action, _space, rest = rest.partition(" ")
    action, rest = action.lower(), rest.strip()
    if action == "cancel":
        if not rest or " " in rest:
            raise ValueError(_("Give the number of the meeting to cancel."))
        return CancelMeeting(_number(rest, _MEETING_NUMBER))
    if action != "add":
        # TRANSLATORS: add and cancel are the words the command takes.
        raise ValueError(_("Use /meeting add … or /meeting cancel <number>."))
    if len(rest.splitlines()) > 1:
        # A line break in the title would put a line of the writer's into the hub's notice.
        raise ValueError(_("Write the meeting on one line: its title and link may not hold "
                           "line breaks."))
    match = _MEETING_ADD.match(rest)
    if match is None:
        raise ValueError(_("Give the date and time as YYYY-MM-DD HH:MM, then the title."))
    try:
        day = date.fromisoformat(match.group(1))
        hours, minutes = (int(x) for x in match.group(2).split(":"))
        clock_time = time(hours, minutes)
    except ValueError:
        raise ValueError(_("{day} {time} is not a valid date and time.").format(
            day=match.group(1), time=match.group(2))) from None
    rest = match.group(3).strip()
    zone = None
    first, _space, after = rest.partition(" ")
    if _ZONE_NAME.match(first) or first.upper() == "UTC":
        zone = "UTC" if first.upper() == "UTC" else first
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(_("Unknown time zone {zone}: use a name like Europe/Berlin.").format(
                zone=first)) from None
        rest = after.strip()
    title, _bar, link = (clean_name(part) for part in rest.partition("|"))
    if not title:
        raise ValueError(_("The meeting needs a title."))
    if len(title) > MAX_TITLE_CHARS:
        raise ValueError(_("A meeting title may have at most {limit} characters.").format(
            limit=MAX_TITLE_CHARS))
    if link and not _LINK.match(link):
        raise ValueError(_("The link must be a web address starting with https:// or http://."))
    return AddMeeting(day, clock_time, zone, title, link or None)


def parse_timezone(rest: str) -> CoordinationCommand:
    word = rest.strip()
    if not word:
        return SetTimezone(None, show=True)
    if word.lower() in {"off", "hub", "default"}:
        return SetTimezone(None)
    zone = "UTC" if word.upper() == "UTC" else word
    if not (_ZONE_NAME.match(zone) or zone == "UTC"):
        raise ValueError(_("{zone} is not a time zone name: use one like Europe/Berlin.").format(
            zone=word))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(_("Unknown time zone {zone}: use a name like Europe/Berlin.").format(
            zone=word)) from None
    return SetTimezone(zone)


def parse_situation(rest: str) -> CoordinationCommand:
    words = rest.split()
    if not 1 <= len(words) <= 2 or (len(words) == 2 and words[1].lower() != "detail"):
        # TRANSLATORS: detail is the word the command takes.
        raise ValueError(_("Give the alert's ID, and detail to see which members answered "
                           "what."))
    return Situation(_number(words[0], _ALERT_ID_NUMBER), len(words) == 2)


def parse_grant(rest: str) -> CoordinationCommand:
    member, _space, role = rest.strip().rpartition(" ")
    role = role.lower()
    if not member.strip() or role not in {"coordinator", "member"}:
        # TRANSLATORS: coordinator and member are the role words the command takes.
        raise ValueError(_("Give the member's name and coordinator or member."))
    return Grant(member.strip(), role)
