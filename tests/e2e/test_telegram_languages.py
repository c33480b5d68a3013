"""The same conversation in German and in English on Telegram: each person's app language
(Telegram's language_code) or their /language choice decides; one advisory reaches a German and
an English member, and a German hub group, each in its language. The real ptb Application
against the loopback Bot API server."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.alerts import HubChannel
from bot.domain.clock import utc_now
from bot.domain.members import Network
from bot.services import registrations
from tests.support.feedserver import rss
from tests.support.stories import item
from tests.support.telegram_hub import StartTelegramHub, TelegramHub
from tests.support.telegram_server import TelegramServer

ANNA = 100011  # Klinikum Nord's security officer; her Telegram speaks German
BEN = 100012  # Uniklinik Süd's; his Telegram speaks English
HUB_GROUP = -1009876543210  # the hub's German channel
DRAEGER = item(1, "Dräger Infinity Delta: remote code execution",
               "CVSS v3.1 base score 9.8", "CVE-2026-90001")


@pytest.fixture
async def hub(telegram_server: TelegramServer, telegram_hub: StartTelegramHub) -> TelegramHub:
    telegram_server.add_private_chat(ANNA, "Anna", language_code="de")
    telegram_server.add_private_chat(BEN, "Ben", language_code="en")
    telegram_server.add_group(HUB_GROUP, "Hub-Warnungen", type="supergroup")
    hub = await telegram_hub()
    registrations.add_member(hub.bot.store, "Klinikum Nord", [], utc_now())
    registrations.add_member(hub.bot.store, "Uniklinik Süd", [], utc_now())
    with hub.bot.store() as uow:
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(HUB_GROUP), language="de"),
                             utc_now())
        uow.commit()
    return hub


async def _conversation(hub: TelegramHub, user: int, member: str) -> list[str]:
    """One person's first minutes with the bot; returns every answer."""
    return [
        await hub.say(user, "/products"),  # not linked yet
        await hub.link(user, member),
        await hub.say(user, "/help"),
        await hub.say(user, "/subscribe Dräger | Infinity Delta"),
        await hub.say(user, "/products"),
        await hub.say(user, "/mute forever"),
        await hub.say(user, "/timezone Europe/Berlin"),
        await hub.say(user, "/frobnicate"),
    ]


async def test_the_same_conversation_in_german_and_in_english(hub: TelegramHub) -> None:
    german = await _conversation(hub, ANNA, "Klinikum Nord")
    english = await _conversation(hub, BEN, "Uniklinik Süd")

    unlinked_de, linked_de, help_de, added_de, products_de, mute_de, zone_de, unknown_de = german
    unlinked_en, linked_en, help_en, added_en, products_en, mute_en, zone_en, unknown_en = english
    assert "/subscribe <vendor> | <product>" in help_en
    assert "/subscribe <Hersteller> | <Produkt>" in help_de  # the command word stays
    assert "not linked" in unlinked_en and "nicht" in unlinked_de
    assert "now linked to Uniklinik Süd" in linked_en
    assert "Klinikum Nord" in linked_de and "linked" not in linked_de
    assert "Added Dräger | Infinity Delta" in added_en
    assert "Dräger | Infinity Delta" in added_de and "hinzugefügt" in added_de
    assert "• Dräger | Infinity Delta" in products_en and "• Dräger | Infinity Delta" in products_de
    assert "Give a duration like 30m" in mute_en and "Usage: /mute" in mute_en
    assert "Dauer" in mute_de and "/mute" in mute_de and "Usage" not in mute_de
    assert "Europe/Berlin" in zone_en and "Europe/Berlin" in zone_de
    assert ("CET" in zone_en or "CEST" in zone_en) and ("MEZ" in zone_de or "MESZ" in zone_de)
    assert "Unknown command /frobnicate" in unknown_en
    assert "/frobnicate" in unknown_de and "Unknown" not in unknown_de
    for de, en in zip(german, english, strict=True):
        assert de != en


