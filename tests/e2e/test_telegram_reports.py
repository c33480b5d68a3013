"""Members' reports in Telegram, as the reporter, the coordinators and the other members see them:
the /report conversation answered by typing and by pressing buttons, the coordinators' triage
card and its buttons, the relay to the other members (anonymised, through the TLP gate),
sightings, refusals, a restart mid-conversation, hostile indicator text, photos and files.

The real ptb Application against the loopback Bot API server, a real SQLite store.
"""

from __future__ import annotations

import re

import pytest

from bot.domain.alerts import HubChannel
from bot.domain.clock import utc_now
from bot.domain.members import Network, Role
from bot.domain.products import ProductSpec
from bot.domain.tlp import Tlp
from bot.services import registrations
from bot.services.chat_commands import NOT_A_COMMAND, NOT_LINKED
from bot.services.reports import COMMANDS_ONLY, TEXT_ONLY
from tests.support.telegram_hub import StartTelegramHub, TelegramHub
from tests.support.telegram_server import SentMessage, TelegramServer

ALICE = 100001  # Klinikum Nord: the reporter
CISO = 100002  # Hub Office: a coordinator
BOB = 100003  # Vivantes: registered the product the report names
CAROL = 100004  # Klinikum Süd
STRANGER = 100006  # linked to no member
ALICE_MATRIX = "@alice.nord:matrix.klinikum-nord.example"  # Klinikum Nord's other contact
HUB_GROUP = -1001234567890  # a hub channel cleared for TLP:GREEN
INCIDENT = ("Since Monday our Infinity Delta monitors talk to an unknown server; "
            "ransomware note found on one workstation.")
PASTED = ("C2 at hxxp://bad-update[.]net/gate.php and 45.77.12.9, dropper "
          "44d88612fea8a8f36de82e1278abb02f, internal relay 10.20.30.40, CVE-2021-44228")
TLP_BUTTONS = ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]
# What would tell the other members who reported.
REPORTER = ("Klinikum Nord", str(ALICE), ALICE_MATRIX, "user100001")
TELEGRAM_TEXT_LIMIT = 4096


@pytest.fixture
async def hub(telegram_server: TelegramServer, telegram_hub: StartTelegramHub) -> TelegramHub:
    for user in (ALICE, CISO, BOB, CAROL, STRANGER):
        telegram_server.add_private_chat(user, first_name=f"user{user}")
    telegram_server.add_group(HUB_GROUP, "Hub", type="supergroup")
    hub = await telegram_hub(feed_list=[])
    now, store = utc_now(), hub.bot.store
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, str(ALICE)),
                                                      (Network.MATRIX, ALICE_MATRIX)], now)
    for name, user in (("Hub Office", CISO), ("Vivantes", BOB), ("Klinikum Süd", CAROL)):
        registrations.add_member(store, name, [(Network.TELEGRAM, str(user))], now)
    registrations.add_product(store, "Vivantes", ProductSpec("Dräger", "Infinity Delta"), now)
    with store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.hub_channels.add(HubChannel(Network.TELEGRAM, str(HUB_GROUP), max_tlp=Tlp.GREEN),
                             now)
        uow.commit()
    return hub


def last(hub: TelegramHub, chat: int) -> SentMessage:
    return hub.telegram.messages_to(chat)[-1]


async def press(hub: TelegramHub, user: int, message: SentMessage, label: str) -> str:
    """The user presses the button; returns the text of the bot's answer in their chat."""
    before = len(hub.telegram.messages_to(user))
    await hub.press(user, message, label)
    got = await hub.telegram.wait_for_messages(user, before + 1, timeout=8)
    return got[-1].text or ""


async def send_file(hub: TelegramHub, user: int, kind: str) -> str:
    """The user sends a photo, document … privately; returns the bot's answer."""
    before = len(hub.telegram.messages_to(user))
    hub.telegram.user_sends_file(user, kind)
    got = await hub.telegram.wait_for_messages(user, before + 1, timeout=8)
    return got[-1].text or ""


async def answer_the_first_questions(hub: TelegramHub) -> None:
    """Alice starts a report and says what happened and which product."""
    started = await hub.say(ALICE, "/report")
    assert started.startswith("Thank you for telling the hub.") and "What happened?" in started
    assert "Which vendor and product" in await hub.say(ALICE, INCIDENT)
    assert await hub.say(ALICE, "Infinity Delta") == (
        "Noted: Dräger Infinity Delta.\n\nPaste the indicators as text: IP addresses, domains, "
        "URLs, e-mail addresses, hashes, CVE IDs (defanged hxxp:// and [.] are fine). Send done "
        "when finished, or /skip if there are none.")


