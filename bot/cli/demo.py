"""`hubbot demo`: the whole pipeline offline, on bundled example feeds served on loopback."""

from __future__ import annotations

import hashlib
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from bot.app.bootstrap import build_bot
from bot.app.settings import Settings
from bot.domain.clock import utc_now
from bot.domain.feed_config import FeedConfig
from bot.domain.product_csv import parse_product_csv
from bot.services.registrations import import_products

_EXAMPLES = resources.files("bot.cli") / "examples"


class _StaticFeeds(BaseHTTPRequestHandler):
    """Serves the example feeds with an ETag, answering 304 to a matching If-None-Match."""

    files: dict[str, bytes] = {}

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextmanager
def serve_examples() -> Iterator[list[FeedConfig]]:
    """Serve every bundled example feed on 127.0.0.1; yield feed configs pointing at them."""
    feeds_dir = _EXAMPLES / "feeds"
    files = {f"/{p.name}": p.read_bytes() for p in feeds_dir.iterdir() if p.name.endswith(".xml")}
    handler = type("Handler", (_StaticFeeds,), {"files": files})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        yield [
            FeedConfig(
                name=Path(path).stem, url=f"http://127.0.0.1:{port}{path}",
                interval=timedelta(minutes=15), tags=("demo",),
            )
            for path in sorted(files)
        ]
    finally:
        server.shutdown()
        server.server_close()


async def run_demo() -> int:
    """Run the demo; returns the process exit code."""
    started = time.monotonic()
    out = sys.stdout
    with tempfile.TemporaryDirectory(prefix="hubbot-demo-") as tmp, serve_examples() as feeds:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=f"sqlite:///{tmp}/demo.db",
            console=True,
            console_file=Path(tmp) / "alerts.jsonl",
            telegram_token=None,
            matrix_homeserver=None,
            # The examples are dated spring 2026; a real first poll would record them silently.
            backlog_days=3650,
        )
        async with AsyncExitStack() as stack:
            bot = await build_bot(settings, stack, feeds=feeds, console_stream=out)
            members_csv = (_EXAMPLES / "members.csv").read_text(encoding="utf-8")
            lines = parse_product_csv(members_csv, "members.csv")
            added, _, members = import_products(bot.store, lines, utc_now(), create_members=True)
            print(f"hubbot demo: {len(feeds)} example feeds on 127.0.0.1, {len(members)} "
                  f"sample members with {added} products", file=out)
            first = await bot.poll_all()
            delivered = await bot.drain()
            second = await bot.poll_all()
            again = await bot.drain()
            alerts_file = settings.alerts_file.read_text(encoding="utf-8").splitlines() \
                if settings.alerts_file.exists() else []
        print("─" * 78, file=out)
        for o in first:
            print(f"poll 1  {o.feed:<24} {o.status:<12} {o.new} new advisories, "
                  f"{o.merged} merged by CVE set, {o.messages} alerts queued", file=out)
        for o in second:
            print(f"poll 2  {o.feed:<24} {o.status}", file=out)
        print(f"delivered {delivered} alerts to the console ({len(alerts_file)} JSON lines "
              f"written); second poll delivered {again}. "
              f"Took {time.monotonic() - started:.1f} s.", file=out)
        failed = [o for o in first if o.status == "failed"]
        return 1 if failed or delivered == 0 or again != 0 else 0
