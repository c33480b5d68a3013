"""CSAF from a provider on loopback to members' alerts: discovery through CISA's real
provider-metadata.json and ROLIE feed (URLs pointed at 127.0.0.1), the real documents, hash and
schema checks, version-aware decisions, RSS+CSAF merge and revision re-alerts, on a real store."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.domain.members import Network
from bot.domain.products import ProductSpec
from bot.feeds.config import FeedConfig
from bot.feeds.csaf_source import CsafSource
from bot.feeds.fetch import FeedFetcher
from bot.feeds.parse import parse_feed
from bot.services import registrations
from bot.services.polling import FeedPoller
from bot.store.tables import OutboxRow
from bot.store.unit_of_work import SqlStore
from tests.support.feedserver import FeedServer, rss
from tests.support.shared_data import require_shared_data

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
FOLLOWED_SINCE = datetime(2017, 1, 2, 9, 0, tzinfo=UTC)
REAL = "https://raw.githubusercontent.com/cisagov/CSAF/develop/csaf_files/OT/white"
CHOSEN = ("icsma-17-255-01.json", "icsma-21-294-01.json", "icsma-20-177-01.json")


class Provider:
    """CISA's provider metadata and ROLIE feed, limited to a few real documents, on loopback."""

    def __init__(self, server: FeedServer, folder: Path) -> None:
        self.server, self.folder = server, folder
        self.documents: dict[str, bytes] = {}

    def publish(self, names: tuple[str, ...] = CHOSEN, *, hashes: bool = True) -> None:
        shared = self.folder.parent
        metadata = json.loads((shared / "csaf-provider-metadata" /
                               "CISA_provider_metadata.json").read_text())
        metadata["distributions"] = [{"rolie": {"feeds": [
            {"summary": "OT", "tlp_label": "WHITE", "url": self.server.url("/rolie.json")},
            {"summary": "TLP:AMBER", "tlp_label": "AMBER", "url": self.server.url("/amber.json")},
        ]}}]
        self.server.serve("/provider-metadata.json", json.dumps(metadata).encode(),
                          content_type="application/json")
        rolie = json.loads((shared / "cisa-csaf-ot-feed-tlp-white.rolie.json").read_text())
        entries = [e for e in rolie["feed"]["entry"]
                   if e["content"]["src"].rsplit("/", 1)[-1] in names]
        for entry in entries:
            name = entry["content"]["src"].rsplit("/", 1)[-1]
            entry["content"]["src"] = self.server.url(f"/docs/{name}")
            entry["link"] = [{**link, "href": link["href"].replace(
                f"{REAL}/{entry['published'][:4]}", self.server.url("/docs"))}
                for link in entry["link"] if hashes or link["rel"] != "hash"]
            body = self.documents.get(name) or (self.folder / name).read_bytes()
            self.serve_document(name, body)
        rolie["feed"]["entry"] = entries
        self.server.serve("/rolie.json", json.dumps(rolie).encode(),
                          content_type="application/json")

    def serve_document(self, name: str, body: bytes, digest: bytes | None = None) -> None:
        self.documents[name] = body
        self.server.serve(f"/docs/{name}", body, content_type="application/json")
        self.server.serve(f"/docs/{name}.sha512",
                          (digest or hashlib.sha512(body).hexdigest().encode()) + b"  " +
                          name.encode() + b"\n", content_type="text/plain")


@pytest.fixture
def csaf_folder() -> Path:
    return require_shared_data("csaf")


