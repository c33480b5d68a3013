"""Decompress a feed body piece by piece, never more than a small chunk at a time.

httpx decompresses each network chunk in one go: 64 KiB of gzipped zeros becomes ~64 MiB in
memory before any size check can look at it. Here the output of each step is bounded, so a
gzip bomb is stopped by the caller's byte cap after at most one extra chunk.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

CHUNK = 64 * 1024


class UnsupportedEncoding(ValueError):
    """The server used a Content-Encoding we did not ask for."""


class BoundedDecoder:
    """Content-Encoding decoder (identity, gzip, deflate) yielding chunks of at most CHUNK bytes."""

    def __init__(self, content_encoding: str | None) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise UnsupportedEncoding(f"unsupported Content-Encoding {content_encoding!r}")
        self._coding = codings[0] if codings else None
        self._zlib = self._new_decompressor()
        self._deflate_sniffed = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of `data`, each at most CHUNK bytes; raises zlib.error on bad input."""
        if self._zlib is None:
            for start in range(0, len(data), CHUNK):
                yield data[start : start + CHUNK]
            return
        if self._coding == "deflate" and not self._deflate_sniffed and data:
            self._deflate_sniffed = True
            # Servers send "deflate" both zlib-wrapped (as the RFC says) and raw; sniff it.
            if not _looks_like_zlib_header(data):
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        pending = data
        while True:
            piece = self._zlib.decompress(pending, CHUNK)
            if piece:
                yield piece
            if self._zlib.eof:
                # At the end of a member CPython leaves the rest in unused_data (and sometimes
                # a stale copy in unconsumed_tail); a gzip body may hold several members.
                rest = self._zlib.unused_data
                if not rest or self._coding == "deflate":
                    return
                self._zlib = self._new_decompressor()
                assert self._zlib is not None
                pending = rest
                continue
            pending = self._zlib.unconsumed_tail
            # A full piece may mean zlib holds more output even with all input consumed.
            if not pending and len(piece) < CHUNK:
                return

    def flush(self) -> Iterator[bytes]:
        """Whatever the decompressor still holds (at most a few hundred bytes by then)."""
        if self._zlib is not None and not self._zlib.eof:
            piece = self._zlib.flush()
            if piece:
                yield piece

    def _new_decompressor(self) -> zlib._Decompress | None:
        if self._coding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._coding == "deflate":
            return zlib.decompressobj(zlib.MAX_WBITS)
        return None


def _looks_like_zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
