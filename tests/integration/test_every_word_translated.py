"""Every word the bot writes to people comes from the catalogs: a pseudo-language marks each
translated message, a whole conversation (member, coordinator and admin commands, alerts, a
meeting, an announcement, a digest) is played on a real store, and whatever text reaches a
reader outside the marks must be data (names, titles, links, command words), never prose a
German reader would get in English."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.domain import language
from bot.domain.advisory import Advisory
from bot.domain.alerts import HubChannel
from bot.domain.language import English
from bot.domain.matching import AdvisoryMatcher
from bot.domain.members import Network, Role
from bot.domain.outbox_payload import payload_from_json
from bot.domain.rendering import button_hint_lines, chat_message_lines, payload_buttons
from bot.domain.roles import parse_admins
from bot.domain.severity import Severity
from bot.services import digests, meetings, registrations
from bot.services.chat_commands import ChatCommands, Sender
from bot.services.command_rate import CommandRateLimit
from bot.services.hub_messages import HubPolicy
from bot.services.ingest import ingest_advisories
from bot.services.invites import create_invite
from bot.store.tables import OutboxRow
from bot.store.unit_of_work import SqlStore

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
OPEN, CLOSE = "⟦", "⟧"
MEMBER = Sender(Network.TELEGRAM, "1001", "1001")
COORDINATOR = Sender(Network.TELEGRAM, "2002", "2002")
ADMIN = Sender(Network.TELEGRAM, "9999", "9999")
POLICY = HubPolicy(admins=parse_admins("9999"), zone="Europe/Berlin")
# What a reader may see outside the catalog's words: names and titles the hub or a feed gave,
# command and argument words (the same in every language), acronyms and zone names.
DATA = ["Klinikum Nord", "Hub Office", "Dräger", "Infinity Delta", "Philips", "IntelliVue",
        "remote code execution", "memory corruption", "denial of service", "Table-top exercise",
        "Unicorn", "Europe/Berlin", "Klinikum"]
WORDS = {"yes", "no", "maybe", "patched", "on", "off", "detail", "add", "cancel", "kev",
         "epss", "low", "medium", "high", "critical", "coordinator", "member", "dm", "de", "en",
         "CVSS", "EPSS", "KEV", "CISA", "TLP", "CLEAR", "GREEN", "AMBER", "RED", "UTC", "CET",
         "CEST", "CVE", "ID", "cisa", "hubbot", "ics", "Hub"}


class Marked(English):
    """A pseudo-language: every catalog message comes back between ⟦ ⟧."""

    language = "xx"

    def gettext(self, message: str) -> str:
        return f"{OPEN}{message}{CLOSE}"

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return f"{OPEN}{singular if n == 1 else plural}{CLOSE}"

    def moment(self, moment: datetime, zone: str) -> str:
        return moment.strftime("%Y-%m-%d %H:%M")

    def day(self, moment: datetime, zone: str) -> str:
        return moment.strftime("%Y-%m-%d")

    def clock(self, moment: datetime, zone: str) -> str:
        return moment.strftime("%H:%M")


@pytest.fixture
def marked() -> None:
    language.install({"xx": Marked()}, "xx")  # every reader reads the pseudo-language


def _outside_marks(text: str) -> str:
    while True:  # innermost first: a phrase's values may be phrases themselves
        stripped = re.sub(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}", " ", text)
        if stripped == text:
            return text
        text = stripped


def _prose(text: str) -> list[str]:
    """Words outside the marks that are not data."""
    rest = _outside_marks(text)
    rest = re.sub(r"https?://\S+|[/!][a-z_]+\b|CVE-\d{4}-\d+|@\S+", " ", rest)
    for data in sorted(DATA, key=len, reverse=True):
        rest = rest.replace(data, " ")
    return [w for w in re.findall(r"[A-Za-zÄÖÜäöüß]{2,}", rest) if w not in WORDS]


def _play(store: SqlStore) -> list[dict[str, Any]]:
    """A conversation touching every command; returns every payload queued."""
    registrations.add_member(store, "Klinikum Nord", [], NOW)
    registrations.add_member(store, "Hub Office", [(Network.TELEGRAM, "2002")], NOW)
    with store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, "-100777"), NOW)
        uow.commit()
    clock = [NOW]
    service = ChatCommands(store, lambda: clock[0], CommandRateLimit(None), policy=POLICY)
    counter = iter(range(1, 10_000))

    def say(sender: Sender, text: str) -> None:
        service.handle(sender, text, f"u{next(counter)}")

    say(MEMBER, "/help")
    say(MEMBER, "/products")  # not linked
    say(MEMBER, "/start " + create_invite(store, "Klinikum Nord", NOW))
    for text in ("/start", "/help", "/products", "/subscribe Dräger | Infinity Delta",
                 "/subscribe Dräger | Infinity Delta", "/subscribe Philips | IntelliVue | 1.2",
                 "/subscribe Philips | IntelliVue | 1.3", "/unsubscribe Unicorn | Unicorn",
                 "/products", "/severity high", "/severity kev", "/severity epss>=0.1",
                 "/severity medium", "/severity extreme", "/mute 2h", "/mute forever",
                 "/mute off", "/status", "/latest", "/latest 99", "/timezone",
                 "/timezone Europe/Berlin", "/timezone Mars/Base", "/timezone off",
                 "/language", "/language xx", "/digest on 7", "/digest off", "/digest maybe",
                 "/meetings", "/affected 1 yes", "/affected x", "/rsvp 1 yes", "/frobnicate",
                 "hello", "/announce test", "/situation 1", "/grant Hub Office member",
                 "/subscribe only-one-part", "/subscribe a | b | "):
        say(MEMBER, text)
    with store() as uow:
        matcher = AdvisoryMatcher(uow.products.all())
        ingest_advisories(uow, [
            Advisory("a1", "Dräger Infinity Delta: remote code execution", "", "https://x/1",
                     "cisa", severity=Severity.CRITICAL, cvss=9.8,
                     published=NOW - timedelta(hours=3), cves=("CVE-2026-1",)),
            Advisory("a2", "Philips IntelliVue: memory corruption", "", "https://x/2", "cisa",
                     severity=None, published=NOW),
        ], matcher, NOW, False)
        uow.commit()
    day = (NOW + timedelta(days=10)).date().isoformat()
    for text in ("/latest", "/affected 1 yes", "/affected 1 patched", "/situation 1"):
        say(MEMBER, text)
    for text in (f"/meeting add {day} 14:00 Table-top exercise | https://meet.example/1",
                 f"/meeting add {day} 25:00 Broken", "/meetings", "/situation 1",
                 "/situation 1 detail", "/situation 99", "/announce Unicorn", "yes",
                 "/announce --dm Unicorn", "no", "yes", "/meeting cancel 99"):
        say(COORDINATOR, text)
    say(MEMBER, "/rsvp 1 yes")
    say(MEMBER, "/meetings")
    say(ADMIN, "/grant Klinikum Nord coordinator")
    say(ADMIN, "/grant Nobody coordinator")
    say(ADMIN, "/help")
    with store() as uow:
        meetings.send_due_reminders(uow, POLICY, NOW + timedelta(days=9, hours=15))
        uow.commit()
    say(COORDINATOR, "/meeting cancel 1")
    say(MEMBER, "/digest on 7")
    with store() as uow:
        ingest_advisories(uow, [
            Advisory("a3", "Dräger Infinity Delta: denial of service", "", "https://x/3",
                     "cisa", severity=Severity.MEDIUM, published=NOW)],
            AdvisoryMatcher(uow.products.all()), NOW, False)
        uow.commit()
    with store() as uow:
        digests.release_due(uow, POLICY, NOW + timedelta(days=1))
        uow.commit()
    with Session(store.engine) as s:
        return [payload_from_json(row.payload) for row in s.exec(select(OutboxRow))]


def test_no_reader_gets_a_word_outside_the_catalogs(marked: None, store: SqlStore) -> None:
    payloads = _play(store)
    assert len(payloads) > 60
    found: dict[str, list[str]] = {}
    for payload in payloads:
        with language.speaking("xx"):
            lines, _link = chat_message_lines(payload)
            hints = button_hint_lines(payload)
            labels = [b.label for row in payload_buttons(payload) for b in row]
        for line in [*lines, *hints, *labels]:
            words = _prose(re.sub(r"<[^>]+>", " ", line))
            if words:
                found.setdefault(" ".join(words), []).append(line)
    assert not found, "\n".join(f"{words!r} in {lines[0]!r}" for words, lines in found.items())