async def choose(hub: TelegramHub, tlp: str, sharing: str) -> str:
    """Alice answers "done" to the indicators, presses a TLP button and types the sharing;
    returns her report's last look, its buttons checked."""
    assert "Which TLP should the report have?" in await hub.say(ALICE, "done")
    question = last(hub, ALICE)
    assert [b["text"] for b in question.buttons] == TLP_BUTTONS
    assert "How may the hub share it?" in await press(hub, ALICE, question, tlp)
    review = await hub.say(ALICE, sharing)
    assert review.startswith("Please check your report:")
    assert [b["text"] for b in last(hub, ALICE).buttons] == ["File it", "Drop it"]
    return review


async def file_it(hub: TelegramHub) -> tuple[str, SentMessage]:
    """Alice presses "File it"; returns the report's ID and the coordinator's triage card."""
    cards = len(hub.telegram.messages_to(CISO))
    filed = await press(hub, ALICE, last(hub, ALICE), "File it")
    found = re.fullmatch(r"Filed as report (R\d+)\. The hub's coordinators review it; I will "
                         r"tell you what they decide\.", filed)
    assert found, filed
    card = (await hub.telegram.wait_for_messages(CISO, cards + 1))[-1]
    assert [b["text"] for b in card.buttons] == ["Approve", "Edit summary", "Reject"]
    return found.group(1), card


async def file_report(hub: TelegramHub, tlp: str = "TLP:GREEN",
                      sharing: str = "2") -> tuple[str, SentMessage]:
    """A whole report, as Alice writes it; returns its ID and the triage card."""
    await answer_the_first_questions(hub)
    listed = await hub.say(ALICE, PASTED)
    assert re.match(r"I read (\d+) new indicators \(the report has \1\):", listed), listed
    assert "• 45.77.12.9 (ipv4)" in listed
    assert "• 10.20.30.40 (ipv4, private address: inside a network" in listed
    await choose(hub, tlp, sharing)
    return await file_it(hub)


def texts(hub: TelegramHub, chat: int) -> list[str]:
    return [m.text or "" for m in hub.telegram.messages_to(chat)]


def not_reporter_nor_coordinator(hub: TelegramHub) -> list[SentMessage]:
    """Everything the bot sent to chats other than the reporter's and the coordinator's."""
    return [m for m in hub.telegram.sent if m.chat_id not in (ALICE, CISO)]


def pending(hub: TelegramHub, chat: int) -> int:
    with hub.bot.store() as uow:
        return uow.outbox.pending_for(Network.TELEGRAM, str(chat))


# A whole report


async def test_a_report_filed_with_buttons_is_approved_relayed_anonymised_and_seen(
        hub: TelegramHub) -> None:
    ref, card = await file_report(hub)
    assert card.text is not None
    assert card.text.startswith(f"📝 Report {ref} from Klinikum Nord, waiting for your decision")
    assert INCIDENT in card.text and "\nTLP:GREEN" in card.text
    assert "• http://bad-update.net/gate.php (url)" in card.text  # re-fanged for coordinators
    assert [b["callback_data"] for b in card.buttons] == [
        f"/approve {ref}", f"/edit {ref}", f"/reject {ref}"]
    assert not_reporter_nor_coordinator(hub) == []  # nothing before a decision

    before = len(hub.telegram.messages_to(ALICE))
    approved = await press(hub, CISO, card, "Approve")
    assert approved.startswith(f"Approved {ref}: relayed to ")
    [bobs] = await hub.telegram.wait_for_messages(BOB, 1)
    [carols] = await hub.telegram.wait_for_messages(CAROL, 1)
    [posted] = await hub.telegram.wait_for_messages(HUB_GROUP, 1)
    heading = f"🛡 A member organisation reports ({ref}, TLP:GREEN):"
    for message in (bobs, carols, posted):
        assert message.text is not None and message.text.startswith(heading)
        assert INCIDENT in message.text and "• 45.77.12.9 (ipv4)" in message.text
        assert [b["text"] for b in message.buttons] == ["We see this too", "Not here"]
    assert "Your organisation registered this product." in (bobs.text or "")
    assert "Your organisation registered this product." not in (carols.text or "")
    # Members whose product it names get it first.
    assert hub.telegram.sent.index(bobs) < hub.telegram.sent.index(carols)
    [told] = [m.text for m in (await hub.telegram.wait_for_messages(ALICE, before + 1))[before:]]
    assert told == (f"The hub's coordinators approved your report {ref}; it was relayed to the "
                    "members without naming your organisation. I will tell you when others see "
                    "it too.")

    assert await press(hub, BOB, bobs, "We see this too") == (
        f"Recorded: your organisation sees {ref} too. Its reporter learns how many see it, "
        "not who.")
    [seen] = (await hub.telegram.wait_for_messages(ALICE, before + 2))[before + 1:]
    assert seen.text == f"1 other member sees {ref} too."
    assert "Members who see it too: 1. Members who do not: 0." in await hub.say(
        CISO, f"/situation {ref}")
    # Nobody but the reporter and the coordinator ever read who reported.
    for message in not_reporter_nor_coordinator(hub):
        for secret in REPORTER:
            assert secret not in (message.text or ""), (message.chat_id, secret)


