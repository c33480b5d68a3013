"""A loopback fake of the Telegram Bot API (HTTP/1.1 on 127.0.0.1) for tests and benchmarks.

python-telegram-bot's real `Bot` and `Application` talk to it over HTTP:

    async with TelegramServer(token=TELEGRAM_TEST_TOKEN) as server:
        app = (ApplicationBuilder().token(TELEGRAM_TEST_TOKEN)
               .base_url(server.bot_base_url).base_file_url(server.file_base_url).build())
        server.user_sends(100001, "/start")
        await server.wait_for_messages(100001, 1)

Faithful where a bot can get it wrong: the JSON envelopes and error texts of the Bot API,
HTML parse mode as tdlib parses it, the 4096/1024 length limits, flood limits answered with 429
and `parameters.retry_after`, getUpdates offsets (an update is redelivered until a later call
confirms it), long polling, webhook conflicts, privacy mode in groups. The flood limits run on
a clock a test can hold: with `TelegramServer(clock=ManualClock())` a burst is one instant
and time passes only by `clock.advance(seconds)`, so every 429 is the same on any machine.
Standard library only, so a benchmark can run it as its own process:

    python tests/telegram_server.py --port 8081 --token 123456:TEST-token --users 5000 \
        --log deliveries.jsonl

`--users N` creates private chats for users 100001..100000+N (`--first-user-id` moves them);
`--no-limits`, `--overall-rate`, `--group-limit` ... tune the flood limits. In this mode (unless
`--no-control`) `POST /control/<action>` with a JSON object of keyword arguments
calls one of `CONTROL_ACTIONS` (e.g. `/control/user_sends {"user_id": 100001, "text": "/start"}`,
`/control/set_down {"down": true}`) and `GET /control/stats` answers the counters.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import itertools
import json
import logging
import math
import re
import signal
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import parse_qsl, unquote

__all__ = [
    "CONTROL_ACTIONS", "TELEGRAM_TEST_TOKEN", "HtmlParseError", "ManualClock", "RateLimits",
    "SentMessage", "ServerStats", "TelegramServer", "UploadedFile", "parse_html", "utf16_length",
]  # fmt: skip

TELEGRAM_TEST_TOKEN = "123456:TEST-token"
log = logging.getLogger(__name__)
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
FIRST_USER_ID = 100001

# Only these count against flood limits (sendChatAction, answerCallbackQuery ... do not).
SEND_METHODS = frozenset(
    {"sendMessage", "sendDocument", "editMessageText", "editMessageReplyMarkup"}
)
# What getUpdates delivers when allowed_updates was never given (Bot API docs).
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_BOT_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@([A-Za-z0-9_]{3,32}))?")
_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    409: "Conflict", 413: "Request Entity Too Large", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip
_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_CONFLICT_POLL = (
    "Conflict: terminated by {by}; make sure that only one bot instance is running"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


# ---- public records ---------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimits:
    """Telegram's flood limits, per bot; `None` switches a limit off.

    The defaults are the published ones: about 30 messages/s overall (a token bucket),
    20 messages per minute in one group, supergroup or channel (a sliding window), and in a
    private chat about 1 message/s with short bursts tolerated (a token bucket).
    """

    overall_burst: float | None = 30
    overall_per_second: float = 30.0
    group_messages: int | None = 20
    group_window: float = 60.0
    private_burst: float | None = 10
    private_per_second: float = 1.0

    @classmethod
    def unlimited(cls) -> RateLimits:
        return cls(overall_burst=None, group_messages=None, private_burst=None)


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request, as the client sent it."""

    field: str
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class SentMessage:
    """One successful send-type call (sendMessage, sendDocument, editMessageText ...).

    `text` is what the recipient sees (text or caption, after the parse mode); `raw_text` is
    what the bot sent; `time` is the server's clock (time.monotonic unless a test gave one).
    """

    method: str
    chat_id: int
    message_id: int
    text: str | None
    raw_text: str | None
    parse_mode: str | None
    entities: tuple[dict[str, Any], ...]
    reply_markup: dict[str, Any] | None
    disable_notification: bool
    link_preview_disabled: bool
    reply_to_message_id: int | None
    message_thread_id: int | None
    time: float
    token: str
    files: tuple[UploadedFile, ...] = ()

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The inline keyboard's buttons, row after row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


@dataclass
class ServerStats:
    """Counters since start: successful sends, 429s, every error answer by status."""

    successful_sends: int = 0
    too_many_requests: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    dropped_connections: int = 0


# ---- HTML parse mode, after tdlib's parser (td/telegram/MessageEntity.cpp) ---------------


class HtmlParseError(ValueError):
    """Text that Telegram answers with "can't parse entities"."""


