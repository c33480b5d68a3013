"""The command conversation a member has with the bot, network-independent, on a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import i18n
from bot.domain.advisory import Advisory
from bot.domain.matching import AdvisoryMatcher
from bot.domain.members import Network
from bot.domain.products import ProductSpec
from bot.domain.severity import Severity
from bot.services import registrations
from bot.services.chat_commands import NOT_LINKED, ChatCommands, Sender
from bot.services.command_rate import CommandRateLimit
from bot.services.ingest import ingest_advisories
from bot.services.invites import create_invite
from bot.store.unit_of_work import SqlStore

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ALICE = Sender(Network.TELEGRAM, "1001", "1001")
MALLORY = Sender(Network.TELEGRAM, "6666", "6666")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def chat(store: SqlStore):
    registrations.add_member(store, "Klinikum Nord", [], NOW)
    registrations.add_member(store, "Vivantes", [(Network.TELEGRAM, "2002")], NOW)
    registrations.add_product(store, "Vivantes", ProductSpec("Philips", "IntelliVue MX40"), NOW)
    clock = Clock()
    service = ChatCommands(store, clock)
    counter = iter(range(1, 10_000))

    def say(sender: Sender, text: str) -> str:
        answer = service.handle(sender, text, f"u{next(counter)}")
        assert answer is not None
        return answer

    say.clock = clock  # type: ignore[attr-defined]
    say.service = service  # type: ignore[attr-defined]
    return say


def test_member_links_with_invite_code_and_manages_products(chat, store: SqlStore) -> None:
    assert chat(ALICE, "/products") == NOT_LINKED
    code = create_invite(store, "Klinikum Nord", NOW)
    assert "now linked to Klinikum Nord" in chat(ALICE, f"/start {code}")
    assert "Added Dräger | Infinity Delta" in chat(ALICE, "/subscribe Dräger | Infinity Delta")
    assert "already in" in chat(ALICE, "/subscribe dräger | infinity delta")
    products = chat(ALICE, "/products")
    assert "Infinity Delta" in products and "IntelliVue" not in products  # not Vivantes'
    assert "Removed Dräger | Infinity Delta" in chat(ALICE, "/unsubscribe DRÄGER | infinity delta")
    assert "no products yet" in chat(ALICE, "/products")


def test_a_look_alike_written_with_invisible_characters_is_the_same_product(
        chat, store: SqlStore) -> None:
    bob = Sender(Network.TELEGRAM, "2002", "2002")  # Vivantes, which has Philips IntelliVue MX40
    for look_alike in ("Phil\u2060ips | Intelli\u00adVue MX40",
                       "PHILIPS\ufeff | intellivue\u200b mx40",
                       "Philips | IntelliVue MX40\U000e0041\U000e007f",
                       "Philips\u180e | Ｉｎｔｅｌｌｉ\u034fVue MX40"):
        assert "Philips | IntelliVue MX40 is already in Vivantes's list" in chat(
            bob, f"/subscribe {look_alike}"), look_alike
    with store() as uow:
        assert [(p.spec.vendor, p.spec.product) for p in uow.products.all("Vivantes")] == [
            ("Philips", "IntelliVue MX40")]
    assert "Both the vendor and the product are needed" in chat(
        bob, "/subscribe \u3164 | \u2060\u200b")
    assert "Removed Philips | IntelliVue MX40" in chat(
        bob, "/unsubscribe Phi\u200blips | IntelliVue\u2060 MX\u00ad40")
    assert "no products yet" in chat(bob, "/products")


def test_invite_codes_are_single_use_and_expire(chat, store: SqlStore) -> None:
    code = create_invite(store, "Klinikum Nord", NOW, valid_for=timedelta(hours=1))
    assert "now linked" in chat(ALICE, f"/start {code}")
    assert "already used" in chat(MALLORY, f"/start {code}")
    late = create_invite(store, "Klinikum Nord", NOW, valid_for=timedelta(hours=1))
    chat.clock.now = NOW + timedelta(hours=2)
    assert "has expired" in chat(MALLORY, f"/start {late}")
    assert "is not valid" in chat(MALLORY, "/start AAAAAAAAAAAAAAAA")
    assert chat(MALLORY, "/products") == NOT_LINKED


NOT_LINKED_DE = (
    "Dieser Bot dient den Mitgliedsorganisationen des Hubs, und dieser Chat ist nicht mit einer "
    "von ihnen verbunden. Bitten Sie einen Koordinator des Hubs um einen Einladungscode und "
    "senden Sie dann /start CODE.")
# Everything but /start: members' and coordinators' commands, with good or bad arguments,
# unknown commands, a yes, plain text.
NOT_FOR_STRANGERS = (
    "/help", "/help me", "/products", "/subscribe A | B", "/subscribe", "/status", "/latest",
    "/latest 500", "/mute 1h", "/mute forever", "/severity extreme", "/frobnicate", "/rsvp 1",
    "/announce Hello", "/meeting add tomorrow", "/grant Vivantes coordinator", "/situation x",
    "yes", "no 3", "hello", "/" + "x" * 4000,
)


@pytest.mark.parametrize("network", [Network.TELEGRAM, Network.MATRIX])
def test_unlinked_users_get_only_the_polite_refusal_in_their_language(
        chat, store: SqlStore, network: Network) -> None:
    service = ChatCommands(store, chat.clock, CommandRateLimit(None))  # many commands at once
    address = "6666" if network is Network.TELEGRAM else "@mallory:evil.example"
    english = Sender(network, address, address)
    updates = iter(range(10_000))

    def say(sender: Sender, text: str) -> str | None:
        return service.handle(sender, text, f"s{next(updates)}")

    for text in NOT_FOR_STRANGERS:
        assert say(english, text) == NOT_LINKED, text
    # German: Telegram tells the app's language; Matrix tells none, so the hub's is used.
    if network is Network.TELEGRAM:
        german = Sender(network, address, address, language="de")
    else:
        i18n.install("de")
        german = english
    for text in NOT_FOR_STRANGERS:
        assert say(german, text) == NOT_LINKED_DE, text
    i18n.install("en")
    # /start is theirs: how to get a code, and why a code is refused.
    assert "Ask your hub coordinator for an invite code, then send /start CODE" in say(
        english, "/start")  # type: ignore[operator]
    assert say(english, "/start x!") == (
        "That does not look like an invite code.\nUsage: /start [invite-code]")
    assert "is not valid" in say(english, "/start AAAAAAAAAAAAAAAA")  # type: ignore[operator]


def test_help_once_linked_lists_the_members_commands(chat, store: SqlStore) -> None:
    code = create_invite(store, "Klinikum Nord", NOW)
    assert "now linked" in chat(MALLORY, f"/start {code}")
    assert "/subscribe <vendor> | <product>" in chat(MALLORY, "/help")


@pytest.mark.parametrize(("text", "expected"), [
    ("/subscribe Dräger Infinity Delta", "Usage: /subscribe <vendor> | <product>"),
    ("/subscribe | Infinity", "Both the vendor and the product are needed"),
    ("/subscribe Philips | Firmware", "too generic"),
    ("/severity extreme", "Usage: /severity <low|medium|high|critical|kev|epss>=0.1>"),
    ("/mute forever", "Usage: /mute"),
    ("/mute 90d", "from 1 minute to 30 days"),
    ("/latest 500", "from 1 to 50"),
    ("/products please", "takes no arguments"),
    ("/frobnicate", "Unknown command /frobnicate"),
    ("/subscribe " + "x" * 400 + " | y", "at most 300 characters"),
])
def test_bad_arguments_get_the_right_usage(chat, text: str, expected: str) -> None:
    assert expected in chat(Sender(Network.TELEGRAM, "2002", "2002"), text)


def test_severity_threshold_mute_and_status(chat, store: SqlStore) -> None:
    bob = Sender(Network.TELEGRAM, "2002", "2002")
    assert "severity high and above" in chat(bob, "/severity high")
    with store() as uow:
        assert uow.members.get("Vivantes").min_severity is Severity.HIGH
    assert "silently until 25 Nov 2026, 11:00 UTC" in chat(bob, "/mute 2h")
    status = chat(bob, "/status")
    assert "Vivantes: 1 product, severity threshold high" in status
    assert "Muted until 25 Nov 2026, 11:00 UTC" in status
    assert "notify you again" in chat(bob, "/mute off")


def test_latest_shows_only_this_members_alerts(chat, store: SqlStore) -> None:
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Dräger", "Infinity Delta"), NOW)
    with store() as uow:
        matcher = AdvisoryMatcher(uow.products.all())
        for i, title in enumerate(["Philips IntelliVue MX40 flaw", "Dräger Infinity Delta bug"]):
            ingest_advisories(uow, [Advisory(f"a{i}", title, "", f"https://x/{i}", "cisa",
                                             severity=Severity.HIGH)], matcher, NOW, False)
        uow.commit()
    latest = chat(Sender(Network.TELEGRAM, "2002", "2002"), "/latest 3")
    assert "IntelliVue" in latest and "Infinity" not in latest


def test_a_redelivered_update_is_not_handled_twice(chat, store: SqlStore) -> None:
    bob = Sender(Network.TELEGRAM, "2002", "2002")
    assert chat.service.handle(bob, "/subscribe Dräger | Infinity Delta", "same") is not None
    assert chat.service.handle(bob, "/unsubscribe Dräger | Infinity Delta", "same") is None
    with store() as uow:
        assert len(uow.products.all("Vivantes")) == 2
        replies = uow.outbox.claim_due(Network.TELEGRAM, NOW, 10)
    assert [r.payload.text[:5] for r in replies] == ["Added"]


def test_answers_are_queued_to_the_chat_they_came_from(chat, store: SqlStore) -> None:
    chat(Sender(Network.TELEGRAM, "2002", "2002"), "/help")
    with store() as uow:
        [reply] = uow.outbox.claim_due(Network.TELEGRAM, NOW, 10)
    assert reply.kind == "reply" and reply.address == "2002"


def test_a_user_flooding_commands_is_slowed_down_without_starving_others(
    store: SqlStore,
) -> None:
    from bot.services.command_rate import SLOW_DOWN, CommandRateLimit

    registrations.add_member(store, "Vivantes", [(Network.TELEGRAM, "2002")], NOW)
    service = ChatCommands(store, Clock(), CommandRateLimit("5/minute"))
    noisy = Sender(Network.TELEGRAM, "2002", "2002")
    answers = [service.handle(noisy, "/products", f"n{i}") for i in range(50)]
    assert all("no products yet" in a for a in answers[:5])
    assert answers[5] == SLOW_DOWN and set(answers[6:]) == {""}
    assert service.handle(MALLORY, "/help", "m1") is not None  # another user is answered
    with store() as uow:
        assert uow.outbox.pending_for(Network.TELEGRAM, "2002") == 6  # 5 answers, 1 warning


@pytest.mark.parametrize("vendor", [
    "'; DROP TABLE member; --", "Robert'); DELETE FROM product;--", "<script>x</script>",
    "${jndi:ldap://127.0.0.1/x}", "%s%s%s%n", "Drӓger",  # the last with a Cyrillic "ӓ"
])
def test_injection_like_and_confusable_arguments_are_stored_literally(
    chat, store: SqlStore, vendor: str
) -> None:
    bob = Sender(Network.TELEGRAM, "2002", "2002")
    assert f"Added {vendor} | Monitor X1" in chat(bob, f"/subscribe {vendor} | Monitor X1")
    assert vendor in chat(bob, "/products")
    with store() as uow:
        assert {m.name for m in uow.members.all()} == {"Klinikum Nord", "Vivantes"}
        assert len(uow.products.all("Vivantes")) == 2


@pytest.mark.parametrize("text", ["/ѕubscribe A | B", "/ subscribe A | B", "/subscribe\u202eA | B"])
def test_lookalike_commands_are_not_taken_for_real_ones(chat, store: SqlStore, text: str) -> None:
    bob = Sender(Network.TELEGRAM, "2002", "2002")
    answer = chat(bob, text)
    assert "Added" not in answer
    with store() as uow:
        assert len(uow.products.all("Vivantes")) == 1


def test_a_member_registers_the_version_it_runs_and_can_change_it(chat, store: SqlStore) -> None:
    code = create_invite(store, "Klinikum Nord", NOW)
    chat(ALICE, f"/start {code}")
    added = chat(ALICE, "/subscribe Philips | IntelliVue MX40 | B.06.18")
    assert "Added Philips | IntelliVue MX40 (version B.06.18)" in added
    assert "• Philips | IntelliVue MX40 | B.06.18" in chat(ALICE, "/products")
    assert "already in" in chat(ALICE, "/subscribe philips | intellivue mx40 | B.06.18")
    assert "runs version vers:generic/>=B.06.00|<B.07" in chat(
        ALICE, "/subscribe Philips | IntelliVue MX40 | vers:generic/>=B.06.00|<B.07")
    assert "Give the version after the second |" in chat(ALICE, "/subscribe Philips | X | ")
    with store() as uow:
        [product] = uow.products.all("Klinikum Nord")
    assert product.spec.versions == "vers:generic/>=B.06.00|<B.07"
