"""The TLP gate: who may read what, and that nothing reaches the outbox around it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.domain.tlp import Tlp, highest
from bot.domain.tlp_gate import Reader, clearance_of, hub_channel_clearance

BOT = Path(__file__).resolve().parents[2] / "bot"
# The gate itself, and the store that implements the outbox it writes to.
MAY_QUEUE = {BOT / "services" / "outgoing.py"}
QUEUEING = {("outbox", "add"), ("outbox", "add_many"), ("held_alerts", "hold")}


@pytest.mark.parametrize("configured", list(Tlp))
def test_a_hub_channel_reads_up_to_the_tlp_configured_for_it(configured: Tlp) -> None:
    channel = hub_channel_clearance(configured)
    for tlp in Tlp:
        assert channel.allows(tlp) is (tlp <= configured)
        assert channel.allows(tlp, about="Klinikum Nord") is (tlp <= configured)


def test_a_members_chat_reads_amber_strict_only_about_its_own_matches() -> None:
    member = clearance_of(member="Klinikum Nord")
    assert member.reader is Reader.MEMBER
    assert member.allows(Tlp.AMBER_STRICT, about="Klinikum Nord")
    assert not member.allows(Tlp.RED, about="Klinikum Nord")
    # Another organisation's matches, or what concerns no one's: the hub's community, GREEN.
    assert member.allows(Tlp.GREEN, about="Vivantes") and member.allows(Tlp.GREEN)
    assert not member.allows(Tlp.AMBER, about="Vivantes")
    assert not member.allows(Tlp.AMBER)


@pytest.mark.parametrize("who", [
    {"coordinator": True, "member": "Hub Office"}, {"admin": True}, {"console": True},
    {"admin": True, "member": "Klinikum Nord"}])
def test_coordinators_admins_and_the_console_read_red(who: dict[str, object]) -> None:
    staff = clearance_of(**who)  # type: ignore[arg-type]
    assert staff.allows(Tlp.RED) and staff.allows(Tlp.RED, about="Vivantes")


def test_a_chat_linked_to_no_member_reads_only_clear() -> None:
    stranger = clearance_of()
    assert stranger.reader is Reader.UNLINKED
    assert [t for t in Tlp if stranger.allows(t)] == [Tlp.CLEAR]


def test_a_hub_channel_is_bounded_by_its_tlp_whatever_else_its_address_is() -> None:
    # A group an admin or coordinator also uses as their chat is still read by everyone in it.
    channel = clearance_of(hub_channel=Tlp.GREEN, admin=True, coordinator=True, member="X")
    assert channel.reader is Reader.HUB_CHANNEL
    assert not channel.allows(Tlp.AMBER, about="X")


def test_the_highest_label_wins_and_none_is_clear() -> None:
    assert highest([Tlp.AMBER, None, Tlp.GREEN]) is Tlp.AMBER
    assert highest([Tlp.CLEAR, Tlp.RED]) is Tlp.RED
    assert highest([]) is Tlp.CLEAR and highest([None]) is Tlp.CLEAR


def _calls_around_the_gate(source: str, name: str) -> list[str]:
    """`name:line owner.method` for each call in `source` that writes to the outbox or holds
    an alert (`uow.outbox.add(...)`, `self._uow.held_alerts.hold(...)`, `outbox.add_many`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        owner_name = (owner.attr if isinstance(owner, ast.Attribute)
                      else owner.id if isinstance(owner, ast.Name) else "")
        if (owner_name, node.func.attr) in QUEUEING:
            found.append(f"{name}:{node.lineno} {owner_name}.{node.func.attr}")
    return found


def test_no_code_queues_a_message_around_the_tlp_gate() -> None:
    """Every outbox row and every alert held for a digest is written by bot.services.outgoing,
    which gives the address its clearance first."""
    around = [call for path in sorted(BOT.rglob("*.py"))
              if path not in MAY_QUEUE and "store" not in path.relative_to(BOT).parts
              for call in _calls_around_the_gate(path.read_text(encoding="utf-8"),
                                                 str(path.relative_to(BOT.parent)))]
    assert around == []


def test_the_check_for_queueing_around_the_gate_finds_such_code() -> None:
    sneaky = ("def f(uow, outbox, m, now):\n    uow.outbox.add(m, now)\n"
              "    outbox.add_many([m], now)\n"
              "    self._uow().held_alerts.hold('a', 1, 2, 3, {}, now)\n")
    assert [call.split()[-1] for call in _calls_around_the_gate(sneaky, "sneaky.py")] == [
        "outbox.add", "outbox.add_many", "held_alerts.hold"]
    gate = BOT / "services" / "outgoing.py"
    assert _calls_around_the_gate(gate.read_text(encoding="utf-8"), "outgoing.py")
