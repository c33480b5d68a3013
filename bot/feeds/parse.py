"""Turn a fetched feed body into Advisories, refusing hostile XML and keeping what can be read.

feedparser is CPU-bound (about 0.2 ms an entry); call `parse_feed` through
`asyncio.to_thread` from the event loop.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.parsers import expat

import feedparser

from bot.domain.advisory import Advisory, extract_cves, find_tracking_id, stable_advisory_id
from bot.domain.feed_config import FeedConfig
from bot.domain.severity import Severity
from bot.domain.tlp import highest
from bot.feeds.dates import published_utc
from bot.feeds.html_text import collapse_whitespace, html_to_text, looks_like_html
from bot.feeds.ratings import highest_cvss, severity_from_words, tlp_in
from bot.services.ports.feeds import FeedRejected, ParsedFeed

log = logging.getLogger(__name__)

MAX_ENTRIES = 5_000
MAX_TITLE = 500
MAX_LINK = 8_192  # real advisory links are under 300 characters; every alert payload holds it
MAX_SUMMARY = 20_000
_UNTITLED_CHARS = 120
# CERT-Bund: "[NEU] [hoch] pgAdmin: ..." / "[UPDATE] [mittel] ..." / "[UNGEPATCHT] [mittel] ..."
_TITLE_TAGS = re.compile(r"^(?:\s*\[([^\[\]]{1,20})\])+\s*")
_TITLE_TAG = re.compile(r"\[([^\[\]]{1,20})\]")
_STATUS_WORDS = frozenset({"neu", "update", "ungepatcht", "new", "updated"})
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
# bozo exceptions that say nothing bad about the entries (servers often send text/html).
_HARMLESS_BOZO = (feedparser.NonXMLContentType,)


def parse_feed(
    feed: FeedConfig,
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_entries: int = MAX_ENTRIES,
) -> ParsedFeed:
    """Advisories in an RSS/Atom body; raises FeedRejected for XML declaring entities."""
    _reject_entity_declarations(body)
    # Without Content-Location feedparser leaves relative guids alone (CERT-EU's guids are
    # names, not paths); links and path-like guids are made absolute here instead.
    response_headers = {
        key.lower(): value for key, value in headers.items() if key.lower() != "content-location"
    }
    content_type = response_headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() == "text/xml" and "charset" not in content_type:
        # RFC 3023 made charset-less text/xml US-ASCII and feedparser still follows it; RFC 7303
        # says the XML declaration decides, which is what publishers mean.
        response_headers["content-type"] = "application/xml"
    # A BytesIO, never bytes or str: feedparser opens a bytes/str that names a file or URL.
    result = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    problems = _document_problems(result)
    entries: list[Any] = list(result.entries)
    if not entries:
        if not result.get("version"):
            reason = problems[0] if problems else "no RSS or Atom elements found"
            return ParsedFeed([], [f"not a feed: {reason}"])
        # A channel with no items yet is a healthy feed, whatever Content-Type it came with.
        return ParsedFeed([], problems)
    if len(entries) > max_entries:
        dropped = len(entries) - max_entries
        problems.append(f"{dropped:,} entries beyond the first {max_entries:,} were dropped")
        log.warning("feed %s: dropped %d entries over the cap", feed.name, dropped)
        entries = entries[:max_entries]
    base = _base_url(result.feed, feed.url)
    advisories = []
    for index, entry in enumerate(entries):
        advisory = _advisory(feed, entry, base)
        if advisory is None:
            guid = str(entry.get("id") or "").strip()
            label = f"guid {guid!r}" if guid else "no guid"
            problems.append(f"entry #{index + 1} ({label}) has no title, text or link; skipped")
            continue
        advisories.append(advisory)
    return ParsedFeed(advisories, problems)


def _reject_entity_declarations(body: bytes) -> None:
    # Entity declarations can only sit in the DTD before the root element, so stop there.
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    declared: list[str] = []

    def on_entity(name: str, *_: object) -> None:
        declared.append(name)
        raise _StopParsing

    def on_root(*_: object) -> None:
        raise _StopParsing

    parser.EntityDeclHandler = on_entity
    parser.StartElementHandler = on_root
    try:
        parser.Parse(body, True)
    except _StopParsing:
        pass
    except expat.ExpatError:
        # expat gave up early (bad bytes, unknown encoding); look for a declaration by eye.
        if _ENTITY_DECL.search(body[:65536]) or _ENTITY_DECL.search(
            body[:262144].replace(b"\x00", b"")
        ):
            declared.append("?")
    if declared:
        raise FeedRejected(
            f"the document declares XML entities ({', '.join(declared)}); such a feed can "
            "expand without bound or read local files, so it was not parsed"
        )


class _StopParsing(Exception):
    pass


def _document_problems(result: Any) -> list[str]:
    if not result.get("bozo"):
        return []
    exc = result.get("bozo_exception")
    if isinstance(exc, _HARMLESS_BOZO):
        return []
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        return [f"wrong character encoding: {exc}"]
    line = getattr(exc, "getLineNumber", lambda: None)()
    where = f" at line {line}" if line else ""
    what = exc.getMessage() if hasattr(exc, "getMessage") else str(exc)
    kept = len(result.entries)
    if not kept:
        return [f"malformed XML{where}: {what}"]
    return [f"malformed XML{where}: {what}; kept the {kept} entries that could be read"]


def _base_url(channel: Mapping[str, Any], feed_url: str) -> str:
    link = str(channel.get("link") or "").strip()
    return link if urlsplit(link).scheme in ("http", "https") else feed_url


def _advisory(feed: FeedConfig, entry: Mapping[str, Any], base: str) -> Advisory | None:
    raw_title = " ".join(_text_of(entry.get("title_detail"), entry.get("title")).split())
    title, title_tags = _split_title_tags(raw_title)
    summary_full = _summary(entry)
    link = _usable_link(feed, _absolute_link(str(entry.get("link") or ""), base))
    if not title and not summary_full:
        return None
    if not title:
        title = _shorten(" ".join(summary_full.split()), _UNTITLED_CHARS)
    guid = _absolute_path(str(entry.get("id") or ""), base)
    categories = [str(tag.get("term") or "") for tag in entry.get("tags") or []]
    text = f"{title}\n{summary_full}"
    cvss = highest_cvss(text)
    severity = (Severity.from_cvss(cvss) if cvss is not None else None) or severity_from_words(
        [*title_tags, *categories], text, title=title
    )
    title = _shorten(title, MAX_TITLE)
    summary = _shorten(summary_full, MAX_SUMMARY)
    return Advisory(
        id=stable_advisory_id(feed.name, guid, link, title, summary),
        title=title,
        summary=summary,
        link=link,
        source=feed.name,
        published=published_utc(entry),
        cves=extract_cves(text),
        cvss=cvss,
        severity=severity,
        # The feed's configured TLP is a floor: a label in the text may raise it, never lower.
        tlp=highest([feed.tlp, tlp_in([raw_title, summary_full, *categories])]),
        tags=feed.tags,
        tracking_id=find_tracking_id(raw_title, link, guid or ""),
    )


def _summary(entry: Mapping[str, Any]) -> str:
    candidates = [_text_of(content, content.get("value")) for content in entry.get("content") or []]
    candidates.append(_text_of(entry.get("summary_detail"), entry.get("summary")))
    return max(candidates, key=len, default="")


def _text_of(detail: Any, value: Any) -> str:
    text = str(value or "")
    kind = str((detail or {}).get("type") or "")
    if "html" in kind or looks_like_html(text):
        return html_to_text(text)
    return collapse_whitespace(text)


def _split_title_tags(title: str) -> tuple[str, list[str]]:
    match = _TITLE_TAGS.match(title)
    if not match:
        return title, []
    tags = _TITLE_TAG.findall(match.group(0))
    if not all(t.strip().lower() in _STATUS_WORDS or _is_severity_word(t) for t in tags):
        return title, []
    return title[match.end() :].strip(), tags


def _is_severity_word(word: str) -> bool:
    return severity_from_words([word]) is not None


def _absolute_link(url: str, base: str) -> str:
    url = url.strip()
    return urljoin(base, url) if url and not urlsplit(url).scheme else url


def _usable_link(feed: FeedConfig, link: str) -> str:
    """The entry's link if a reader may follow it: http(s), of a sane length; else none (the
    alert still goes, without a link)."""
    if not link:
        return ""
    if urlsplit(link).scheme.lower() not in ("http", "https"):
        log.info("feed %s: an entry's link is not http(s); left out", feed.name)
        return ""
    if len(link) > MAX_LINK:
        log.info("feed %s: an entry's link of %d characters (over %d) was left out", feed.name,
                 len(link), MAX_LINK)
        return ""
    return link


def _absolute_path(guid: str, base: str) -> str:
    guid = guid.strip()
    if guid.startswith("/") and not guid.startswith("//"):
        return urljoin(base, guid)
    return guid


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