async def test_one_advisory_reaches_each_reader_in_their_language(hub: TelegramHub) -> None:
    for user, member in ((ANNA, "Klinikum Nord"), (BEN, "Uniklinik Süd")):
        await hub.link(user, member)
        await hub.say(user, "/subscribe Dräger | Infinity Delta")
        await hub.say(user, "/timezone Europe/Berlin")
    hub.feeds.serve("/cisa.xml", rss([DRAEGER]))
    await hub.bot.poll_all()

    [to_anna] = (await hub.telegram.wait_for_messages(ANNA, 4))[3:]
    [to_ben] = (await hub.telegram.wait_for_messages(BEN, 4))[3:]
    [to_group] = await hub.telegram.wait_for_messages(HUB_GROUP, 1)
    assert to_ben.text is not None and to_anna.text is not None and to_group.text is not None

    # English: as the alert always read.
    assert "CRITICAL · CVSS 9.8" in to_ben.text
    assert "14 Apr 2026, 14:00 CEST" in to_ben.text  # 12:00 UTC, read in Berlin's summer time
    assert "Your product: Dräger | Infinity Delta" in to_ben.text
    assert [b.get("text") for b in to_ben.buttons] == [
        "Affected", "Not affected", "Patched", "Open the advisory"]
    # German: the frame, the date and the numbers; the advisory's own words stay as published.
    assert "KRITISCH · CVSS 9,8" in to_anna.text
    assert "14.04.2026, 14:00 MESZ" in to_anna.text
    assert "Dräger Infinity Delta: remote code execution" in to_anna.text
    assert "Ihr Produkt: Dräger | Infinity Delta" in to_anna.text
    assert "Your product" not in to_anna.text and "matched" not in to_anna.text
    assert [b.get("text") for b in to_anna.buttons] == [
        "Betroffen", "Nicht betroffen", "Gepatcht", "Sicherheitshinweis öffnen"]
    assert [b.get("callback_data") for b in to_anna.buttons[:3]] == [
        b.get("callback_data") for b in to_ben.buttons[:3]]  # the same commands behind them
    # The German hub group: German frame, no member named, the hub's zone (UTC) for the date.
    assert "KRITISCH" in to_group.text and "14.04.2026, 12:00 UTC" in to_group.text
    assert "Klinikum Nord" not in to_group.text and "Uniklinik" not in to_group.text

    # A German member presses a button: the answer is German too.
    hub.telegram.user_presses(ANNA, to_anna, to_anna.buttons[2]["callback_data"])
    [answer] = (await hub.telegram.wait_for_messages(ANNA, 5))[4:]
    assert "Klinikum Nord" in answer.text and "patched" not in (answer.text or "")


async def test_a_choice_of_language_outweighs_the_app_language(hub: TelegramHub) -> None:
    await hub.link(ANNA, "Klinikum Nord")
    assert "English" in await hub.say(ANNA, "/language en")
    assert "Added Dräger | Infinity Delta" in await hub.say(
        ANNA, "/subscribe Dräger | Infinity Delta")
    assert "Deutsch" in await hub.say(ANNA, "/language de")
    answer = await hub.say(ANNA, "/language fr")
    assert "/language" in answer and "de, en" in answer  # what may be chosen, in German
    back = await hub.say(ANNA, "/language off")
    assert "Deutsch" in back  # her app's language again


async def test_the_command_menu_is_registered_in_each_language(hub: TelegramHub) -> None:
    await asyncio.sleep(0)  # the menu was set while the hub started
    english = {c["command"]: c["description"] for c in hub.telegram.commands()}
    german = {c["command"]: c["description"] for c in hub.telegram.commands(language_code="de")}
    assert english == {c["command"]: c["description"]
                       for c in hub.telegram.commands(language_code="en")}
    assert set(german) == set(english)  # the same command words
    assert german["subscribe"] != english["subscribe"]
    assert all(german[name] != english[name] for name in english)
