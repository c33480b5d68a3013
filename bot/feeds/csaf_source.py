"""CSAF providers: discovery (provider-metadata.json → ROLIE feeds or a directory with
changes.csv), documents fetched with the feed fetcher's limits, checked against their published
.sha256/.sha512 and validated against the CSAF 2.0 JSON schema shipped in `csaf_schema/`.

Only host and file name are ever logged: a provider URL may carry a token.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urljoin, urlsplit

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT7

from bot.domain.feed_config import FeedConfig, where
from bot.domain.tlp import Tlp
from bot.feeds.fetch import FeedFetcher
from bot.services.ports.feeds import CsafFetched, CsafPoll, Fetched, FetchFailed, NotModified

log = logging.getLogger(__name__)

MAX_DOCUMENTS_PER_POLL = 200
_HASHES = {"sha512": hashlib.sha512, "sha256": hashlib.sha256}
_HEX = {"sha512": re.compile(r"[0-9a-fA-F]{128}"), "sha256": re.compile(r"[0-9a-fA-F]{64}")}


@dataclass(frozen=True)
class _Entry:
    url: str
    updated: str
    hash_urls: tuple[str, ...]
    # True: the provider listed these hash files (ROLIE), so one must be read and match;
    # False: guessed beside a directory's document, absent when the provider publishes none.
    hashes_declared: bool = False


class CsafSource:
    def __init__(self, fetcher: FeedFetcher,
                 max_documents: int = MAX_DOCUMENTS_PER_POLL) -> None:
        self._fetcher = fetcher
        self._max = max_documents
        self._etags: dict[str, tuple[str | None, str | None, bytes]] = {}

    async def poll(self, feed: FeedConfig, seen: Mapping[str, str]) -> CsafPoll:
        """New or changed documents of the provider (at most `max_documents`, newest first)."""
        result = CsafPoll()
        top = await self._json(feed, feed.url, result)
        if top is None:
            result.error = result.problems[-1] if result.problems else "unreadable"
            return result
        entries: list[_Entry] = []
        if isinstance(top, dict) and "distributions" in top:
            rolie_urls = _rolie_feeds(top, feed.tlp)
            for rolie_url in rolie_urls:
                rolie = await self._json(feed, rolie_url, result)
                if rolie is not None:
                    entries += _rolie_entries(rolie, rolie_url, result)
            # CSAF 2.0 §7.3.2: when a provider offers both, ROLIE is preferred; the directory
            # usually holds the same documents and would fetch each twice.
            if not rolie_urls:
                for directory in _directories(top):
                    entries += await self._changes(feed, directory, result)
        elif isinstance(top, dict) and isinstance(top.get("feed"), dict):
            entries = _rolie_entries(top, feed.url, result)
        else:
            result.error = (f"{where(feed.url)} is neither a provider-metadata.json nor a "
                            "ROLIE feed")
            log.error("CSAF %s: %s", feed.name, result.error)
            return result
        entries = list({e.url: e for e in reversed(entries)}.values())  # first listing wins
        result.listed = len(entries)
        fresh = [e for e in entries if seen.get(e.url) != e.updated]
        fresh.sort(key=lambda e: e.updated, reverse=True)
        for entry in fresh[: self._max]:
            await self._document(feed, entry, result)
        return result

    async def _document(self, feed: FeedConfig, entry: _Entry, result: CsafPoll) -> None:
        fetched = await self._fetch(feed, entry.url, result)
        if fetched is None:
            return
        body = fetched.body
        if not await self._hash_matches(feed, entry, body, result):
            return  # not remembered: the next poll tries again
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            served = fetched.headers.get("content-type", "no content type")
            self._invalid(feed, entry, result, f"not JSON (served as {served}; {exc})")
            return
        error = schema_error(document)
        if error is not None:
            self._invalid(feed, entry, result, error)
            return
        result.documents.append(CsafFetched(entry.url, entry.updated, body, document))
        result.seen[entry.url] = entry.updated

    async def _hash_matches(self, feed: FeedConfig, entry: _Entry, body: bytes,
                            result: CsafPoll) -> bool:
        """True when the first readable published hash matches, or when none is published."""
        usable = [u for u in entry.hash_urls if _algorithm(u) in _HASHES]
        for hash_url in usable:
            algorithm = _algorithm(hash_url)
            published = await self._fetch(feed, hash_url, result,
                                          quiet_missing=not entry.hashes_declared)
            if published is None:
                continue
            # A hash file is "<hex digest>" or "<hex digest>  <file name>" (sha512sum format).
            words = published.body[:1024].decode("ascii", "replace").split()
            if not words or not _HEX[algorithm].fullmatch(words[0]):
                why = f"the published {algorithm} file holds no {algorithm} hex digest"
            elif words[0].lower() != _HASHES[algorithm](body).hexdigest():
                why = f"{algorithm} does not match the published hash"
            else:
                return True
            problem = f"{where(entry.url)}: {why}"
            log.error("CSAF %s: %s; document skipped", feed.name, problem)
            result.problems.append(problem)
            return False
        if entry.hashes_declared and usable:
            problem = f"{where(entry.url)}: its listed hash file could not be read"
            log.error("CSAF %s: %s; document skipped until it can be checked", feed.name, problem)
            result.problems.append(problem)
            return False
        return True

    def _invalid(self, feed: FeedConfig, entry: _Entry, result: CsafPoll, why: str) -> None:
        problem = f"{where(entry.url)}: invalid CSAF: {why}"
        log.error("CSAF %s: %s; document skipped", feed.name, problem)
        result.problems.append(problem)
        result.seen[entry.url] = entry.updated  # unchanged, it stays invalid: not refetched

    async def _changes(self, feed: FeedConfig, directory: str, result: CsafPoll) -> list[_Entry]:
        base = directory.rstrip("/") + "/"
        fetched = await self._fetch(feed, base + "changes.csv", result)
        if fetched is None:
            return []
        entries = []
        text = fetched.body.decode("utf-8", "replace")
        for row in csv.reader(io.StringIO(text)):
            if len(row) < 2 or not row[0].strip().endswith(".json"):
                continue
            url = urljoin(base, row[0].strip())
            if not url.startswith(base):
                continue  # a path leaving the directory is not the provider's document
            entries.append(_Entry(url, row[1].strip(),
                                  (_beside(url, ".sha512"), _beside(url, ".sha256"))))
        return entries

    async def _json(self, feed: FeedConfig, url: str, result: CsafPoll) -> Any:
        fetched = await self._fetch(feed, url, result, conditional=True)
        if fetched is None:
            return None
        try:
            return json.loads(fetched.body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            problem = f"{where(url)}: not JSON"
            log.error("CSAF %s: %s", feed.name, problem)
            result.problems.append(problem)
            return None

    async def _fetch(self, feed: FeedConfig, url: str, result: CsafPoll, *,
                     conditional: bool = False, quiet_missing: bool = False) -> Fetched | None:
        etag = last_modified = None
        cached = self._etags.get(url) if conditional else None
        if cached is not None:
            etag, last_modified, _ = cached
        answer = await self._fetcher.fetch(feed, etag, last_modified, url=url)
        if isinstance(answer, NotModified) and cached is not None:
            return Fetched(cached[2], {}, cached[0], cached[1], url)
        if isinstance(answer, FetchFailed):
            result.transient = answer.transient
            if not (quiet_missing and "404" in answer.reason):
                problem = f"{where(url)}: {answer.reason}"
                log.warning("CSAF %s: %s", feed.name, problem)
                result.problems.append(problem)
            return None
        if not isinstance(answer, Fetched):
            return None
        if conditional:
            self._etags[url] = (answer.etag, answer.last_modified, answer.body)
        return answer


def _algorithm(hash_url: str) -> str:
    """'sha512' of '…/doc.json.sha512?token=…': the extension of the path, not of the query."""
    return urlsplit(hash_url).path.rsplit(".", 1)[-1].lower()


def _beside(url: str, suffix: str) -> str:
    """The URL of a file named like `url`'s plus `suffix`, keeping its query (a token)."""
    parts = urlsplit(url)
    return parts._replace(path=parts.path + suffix).geturl()