@pytest.fixture
async def setup(store: SqlStore, feed_server: FeedServer, csaf_folder: Path):
    registrations.add_member(store, "Klinikum Nord", [(Network.TELEGRAM, "1001")], NOW)
    registrations.add_member(store, "Vivantes", [(Network.TELEGRAM, "2002")], NOW)
    registrations.add_member(store, "Labor Süd", [(Network.TELEGRAM, "3003")], NOW)
    # The example: B.06.18 is the first version that ICSMA-17-255-01 does not list.
    registrations.add_product(store, "Klinikum Nord",
                          ProductSpec("Philips", "IntelliVue MX40", versions="B.06.18"), NOW)
    registrations.add_product(store, "Vivantes",
                          ProductSpec("Philips", "IntelliVue MX40", versions="B.06.12"), NOW)
    registrations.add_product(store, "Labor Süd", ProductSpec("Philips", "IntelliVue MX40"), NOW)
    provider = Provider(feed_server, csaf_folder)
    fetcher = FeedFetcher()
    clock = [NOW]
    poller = FeedPoller(store, fetcher, parse_feed, console=False, clock=lambda: clock[0],
                        csaf=CsafSource(fetcher))
    feed = FeedConfig("cisa-csaf", feed_server.url("/provider-metadata.json"),
                      timedelta(hours=1), type="csaf")
    # The hub has followed the provider since before the real documents below were released
    # (2017-2021), so they are publications, not archive.
    provider.publish(())
    clock[0] = FOLLOWED_SINCE
    assert (await poller.poll(feed, force=True)).status == "fetched"
    # ... and polled it ever since (the last time an hour ago): no pause to catch up on.
    clock[0] = NOW - timedelta(hours=1)
    assert (await poller.poll(feed, force=True)).status == "fetched"
    clock[0] = NOW
    provider.documents.clear()
    yield provider, poller, feed, clock
    await fetcher.aclose()


async def follow_since_2017(poller: FeedPoller, feed: FeedConfig, clock: list[datetime],
                            server: FeedServer, path: str) -> None:
    """The hub has polled `feed` since 2017 (the last time an hour ago): what it lists now is
    news, not a backlog."""
    server.serve(path, rss([]))
    for moment in (FOLLOWED_SINCE, NOW - timedelta(hours=1)):
        clock[0] = moment
        assert (await poller.poll(feed, force=True)).status == "fetched"
    clock[0] = NOW


def alerts(store: SqlStore) -> list[tuple[str, dict[str, Any]]]:
    with Session(store.engine) as s:
        rows = s.exec(select(OutboxRow).where(OutboxRow.kind == "alert")
                      .order_by(col(OutboxRow.id))).all()
    return [(r.address, json.loads(r.payload)) for r in rows]


async def test_discovery_decides_each_members_version(setup, store: SqlStore,
                                                      feed_server: FeedServer) -> None:
    provider, poller, feed, _ = setup
    provider.publish()
    outcome = await poller.poll(feed, force=True)
    assert outcome.status == "fetched" and outcome.new == 3, outcome
    sent = {address: payload for address, payload in alerts(store)
            if "ICSMA-17-255-01" in payload["advisory"]["title"]}  # "IntelliView" there
    assert set(sent) == {"2002", "3003"}  # B.06.18 is not affected: Klinikum is not alarmed
    [vivantes] = sent["2002"]["products"]
    assert vivantes["decision"] == "affected"
    assert "version B.06.12 is listed as known affected (< B.06.18 read as maven)" \
        in vivantes["note"]
    [labor] = sent["3003"]["products"]
    assert labor["decision"] == "unknown_version" and "affected: < B.06.18" in labor["note"]
    assert not feed_server.requests_for("/amber.json")  # TLP:AMBER is not this feed's to share
    with store() as uow:
        [match] = uow.matches.latest_for_member("Klinikum Nord", 5)
    assert "ICSMA-17-255-01" in match.advisory.title and match.note is not None
    assert match.note.startswith("Not affected: version B.06.18 is not among the versions listed")

    # The second poll fetches no document again.
    before = len(feed_server.requests_for("/docs/icsma-17-255-01.json"))
    again = await poller.poll(feed, force=True)
    assert again.status == "fetched" and again.new == 0
    assert len(feed_server.requests_for("/docs/icsma-17-255-01.json")) == before


