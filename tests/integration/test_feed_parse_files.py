"""A feed body can name a local file: the parser reads no file, whatever the body says."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.feeds.parse import FeedRejected
from tests.support.feedserver import rss
from tests.unit.test_feed_parse import item, parse


def test_external_entity_feed_is_rejected_and_no_local_file_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-TOKEN")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><item><title>&xxe;</title>'
        "<link>https://example.org/x</link></item></channel></rss>"
    ).encode()
    with pytest.raises(FeedRejected, match=r"\(xxe\)"):
        parse(body)


def test_body_naming_a_local_file_is_not_opened(tmp_path: Path) -> None:
    # feedparser opens a bytes/str argument that names a file; a server could send such a body.
    local = tmp_path / "local-feed.xml"
    local.write_bytes(rss([item("Read from the local disk")]))
    parsed = parse(str(local).encode())
    assert parsed.advisories == []
