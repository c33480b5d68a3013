"""One advisory per tracking id (or CVE set), whatever feed or link brings it: a revision under
another link is that advisory again, and alerts only what newly concerns a member."""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.domain.members import Network
from bot.domain.products import ProductSpec
from bot.feeds.config import FeedConfig
from bot.feeds.fetch import FeedFetcher
from bot.feeds.parse import parse_feed
from bot.services import registrations
from bot.services.polling import FeedPoller
from bot.store.tables import OutboxRow
from bot.store.unit_of_work import SqlStore
from tests.support.feedserver import FeedServer, rss

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def entry(link: str, title: str, text: str, published: datetime = NOW) -> str:
    return (f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
            f"<description>{text}</description>"
            f"<pubDate>{email.utils.format_datetime(published)}</pubDate></item>")


OLD_REVISION = entry("https://cert-portal.siemens.com/productcert/pdf/ssa-123456.pdf",
                     "SSA-123456: Vulnerabilities in SCALANCE X-200",
                     "Siemens SCALANCE X-200 switches before V5.5 are affected (CVE-2026-41001).")
NEW_REVISION = entry("https://cert-portal.siemens.com/productcert/html/ssa-123456.html",
                     "SSA-123456: Vulnerabilities in SCALANCE X-200 (Update 1)",
                     "Siemens SCALANCE X-200 switches before V5.5 are affected (CVE-2026-41001).",
                     NOW + timedelta(hours=2))


def alerts(store: SqlStore) -> list[dict[str, Any]]:
    with Session(store.engine) as s:
        rows = s.exec(select(OutboxRow).where(OutboxRow.kind == "alert")
                      .order_by(OutboxRow.id)).all()
    return [{"address": r.address, **json.loads(r.payload)} for r in rows]


@pytest.fixture
async def hub(store: SqlStore, feed_server: FeedServer):
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, "1001")], NOW)
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Siemens", "SCALANCE X-200"), NOW)
    clock = [NOW]
    async with FeedFetcher() as fetcher:
        poller = FeedPoller(store, fetcher, parse_feed, console=False, clock=lambda: clock[0])
        feed = FeedConfig("siemens", feed_server.url("/siemens.xml"), timedelta(minutes=30))
        yield poller, feed, clock


async def test_a_revision_under_another_link_of_the_same_feed_is_the_same_advisory(
        hub, store: SqlStore, feed_server: FeedServer) -> None:
    poller, feed, clock = hub
    feed_server.serve("/siemens.xml", rss([OLD_REVISION]))
    assert (await poller.poll(feed, force=True)).new == 1
    clock[0] = NOW + timedelta(hours=3)
    feed_server.serve("/siemens.xml", rss([NEW_REVISION, OLD_REVISION]))
    outcome = await poller.poll(feed, force=True)
    assert (outcome.new, outcome.merged, outcome.known) == (0, 1, 1)
    [alert] = alerts(store)
    assert alert["address"] == "1001"
    with store() as uow:
        assert uow.advisories.count() == 1
        [match] = uow.matches.latest_for_member("Klinikum Nord", 5)
    assert match.advisory.tracking_id == "SSA-123456"


async def test_a_revision_naming_another_product_of_the_member_tells_them_once_what_changed(
        hub, store: SqlStore, feed_server: FeedServer) -> None:
    poller, feed, clock = hub
    registrations.add_product(store, "Klinikum Nord", ProductSpec("Siemens", "RUGGEDCOM ROX"), NOW)
    registrations.add_member(store, "Labor Süd", [(Network.TELEGRAM, "3003")], NOW)
    registrations.add_product(store, "Labor Süd", ProductSpec("Siemens", "RUGGEDCOM ROX"), NOW)
    feed_server.serve("/siemens.xml", rss([OLD_REVISION]))
    await poller.poll(feed, force=True)
    widened = NEW_REVISION.replace("are affected", "and RUGGEDCOM ROX devices are affected")
    clock[0] = NOW + timedelta(hours=3)
    feed_server.serve("/siemens.xml", rss([widened, OLD_REVISION]))
    await poller.poll(feed, force=True)
    first, *later = alerts(store)
    assert first["address"] == "1001" and first["change"] is None
    by_address = {a["address"]: a for a in later}
    assert set(by_address) == {"1001", "3003"}
    # Klinikum was alerted before: told what the revision names now, and only that.
    assert by_address["1001"]["change"] == "it now also names Siemens | RUGGEDCOM ROX"
    assert [p["product"] for p in by_address["1001"]["products"]] == ["RUGGEDCOM ROX"]
    # Labor Süd hears of the advisory for the first time: a plain alert.
    assert by_address["3003"]["change"] is None
    # The same revision polled again alerts nothing more.
    clock[0] += timedelta(minutes=30)
    feed_server.serve("/siemens.xml", rss([widened.replace("html/ssa", "html/en/ssa")]))
    await poller.poll(feed, force=True)
    assert len(alerts(store)) == 3


async def test_two_advisories_of_one_vendor_naming_the_same_cves_stay_two(
        hub, store: SqlStore, feed_server: FeedServer) -> None:
    poller, feed, _clock = hub
    other = OLD_REVISION.replace("ssa-123456", "ssa-654321").replace("SSA-123456", "SSA-654321")
    feed_server.serve("/siemens.xml", rss([OLD_REVISION, other]))
    outcome = await poller.poll(feed, force=True)
    assert (outcome.new, outcome.merged) == (2, 0)
    assert sorted(a["advisory"]["title"][:10] for a in alerts(store)) == [
        "SSA-123456", "SSA-654321"]