async def test_a_hash_mismatch_or_an_invalid_document_is_skipped_and_said(
        setup, store: SqlStore, caplog: pytest.LogCaptureFixture, csaf_folder: Path) -> None:
    provider, poller, feed, _ = setup
    good = (csaf_folder / "icsma-17-255-01.json").read_bytes()
    provider.documents["icsma-17-255-01.json"] = good
    broken = json.loads((csaf_folder / "icsma-21-294-01.json").read_text())
    broken["document"]["tracking"]["version"] = 5  # the schema wants a string
    provider.documents["icsma-21-294-01.json"] = json.dumps(broken).encode()
    provider.publish()
    provider.serve_document("icsma-17-255-01.json", good, digest=b"0" * 128)
    outcome = await poller.poll(feed, force=True)
    assert outcome.new == 1  # only icsma-20-177-01
    log = caplog.text
    assert "icsma-17-255-01.json: sha512 does not match the published hash" in log
    assert "icsma-21-294-01.json: invalid CSAF: $.document.tracking.version" in log
    assert "127.0.0.1/…/" in log and "/docs/icsma" not in log  # host and file name only
    # Fixed at the provider: the mismatching document is fetched again and ingested.
    provider.serve_document("icsma-17-255-01.json", good)
    assert (await poller.poll(feed, force=True)).new == 1


async def test_not_a_provider_is_a_clear_feed_failure(setup, feed_server: FeedServer) -> None:
    _, poller, feed, _ = setup
    feed_server.serve("/provider-metadata.json", b'{"hello": "world"}',
                      content_type="application/json")
    outcome = await poller.poll(feed, force=True)
    assert outcome.status == "failed"
    assert "neither a provider-metadata.json nor a ROLIE feed" in (outcome.error or "")


async def test_rss_and_csaf_of_one_advisory_alert_once_and_a_revision_only_what_changed(
        setup, store: SqlStore, feed_server: FeedServer, csaf_folder: Path) -> None:
    provider, poller, feed, clock = setup
    rss_feed = FeedConfig("cisa-rss", feed_server.url("/cisa.xml"),
                          timedelta(hours=1))
    await follow_since_2017(poller, rss_feed, clock, feed_server, "/cisa.xml")
    # CISA's RSS entry of the same advisory came first: name-only alerts went out.
    feed_server.serve("/cisa.xml", rss([
        "<item><title>ICSMA-17-255-01: Philips IntelliVue MX40 Patient Worn Monitor</title>"
        "<link>https://www.cisa.gov/news-events/ics-medical-advisories/icsma-17-255-01</link>"
        "<description>Philips IntelliVue MX40 versions before B.06.18.</description>"
        "<pubDate>Tue, 12 Sep 2017 12:00:00 +0000</pubDate></item>"]))
    await poller.poll(rss_feed, force=True)
    assert {a for a, _ in alerts(store)} == {"1001", "2002", "3003"}
    provider.publish(("icsma-17-255-01.json",))
    outcome = await poller.poll(feed, force=True)
    assert outcome.merged == 1 and outcome.new == 0
    assert len(alerts(store)) == 3  # one advisory, one alert per member

    # Revision 2 lists B.06.18 as affected too, with a fix: Klinikum is told its version is now
    # affected, the others that a fix is now available; each once, with what changed.
    doc = json.loads((csaf_folder / "icsma-17-255-01.json").read_text())
    doc["document"]["tracking"]["version"] = "2"
    branch = doc["product_tree"]["branches"][0]["branches"][0]["branches"][0]
    branch["name"] = "<= B.06.18"
    doc["vulnerabilities"][0].setdefault("remediations", []).append(
        {"category": "vendor_fix", "details": "Update to B.06.19",
         "product_ids": ["CSAFPID-0001"], "url": "https://www.philips.com/psirt"})
    provider.documents["icsma-17-255-01.json"] = json.dumps(doc).encode()
    clock[0] = NOW.replace(hour=10)
    provider.publish(("icsma-17-255-01.json",))
    rolie = json.loads(feed_server.routes["/rolie.json"].body)  # a newer `updated` stamp
    rolie["feed"]["entry"][0]["updated"] = "2026-11-25T10:00:00Z"
    feed_server.serve("/rolie.json", json.dumps(rolie).encode(), content_type="application/json")
    await poller.poll(feed, force=True)
    realerts = {address: payload for address, payload in alerts(store)[3:]}
    assert set(realerts) == {"1001", "2002", "3003"}
    assert realerts["1001"]["change"].startswith("your version is now affected")
    assert realerts["2002"]["change"] == "a fix is now available (see the link)"
    assert "fix: https://www.philips.com/psirt" in realerts["1001"]["products"][0]["note"]
    await poller.poll(feed, force=True)
    assert len(alerts(store)) == 6  # the same revision again: nothing more