_HTML_TAGS = frozenset({
    "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
    "code", "pre", "blockquote", "tg-emoji",
})  # fmt: skip
_SIMPLE_ENTITIES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler",
}  # fmt: skip
_SPACES = frozenset(b" \t\r\n\v\f")
_NAMED_ENTITIES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    byte_offset: int


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(html: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities (UTF-16 offsets) of `html`, or HtmlParseError as Telegram says it.

    Like tdlib: only the Bot API's tags; `&lt; &gt; &amp; &quot;` and numeric references are
    decoded, any other `&` stays literal text; a `<` that starts no supported tag is an error.
    """
    data = html.encode("utf-8")
    out = bytearray()
    utf16 = 0
    entities: list[dict[str, Any]] = []
    stack: list[_OpenTag] = []
    i = 0
    while i < len(data):
        c = data[i]
        if c == 0x26:  # '&'
            decoded = _decode_html_entity(data, i)
            if decoded is not None:
                char, i = decoded
                out += char.encode("utf-8", "surrogatepass")
                utf16 += 2 if ord(char) > 0xFFFF else 1
                continue
        if c != 0x3C:  # not '<'
            if c & 0xC0 != 0x80:  # first byte of a character
                utf16 += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue
        if i + 1 < len(data) and data[i + 1] == 0x2F:  # '</'
            i = _close_tag(data, i, stack, entities, out, utf16)
        else:
            tag, i = _open_tag(data, i)
            stack.append(_OpenTag(tag[0], tag[1], utf16, len(out)))
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError:
        raise HtmlParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        ) from None
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, entities


def _decode_html_entity(data: bytes, pos: int) -> tuple[str, int] | None:
    end = pos + 1
    if data[end : end + 1] == b"#":
        end += 1
        hexadecimal = data[end : end + 1] == b"x"
        end += hexadecimal
        digits = b"0123456789abcdefABCDEF" if hexadecimal else b"0123456789"
        start = end
        while end < len(data) and data[end] in digits:
            end += 1
        value = int(data[start:end], 16 if hexadecimal else 10) if end > start else 0
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while end < len(data) and chr(data[end]).isascii() and chr(data[end]).isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(data[pos + 1 : end])
        if named is None:
            return None
        char = named
    if data[end : end + 1] == b";":
        end += 1
    return char, end


def _open_tag(data: bytes, begin: int) -> tuple[tuple[str, str], int]:
    """Parse the start tag at `begin`; returns (name, argument) and the index after '>'."""
    n = len(data)
    i = begin + 1
    while i < n and data[i] not in _SPACES and data[i] != 0x3E:
        i += 1
    if i >= n:
        raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
    name = data[begin + 1 : i].decode("utf-8", "replace").lower()
    if name not in _HTML_TAGS:
        raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {begin}')
    argument = ""
    while i < n and data[i] != 0x3E:
        while i < n and data[i] in _SPACES:
            i += 1
        if i < n and data[i] == 0x3E:
            break
        attribute_begin = i
        while i < n and data[i] not in _SPACES and data[i] not in b"=>":
            i += 1
        attribute = data[attribute_begin:i].decode("utf-8", "replace")
        if not attribute:
            raise HtmlParseError(
                f'Empty attribute name in the tag "{name}" at byte offset {begin}'
            )
        while i < n and data[i] in _SPACES:
            i += 1
        if i >= n or data[i] != 0x3D:  # no '='
            if name == "blockquote" and attribute == "expandable":
                argument = "expandable"
                continue
            raise HtmlParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{name}" at byte offset {begin}'
            )
        i += 1
        while i < n and data[i] in _SPACES:
            i += 1
        if i >= n:
            raise HtmlParseError(f'Unclosed start tag "{name}" at byte offset {begin}')
        value, i = _attribute_value(data, i)
        if i >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
        if (name, attribute) in (("a", "href"), ("tg-emoji", "emoji-id")):
            argument = value
        elif name == "code" and attribute == "class" and value.startswith("language-"):
            argument = value.removeprefix("language-")
        elif name == "span" and attribute == "class" and value.startswith("tg-"):
            argument = value.removeprefix("tg-")
    if i >= n:
        raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
    if name == "span" and argument != "spoiler":
        raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
    if name == "tg-emoji" and not argument.isdigit():
        raise HtmlParseError(
            f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {begin}'
        )
    return (name, argument), i + 1


def _attribute_value(data: bytes, i: int) -> tuple[str, int]:
    n = len(data)
    if data[i] not in b"'\"":  # a name token: letters, digits, '.', '-'
        start = i
        while i < n and (chr(data[i]).isascii() and chr(data[i]).isalnum() or data[i] in b".-"):
            i += 1
        if i < n and data[i] not in _SPACES and data[i] != 0x3E:
            raise HtmlParseError(f"Unexpected end of name token at byte offset {start}")
        return data[start:i].decode().lower(), i
    quote = data[i]
    i += 1
    value = bytearray()
    while i < n and data[i] != quote:
        decoded = _decode_html_entity(data, i) if data[i] == 0x26 else None
        if decoded is not None:
            value += decoded[0].encode("utf-8", "surrogatepass")
            i = decoded[1]
        else:
            value.append(data[i])
            i += 1
    return value.decode("utf-8", "replace"), i + 1 if i < n else i


def _close_tag(
    data: bytes, begin: int, stack: list[_OpenTag], entities: list[dict[str, Any]],
    out: bytearray, utf16: int,
) -> int:
    """Parse the end tag at `begin`, add its entity; returns the index after '>'."""
    if not stack:
        raise HtmlParseError(f"Unexpected end tag at byte offset {begin}")
    n = len(data)
    i = begin + 2
    while i < n and data[i] not in _SPACES and data[i] != 0x3E:
        i += 1
    end_name = data[begin + 2 : i].decode("utf-8", "replace").lower()
    while i < n and data[i] in _SPACES:
        i += 1
    if i >= n or data[i] != 0x3E:
        raise HtmlParseError(f"Unclosed end tag at byte offset {begin}")
    tag = stack.pop()
    if end_name and end_name != tag.name:
        raise HtmlParseError(
            f'Unmatched end tag at byte offset {begin}, expected "</{tag.name}>", '
            f'found "</{end_name}>"'
        )
    if utf16 > tag.utf16_offset:
        entity = _entity_for(tag, utf16 - tag.utf16_offset, out, entities)
        if entity is not None:
            entities.append(entity)
    return i + 1


def _entity_for(
    tag: _OpenTag, length: int, out: bytearray, entities: list[dict[str, Any]]
) -> dict[str, Any] | None:
    base: dict[str, Any] = {"offset": tag.utf16_offset, "length": length}
    last = entities[-1] if entities else None
    same_span = last is not None and (last["offset"], last["length"]) == (tag.utf16_offset, length)
    if tag.name in _SIMPLE_ENTITIES:
        return {"type": _SIMPLE_ENTITIES[tag.name], **base}
    if tag.name == "blockquote":
        kind = "expandable_blockquote" if tag.argument == "expandable" else "blockquote"
        return {"type": kind, **base}
    if tag.name == "tg-emoji":
        return {"type": "custom_emoji", **base, "custom_emoji_id": tag.argument}
    if tag.name == "a":
        url = tag.argument or out[tag.byte_offset :].decode("utf-8", "replace")
        if url.startswith("tg://user?id=") and url[13:].isdigit():
            user = {"id": int(url[13:]), "is_bot": False, "first_name": "User"}
            return {"type": "text_mention", **base, "user": user}
        if re.match(r"(?i)(https?|tg|ton)://\S+$", url):
            return {"type": "text_link", **base, "url": url}
        if re.match(r"[^\s/]+\.[^\s/]+\S*$", url):
            return {"type": "text_link", **base, "url": "http://" + url}
        return None  # tdlib drops a link it cannot check, silently
    if tag.name == "pre":
        if last is not None and same_span and last["type"] == "code" and last.get("language"):
            last["type"] = "pre"
            return None
        return {"type": "pre", **base}
    # code: inside a pre of the same span it gives the pre its language
    if last is not None and same_span and last["type"] == "pre" and tag.argument:
        last["language"] = tag.argument
        return None
    return {"type": "code", **base, **({"language": tag.argument} if tag.argument else {})}


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip leading and trailing whitespace as Telegram does, moving entities along."""
    stripped = text.strip(" \t\r\n\v\f")
    lead = len(text) - len(text.lstrip(" \t\r\n\v\f"))  # whitespace: one UTF-16 unit each
    if stripped == text:
        return text, entities
    size = utf16_length(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


# ---- flood limits --------------------------------------------------------------------------


class ManualClock:
    """A monotonic clock that moves only when `advance` is called.

    Given as `TelegramServer(clock=...)`, it times the flood limits (and `SentMessage.time`):
    a burst is then one instant however slowly the machine runs it, and a test says how much
    time passes before the next send.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic clock never goes back")
        self.now += seconds


class _TokenBucket:
    def __init__(self, capacity: float, per_second: float, now: float) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self.tokens = capacity
        self.updated = now

    def wait_time(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second

    def take(self) -> None:
        self.tokens -= 1


class _SlidingWindow:
    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.times: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.window:
            self.times.popleft()
        return 0.0 if len(self.times) < self.limit else self.times[0] + self.window - now

    def take(self, now: float) -> None:
        self.times.append(now)


# ---- requests and answers ------------------------------------------------------------------


class ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False, "error_code": self.status, "description": self.description,
        }  # fmt: skip
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class _ClientGone(Exception):
    """The client closed the connection while its request waited."""


@dataclass
class _HttpRequest:
    method: str
    target: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"


class _BadHttp(Exception):
    pass


async def _read_request(reader: asyncio.StreamReader) -> _HttpRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _BadHttp from exc
        return None  # closed between requests
    except asyncio.LimitOverrunError as exc:
        raise _BadHttp from exc
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        else:
            length = int(headers.get("content-length") or 0)
            if not 0 <= length <= MAX_UPLOAD_BYTES + 1024 * 1024:
                raise _BadHttp
            body = await reader.readexactly(length)
    except (ValueError, asyncio.LimitOverrunError) as exc:
        raise _BadHttp from exc
    return _HttpRequest(method.upper(), target, version, headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


def _http_response(reply: _Reply, keep_alive: bool) -> bytes:
    head = (
        f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}\r\n"
        "Server: nginx/1.18.0\r\n"
        f"Date: {email.utils.formatdate(usegmt=True)}\r\n"
        f"Content-Type: {reply.content_type}\r\n"
        f"Content-Length: {len(reply.body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode("latin-1") + reply.body


def _json_reply(status: int, payload: dict[str, Any]) -> _Reply:
    return _Reply(status, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def _header_param(value: str, name: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{name}="((?:[^"\\]|\\.)*)"', value) or re.search(
        rf"(?:^|;)\s*{name}=([^;\s]*)", value
    )
    if match is None:
        return None
    # httpx escapes '"' and control characters the HTML5 way (%22, %0A ...)
    return re.sub(r"%([01][0-9A-F]|22)", lambda m: chr(int(m.group(1), 16)), match.group(1))


def _parse_multipart(
    body: bytes, content_type: str
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    boundary = _header_param(content_type, "boundary")
    if not boundary:
        raise ApiError(400, "Bad Request: multipart boundary is missing")
    fields: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    for chunk in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if chunk.startswith(b"--"):
            break
        head, separator, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            continue
        content = content.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "name") or ""
        filename = _header_param(disposition, "filename")
        if filename is not None:
            content_type_ = headers.get("content-type", "application/octet-stream")
            files[name] = UploadedFile(name, filename, content_type_, content)
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields, files


def _parse_params(request: _HttpRequest, query: str) -> _Params:
    values: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, UploadedFile] = {}
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" and request.body:
        try:
            decoded = json.loads(request.body)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON request body") from None
        if not isinstance(decoded, dict):
            raise ApiError(400, "Bad Request: JSON request body must be an object")
        values.update(decoded)
    elif kind == "application/x-www-form-urlencoded":
        values.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    elif kind == "multipart/form-data":
        fields, files = _parse_multipart(request.body, content_type)
        values.update(fields)
    return _Params(values, files)


class _Params:
    """A method's parameters: from a form every value is a string, from JSON it is typed."""

    def __init__(self, values: dict[str, Any], files: dict[str, UploadedFile]) -> None:
        self.values = values
        self.files = files

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value == "" else value

    def string(self, name: str) -> str | None:
        value = self.raw(name)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ApiError(400, "Bad Request: strings must be encoded in UTF-8") from None
            return value
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ApiError(400, f'Bad Request: field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, f'Bad Request: field "{name}" must be of type Integer') from None

    def number(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ApiError(400, f'Bad Request: field "{name}" must be a Number') from None

    def boolean(self, name: str) -> bool:
        value = self.raw(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json_value(self, name: str) -> Any:
        value = self.raw(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
        return value


@dataclass
class _Call:
    method: str
    bot: _BotState
    params: _Params
    client_gone: Callable[[], bool]


@dataclass(frozen=True)
class _SendOptions:
    """A send's remaining parameters, validated before the send is admitted."""

    parse_mode: str | None
    disable_notification: bool
    link_preview_disabled: bool
    message_thread_id: int | None

    @classmethod
    def of(cls, params: _Params) -> _SendOptions:
        preview = params.json_value("link_preview_options") or {}
        if not isinstance(preview, dict):
            raise ApiError(400, "Bad Request: can't parse link preview options JSON object")
        return cls(
            parse_mode=params.string("parse_mode"),
            disable_notification=params.boolean("disable_notification"),
            link_preview_disabled=bool(preview.get("is_disabled"))
            or params.boolean("disable_web_page_preview"),
            message_thread_id=params.integer("message_thread_id"),
        )


@dataclass
class _Fault:
    chat_id: int | None
    method: str | None
    status: int
    description: str
    retry_after: int | None
    times: int

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.method is None:
            method_ok = method in SEND_METHODS
        else:
            method_ok = method.lower() == self.method.lower()
        return method_ok and (self.chat_id is None or self.chat_id == chat_id)


@dataclass
class _Drop:
    method: str | None
    deliver: bool
    times: int


class _Poll:
    """One getUpdates call waiting for updates; a newer call or setWebhook terminates it."""

    terminated_by: str | None = None


@dataclass
class _BotState:
    token: str
    user: dict[str, Any]
    limits: RateLimits
    clock: Callable[[], float]
    updates: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    allowed_updates: frozenset[str] | None = None
    webhook: dict[str, Any] | None = None
    poll: _Poll | None = None
    commands: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    callback_queries: dict[str, bool] = field(default_factory=dict)
    overall: _TokenBucket | None = None
    groups: dict[int, _SlidingWindow] = field(default_factory=dict)
    privates: dict[int, _TokenBucket] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reset_limits(self.limits)

    def reset_limits(self, limits: RateLimits) -> None:
        self.limits = limits
        self.groups.clear()
        self.privates.clear()
        self.overall = None
        if limits.overall_burst is not None:
            self.overall = _TokenBucket(
                limits.overall_burst, limits.overall_per_second, self.clock()
            )

    def wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def is_allowed(self, update: dict[str, Any]) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self.allowed_updates is None:
            return kind not in _DEFAULT_EXCLUDED_UPDATES
        return kind in self.allowed_updates

    def confirm(self, offset: int) -> None:
        """Forget updates as getUpdates' offset says (a negative one keeps the last -offset)."""
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def wait_time(self, chat_id: int, now: float) -> float:
        """Seconds until a send to `chat_id` is allowed (0: now)."""
        waits = [self.overall.wait_time(now)] if self.overall else []
        if chat_id < 0 and self.limits.group_messages is not None:
            window = self.groups.get(chat_id)
            if window is None:
                window = self.groups[chat_id] = _SlidingWindow(
                    self.limits.group_messages, self.limits.group_window
                )
            waits.append(window.wait_time(now))
        elif chat_id > 0 and self.limits.private_burst is not None:
            bucket = self.privates.get(chat_id)
            if bucket is None:
                bucket = self.privates[chat_id] = _TokenBucket(
                    self.limits.private_burst, self.limits.private_per_second, now
                )
            waits.append(bucket.wait_time(now))
        return max(waits, default=0.0)

    def take(self, chat_id: int, now: float) -> None:
        if self.overall:
            self.overall.take()
        if chat_id in self.groups:
            self.groups[chat_id].take(now)
        if chat_id in self.privates:
            self.privates[chat_id].take()


# ---- the server --------------------------------------------------------------------------

Handler = Callable[[_Call], Awaitable[Any]]
CONTROL_ACTIONS = frozenset({
    "add_private_chat", "add_private_chats", "add_group", "user_sends", "user_sends_file",
    "block", "unblock", "kick", "set_down", "delay", "fail_next", "drop_connection_next",
})  # fmt: skip


class TelegramServer:
    """The Bot API for one or more bot tokens on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        token: str | Iterable[str] = TELEGRAM_TEST_TOKEN,
        *,
        limits: RateLimits | None = None,
        log_path: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_first_name: str = "Hubbot Test",
        bot_username: str = "hubbot_test_bot",
        group_privacy: bool = True,
        control: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` (seconds, monotonic) times the flood limits; a `ManualClock` holds it still."""
        tokens = [token] if isinstance(token, str) else list(token)
        if not tokens or not all(_TOKEN_RE.fullmatch(t) for t in tokens):
            raise ValueError("tokens look like '123456:ABC-def'")
        self.limits = limits or RateLimits()
        self.log_path = Path(log_path) if log_path else None
        self.host = host
        self.port = port
        self.group_privacy = group_privacy
        self.control = control
        self.clock = clock
        self.tokens = tokens
        self._bots = {
            t: _BotState(
                t, self._bot_user(t, n, bot_first_name, bot_username), self.limits, clock
            )
            for n, t in enumerate(tokens)
        }
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.kicked: set[int] = set()
        self.sent: list[SentMessage] = []
        self.requests: Counter[str] = Counter()
        self.stats = ServerStats()
        self.callback_answers: list[dict[str, Any]] = []
        self.files: dict[str, UploadedFile] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._last_message_id: dict[int, int] = {}
        self._update_ids = itertools.count(1_000_000)
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._faults: list[_Fault] = []
        self._drops: list[_Drop] = []
        self._down = False
        self._send_delay = 0.0
        self._sent_changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._log: IO[str] | None = None
        self._handlers: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in {
                "getMe": self._get_me, "logOut": self._true, "close": self._true,
                "getUpdates": self._get_updates, "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook, "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message, "sendDocument": self._send_document,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "sendChatAction": self._send_chat_action, "getChat": self._get_chat,
                "getFile": self._get_file, "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
            }.items()
        }  # fmt: skip

    # ---- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> TelegramServer:
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
        """Listen (port 0: a free one) and open the delivery log, if any."""
        if self.log_path is not None:
            self._log = self.log_path.open("a", encoding="utf-8", buffering=1)
        self._server = await asyncio.start_server(
            self._serve_connection, self.host, self.port, backlog=1024, limit=1024 * 1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, cut every open connection (long polls too), close the log."""
        if self._server is not None:
            self._server.close()
        connections = list(self._connections)
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://{self.host}:{self.port}"

    @property
    def bot_base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)` / `Bot(base_url=...)`: ptb appends the token."""
        return self.base_url + "/bot"

    @property
    def file_base_url(self) -> str:
        """For `ApplicationBuilder().base_file_url(...)`: ptb appends the token."""
        return self.base_url + "/file/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        """The first token's bot, as getMe answers it."""
        return self._bots[self.tokens[0]].user

    # ---- simulated users and chats -----------------------------------------------------------

    def add_private_chat(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """A user who has started the bot; returns the private chat."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat = {"id": user_id, "type": "private", "first_name": first_name}
        for key, value in (("last_name", last_name), ("username", username)):
            if value is not None:
                user[key] = chat[key] = value
        if language_code is not None:
            user["language_code"] = language_code
        self.users[user_id] = user
        self.chats[user_id] = chat
        return chat

    def add_private_chats(self, count: int, first_id: int = FIRST_USER_ID) -> list[int]:
        """`count` users with private chats, ids first_id, first_id + 1 ...; returns the ids."""
        ids = list(range(first_id, first_id + count))
        for user_id in ids:
            self.add_private_chat(user_id, f"User{user_id}", username=f"user{user_id}")
        return ids

    def add_group(
        self, chat_id: int, title: str, type: str = "supergroup", *, username: str | None = None
    ) -> dict[str, Any]:
        """A group, supergroup or channel the bot is a member of; ids are negative."""
        if chat_id >= 0:
            raise ValueError("group and channel ids are negative")
        if type not in ("group", "supergroup", "channel"):
            raise ValueError(f"unknown chat type {type!r}")
        chat: dict[str, Any] = {"id": chat_id, "type": type, "title": title}
        if username is not None:
            chat["username"] = username
        self.chats[chat_id] = chat
        return chat

    def user_sends(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        reply_to: SentMessage | None = None,
        token: str | None = None,
    ) -> int | None:
        """Queue a `message` update from `user_id` (private chat unless `chat_id`).

        A command gets its `bot_command` entity. In a group, with privacy mode on (the
        default), only commands, replies to the bot and mentions of it reach the bot; anything
        else returns None. Writing to the bot unblocks it, as only that lets a user write.
        """
        return self._user_message(user_id, chat_id, {"text": text}, text, "entities",
                                  reply_to, token)

    def user_sends_file(
        self,
        user_id: int,
        kind: str = "photo",
        chat_id: int | None = None,
        *,
        caption: str | None = None,
        token: str | None = None,
    ) -> int | None:
        """Queue a `message` update carrying no text but a `kind` of "photo", "document",
        "voice", "video" or "sticker" (with `caption`, if given, as clients send it), from
        `user_id` (private chat unless `chat_id`). Groups as in `user_sends`: with privacy
        mode on, only a caption's command or mention makes it reach the bot."""
        number = next(self._file_ids)
        file = {"file_id": f"AgACAgIAAxkBAAI{number:08d}", "file_unique_id": f"AQAD{number:08d}"}
        media: dict[str, Any] = {
            "photo": [{**file, "width": 90, "height": 67, "file_size": 1320},
                      {**file, "file_id": file["file_id"] + "L", "width": 1280, "height": 960,
                       "file_size": 98_214}],
            "document": {**file, "file_name": "scan.pdf", "mime_type": "application/pdf",
                         "file_size": 48_213},
            "voice": {**file, "duration": 4, "mime_type": "audio/ogg", "file_size": 9_871},
            "video": {**file, "width": 640, "height": 360, "duration": 12,
                      "mime_type": "video/mp4", "file_size": 812_345},
            "sticker": {**file, "type": "regular", "width": 512, "height": 512,
                        "is_animated": False, "is_video": False, "emoji": "👍"},
        }  # fmt: skip
        if kind not in media:
            raise ValueError(f"unknown kind of file {kind!r}")
        fields: dict[str, Any] = {kind: media[kind]}
        if caption is not None:
            if kind == "sticker":
                raise ValueError("a sticker has no caption")
            fields["caption"] = caption
        return self._user_message(user_id, chat_id, fields, caption or "", "caption_entities",
                                  None, token)

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        fields: dict[str, Any],
        text: str,
        entities_key: str,
        reply_to: SentMessage | None,
        token: str | None,
    ) -> int | None:
        """A message from the user with `fields` (its text or file); `text` (the text or
        caption) decides its command entity and, in a group, whether the bot receives it."""
        bot = self._bot(token)
        user = self.users.get(user_id)
        if user is None:
            self.add_private_chat(user_id, f"User{user_id}")
            user = self.users[user_id]
        chat = self.chats.get(user_id if chat_id is None else chat_id)
        if chat is None or chat["type"] == "channel":
            raise ValueError(f"no private chat or group {chat_id} to write in")
        if chat["type"] == "private":
            self.blocked.discard(user_id)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat["id"]), "from": user, "chat": chat,
            "date": int(time.time()), **fields,
        }  # fmt: skip
        command = _BOT_COMMAND_RE.match(text)
        if command:
            message[entities_key] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command.group(0))}
            ]
        if reply_to is not None:
            message["reply_to_message"] = self._messages[(reply_to.chat_id, reply_to.message_id)]
        self._messages[(chat["id"], message["message_id"])] = message
        if chat["type"] != "private" and self.group_privacy:
            name = bot.user["username"].lower()
            addressed = command is not None and (command.group(1) or name).lower() == name
            mentioned = "@" + name in text.lower()
            replied = reply_to is not None and reply_to.token == bot.token
            if not (addressed or mentioned or replied):
                return None
        return self._enqueue(bot, "message", message)

    def user_presses(self, user_id: int, message: SentMessage, callback_data: str) -> int:
        """Queue a `callback_query` update: `user_id` pressed a button of the bot's `message`."""
        bot = self._bot(message.token)
        stored = self._messages[(message.chat_id, message.message_id)]
        rows = stored.get("reply_markup", {}).get("inline_keyboard", [])
        if not any(b.get("callback_data") == callback_data for row in rows for b in row):
            raise ValueError(f"message {message.message_id} has no button {callback_data!r}")
        if user_id not in self.users:
            self.add_private_chat(user_id, f"User{user_id}")
        query_id = str(next(self._callback_ids))
        bot.callback_queries[query_id] = False
        query = {
            "id": query_id, "from": self.users[user_id], "message": stored,
            "chat_instance": str(abs(message.chat_id) * 7919 % 10**18), "data": callback_data,
        }  # fmt: skip
        return self._enqueue(bot, "callback_query", query)

    def bot_added_to_group(self, chat_id: int, by_user: int, *, token: str | None = None) -> int:
        """Queue the `my_chat_member` update Telegram sends when a user adds the bot."""
        self.kicked.discard(chat_id)
        status = "administrator" if self.chats[chat_id]["type"] == "channel" else "member"
        return self._chat_member_update(chat_id, by_user, "left", status, token)

    def bot_removed_from_group(
        self, chat_id: int, by_user: int, *, token: str | None = None
    ) -> int:
        """The bot is kicked: a `my_chat_member` update, and sends there answer 403."""
        self.kicked.add(chat_id)
        return self._chat_member_update(chat_id, by_user, "member", "kicked", token)

    # ---- observing what the bot did --------------------------------------------------------

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """Messages and documents delivered to `chat_id`, oldest first (edits not included)."""
        return [m for m in self.sent if m.chat_id == chat_id and m.method.startswith("send")]

    async def wait_for_messages(
        self, chat_id: int, count: int, timeout: float = 5.0
    ) -> list[SentMessage]:
        """Wait until `count` messages reached `chat_id`; AssertionError with what did if not."""
        deadline = time.monotonic() + timeout
        while len(delivered := self.messages_to(chat_id)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                texts = [m.text for m in delivered]
                raise AssertionError(
                    f"expected {count} messages to chat {chat_id} within {timeout}s, "
                    f"got {len(delivered)}: {texts!r}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sent_changed.wait(), remaining)
        return delivered

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "",
                 *, token: str | None = None) -> list[dict[str, str]]:
        """The command list setMyCommands stored for (scope, language)."""
        key = (_scope_key(scope or {"type": "default"}), language_code)
        return self._bot(token).commands.get(key, [])

    def pending_updates(self, token: str | None = None) -> list[dict[str, Any]]:
        """Updates not yet confirmed by getUpdates' offset."""
        return list(self._bot(token).updates)

    def webhook(self, token: str | None = None) -> dict[str, Any] | None:
        """What setWebhook recorded, or None."""
        return self._bot(token).webhook

    # ---- fault injection -------------------------------------------------------------------

    def fail_next(
        self,
        chat_id: int | None = None,
        status: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        *,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` sends (to `chat_id`, or any) with this error, undelivered.

        `method` names another method to fail instead of sends (e.g. "getUpdates"). A 429
        always carries retry_after (default 1), as Telegram's do.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}" if status == 429
                else _REASONS.get(status, "Error")
            )
        self._faults.append(_Fault(chat_id, method, status, description, retry_after, times))

    def block(self, user_id: int, *, notify: bool = False, token: str | None = None) -> None:
        """The user blocks the bot: sends to them answer 403 from now on.

        With `notify`, also queue the `my_chat_member` update Telegram sends then.
        """
        self.blocked.add(user_id)
        if notify:
            self._chat_member_update(user_id, user_id, "member", "kicked", token)

    def unblock(self, user_id: int) -> None:
        self.blocked.discard(user_id)

    def kick(self, chat_id: int) -> None:
        """The bot is no longer in group `chat_id`; no update (see bot_removed_from_group)."""
        self.kicked.add(chat_id)

    def set_down(self, down: bool = True) -> None:
        """An outage: while down every request is answered 502 Bad Gateway."""
        self._down = down

    def delay(self, seconds: float) -> None:
        """Hold every send `seconds` before carrying it out and answering (0: no delay).

        The send is carried out even if the client gave up meanwhile, as on Telegram: a timed
        out send may still have been delivered.
        """
        self._send_delay = seconds

    def drop_connection_next(
        self, times: int = 1, *, method: str | None = None, deliver: bool = False
    ) -> None:
        """Close the connection instead of answering the next `times` sends (or `method` calls).

        With `deliver`, the send is carried out first and only the answer is lost.
        """
        self._drops.append(_Drop(method, deliver, times))

    def set_limits(self, limits: RateLimits) -> None:
        """New flood limits, with fresh buckets and windows."""
        self.limits = limits
        for bot in self._bots.values():
            bot.reset_limits(limits)

    # ---- HTTP ------------------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                reply = await self._answer(request, reader.at_eof)
                if reply is None:
                    self.stats.dropped_connections += 1
                    writer.transport.abort()
                    break
                writer.write(_http_response(reply, request.keep_alive))
                await writer.drain()
                if not request.keep_alive:
                    break
        except _BadHttp:
            with contextlib.suppress(ConnectionError):
                writer.write(_http_response(_Reply(400, b"Bad Request", "text/plain"), False))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, _ClientGone):
            pass
        except asyncio.CancelledError:
            pass  # stop(): end quietly (Python 3.11's streams log a cancelled connection task)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _answer(
        self, request: _HttpRequest, client_gone: Callable[[], bool]
    ) -> _Reply | None:
        target, _, query = request.target.partition("?")
        path = unquote(target)  # ptb quotes file download paths ("bot123:abc" -> "bot123%3Aabc")
        if self.control and path.startswith("/control/"):
            return await self._control(path.removeprefix("/control/"), request)
        if self._down:
            return self._error(ApiError(502, "Bad Gateway"))
        if path.startswith("/file/bot"):
            return self._download(path.removeprefix("/file/bot"))
        if not path.startswith("/bot"):
            return self._error(ApiError(404, "Not Found"))
        token, _, method_name = path.removeprefix("/bot").partition("/")
        if not _TOKEN_RE.fullmatch(token):
            return self._error(ApiError(404, "Not Found"))
        bot = self._bots.get(token)
        if bot is None:
            return self._error(ApiError(401, "Unauthorized"))
        method, handler = self._handlers.get(method_name.lower(), (method_name, None))
        self.requests[method] += 1
        if handler is None:
            return self._error(ApiError(404, "Not Found"))
        try:
            params = _parse_params(request, query)
        except ApiError as exc:
            return self._error(exc)
        return await self._call(_Call(method, bot, params, client_gone), handler)

    async def _call(self, call: _Call, handler: Handler) -> _Reply | None:
        chat_id = _int_or_none(call.params.raw("chat_id"))
        drop = self._take_drop(call.method)
        if drop is not None and not drop.deliver:
            return None
        fault = self._take_fault(call.method, chat_id)
        if fault is not None:
            return self._error(ApiError(fault.status, fault.description, fault.retry_after))
        if call.method in SEND_METHODS and self._send_delay > 0:
            await asyncio.sleep(self._send_delay)
        try:
            result = await handler(call)
        except ApiError as exc:
            reply = self._error(exc)
        except (_ClientGone, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug of this server: say so loudly, answer like Telegram
            log.exception("TelegramServer: %s failed", call.method)
            reply = self._error(ApiError(500, f"Internal Server Error: {exc!r}"))
        else:
            reply = _json_reply(200, {"ok": True, "result": result})
        return None if drop is not None else reply

    def _error(self, error: ApiError) -> _Reply:
        self.stats.errors[error.status] += 1
        if error.status == 429:
            self.stats.too_many_requests += 1
        return _json_reply(error.status, error.envelope())

    def _take_fault(self, method: str, chat_id: int | None) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(method, chat_id):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _take_drop(self, method: str) -> _Drop | None:
        for drop in self._drops:
            if (method in SEND_METHODS) if drop.method is None else drop.method == method:
                drop.times -= 1
                if drop.times <= 0:
                    self._drops.remove(drop)
                return drop
        return None

    def _download(self, rest: str) -> _Reply:
        token, _, file_path = rest.partition("/")
        if token not in self._bots:
            return self._error(ApiError(401, "Unauthorized"))
        for file_id, upload in self.files.items():
            if _file_path(file_id, upload) == file_path:
                return _Reply(200, upload.content, upload.content_type)
        return self._error(ApiError(404, "Not Found"))

    async def _control(self, action: str, request: _HttpRequest) -> _Reply:
        if action == "stats":
            return _json_reply(200, {"ok": True, "result": self.stats_summary()})
        if action not in CONTROL_ACTIONS:
            return self._error(ApiError(404, "Not Found"))
        try:
            kwargs = json.loads(request.body or b"{}")
            result = getattr(self, action)(**kwargs)
        except (TypeError, ValueError, KeyError) as exc:
            return self._error(ApiError(400, f"Bad Request: {exc}"))
        return _json_reply(200, {"ok": True, "result": result})

    def stats_summary(self) -> dict[str, Any]:
        """The counters as JSON-ready data (also `GET /control/stats`)."""
        return {
            "successful_sends": self.stats.successful_sends,
            "too_many_requests": self.stats.too_many_requests,
            "errors": {str(k): v for k, v in sorted(self.stats.errors.items())},
            "dropped_connections": self.stats.dropped_connections,
            "requests": dict(self.requests),
            "chats": len(self.chats),
        }

    # ---- Bot API methods -------------------------------------------------------------------

    async def _true(self, call: _Call) -> bool:
        return True

    async def _get_me(self, call: _Call) -> dict[str, Any]:
        return call.bot.user

    async def _get_updates(self, call: _Call) -> list[dict[str, Any]]:
        bot, params = call.bot, call.params
        if bot.webhook is not None:
            raise ApiError(409, _CONFLICT_WEBHOOK)
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = max(params.number("timeout") or 0.0, 0.0)
        allowed = params.json_value("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise ApiError(400, "Bad Request: can't parse allowed_updates JSON object")
            bot.allowed_updates = frozenset(allowed) or None
        bot.confirm(params.integer("offset") or 0)
        if bot.poll is not None:
            bot.poll.terminated_by = "other getUpdates request"
        poll = bot.poll = _Poll()
        bot.wake()
        deadline = time.monotonic() + timeout
        try:
            while True:
                if call.client_gone():  # e.g. ptb cancelled it on stop: no answer, no 409
                    raise _ClientGone
                if poll.terminated_by is not None:
                    raise ApiError(409, _CONFLICT_POLL.format(by=poll.terminated_by))
                batch = [u for u in bot.updates if bot.is_allowed(u)][:limit]
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0:
                    return batch
                with contextlib.suppress(TimeoutError):
                    # wakes on a new update or a newer getUpdates; looks for a gone client often
                    await asyncio.wait_for(bot.changed.wait(), min(remaining, 0.25))
        finally:
            if bot.poll is poll:
                bot.poll = None

    async def _set_webhook(self, call: _Call) -> bool:
        bot, params = call.bot, call.params
        url = params.string("url") or ""
        if not url:
            return await self._delete_webhook(call)
        if not url.lower().startswith("https://"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        allowed = params.json_value("allowed_updates")
        if allowed is not None:
            bot.allowed_updates = frozenset(allowed) or None
        if params.boolean("drop_pending_updates"):
            bot.updates.clear()
        bot.webhook = {
            "url": url, "max_connections": params.integer("max_connections") or 40,
            "secret_token": params.string("secret_token"),
            "ip_address": params.string("ip_address"),
        }  # fmt: skip
        if bot.poll is not None:
            bot.poll.terminated_by = "setWebhook request"
            bot.wake()
        return True

    async def _delete_webhook(self, call: _Call) -> bool:
        call.bot.webhook = None
        if call.params.boolean("drop_pending_updates"):
            call.bot.updates.clear()
        return True

    async def _get_webhook_info(self, call: _Call) -> dict[str, Any]:
        bot = call.bot
        info: dict[str, Any] = {
            "url": bot.webhook["url"] if bot.webhook else "", "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }  # fmt: skip
        if bot.webhook:
            info["max_connections"] = bot.webhook["max_connections"]
            if bot.webhook.get("ip_address"):
                info["ip_address"] = bot.webhook["ip_address"]
        if bot.allowed_updates is not None:
            info["allowed_updates"] = sorted(bot.allowed_updates)
        return info

    async def _send_message(self, call: _Call) -> dict[str, Any]:
        params = call.params
        raw, plain, entities = _formatted(params, "text", "entities")
        chat = self._target_chat(call)
        if not plain:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_length(plain) > MAX_TEXT_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        markup = _reply_markup(params)
        reply_to = self._reply_target(chat["id"], params)
        options = _SendOptions.of(params)
        self._admit(call.bot, chat["id"])
        message = self._bot_message(call.bot, chat, text=plain, entities=entities or None,
                                    reply_markup=markup, reply_to_message=reply_to)
        self._record(call, message, options, raw_text=raw, text=plain, entities=entities)
        return message

    async def _send_document(self, call: _Call) -> dict[str, Any]:
        params = call.params
        raw, plain, entities = _formatted(params, "caption", "caption_entities")
        chat = self._target_chat(call)
        upload = params.files.get("document")
        if upload is None:
            file_id = params.string("document")
            upload = self.files.get(file_id or "")
            if upload is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        elif not upload.content:
            raise ApiError(400, "Bad Request: file must be non-empty")
        elif len(upload.content) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        if utf16_length(plain) > MAX_CAPTION_LENGTH:
            raise ApiError(400, "Bad Request: message caption is too long")
        markup = _reply_markup(params)
        reply_to = self._reply_target(chat["id"], params)
        options = _SendOptions.of(params)
        self._admit(call.bot, chat["id"])
        file_id = next((k for k, v in self.files.items() if v is upload), None)
        if file_id is None:
            file_id = f"BQACAgIAAxkDAAI{next(self._file_ids):08d}"
            self.files[file_id] = upload
        document = {
            "file_id": file_id, "file_unique_id": "AgAD" + file_id[-8:],
            "file_name": upload.filename, "mime_type": upload.content_type,
            "file_size": len(upload.content),
        }  # fmt: skip
        message = self._bot_message(call.bot, chat, document=document, caption=plain or None,
                                    caption_entities=entities or None, reply_markup=markup,
                                    reply_to_message=reply_to)
        self._record(call, message, options, raw_text=raw, text=plain or None,
                     entities=entities, files=(upload,))
        return message

    async def _edit_message_text(self, call: _Call) -> dict[str, Any]:
        params = call.params
        raw, plain, entities = _formatted(params, "text", "entities")
        message = self._editable(call)
        if not plain:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_length(plain) > MAX_TEXT_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        markup = _reply_markup(params)  # absent: the edit removes the inline keyboard
        if (message.get("text"), message.get("entities") or [], message.get("reply_markup")) == (
            plain, entities, markup
        ):
            raise ApiError(400, _NOT_MODIFIED)
        options = _SendOptions.of(params)
        self._admit(call.bot, message["chat"]["id"])
        _replace(message, text=plain, entities=entities or None, reply_markup=markup,
                 edit_date=int(time.time()))
        self._record(call, message, options, raw_text=raw, text=plain, entities=entities)
        return message

    async def _edit_message_reply_markup(self, call: _Call) -> dict[str, Any]:
        message = self._editable(call)
        markup = _reply_markup(call.params)
        if message.get("reply_markup") == markup:
            raise ApiError(400, _NOT_MODIFIED)
        options = _SendOptions.of(call.params)
        self._admit(call.bot, message["chat"]["id"])
        _replace(message, reply_markup=markup, edit_date=int(time.time()))
        text = message.get("text", message.get("caption"))
        self._record(call, message, options, raw_text=None, text=text,
                     entities=message.get("entities", []))
        return message

    async def _answer_callback_query(self, call: _Call) -> bool:
        params = call.params
        query_id = params.string("callback_query_id") or ""
        if call.bot.callback_queries.get(query_id, True):  # unknown, or answered already
            raise ApiError(400, _QUERY_INVALID)
        call.bot.callback_queries[query_id] = True
        text = params.string("text")
        if text is not None and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers.append({
            "callback_query_id": query_id, "text": text, "show_alert": params.boolean("show_alert"),
            "url": params.string("url"), "cache_time": params.integer("cache_time"),
        })  # fmt: skip
        return True

    async def _send_chat_action(self, call: _Call) -> bool:
        self._target_chat(call)
        if not call.params.string("action"):
            raise ApiError(400, "Bad Request: action is empty")
        return True

    async def _get_chat(self, call: _Call) -> dict[str, Any]:
        chat = self._target_chat(call)
        gifts = dict.fromkeys(("unlimited_gifts", "limited_gifts", "unique_gifts",
                               "premium_subscription", "gifts_from_channels"), False)
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": gifts}

    async def _get_file(self, call: _Call) -> dict[str, Any]:
        file_id = call.params.string("file_id") or ""
        upload = self.files.get(file_id)
        if upload is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": file_id, "file_unique_id": "AgAD" + file_id[-8:],
                "file_size": len(upload.content), "file_path": _file_path(file_id, upload)}

    async def _set_my_commands(self, call: _Call) -> bool:
        commands = call.params.json_value("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            name = str(command.get("command", "")).removeprefix("/")
            description = str(command.get("description", "")).strip()
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: command description must be non-empty")
            cleaned.append({"command": name, "description": description})
        call.bot.commands[self._commands_key(call)] = cleaned
        return True

    async def _get_my_commands(self, call: _Call) -> list[dict[str, str]]:
        return call.bot.commands.get(self._commands_key(call), [])

    async def _delete_my_commands(self, call: _Call) -> bool:
        call.bot.commands.pop(self._commands_key(call), None)
        return True

    # ---- helpers of the methods ----------------------------------------------------------------

    def _bot(self, token: str | None) -> _BotState:
        return self._bots[token or self.tokens[0]]

    @staticmethod
    def _bot_user(token: str, index: int, first_name: str, username: str) -> dict[str, Any]:
        bot_id = int(token.split(":")[0])
        return {
            "id": bot_id, "is_bot": True, "first_name": first_name,
            "username": username if index == 0 else f"test{bot_id}_bot",
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False,
            "has_main_web_app": False,
        }  # fmt: skip

    def _target_chat(self, call: _Call) -> dict[str, Any]:
        """The chat named by chat_id, if the bot may write there (400 / 403 otherwise)."""
        raw = call.params.raw("chat_id")
        if raw is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat: dict[str, Any] | None
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self.chats.values() if c.get("username") == raw[1:]), None)
        else:
            chat_id = _int_or_none(raw)
            chat = self.chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat["type"] == "private" and chat["id"] in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat["id"] in self.kicked:
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat['type']} chat")
        return chat

    def _reply_target(self, chat_id: int, params: _Params) -> dict[str, Any] | None:
        reply = params.json_value("reply_parameters")
        if reply is None and params.raw("reply_to_message_id") is not None:
            reply = {"message_id": params.integer("reply_to_message_id"),
                     "allow_sending_without_reply": params.boolean("allow_sending_without_reply")}
        if reply is None:
            return None
        if not isinstance(reply, dict):
            raise ApiError(400, "Bad Request: can't parse reply parameters JSON object")
        target_chat = _int_or_none(reply.get("chat_id")) or chat_id
        message = self._messages.get((target_chat, _int_or_none(reply.get("message_id")) or 0))
        if message is None and not reply.get("allow_sending_without_reply"):
            raise ApiError(400, "Bad Request: message to be replied not found")
        return message

    def _editable(self, call: _Call) -> dict[str, Any]:
        if call.params.raw("inline_message_id") is not None:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._target_chat(call)
        message = self._messages.get((chat["id"], call.params.integer("message_id") or 0))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        sender = message.get("from", {}).get("id")
        if "from" in message and sender != call.bot.user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _admit(self, bot: _BotState, chat_id: int) -> None:
        """Telegram's flood control: 429 with retry_after, or take this send's share."""
        now = self.clock()
        wait = bot.wait_time(chat_id, now)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        bot.take(chat_id, now)

    def _commands_key(self, call: _Call) -> tuple[str, str]:
        scope = call.params.json_value("scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
            raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        if "chat_id" in scope:
            chat_id = _int_or_none(scope["chat_id"])
            if chat_id not in self.chats:
                raise ApiError(400, "Bad Request: chat not found")
            scope = {**scope, "chat_id": chat_id}
        language = call.params.string("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise ApiError(400, "Bad Request: invalid language code specified")
        return _scope_key(scope), language

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _bot_message(self, bot: _BotState, chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
        message: dict[str, Any] = {"message_id": self._next_message_id(chat["id"])}
        if chat["type"] == "channel":
            message["sender_chat"] = chat
        else:
            message["from"] = bot.user
        message.update({"chat": chat, "date": int(time.time())})
        message.update({key: value for key, value in fields.items() if value is not None})
        self._messages[(chat["id"], message["message_id"])] = message
        return message

    def _record(
        self,
        call: _Call,
        message: dict[str, Any],
        options: _SendOptions,
        *,
        raw_text: str | None,
        text: str | None,
        entities: list[dict[str, Any]],
        files: tuple[UploadedFile, ...] = (),
    ) -> None:
        reply_to = message.get("reply_to_message")
        record = SentMessage(
            method=call.method, chat_id=message["chat"]["id"], message_id=message["message_id"],
            text=text, raw_text=raw_text, parse_mode=options.parse_mode,
            entities=tuple(entities), reply_markup=message.get("reply_markup"),
            disable_notification=options.disable_notification,
            link_preview_disabled=options.link_preview_disabled,
            reply_to_message_id=reply_to["message_id"] if reply_to else None,
            message_thread_id=options.message_thread_id,
            time=self.clock(), token=call.bot.token, files=files,
        )  # fmt: skip
        self.sent.append(record)
        self.stats.successful_sends += 1
        if self._log is not None:
            self._log.write(json.dumps({
                "time": time.time(), "method": record.method, "chat_id": record.chat_id,
                "message_id": record.message_id, "text": record.text,
            }, ensure_ascii=False) + "\n")  # fmt: skip
        self._sent_changed.set()
        self._sent_changed = asyncio.Event()

    def _enqueue(self, bot: _BotState, kind: str, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        bot.updates.append({"update_id": update_id, kind: payload})
        bot.wake()
        return update_id

    def _chat_member_update(
        self, chat_id: int, by_user: int, old: str, new: str, token: str | None
    ) -> int:
        bot = self._bot(token)
        if by_user not in self.users:
            self.add_private_chat(by_user, f"User{by_user}")
        update = {
            "chat": self.chats[chat_id], "from": self.users[by_user], "date": int(time.time()),
            "old_chat_member": _member(old, bot.user), "new_chat_member": _member(new, bot.user),
        }  # fmt: skip
        return self._enqueue(bot, "my_chat_member", update)


_SCOPES = frozenset({
    "default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat",
    "chat_administrators", "chat_member",
})  # fmt: skip
_BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)


def _formatted(
    params: _Params, field_name: str, entities_field: str
) -> tuple[str | None, str, list[dict[str, Any]]]:
    """(raw, plain, entities) of a text or caption after its parse mode, trimmed like Telegram."""
    raw = params.string(field_name)
    mode = (params.string("parse_mode") or "").lower()
    if mode == "html":
        try:
            plain, entities = parse_html(raw or "")
        except HtmlParseError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    elif mode in ("markdown", "markdownv2"):
        plain, entities = raw or "", []  # accepted unchecked: hubbot sends HTML
    elif mode:
        raise ApiError(400, "Bad Request: unsupported parse_mode")
    else:
        given = params.json_value(entities_field) or []
        if not isinstance(given, list) or not all(isinstance(e, dict) for e in given):
            raise ApiError(400, f"Bad Request: can't parse {entities_field} JSON object")
        plain, entities = raw or "", given
    plain, entities = _trim(plain, entities)
    return raw, plain, entities


def _reply_markup(params: _Params) -> dict[str, Any] | None:
    """The inline keyboard to echo in the message (other keyboards are accepted, not echoed)."""
    markup = params.json_value("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, 'Bad Request: field "inline_keyboard" must be an Array of Arrays')
    for button in (button for row in rows for button in row):
        if not isinstance(button, dict) or not button.get("text"):
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: "
                                "Text must be non-empty")
        if sum(action in button for action in _BUTTON_ACTIONS) != 1:
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: "
                                "Text buttons are unallowed in the inline keyboard")
        if "callback_data" in button and not 1 <= len(
            str(button["callback_data"]).encode()
        ) <= 64:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        if "url" in button and (not button["url"] or re.search(r"\s", str(button["url"]))):
            raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
    return {"inline_keyboard": rows}


def _replace(message: dict[str, Any], **fields: Any) -> None:
    for key, value in fields.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value


def _member(status: str, user: dict[str, Any]) -> dict[str, Any]:
    member: dict[str, Any] = {"status": status, "user": user}
    if status == "kicked":
        member["until_date"] = 0
    elif status == "administrator":
        member.update({"can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                       "can_delete_messages": True, "can_manage_video_chats": False,
                       "can_restrict_members": False, "can_promote_members": False,
                       "can_change_info": False, "can_invite_users": False,
                       "can_post_stories": False, "can_edit_stories": False,
                       "can_delete_stories": False, "can_post_messages": True,
                       "can_edit_messages": True})
    return member


def _scope_key(scope: dict[str, Any]) -> str:
    return json.dumps(scope, sort_keys=True, separators=(",", ":"))


def _file_path(file_id: str, upload: UploadedFile) -> str:
    suffix = Path(upload.filename).suffix
    return f"documents/file_{file_id[-8:]}{suffix}"


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ---- run alone -----------------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Loopback fake of the Telegram Bot API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0: a free port (printed)")
    parser.add_argument(
        "--token", action="append", help=f"repeatable; default {TELEGRAM_TEST_TOKEN}"
    )
    parser.add_argument("--log", type=Path, help="append a JSON line per successful send")
    parser.add_argument("--users", type=int, default=0, help="private chats to create")
    parser.add_argument("--first-user-id", type=int, default=FIRST_USER_ID)
    parser.add_argument("--no-limits", action="store_true", help="no flood limits at all")
    parser.add_argument("--overall-rate", type=float, default=30.0, help="sends/s per bot")
    parser.add_argument("--overall-burst", type=float, default=30.0)
    parser.add_argument("--group-limit", type=int, default=20, help="sends per group window")
    parser.add_argument("--group-window", type=float, default=60.0, help="seconds")
    parser.add_argument("--private-rate", type=float, default=1.0, help="sends/s per private chat")
    parser.add_argument("--private-burst", type=float, default=10.0)
    parser.add_argument("--no-control", action="store_true", help="no /control/ endpoint")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    limits = RateLimits.unlimited() if args.no_limits else RateLimits(
        overall_burst=args.overall_burst, overall_per_second=args.overall_rate,
        group_messages=args.group_limit, group_window=args.group_window,
        private_burst=args.private_burst, private_per_second=args.private_rate,
    )  # fmt: skip
    server = TelegramServer(
        args.token or [TELEGRAM_TEST_TOKEN], limits=limits, log_path=args.log, host=args.host,
        port=args.port, control=not args.no_control,
    )  # fmt: skip
    server.add_private_chats(args.users, args.first_user_id)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(f"TelegramServer listening on {server.base_url}", flush=True)
        await stop.wait()
    print(json.dumps(server.stats_summary()), flush=True)


def main(argv: list[str] | None = None) -> None:
    asyncio.run(_serve(_arguments(argv)))


if __name__ == "__main__":
    main()