async def test_a_coordinator_edits_the_summary_then_approves(hub: TelegramHub) -> None:
    ref, card = await file_report(hub)
    assert await press(hub, CISO, card, "Edit summary") == (
        "Send the new summary of the report as members will read it (/cancel keeps the old "
        "one).")
    rewritten = "Infinity Delta monitors beacon to an unknown server; check your firewalls."
    await hub.say(CISO, rewritten, expect=2)  # the answer, and the card again
    answer, new_card = sorted(texts(hub, CISO)[-2:], key=lambda t: t.startswith("📝"))
    assert answer == (f"The new summary of {ref} is saved and sent to the coordinators with the "
                      "report, for the decision.")
    assert new_card.startswith(f"📝 Report {ref} from Klinikum Nord")
    assert rewritten in new_card and "ransomware note" not in new_card
    assert (await hub.say(CISO, f"/approve {ref}")).startswith(f"Approved {ref}")
    [bobs] = await hub.telegram.wait_for_messages(BOB, 1)
    assert rewritten in (bobs.text or "") and "ransomware note" not in (bobs.text or "")


async def test_a_rejected_report_tells_the_reporter_why_and_reaches_no_member(
        hub: TelegramHub) -> None:
    await answer_the_first_questions(hub)
    assert "Which TLP" in await hub.say(ALICE, "/skip")  # no indicators
    assert "How may the hub share it" in await hub.say(ALICE, "GREEN")
    await hub.say(ALICE, "2")
    ref, _ = await file_it(hub)
    told = len(hub.telegram.messages_to(ALICE))
    assert await hub.say(CISO, f"/reject {ref} Duplicate of advisory 12") == \
        f"Rejected {ref}; its reporter is told."
    [notice] = (await hub.telegram.wait_for_messages(ALICE, told + 1))[told:]
    assert notice.text == (f"The hub's coordinators decided not to relay your report {ref}."
                           "\nTheir reason: Duplicate of advisory 12")
    # The rejection was one transaction: what it queued is all there is.
    for chat in (BOB, CAROL, HUB_GROUP):
        assert pending(hub, chat) == 0 and texts(hub, chat) == []
    already = await hub.say(CISO, f"/approve {ref}")
    assert already.startswith(f"{ref} was already rejected (") and str(CISO) not in already


# Refusals


async def test_an_unlinked_user_and_a_hub_group_cannot_start_a_report(hub: TelegramHub) -> None:
    assert await hub.say(STRANGER, "/report") == NOT_LINKED
    assert await send_file(hub, STRANGER, "photo") == NOT_LINKED
    # In the hub group: a /report (commands reach the bot in privacy mode) and a captioned
    # photo naming the bot are not answered there, and start nothing.
    assert hub.telegram.user_sends(ALICE, "/report", chat_id=HUB_GROUP) is not None
    assert hub.telegram.user_sends_file(ALICE, "photo", chat_id=HUB_GROUP,
                                        caption="@hubbot_test_bot look at this") is not None
    # Updates are handled in order: Alice's next private text comes after both.
    assert await hub.say(ALICE, INCIDENT) == NOT_A_COMMAND
    assert hub.telegram.messages_to(HUB_GROUP) == [] and pending(hub, HUB_GROUP) == 0
    assert hub.telegram.messages_to(CISO) == []
    assert len(hub.telegram.messages_to(ALICE)) == 1


# TLP:RED


async def test_an_approved_red_report_stays_with_the_coordinators(hub: TelegramHub) -> None:
    await answer_the_first_questions(hub)
    await hub.say(ALICE, PASTED)
    review = await choose(hub, "TLP:RED", "3")
    assert "\nTLP:RED" in review
    assert "(TLP:RED: only the hub's coordinators will read it.)" in review
    ref, card = await file_it(hub)
    assert "\nTLP:RED" in (card.text or "")
    before = len(hub.telegram.messages_to(ALICE))
    assert await press(hub, CISO, card, "Approve") == (
        f"Approved {ref}. It is TLP:RED: it stays with the coordinators, no member receives it.")
    [told] = (await hub.telegram.wait_for_messages(ALICE, before + 1))[before:]
    assert told.text == (f"The hub's coordinators have read your report {ref}. It is TLP:RED, "
                         "so it stays with them.")
    # The approval was one transaction: what it queued is all there is.
    for chat in (BOB, CAROL, HUB_GROUP):
        assert pending(hub, chat) == 0 and texts(hub, chat) == []
    assert await hub.say(BOB, f"/seen {ref}") == \
        f"There is no report {ref} shared with the members."