async def test_a_provider_directory_with_changes_csv(setup, store: SqlStore,
                                                     feed_server: FeedServer,
                                                     csaf_folder: Path) -> None:
    provider, poller, feed, _ = setup
    metadata = {"canonical_url": feed_server.url("/provider-metadata.json"),
                "distributions": [{"directory_url": feed_server.url("/csaf/white/")}],
                "list_on_CSAF_aggregators": False, "metadata_version": "2.0",
                "mirror_on_CSAF_aggregators": False, "role": "csaf_provider",
                "publisher": {"category": "coordinator", "name": "CISA",
                              "namespace": "https://www.cisa.gov/"}}
    feed_server.serve("/provider-metadata.json", json.dumps(metadata).encode(),
                      content_type="application/json")
    body = (csaf_folder / "icsma-20-177-01.json").read_bytes()
    feed_server.serve("/csaf/white/2020/icsma-20-177-01.json", body,
                      content_type="application/json")
    feed_server.serve("/csaf/white/2020/icsma-20-177-01.json.sha256",
                      hashlib.sha256(body).hexdigest().encode(), content_type="text/plain")
    feed_server.serve("/csaf/white/changes.csv",
                      b'"2020/icsma-20-177-01.json","2020-06-25T10:00:00Z"\n'
                      b'"../../secret.json","2020-06-25T10:00:00Z"\n', content_type="text/csv")
    outcome = await poller.poll(feed, force=True)
    assert outcome.status == "fetched" and outcome.new == 1
    assert not feed_server.requests_for("/secret.json")  # never outside the directory
    assert feed_server.requests_for("/csaf/white/2020/icsma-20-177-01.json.sha256")


async def test_an_unchanged_rolie_feed_is_not_downloaded_again(setup,
                                                              feed_server: FeedServer) -> None:
    provider, poller, feed, _ = setup
    provider.publish()
    rolie = feed_server.routes["/rolie.json"]
    rolie.etag = '"rolie-1"'
    await poller.poll(feed, force=True)
    await poller.poll(feed, force=True)
    last = feed_server.requests_for("/rolie.json")[-1]
    assert last.headers.get("if-none-match") == '"rolie-1"'  # answered 304, nothing re-read


async def test_a_providers_archive_is_recorded_on_its_first_poll_not_alerted(
        store: SqlStore, feed_server: FeedServer, csaf_folder: Path) -> None:
    registrations.add_member(store, "Vivantes", [(Network.TELEGRAM, "2002")], NOW)
    registrations.add_product(store, "Vivantes",
                          ProductSpec("Philips", "IntelliVue MX40", versions="B.06.12"), NOW)
    provider = Provider(feed_server, csaf_folder)
    provider.publish(("icsma-17-255-01.json",))  # released in 2017
    async with FeedFetcher() as fetcher:
        poller = FeedPoller(store, fetcher, parse_feed, console=False, clock=lambda: NOW,
                            csaf=CsafSource(fetcher))
        feed = FeedConfig("cisa-csaf", feed_server.url("/provider-metadata.json"),
                          timedelta(hours=1), type="csaf")
        assert (await poller.poll(feed, force=True)).new == 1
    assert alerts(store) == []
    with store() as uow:
        [match] = uow.matches.latest_for_member("Vivantes", 5)
    assert "ICSMA-17-255-01" in match.advisory.title
    assert match.note and match.note.startswith("Your version is")