def _rolie_feeds(metadata: dict[str, Any], allowed: Tlp) -> list[str]:
    urls = []
    for distribution in metadata.get("distributions") or []:
        if not isinstance(distribution, dict):
            continue
        rolie = distribution.get("rolie")
        for entry in (rolie.get("feeds") or []) if isinstance(rolie, dict) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
                continue
            try:
                tlp = Tlp.parse(str(entry.get("tlp_label") or "UNLABELED"))
            except ValueError:
                continue  # UNLABELED or unknown: not ours to share
            if tlp <= allowed:
                urls.append(entry["url"])
    return urls


def _directories(metadata: dict[str, Any]) -> list[str]:
    return [d["directory_url"] for d in metadata.get("distributions") or []
            if isinstance(d, dict) and isinstance(d.get("directory_url"), str)]


def _rolie_entries(rolie: Any, rolie_url: str, result: CsafPoll) -> list[_Entry]:
    feed = rolie.get("feed") if isinstance(rolie, dict) else None
    if not isinstance(feed, dict) or not isinstance(feed.get("entry", []), list):
        problem = f"{where(rolie_url)}: not a ROLIE feed"
        log.error("CSAF: %s", problem)
        result.problems.append(problem)
        return []
    entries = []
    for item in feed.get("entry", []):
        if not isinstance(item, dict):
            continue
        content = item.get("content")
        src = content.get("src") if isinstance(content, dict) else None
        if not isinstance(src, str) or not src.startswith(("https://", "http://")):
            continue
        links = item.get("link")
        links = links if isinstance(links, list) else []
        hashes = tuple(link["href"] for link in links if isinstance(link, dict)
                       and link.get("rel") == "hash" and isinstance(link.get("href"), str))
        entries.append(_Entry(src, str(item.get("updated") or ""), hashes,
                              hashes_declared=True))
    return entries


@cache
def _validator() -> Draft202012Validator:
    folder = resources.files("bot.feeds") / "csaf_schema"

    def load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((folder / name).read_text(encoding="utf-8"))
        return data

    registry: Registry = Registry().with_resources([
        ("https://www.first.org/cvss/cvss-v2.0.json",
         Resource.from_contents(load("cvss-v2.0.json"), default_specification=DRAFT4)),
        ("https://www.first.org/cvss/cvss-v3.0.json",
         Resource.from_contents(load("cvss-v3.0.json"), default_specification=DRAFT4)),
        ("https://www.first.org/cvss/cvss-v3.1.json",
         Resource.from_contents(load("cvss-v3.1.json"), default_specification=DRAFT7)),
    ])
    return Draft202012Validator(load("csaf_json_schema.json"), registry=registry)


def schema_error(document: Any) -> str | None:
    """None when the document is valid CSAF 2.0; else the first failing path and why."""
    try:
        error = next(iter(sorted(_validator().iter_errors(document),
                                 key=lambda e: list(e.absolute_path))), None)
    except RecursionError:
        return "$: nested too deeply to validate"
    if error is None:
        return None
    return f"{error.json_path}: {error.message[:200]}"
