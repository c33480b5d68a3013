"""What writing every message in the reader's language costs.

    python bench/languages.py [--contacts 4000] [--alerts 5000] [--repeats 5]

1. Loading the catalogs at start: `bot.app.i18n.install` reads every `.po` (no compiled `.mo`).
2. Alerts rendered at send time (`chat_message_lines`, what Telegram and Matrix send) in English
   and German, with their reasons as phrases; baseline: the same alerts rendered with no
   catalogs installed (what the bot did before it spoke German).
3. Reasons: `Phrase` objects (re-writable in each language) against the plain f-strings they
   replace, per reason made.
4. One announcement to every member contact (half of them chose German) and 3 hub channels,
   queued with `queue_to` (its text written once per language); naive baseline: the text
   written once per recipient under that recipient's language. Both read back from the store.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import i18n
from bot.domain import language
from bot.domain.advisory import Advisory
from bot.domain.alerts import Alert, HubChannel, MatchedProduct
from bot.domain.language import N_, Phrase, speaking
from bot.domain.members import Network
from bot.domain.outbox_payload import AlertMessage
from bot.domain.queued_messages import NewMessage
from bot.domain.rendering import chat_message_lines
from bot.domain.severity import Severity
from bot.services import registrations
from bot.services.announcements import _announcement
from bot.services.hub_messages import (
    HubPolicy,
    hub_channels,
    member_contacts,
    queue_to,
    recipient_languages,
)
from bot.store.database import create_db_engine, upgrade
from bot.store.unit_of_work import SqlStore

NOW = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)
TEXT = ("Tabletop exercise on Friday 10:00: every member's security contact please joins the "
        "call; the scenario is a ransomware outbreak in radiology.")


def best(run: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def payloads(count: int) -> list[AlertMessage]:
    found = []
    for n in range(count):
        advisory = Advisory(
            f"a{n}", f"Dräger Infinity Delta {n}: remote code execution", "A flaw. " * 40,
            f"https://adv.example.org/{n}", "cisa", published=NOW, cves=("CVE-2026-1",),
            cvss=9.8, severity=Severity.CRITICAL)
        why = Phrase(N_("product {product}, vendor {vendor}"), product='"Infinity Delta"',
                     vendor='"Dräger"')
        note = Phrase(N_("version {member} is listed as {status} ({rule})"), member="1.2",
                      status=Phrase(N_("known affected")), rule="< 1.3 read as semver")
        alert = Alert(advisory, "Klinikum Nord", (
            MatchedProduct("Dräger", "Infinity Delta", why, "affected", note),), epss=0.123)
        found.append(AlertMessage(alert, n, zone="Europe/Berlin",
                                  language="de" if n % 2 else "en"))
    return found


def render_all(items: list[AlertMessage], code: str | None) -> None:
    for payload in items:
        with speaking(code or payload.language):
            chat_message_lines(payload)


def fan_out(contacts: int, repeats: int) -> tuple[float, float, float, int, dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        store = SqlStore(engine)
        for n in range(contacts // 2):
            registrations.add_member(store, f"Member {n}", [
                (Network.TELEGRAM, str(10_000 + n)), (Network.MATRIX, f"@m{n}:hub.test")], NOW)
        with store() as uow:
            for n in range(contacts // 2):
                if n % 2:
                    for network, address in ((Network.TELEGRAM, str(10_000 + n)),
                                             (Network.MATRIX, f"@m{n}:hub.test")):
                        uow.members.update_contact(network, address, language="de")
            for n, address in enumerate(("-100500", "-100501", "!hub:hub.test")):
                network = Network.MATRIX if address.startswith("!") else Network.TELEGRAM
                uow.hub_channels.add(HubChannel(network, address,
                                                language="de" if n == 0 else None), NOW)
            uow.commit()
        policy = HubPolicy()
        key = iter(range(1_000_000))

        def by_language() -> None:
            with store() as uow:
                recipients = hub_channels(uow, policy) + member_contacts(uow)
                queue_to(uow, recipients, key=f"k{next(key)}", admins=(),
                         payload=lambda: _announcement(TEXT), priority=5, now=NOW)
                uow.commit()

        def per_recipient() -> None:
            with store() as uow:
                recipients = hub_channels(uow, policy) + member_contacts(uow)
                languages = recipient_languages(uow, recipients)
                k = f"n{next(key)}"
                messages = []
                for network, address in recipients:
                    with speaking(languages[(network, address)]):
                        payload = replace(_announcement(TEXT),
                                          language=languages[(network, address)])
                    messages.append(NewMessage(network, address, "announcement",
                                               f"announcement|{k}|{network.value}|{address}",
                                               payload, 5))
                uow.outbox.add_many(messages, NOW)
                uow.commit()

        def one_language() -> None:  # before: every address the same English payload
            with store() as uow:
                recipients = hub_channels(uow, policy) + member_contacts(uow)
                k = f"e{next(key)}"
                payload = _announcement(TEXT)
                uow.outbox.add_many([
                    NewMessage(network, address, "announcement",
                               f"announcement|{k}|{network.value}|{address}", payload, 5)
                    for network, address in recipients], NOW)
                uow.commit()

        fast = best(by_language, repeats)
        naive = best(per_recipient, repeats)
        before = best(one_language, repeats)
        with store() as uow:
            recipients = hub_channels(uow, policy) + member_contacts(uow)
            counts: dict[str, int] = {}
            for code in recipient_languages(uow, recipients).values():
                counts[code] = counts.get(code, 0) + 1
        engine.dispose()
        return fast, naive, before, len(recipients), counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=4000)
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    i18n._load.cache_clear()
    start = time.perf_counter()
    found = i18n.install("en")
    cold = time.perf_counter() - start
    print(f"1. catalogs loaded ({', '.join(found)}): {cold * 1000:.1f} ms at start")

    items = payloads(args.alerts)
    english = best(lambda: render_all(items, "en"), args.repeats)
    german = best(lambda: render_all(items, "de"), args.repeats)
    mixed = best(lambda: render_all(items, None), args.repeats)
    language.install({}, "en")
    untranslated = best(lambda: render_all(items, "en"), args.repeats)
    i18n.install("en")
    per = 1e6 / args.alerts
    print(f"2. {args.alerts} alerts rendered for chat: English {english * per:.0f} µs each, "
          f"German {german * per:.0f} µs, half and half {mixed * per:.0f} µs; "
          f"baseline without catalogs {untranslated * per:.0f} µs "
          f"(German costs {german / untranslated:.2f}× the untranslated rendering)")
    with speaking("de"):
        [line] = [x for x in chat_message_lines(items[1])[0] if "Treffer" in x][:1]
    print(f"   a German reason: {line}")

    count = 100_000
    phrase = best(lambda: [Phrase(N_("product {product}, vendor {vendor}"), product='"X"',
                                  vendor='"Y"') for _ in range(count)], args.repeats)
    plain = best(lambda: [f"product {'X'!r}, vendor {'Y'!r}" for _ in range(count)],
                 args.repeats)
    print(f"3. reasons: a phrase {phrase / count * 1e9:.0f} ns, the plain f-string it replaces "
          f"{plain / count * 1e9:.0f} ns ({phrase / plain:.1f}×)")

    fast, naive, before, recipients, counts = fan_out(args.contacts, args.repeats)
    shares = ", ".join(f"{n} {code}" for code, n in sorted(counts.items()))
    print(f"4. one announcement to {recipients} addresses ({shares}), queued and committed: "
          f"written once per language {fast * 1000:.0f} ms, once per recipient (naive) "
          f"{naive * 1000:.0f} ms ({naive / fast:.2f}×); before languages, one English text "
          f"for all {before * 1000:.0f} ms")


if __name__ == "__main__":
    main()