async def test_an_archive_read_over_several_polls_never_alerts_but_later_news_does(
        store: SqlStore, feed_server: FeedServer, csaf_folder: Path) -> None:
    """A provider lists more documents than one poll reads (newest first): the polls that work
    through its archive record old documents without alerting, also after the first one; a
    document released after the hub began to follow the provider alerts."""
    registrations.add_member(store, "Labor Süd", [(Network.TELEGRAM, "3003")], NOW)
    registrations.add_product(store, "Labor Süd", ProductSpec("Philips", "IntelliVue MX40"), NOW)
    registrations.add_product(store, "Labor Süd", ProductSpec("Philips", "Ultrasound"), NOW)
    registrations.add_product(store, "Labor Süd", ProductSpec("B. Braun", "Infusomat"), NOW)
    provider = Provider(feed_server, csaf_folder)
    provider.publish(CHOSEN)  # released 2017, 2020 and 2021
    clock = [NOW]
    async with FeedFetcher() as fetcher:
        poller = FeedPoller(store, fetcher, parse_feed, console=False, clock=lambda: clock[0],
                            csaf=CsafSource(fetcher, max_documents=1))
        feed = FeedConfig("cisa-csaf", feed_server.url("/provider-metadata.json"),
                          timedelta(hours=1), type="csaf")
        read = 0
        for _ in range(3):  # one document a poll, over three hours
            read += (await poller.poll(feed, force=True)).new
            clock[0] += timedelta(hours=1)
        assert read == 3
        assert alerts(store) == []  # the whole archive recorded, nothing alerted
        # Months later the provider publishes a new advisory: news, not archive.
        released = NOW + timedelta(days=90)
        _publish_new(provider, feed_server, "icsma-21-294-01.json", "ICSMA-27-001-01",
                     released)
        clock[0] = released + timedelta(hours=1)
        assert (await poller.poll(feed, force=True)).new == 1
    with store() as uow:
        assert len(uow.matches.latest_for_member("Labor Süd", 10)) == 4  # /latest has all
    sent = [payload["advisory"]["id"] for _address, payload in alerts(store)]
    assert sent == ["cisa-csaf:ICSMA-27-001-01"]


def _publish_new(provider: Provider, server: FeedServer, model: str, tracking_id: str,
                 released: datetime) -> None:
    """A new document, made from `model`, released at `released`, listed in the ROLIE feed."""
    document = json.loads(provider.documents[model])
    document["document"]["title"] = f"{tracking_id}: {document['document']['title']}"
    stamp = released.isoformat()
    document["document"]["tracking"].update(
        id=tracking_id, version="1", initial_release_date=stamp, current_release_date=stamp,
        revision_history=[{"date": stamp, "number": "1", "summary": "Initial publication"}])
    for n, vulnerability in enumerate(document.get("vulnerabilities", [])):
        vulnerability["cve"] = f"CVE-{released.year}-{90000 + n}"  # new flaws, not a copy
    name = f"{tracking_id.lower()}.json"
    provider.serve_document(name, json.dumps(document).encode())
    rolie = json.loads(server.routes["/rolie.json"].body)
    [entry] = [e for e in rolie["feed"]["entry"] if e["content"]["src"].endswith(model)]
    entry = json.loads(json.dumps(entry).replace(model, name))
    entry.update(id=tracking_id, published=stamp, updated=stamp)
    rolie["feed"]["entry"].append(entry)
    server.serve("/rolie.json", json.dumps(rolie).encode(), content_type="application/json")
