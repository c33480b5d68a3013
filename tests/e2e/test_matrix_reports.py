"""Members' reports on Matrix, as the reporter, a coordinator and another member see them: the
/report conversation in an encrypted direct room (answers typed, the buttons' commands written
with "!" as the bot shows them), a photo refused, the coordinator's edit and "!approve" (Matrix
has no buttons), the relay to the other member's direct room and the hub room anonymised, and
"!seen". Plain text and files outside a conversation stay unanswered, and a hub room is never
answered, even from someone the bot awaits an answer from.

The real bot against a real Synapse on 127.0.0.1; the reporter's own nio client encrypts.
Nothing is asserted after a fixed sleep: where a message must *not* come, a later message that
must come is the barrier (a room's timeline is ordered, and the bot answers in order).
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nio import AsyncClient, RoomSendResponse, UploadResponse

from bot.domain.clock import utc_now
from bot.domain.members import Role
from bot.domain.products import ProductSpec
from bot.domain.tlp import Tlp
from bot.services import registrations
from bot.services.invites import create_invite
from bot.services.reports import TEXT_ONLY
from tests.e2e.test_matrix_e2ee import EncryptedUser, person
from tests.support.homeserver import MatrixUser
from tests.support.matrix_hub import Hub

INCIDENT = ("Since Monday our Infinity Delta monitors talk to an unknown server; "
            "ransomware note found on one workstation.")
PASTED = ("C2 at hxxp://bad-update[.]net/gate.php and 45.77.12.9, dropper "
          "44d88612fea8a8f36de82e1278abb02f, CVE-2021-44228")
REWRITTEN = "Infinity Delta monitors beacon to an unknown server; check your firewalls."
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082")


@pytest.fixture
async def hub(matrix_hub: Hub) -> AsyncIterator[tuple[Hub, list[EncryptedUser]]]:
    bot = await matrix_hub.start()
    now = utc_now()
    for name in ("Hub Office", "Klinikum Nord", "Vivantes"):
        registrations.add_member(bot.store, name, [], now)
    registrations.add_product(bot.store, "Vivantes", ProductSpec("Dräger", "Infinity Delta"),
                              now)
    with bot.store() as uow:
        uow.members.set_role("Hub Office", Role.COORDINATOR)
        uow.commit()
    people: list[EncryptedUser] = []
    try:
        yield matrix_hub, people
    finally:
        for someone in people:
            await someone.close()


async def upload(client: AsyncClient, encrypt: bool) -> tuple[str, dict[str, Any]]:
    answer, keys = await client.upload(io.BytesIO(PNG), content_type="image/png",
                                       filename="screenshot.png", encrypt=encrypt,
                                       filesize=len(PNG))
    assert isinstance(answer, UploadResponse), answer
    return answer.content_uri, keys or {}


async def send_image(client: AsyncClient, room: str, encrypt: bool) -> None:
    """A screenshot, as Element sends one (in an encrypted room: the file encrypted too)."""
    url, keys = await upload(client, encrypt)
    content: dict[str, Any] = {"msgtype": "m.image", "body": "screenshot.png",
                               "info": {"mimetype": "image/png", "size": len(PNG), "w": 1,
                                        "h": 1}}
    if encrypt:
        content["file"] = {"url": url, **keys}
    else:
        content["url"] = url
    sent = await client.room_send(room, "m.room.message", content,
                                  ignore_unverified_devices=True)
    assert isinstance(sent, RoomSendResponse), sent


def from_bot(hub: Hub, user: MatrixUser, room: str) -> list[str]:
    return [m.body for m in user.messages_in(room) if m.sender == hub.bot_id]


async def bot_says(hub: Hub, user: MatrixUser, room: str, count: int) -> list[str]:
    """Sync until the bot wrote `count` messages into the room; returns them all."""
    return await user.wait_until(lambda: len(from_bot(hub, user, room)) >= count, 30,
                                 lambda: from_bot(hub, user, room))


async def linked(hub: Hub, member: str) -> tuple[MatrixUser, str]:
    """A person of `member` in a (plain) direct room with the bot, linked."""
    user = await hub.person()
    room = await hub.dm(user)
    await hub.link(user, room, member)
    return user, room


async def test_a_report_in_an_encrypted_room_is_approved_relayed_anonymised_and_seen(
    hub: tuple[Hub, list[EncryptedUser]], tmp_path: Path
) -> None:
    hub_, people = hub
    assert hub_.bot is not None
    coordinator, coordinator_dm = await linked(hub_, "Hub Office")
    bob, bob_dm = await linked(hub_, "Vivantes")
    hub_room = await hub_.hub_room(coordinator, "Hub reports", max_tlp=Tlp.GREEN)
    alice = await person(hub_, people, tmp_path)
    alice_dm = await alice.open_encrypted_dm(hub_.bot_id)
    code = create_invite(hub_.bot.store, "Klinikum Nord", utc_now())
    assert "now linked" in (await alice.say(alice_dm, f"/start {code}"))[2]

    async def alice_says(text: str) -> str:
        _, _, body, encrypted = await alice.say(alice_dm, text)
        assert encrypted, body  # every answer encrypted
        return body

    # Chatter outside a report is not answered: the next answer is the one to !report.
    await alice.send(alice_dm, "Hello bot, thanks for the alerts!")
    started = await alice_says("!report")
    assert started.startswith("Thank you for telling the hub.") and "What happened?" in started

    # A screenshot is refused, the question asked again.
    before = len(alice.texts_in(alice_dm))
    await send_image(alice.client, alice_dm, encrypt=True)
    await alice.wait_until(lambda: len(alice.texts_in(alice_dm)) > before)
    refused = alice.texts_in(alice_dm)[before][2]
    assert refused.startswith(TEXT_ONLY + "\n\nWhat happened?"), refused

    assert "Which vendor and product" in await alice_says(INCIDENT)
    assert "Noted: Dräger Infinity Delta." in await alice_says("Infinity Delta")
    listed = await alice_says(PASTED)
    assert re.match(r"I read \d+ new indicators", listed) and "• 45.77.12.9 (ipv4)" in listed
    question = await alice_says("done")
    assert question.startswith("Which TLP should the report have?")
    assert question.endswith("Answer: !TLP:CLEAR · !TLP:GREEN · !TLP:AMBER · "
                             "!TLP:AMBER+STRICT · !TLP:RED")
    assert "How may the hub share it?" in await alice_says("!TLP:GREEN")
    review = await alice_says("2")
    assert "\nTLP:GREEN" in review and "Shared with: members, anonymised" in review
    assert review.endswith("Answer: !yes · !cancel")
    filed = await alice_says("!yes")
    [ref] = re.findall(r"^Filed as report (R\d+)\.", filed)
    await alice.send(alice_dm, "Thanks, that was quick.")  # the conversation is over

    # The coordinator reads the card, rewrites the summary, and approves by writing.
    [card] = (await bot_says(hub_, coordinator, coordinator_dm, 2))[1:]
    assert card.startswith(f"📝 Report {ref} from Klinikum Nord, waiting for your decision")
    assert card.endswith(f"Answer: !approve {ref} · !edit {ref} · !reject {ref}")
    assert await hub_.say(coordinator, coordinator_dm, f"!edit {ref}") == (
        "Send the new summary of the report as members will read it (!cancel keeps the old "
        "one).")
    # Awaited, but never in a hub room: this is chatter there.
    await coordinator.send(hub_room, "Heads up: a member report is coming.")
    await coordinator.send(coordinator_dm, REWRITTEN)
    changed, new_card = sorted((await bot_says(hub_, coordinator, coordinator_dm, 5))[3:],
                               key=lambda body: body.startswith("📝"))
    assert changed == (f"The new summary of {ref} is saved and sent to the coordinators with the "
                       "report, for the decision.")
    assert REWRITTEN in new_card and "ransomware note" not in new_card
    await coordinator.send(coordinator_dm, f"!approve {ref}")
    # The answer, and the report itself (the coordinator's organisation is a member too).
    answer, mine = sorted((await bot_says(hub_, coordinator, coordinator_dm, 7))[5:],
                          key=lambda body: body.startswith("🛡"))
    assert answer.startswith(f"Approved {ref}: relayed to "), answer
    assert mine.startswith(f"🛡 A member organisation reports ({ref}, TLP:GREEN):")

    # Another member and the hub room read it without who reported it.
    [relayed] = (await bot_says(hub_, bob, bob_dm, 2))[1:]
    [posted] = await bot_says(hub_, coordinator, hub_room, 1)
    for text in (relayed, posted):
        assert text.startswith(f"🛡 A member organisation reports ({ref}, TLP:GREEN):")
        assert REWRITTEN in text and "• 45.77.12.9 (ipv4)" in text
        assert text.endswith(f"Answer: !seen {ref} · !seen {ref} no")
        for secret in ("Klinikum Nord", alice.user_id, alice.user_id.split(":")[0][1:],
                       alice_dm):
            assert secret not in text
    assert "Your organisation registered this product." in relayed

    # A photo from someone not in a conversation is ignored; their !seen is answered.
    await send_image(bob.client, bob_dm, encrypt=False)
    assert await hub_.say(bob, bob_dm, f"!seen {ref} no") == \
        f"Recorded: your organisation does not see {ref}."
    assert from_bot(hub_, bob, bob_dm)[2:] == [f"Recorded: your organisation does not see {ref}."]
    assert (await hub_.say(coordinator, coordinator_dm, f"!seen {ref}")).startswith(
        f"Recorded: your organisation sees {ref} too.")

    # The reporter: told the decision, then how many see it; nothing to her chatter.
    await alice.wait_until(lambda: alice.texts_in(alice_dm)[-1][2].endswith(" too."))
    after_filing = [body for _, _, body, _ in alice.texts_in(alice_dm)]
    after_filing = after_filing[after_filing.index(filed) + 1:]
    assert after_filing == [
        f"The hub's coordinators approved your report {ref}; it was relayed to the members "
        "without naming your organisation. I will tell you when others see it too.",
        f"1 other member sees {ref} too."]
    # The hub room got the report, and nothing else from the bot.
    assert from_bot(hub_, coordinator, hub_room) == [posted]
