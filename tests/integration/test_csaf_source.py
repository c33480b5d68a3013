"""CsafSource against a CSAF provider on loopback: CISA's real provider-metadata.json and ROLIE
feed (URLs pointed at 127.0.0.1) and the real documents of ../shared/data/csaf/, then the ways a
provider goes wrong. The source alone: no store, no poller (see test_csaf_pipeline.py)."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.tlp import Tlp
from bot.feeds.config import FeedConfig
from bot.feeds.csaf_source import CsafPoll, CsafSource, schema_error
from bot.feeds.fetch import FeedFetcher, FetchLimits
from tests.support.feedserver import FeedServer
from tests.support.shared_data import require_shared_data

JSON = "application/json"
REAL = "https://raw.githubusercontent.com/cisagov/CSAF/develop/csaf_files/OT/white"
TOKEN = "s3cr3t-token"  # in every URL below: it must never reach a log line


class Provider:
    """CISA as a CSAF provider on loopback: its metadata, its TLP:WHITE ROLIE feed limited to
    the documents of ../shared/data/csaf/ (each with its .sha512), and a TLP:AMBER feed."""

    def __init__(self, server: FeedServer, shared: Path) -> None:
        self.server, self.shared = server, shared
        self.folder = shared / "csaf"
        self.names = sorted(p.name for p in self.folder.glob("*.json"))
        metadata = json.loads((shared / "csaf-provider-metadata" /
                               "CISA_provider_metadata.json").read_text(encoding="utf-8"))
        metadata["distributions"] = [{"rolie": {"feeds": [
            {"summary": "TLP:WHITE CISA OT Advisories", "tlp_label": "WHITE",
             "url": self.url("/csaf/rolie-white.json")},
            {"summary": "TLP:AMBER", "tlp_label": "AMBER", "url": self.url("/csaf/amber.json")},
        ]}}]
        self.metadata = metadata
        rolie = json.loads((shared / "cisa-csaf-ot-feed-tlp-white.rolie.json")
                           .read_text(encoding="utf-8"))
        wanted = set(self.names)
        rolie["feed"]["entry"] = [_loopback_entry(e, self) for e in rolie["feed"]["entry"]
                                  if e["content"]["src"].rsplit("/", 1)[-1] in wanted]
        self.rolie = rolie
        self.publish()
        for name in self.names:
            self.document(name, (self.folder / name).read_bytes())

    def url(self, path: str) -> str:
        return self.server.url(path) + f"?token={TOKEN}"

    def publish(self) -> None:
        """Serve the metadata and the ROLIE feed as they are now."""
        self.server.serve("/.well-known/csaf/provider-metadata.json",
                          json.dumps(self.metadata).encode(), content_type=JSON)
        self.server.serve("/csaf/rolie-white.json", json.dumps(self.rolie).encode(),
                          content_type=JSON, etag=f'"{len(json.dumps(self.rolie))}"')

    def document(self, name: str, body: bytes, *, digest: bytes | None = None) -> None:
        """Serve a document under its year folder, with its .sha512 (or the digest given)."""
        path = f"/csaf/{_year(self, name)}/{name}"
        self.server.serve(path, body, content_type=JSON)
        digest = digest if digest is not None else hashlib.sha512(body).hexdigest().encode()
        self.server.serve(path + ".sha512", digest + b"  " + name.encode() + b"\n",
                          content_type="text/plain")

    def path(self, name: str) -> str:
        return f"/csaf/{_year(self, name)}/{name}"

    def fetches_of_documents(self) -> int:
        return sum(len(self.server.requests_for(self.path(n))) for n in self.names)


def _year(provider: Provider, name: str) -> str:
    return "20" + name.split("-")[1]


def _loopback_entry(entry: dict[str, Any], provider: Provider) -> dict[str, Any]:
    entry = copy.deepcopy(entry)
    for link in [*entry["link"], entry["content"]]:
        key = "href" if "href" in link else "src"
        assert link[key].startswith(REAL + "/")
        link[key] = provider.url("/csaf/" + link[key][len(REAL) + 1:])
    return entry


def csaf_feed(url: str, tlp: Tlp = Tlp.CLEAR) -> FeedConfig:
    return FeedConfig("cisa-csaf", url, timedelta(hours=1), tlp=tlp, type="csaf")


def tracking_ids(poll: CsafPoll) -> set[str]:
    return {fetched.document["document"]["tracking"]["id"] for fetched in poll.documents}


@pytest.fixture
def shared() -> Path:
    require_shared_data("csaf")
    require_shared_data("csaf-provider-metadata")
    return require_shared_data("cisa-csaf-ot-feed-tlp-white.rolie.json").parent


@pytest.fixture
async def provider(feed_server: FeedServer, shared: Path) -> Provider:
    return Provider(feed_server, shared)


@pytest.fixture
async def fetcher():  # type: ignore[no-untyped-def]
    async with FeedFetcher(limits=FetchLimits(total=10.0, max_bytes=2 * 1024 * 1024)) as f:
        yield f


def metadata_url(provider: Provider) -> str:
    return provider.url("/.well-known/csaf/provider-metadata.json")


# ---- discovery ----------------------------------------------------------------------------

async def test_provider_metadata_leads_to_every_real_document_of_its_clear_feed(
        provider: Provider, fetcher: FeedFetcher, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")  # (the app keeps httpx's own log quiet)
    poll = await CsafSource(fetcher).poll(csaf_feed(metadata_url(provider)), {})
    assert poll.error is None and poll.problems == []
    assert poll.listed == len(provider.names) == len(poll.documents) == 21
    assert "ICSMA-17-255-01" in tracking_ids(poll)
    # Every document was checked against its published .sha512 first.
    assert all(provider.server.requests_for(provider.path(n) + ".sha512")
               for n in provider.names)
    # The state to remember: each document URL with the `updated` stamp its feed gave.
    entry = provider.rolie["feed"]["entry"][0]
    assert poll.seen[entry["content"]["src"]] == entry["updated"]
    assert not provider.server.requests_for("/csaf/amber.json")  # not this feed's TLP
    assert TOKEN not in caplog.text


async def test_an_amber_feed_is_read_only_when_the_feed_may_share_amber(
        provider: Provider, fetcher: FeedFetcher) -> None:
    provider.server.serve("/csaf/amber.json", b'{"feed": {"id": "amber", "entry": []}}',
                          content_type=JSON)
    poll = await CsafSource(fetcher).poll(csaf_feed(metadata_url(provider), Tlp.AMBER), {})
    assert poll.error is None and len(poll.documents) == 21
    assert provider.server.requests_for("/csaf/amber.json")


async def test_a_rolie_feed_url_works_without_provider_metadata(
        provider: Provider, fetcher: FeedFetcher) -> None:
    poll = await CsafSource(fetcher).poll(csaf_feed(provider.url("/csaf/rolie-white.json")), {})
    assert poll.error is None and len(poll.documents) == 21


async def test_a_directory_provider_is_read_through_changes_csv(
        feed_server: FeedServer, shared: Path, fetcher: FeedFetcher) -> None:
    folder = shared / "csaf"
    metadata = json.loads((shared / "csaf-provider-metadata" /
                           "CISA_provider_metadata.json").read_text(encoding="utf-8"))
    metadata["distributions"] = [{"directory_url": feed_server.url("/csaf/white/")}]
    feed_server.serve("/provider-metadata.json", json.dumps(metadata).encode(),
                      content_type=JSON)
    hashed = (folder / "icsma-20-177-01.json").read_bytes()
    feed_server.serve("/csaf/white/2020/icsma-20-177-01.json", hashed, content_type=JSON)
    feed_server.serve("/csaf/white/2020/icsma-20-177-01.json.sha256",
                      hashlib.sha256(hashed).hexdigest().encode(), content_type="text/plain")
    # No hash file published for this one: §7.1.18 is the provider's duty, not a reason to drop.
    feed_server.serve("/csaf/white/2022/icsma-22-151-01.json",
                      (folder / "icsma-22-151-01.json").read_bytes(), content_type=JSON)
    feed_server.serve("/csaf/white/changes.csv",
                      b'"2022/icsma-22-151-01.json","2022-05-31T10:00:00Z"\n'
                      b'"2020/icsma-20-177-01.json","2020-06-25T10:00:00Z"\n'
                      b'"../../etc/secret.json","2020-06-25T10:00:00Z"\n'
                      b'"index.txt","2020-06-25T10:00:00Z"\n', content_type="text/csv")
    poll = await CsafSource(fetcher).poll(csaf_feed(feed_server.url("/provider-metadata.json")),
                                          {})
    assert poll.error is None
    assert tracking_ids(poll) == {"ICSMA-20-177-01", "ICSMA-22-151-01"}
    assert poll.seen[feed_server.url("/csaf/white/2022/icsma-22-151-01.json")] == \
        "2022-05-31T10:00:00Z"
    assert feed_server.requests_for("/csaf/white/2020/icsma-20-177-01.json.sha256")
    assert not feed_server.requests_for("/etc/secret.json")  # never outside the directory


async def test_rolie_is_preferred_over_the_same_providers_directory(
        provider: Provider, fetcher: FeedFetcher) -> None:
    provider.metadata["distributions"].append({"directory_url": provider.server.url("/csaf/")})
    provider.publish()
    poll = await CsafSource(fetcher).poll(csaf_feed(metadata_url(provider)), {})
    assert len(poll.documents) == 21
    assert not provider.server.requests_for("/csaf/changes.csv")
    assert all(len(provider.server.requests_for(provider.path(n))) == 1 for n in provider.names)


# ---- only new or changed documents ------------------------------------------------------

async def test_a_second_poll_fetches_no_unchanged_document(
        provider: Provider, fetcher: FeedFetcher) -> None:
    source = CsafSource(fetcher)
    feed = csaf_feed(metadata_url(provider))
    first = await source.poll(feed, {})
    fetched_before = provider.fetches_of_documents()
    second = await source.poll(feed, first.seen)
    assert second.error is None and second.documents == [] and second.listed == 21
    assert provider.fetches_of_documents() == fetched_before
    # The ROLIE feed itself was asked for conditionally and answered 304.
    last = provider.server.requests_for("/csaf/rolie-white.json")[-1]
    assert last.headers.get("if-none-match") == provider.server.routes[
        "/csaf/rolie-white.json"].etag

    # A revision: the feed's `updated` changes for one document, only that one is fetched.
    entry = provider.rolie["feed"]["entry"][0]
    entry["updated"] = "2026-11-25T10:00:00Z"
    provider.publish()
    third = await source.poll(feed, {**first.seen, **second.seen})
    assert [f.url for f in third.documents] == [entry["content"]["src"]]
    assert third.seen == {entry["content"]["src"]: "2026-11-25T10:00:00Z"}


# ---- integrity and validity ---------------------------------------------------------------

async def test_a_hash_mismatch_is_logged_by_host_and_file_and_the_document_skipped(
        provider: Provider, fetcher: FeedFetcher, caplog: pytest.LogCaptureFixture) -> None:
    name = "icsma-17-255-01.json"
    provider.document(name, (provider.folder / name).read_bytes(), digest=b"0" * 128)
    poll = await CsafSource(fetcher).poll(csaf_feed(metadata_url(provider)), {})
    assert len(poll.documents) == 20 and "ICSMA-17-255-01" not in tracking_ids(poll)
    assert f"127.0.0.1/…/{name}: sha512 does not match the published hash" in caplog.text
    assert TOKEN not in caplog.text and "/csaf/2017/" not in caplog.text
    assert not any(url.split("?")[0].endswith(name) for url in poll.seen)  # retried next poll


@pytest.mark.parametrize(("hash_file", "said"), [
    (b"<html><body>Login required</body></html>", "the published sha512 file holds no sha512"),
    (b"", "the published sha512 file holds no sha512"),
    (None, "its listed hash file could not be read"),
])
async def test_a_listed_hash_file_that_is_garbage_or_missing_skips_the_document(
        provider: Provider, fetcher: FeedFetcher, caplog: pytest.LogCaptureFixture,
        hash_file: bytes | None, said: str) -> None:
    name = "icsma-20-177-01.json"
    if hash_file is None:
        provider.server.routes.pop(provider.path(name) + ".sha512")
    else:
        provider.server.serve(provider.path(name) + ".sha512", hash_file, content_type="text/html")
    poll = await CsafSource(fetcher).poll(csaf_feed(metadata_url(provider)), {})
    assert len(poll.documents) == 20
    assert f"{name}: {said}" in caplog.text


async def test_an_invalid_document_is_logged_with_the_failing_path_and_skipped(
        provider: Provider, fetcher: FeedFetcher, caplog: pytest.LogCaptureFixture) -> None:
    name = "icsma-21-294-01.json"
    doc = json.loads((provider.folder / name).read_text(encoding="utf-8"))
    doc["document"]["tracking"]["version"] = 5  # the schema wants a string
    provider.document(name, json.dumps(doc).encode())
    source, feed = CsafSource(fetcher), csaf_feed(metadata_url(provider))
    poll = await source.poll(feed, {})
    assert len(poll.documents) == 20
    assert f"{name}: invalid CSAF: $.document.tracking.version: 5 is not of type 'string'" \
        in caplog.text
    # Remembered as seen: an unchanged invalid document is not downloaded again and again.
    before = len(provider.server.requests_for(provider.path(name)))
    assert (await source.poll(feed, poll.seen)).documents == []
    assert len(provider.server.requests_for(provider.path(name))) == before


async def test_every_real_document_validates_against_the_shipped_schema(shared: Path) -> None:
    for path in sorted((shared / "csaf").glob("*.json")):
        assert schema_error(json.loads(path.read_bytes())) is None, path.name


def test_the_cvss_schemas_are_resolved_offline_from_the_package(shared: Path) -> None:
    doc = json.loads((shared / "csaf" / "icsma-20-177-01.json").read_bytes())
    doc["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseScore"] = 11.0
    # cvss_v3 is oneOf FIRST's v3.0 and v3.1 schemas, which only the shipped registry holds:
    # an unresolvable $ref would raise here instead of naming the path.
    assert (schema_error(doc) or "").startswith(
        "$.vulnerabilities[0].scores[0].cvss_v3: {'baseScore': 11.0")


# ---- a hostile provider -------------------------------------------------------------------

async def test_a_huge_document_is_cut_at_the_cap_and_the_rest_still_read(
        provider: Provider, fetcher: FeedFetcher, caplog: pytest.LogCaptureFixture) -> None:
    provider.server.endless(provider.path("icsma-17-009-01a.json"), chunk=b" " * 65536)
    provider.server.gzip_bomb(provider.path("icsma-17-215-02.json"))
    poll = await CsafSource(fetcher).poll(csaf_feed(metadata_url(provider)), {})
    assert len(poll.documents) == 19
    assert caplog.text.count("larger than the 2,097,152-byte cap") == 2


async def test_a_document_served_as_an_html_page_is_not_json_and_said_so(
        provider: Provider, fetcher: FeedFetcher, caplog: pytest.LogCaptureFixture) -> None:
    name = "icsma-18-037-02.json"
    body = b"<!doctype html><title>Maintenance</title>"
    provider.server.serve(provider.path(name), body, content_type="text/html")
    provider.server.serve(provider.path(name) + ".sha512", hashlib.sha512(body).hexdigest()
                          .encode(), content_type="text/plain")
    poll = await CsafSource(fetcher).poll(csaf_feed(metadata_url(provider)), {})
    assert len(poll.documents) == 20
    assert f"{name}: invalid CSAF: not JSON (served as text/html" in caplog.text


async def test_a_deeply_nested_document_is_invalid_not_a_crash(
        provider: Provider, fetcher: FeedFetcher, caplog: pytest.LogCaptureFixture) -> None:
    name = "icsma-19-029-02.json"
    doc = json.loads((provider.folder / name).read_text(encoding="utf-8"))
    doc["product_tree"]["branches"] = ["DEEP"]
    # 300 levels parse (json's own limit is deeper), but the schema recurses per level.
    deep = '{"category": "vendor", "name": "x", "branches": [' * 300 + "]}" * 300
    provider.document(name, json.dumps(doc).replace('"DEEP"', deep).encode())
    poll = await CsafSource(fetcher).poll(csaf_feed(metadata_url(provider)), {})
    assert len(poll.documents) == 20
    assert f"{name}: invalid CSAF: $: nested too deeply to validate" in caplog.text


@pytest.mark.parametrize(("body", "said"), [
    (b'{"feed": "a string"}', "rolie-white.json: not a ROLIE feed"),
    (b'{"feed": {"entry": {"not": "a list"}}}', "rolie-white.json: not a ROLIE feed"),
    (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "rolie-white.json: not JSON"),
    (b'[' * 100_000, "rolie-white.json: not JSON"),
])
async def test_a_rolie_feed_that_is_not_rolie_lists_nothing_and_says_why(
        provider: Provider, fetcher: FeedFetcher, caplog: pytest.LogCaptureFixture,
        body: bytes, said: str) -> None:
    provider.server.serve("/csaf/rolie-white.json", body, content_type="text/plain")
    poll = await CsafSource(fetcher).poll(csaf_feed(metadata_url(provider)), {})
    assert poll.documents == [] and poll.listed == 0
    assert any(said in problem for problem in poll.problems), poll.problems
    assert said in caplog.text


@pytest.mark.parametrize(("serve", "said"), [
    (lambda s: s.serve("/pm.json", b'{"hello": "world"}', content_type=JSON),
     "neither a provider-metadata.json nor a ROLIE feed"),
    (lambda s: s.serve("/pm.json", b"<html>", content_type="text/html"), "pm.json: not JSON"),
    (lambda s: s.status("/pm.json", 503, headers={"Retry-After": "120"}), "HTTP 503"),
    (lambda s: s.large("/pm.json", 3 * 1024 * 1024), "larger than the 2,097,152-byte cap"),
])
async def test_an_unreadable_provider_is_an_error_not_an_exception(
        feed_server: FeedServer, fetcher: FeedFetcher, serve: Any, said: str) -> None:
    serve(feed_server)
    poll = await CsafSource(fetcher).poll(csaf_feed(feed_server.url("/pm.json")), {})
    assert poll.documents == [] and poll.error is not None and said in poll.error
