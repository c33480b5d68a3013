"""The same conversation in German and in English on Matrix (which tells no language: /language
or the hub's default decides), one advisory to a German and an English member and a German hub
room, and a coordinator's announcement confirmed with "ja". A real Synapse on 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.domain.clock import utc_now
from bot.domain.members import Role
from bot.domain.tlp import Tlp
from bot.services import registrations
from tests.support.feedserver import rss
from tests.support.homeserver import MatrixUser, Message
from tests.support.matrix_hub import Hub
from tests.support.stories import item

DRAEGER = item(1, "Dräger Infinity Delta: remote code execution",
               "CVSS v3.1 base score 9.8", "CVE-2026-90001")


@dataclass
class People:
    hub: Hub
    anna: MatrixUser  # Klinikum Nord, chooses German
    anna_dm: str
    ben: MatrixUser  # Uniklinik Süd, the hub's default: English
    ben_dm: str


@pytest.fixture
async def people(matrix_hub: Hub) -> People:
    hub = matrix_hub
    hub.extra_settings = {"timezone": "Europe/Berlin"}
    bot = await hub.start()
    registrations.add_member(bot.store, "Klinikum Nord", [], utc_now())
    registrations.add_member(bot.store, "Uniklinik Süd", [], utc_now())
    with bot.store() as uow:
        uow.members.set_role("Klinikum Nord", Role.COORDINATOR)
        uow.commit()
    anna, ben = await hub.person(), await hub.person()
    anna_dm, ben_dm = await hub.dm(anna), await hub.dm(ben)
    return People(hub, anna, anna_dm, ben, ben_dm)


async def _conversation(hub: Hub, user: MatrixUser, room: str, member: str,
                        language: str | None) -> list[str]:
    await hub.link(user, room, member)  # the hub's default language until they choose
    answers = [await hub.say(user, room, f"!language {language}")] if language else []
    for text in ("!help", "!subscribe Dräger | Infinity Delta", "!products", "!mute forever",
                 "!frobnicate"):
        answers.append(await hub.say(user, room, text))
    return answers


async def test_the_same_conversation_in_german_and_in_english(people: People) -> None:
    hub = people.hub
    chose, *german = await _conversation(hub, people.anna, people.anna_dm, "Klinikum Nord", "de")
    english = await _conversation(hub, people.ben, people.ben_dm, "Uniklinik Süd", None)
    assert "Deutsch" in chose
    help_de, added_de, products_de, mute_de, unknown_de = german
    help_en, added_en, products_en, mute_en, unknown_en = english
    # Matrix writes the bot's commands with "!" in both languages.
    assert "!subscribe <vendor> | <product>" in help_en
    assert "!subscribe <Hersteller> | <Produkt>" in help_de
    assert "Added Dräger | Infinity Delta" in added_en
    assert "Dräger | Infinity Delta" in added_de and "hinzugefügt" in added_de
    assert "• Dräger | Infinity Delta" in products_de
    assert "Usage: !mute" in mute_en and "Usage" not in mute_de and "!mute" in mute_de
    assert "Unknown command" in unknown_en and "!help" in unknown_en
    assert "frobnicate" in unknown_de and "!help" in unknown_de and "Unknown" not in unknown_de
    for de, en in zip(german, english, strict=True):
        assert de != en


async def test_one_advisory_and_one_announcement_in_each_readers_language(
    people: People,
) -> None:
    hub = people.hub
    await _conversation(hub, people.anna, people.anna_dm, "Klinikum Nord", "de")
    await _conversation(hub, people.ben, people.ben_dm, "Uniklinik Süd", None)
    german_room = await hub.hub_room(people.anna, "Hub (Deutsch)", Tlp.CLEAR, language="de")
    english_room = await hub.hub_room(people.anna, "Hub (English)", Tlp.CLEAR)

    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    assert hub.bot is not None
    await hub.bot.poll_all()
    anna_before = len(people.anna.messages_in(people.anna_dm))
    [to_anna] = (await people.anna.wait_for_messages(people.anna_dm, anna_before + 1))[
        anna_before:]
    ben_before = len(people.ben.messages_in(people.ben_dm))
    [to_ben] = (await people.ben.wait_for_messages(people.ben_dm, ben_before + 1))[ben_before:]
    # Neither set a time zone: both read the hub's (Europe/Berlin), each in their format.
    assert "CRITICAL (CVSS 9.8)" in to_ben.body and "14 Apr 2026, 14:00 CEST" in to_ben.body
    assert "KRITISCH (CVSS 9,8)" in to_anna.body and "14.04.2026, 14:00 MESZ" in to_anna.body
    assert "Dräger Infinity Delta: remote code execution" in to_anna.body
    assert "!affected 1 yes" in to_anna.body  # the command words stay
    assert "Affected" not in to_anna.body

    # A coordinator announces in German; each hub room reads the frame in its language.
    preview = await hub.say(people.anna, people.anna_dm, "!announce Übung am Freitag")
    assert "Übung am Freitag" in preview and "Vorschau" in preview
    done = await hub.say(people.anna, people.anna_dm, "ja")  # German for yes confirms too
    assert "2" in done  # sent to both hub rooms
    [in_german] = (await _bot_says(people, german_room, 2))[1:]
    [in_english] = (await _bot_says(people, english_room, 2))[1:]
    assert "Übung am Freitag" in in_german.body and "Übung am Freitag" in in_english.body
    assert in_german.body.splitlines()[0] != in_english.body.splitlines()[0]


async def _bot_says(people: People, room: str, count: int) -> list[Message]:
    """The bot's messages in a hub room once there are `count` (the alert, then the
    announcement)."""
    bot_id = people.hub.bot_id

    def from_bot() -> list[Message]:
        return [m for m in people.anna.messages_in(room) if m.sender == bot_id]

    return await people.anna.wait_until(lambda: len(from_bot()) >= count, 15, from_bot)
