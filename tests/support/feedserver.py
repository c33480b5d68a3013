"""A real HTTP/1.1 feed server on 127.0.0.1 for tests: static, conditional, slow, endless, gzip.

Every response closes its connection (no keep-alive), bodies without a known length are
close-delimited, and each request is logged so tests can check what the client sent.

    async with FeedServer() as server:
        server.serve("/feed.xml", body, etag='"v1"')
        url = server.url("/feed.xml")
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import gzip
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

RSS_TYPE = "application/rss+xml; charset=utf-8"
_REASONS = {
    200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 403: "Forbidden",
    404: "Not Found", 408: "Request Timeout", 410: "Gone", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip
_CHUNK = 64 * 1024

BodySource = Callable[[], AsyncIterator[bytes]]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it; header names are lower-case."""

    method: str
    path: str
    headers: Mapping[str, str]


@dataclass
class Route:
    """How to answer one path.

    `stream` (a factory of async byte iterators) overrides `body`; a streamed body is
    close-delimited unless `headers` give a Content-Length.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    stream: BodySource | None = None
    delay_before_headers: float = 0.0
    hang: bool = False


class FeedServer:
    """Loopback HTTP server with routes registered per path (query strings are ignored)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> FeedServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and cut every connection still open (hanging or endless ones too)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of `path` on this server."""
        return self.base_url + path

    def requests_for(self, path: str) -> list[RecordedRequest]:
        """The requests received for `path` (query string ignored), oldest first."""
        return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    # ---- route registration -------------------------------------------------------------

    def route(self, path: str, route: Route) -> Route:
        """Answer `path` as `route` says; returns the route so a test can change it later."""
        self.routes[path] = route
        return route

    def serve(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = RSS_TYPE,
        etag: str | None = None,
        last_modified: str | None = None,
        gzip: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Route:
        """A static body; with etag/last_modified it answers matching conditional GETs with 304."""
        return self.route(
            path,
            Route(
                body=body,
                headers={"Content-Type": content_type, **(headers or {})},
                etag=etag,
                last_modified=last_modified,
                gzip=gzip,
            ),
        )

    def serve_file(self, path: str, file: Path, **kwargs: object) -> Route:
        """A file's bytes, with an ETag and Last-Modified taken from its content and mtime."""
        body = file.read_bytes()
        kwargs.setdefault("etag", f'"{zlib.crc32(body):08x}"')
        kwargs.setdefault(
            "last_modified", email.utils.formatdate(file.stat().st_mtime, usegmt=True)
        )
        return self.serve(path, body, **kwargs)  # type: ignore[arg-type]

    def status(
        self, path: str, status: int, *, headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> Route:
        """A fixed status, e.g. 503 with {'Retry-After': '120'}."""
        return self.route(path, Route(status=status, body=body, headers=dict(headers or {})))

    def redirect(self, path: str, to: str, status: int = 302) -> Route:
        """Redirect `path` to `to` (a path on this server or an absolute URL)."""
        return self.status(path, status, headers={"Location": to})

    def hang(self, path: str) -> Route:
        """Read the request, then never answer."""
        return self.route(path, Route(hang=True))

    def trickle(self, path: str, body: bytes, *, chunk_size: int = 16, delay: float = 0.5) -> Route:
        """Send headers at once, then `chunk_size` bytes every `delay` seconds."""

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), chunk_size):
                await asyncio.sleep(delay)
                yield body[start : start + chunk_size]

        return self.route(path, Route(headers={"Content-Type": RSS_TYPE}, stream=chunks))

    def endless(
        self, path: str, *, chunk: bytes = b"<item>" + b"x" * 1018, delay: float = 0.0
    ) -> Route:
        """Stream `chunk` forever (close-delimited), every `delay` seconds."""

        async def chunks() -> AsyncIterator[bytes]:
            yield b'<?xml version="1.0"?><rss version="2.0"><channel>'
            while True:
                if delay:
                    await asyncio.sleep(delay)
                yield chunk

        return self.route(path, Route(headers={"Content-Type": RSS_TYPE}, stream=chunks))

    def large(self, path: str, size: int, *, send_length: bool = False) -> Route:
        """`size` bytes generated lazily (the server never holds them), optionally with length."""

        async def chunks() -> AsyncIterator[bytes]:
            block = b"<!-- padding -->" * (_CHUNK // 16)
            for start in range(0, size, _CHUNK):
                yield block[: min(_CHUNK, size - start)]

        headers = {"Content-Type": RSS_TYPE}
        if send_length:
            headers["Content-Length"] = str(size)
        return self.route(path, Route(headers=headers, stream=chunks))

    def gzip_bomb(self, path: str, decompressed_size: int = 50 * 1024 * 1024) -> Route:
        """A small gzip body (Content-Encoding: gzip) that inflates to `decompressed_size` zeros."""
        return self.route(
            path,
            Route(
                body=gzipped_zeros(decompressed_size),
                headers={"Content-Type": RSS_TYPE, "Content-Encoding": "gzip"},
            ),
        )

    # ---- HTTP ---------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            route = self.routes.get(request.path.split("?", 1)[0])
            await self._respond(route, request, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(
        self, route: Route | None, request: RecordedRequest, writer: asyncio.StreamWriter
    ) -> None:
        if route is None:
            await _write_head(writer, 404, {"Content-Length": "9"})
            writer.write(b"not found")
            await writer.drain()
            return
        if route.hang:
            await asyncio.Event().wait()
        if route.delay_before_headers:
            await asyncio.sleep(route.delay_before_headers)
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        if route.status == 200 and _not_modified(route, request.headers):
            await _write_head(
                writer, 304, {k: v for k, v in headers.items() if k != "Content-Type"}
            )
            return
        if route.stream is not None:
            await _write_head(writer, route.status, headers)
            async for chunk in route.stream():
                writer.write(chunk)
                await writer.drain()
            return
        body = gzip.compress(route.body) if route.gzip else route.body
        if route.gzip:
            headers["Content-Encoding"] = "gzip"
        headers["Content-Length"] = str(len(body))
        await _write_head(writer, route.status, headers)
        writer.write(body)
        await writer.drain()


@functools.cache
def gzipped_zeros(size: int) -> bytes:
    """`size` zero bytes, gzip-compressed (about 1,000:1), built once per size."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    parts.append(compressor.compress(bytes(size % len(block))))
    parts.append(compressor.flush())
    return b"".join(parts)


def rss(
    items: Iterable[str], *, title: str = "Test feed", link: str = "https://example.org/"
) -> bytes:
    """A minimal RSS 2.0 document around already-serialised <item> elements."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>{link}</link><description>test</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def _not_modified(route: Route, headers: Mapping[str, str]) -> bool:
    if route.etag and "if-none-match" in headers:
        tags = [t.strip() for t in headers["if-none-match"].split(",")]
        return "*" in tags or route.etag in tags
    if route.last_modified and "if-modified-since" in headers:
        try:
            since = email.utils.parsedate_to_datetime(headers["if-modified-since"])
            modified = email.utils.parsedate_to_datetime(route.last_modified)
        except (TypeError, ValueError):
            return False
        return modified <= since
    return False


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return RecordedRequest(method=parts[0], path=parts[1], headers=headers)


async def _write_head(
    writer: asyncio.StreamWriter, status: int, headers: Mapping[str, str]
) -> None:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    await writer.drain()