# A restart


async def test_a_report_goes_on_after_the_bot_restarts_mid_conversation(
        hub: TelegramHub) -> None:
    await answer_the_first_questions(hub)  # two answers given
    await hub.stop()
    await hub.start()  # a new bot on the same store
    listed = await hub.say(ALICE, PASTED)
    assert "• 45.77.12.9 (ipv4)" in listed, listed
    assert "Which TLP" in await hub.say(ALICE, "done")
    assert "How may the hub share it" in await hub.say(ALICE, "AMBER")
    review = await hub.say(ALICE, "2")
    assert f"What happened:\n{INCIDENT}" in review  # kept from before the restart
    assert "Product: Dräger Infinity Delta" in review and "\nTLP:AMBER" in review
    ref, card = await file_it(hub)
    assert f"Report {ref} from Klinikum Nord" in (card.text or "")
    assert "• 45.77.12.9 (ipv4)" in (card.text or "")


# Hostile text


def split_as_telegram(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """A long paste as Telegram's apps send it: several messages of at most `limit`
    characters, cut at a space."""
    parts = []
    while len(text) > limit:
        cut = text.rindex(" ", 0, limit)
        parts.append(text[:cut])
        text = text[cut + 1:]
    return [*parts, text]


async def test_thousands_of_pasted_addresses_are_capped_and_the_report_goes_on(
        hub: TelegramHub) -> None:
    assert "What happened?" in await hub.say(ALICE, "/report")
    await hub.say(ALICE, INCIDENT)
    assert "Paste the indicators" in await hub.say(ALICE, "/skip")
    # 2,000 addresses, hidden behind a right-to-left override and zero-width spaces.
    flood = "\u202e" + "\u200b ".join(f"5.{n // 100}.{n % 100}.7" for n in range(2000))
    parts = split_as_telegram(flood)
    assert len(parts) >= 4 and all(len(p) <= TELEGRAM_TEXT_LIMIT for p in parts)
    answers = [await hub.say(ALICE, part) for part in parts]
    full = "The report holds the most indicators it can (500). Send done to go on."
    for answer in answers:
        assert "\u202e" not in answer and "\u200b" not in answer
        assert len(answer) <= TELEGRAM_TEXT_LIMIT
        if answer == full:  # every paste after the report filled up
            continue
        assert re.match(r"I read \d+ new indicators \(the report has \d+\):", answer), answer
        assert "one message gives at most 200 indicators" in answer
        assert answer.endswith("Paste more, send done to go on, or send \"start over\" to "
                               "empty the list.")
    [filled] = [a for a in answers if "(the report has 500)" in a]
    assert "more were left out: a report takes at most 500 indicators." in filled
    assert answers[-1] == full
    assert "Which TLP" in await hub.say(ALICE, "done")  # the conversation goes on
    await hub.say(ALICE, "GREEN")
    review = await hub.say(ALICE, "2")
    assert "Indicators (500):" in review and "… and 460 more." in review
    _, card = await file_it(hub)
    assert "Indicators (500):" in (card.text or "")


# Photos and files


async def test_a_photo_or_file_during_a_report_is_refused_and_the_question_asked_again(
        hub: TelegramHub) -> None:
    await hub.say(ALICE, "/report")
    refused = await send_file(hub, ALICE, "photo")
    assert refused.startswith(TEXT_ONLY + "\n\nWhat happened?"), refused
    assert "Which vendor and product" in await hub.say(ALICE, INCIDENT)
    refused = await send_file(hub, ALICE, "document")
    assert refused.startswith(TEXT_ONLY + "\n\nWhich vendor and product"), refused
    assert "Noted: Dräger Infinity Delta" in await hub.say(ALICE, "Infinity Delta")
    assert (await hub.say(ALICE, "/cancel")).startswith("Stopped. Nothing was filed")
    # Outside a report, the same sentence alone.
    assert await send_file(hub, ALICE, "voice") == COMMANDS_ONLY
    assert await send_file(hub, ALICE, "sticker") == COMMANDS_ONLY
    assert hub.telegram.messages_to(CISO) == []
