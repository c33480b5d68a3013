"""Telegram, outbound: outbox messages as HTML messages through python-telegram-bot's Bot,
with the payload's buttons as an inline keyboard and its attachment as a document."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
)
from telegram.constants import MessageLimit, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.domain.language import _, speaking
from bot.domain.members import Network
from bot.domain.message_parts import split_lines
from bot.domain.outbox_payload import AlertMessage, Attachment, Button, OutboxPayload
from bot.domain.queued_messages import OutboxItem
from bot.domain.rendering import (
    chat_message_lines,
    payload_attachment,
    payload_buttons,
)
from bot.outbox.channel import DeliveryError, rendering

log = logging.getLogger(__name__)
_Part = Callable[[], Awaitable[Message]]  # one Bot API send, not yet made

# Telegram asks for no more than about one message a second in one private chat.
PRIVATE_CHAT_GAP = 1.0
_GONE = ("chat not found", "user is deactivated", "bot was kicked", "bot is not a member",
         "group chat was upgraded", "have no rights to send", "need administrator rights")


class TelegramChannel:
    """Sends one outbox message, split on line boundaries if longer than Telegram allows."""

    network = Network.TELEGRAM

    def __init__(self, bot: Bot, private_chat_gap: float = PRIVATE_CHAT_GAP) -> None:
        self._bot = bot
        self._gap = private_chat_gap
        self._last_sent: dict[int, float] = {}
        # Parts already delivered of a split message, so a retry does not repeat them.
        self._parts_sent: dict[int, int] = {}
        self.connected = True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, item: OutboxItem) -> str | None:
        try:
            chat_id = int(item.address)
        except ValueError:
            raise DeliveryError(f"not a Telegram chat id: {item.address!r}",
                                transient=False) from None
        with rendering():
            parts = self._parts(chat_id, item.payload)
        first = self._parts_sent.get(item.id, 0)
        message_id = None
        try:
            for index in range(first, len(parts)):
                await self._pace(chat_id)
                message_id = await self._deliver_part(item, *parts[index])
                self._parts_sent[item.id] = index + 1
        except DeliveryError as exc:
            if not exc.transient:
                self._parts_sent.pop(item.id, None)  # it is not tried again
            raise
        self._parts_sent.pop(item.id, None)
        return f"telegram:{chat_id}:{message_id}"

    def _parts(self, chat_id: int, payload: OutboxPayload) -> list[tuple[_Part, _Part | None]]:
        """The calls that deliver the payload: its text parts (the keyboard on the last one),
        then its attachment; with each, the same call without the advisory's link button (for
        the part that has one)."""
        with speaking(payload.language):
            lines, link = chat_message_lines(payload, link_button=True)
            button = button_url(link)
            if link and button is None:  # no button for it: the text keeps what it can
                lines, _ = chat_message_lines(payload)
            rows = payload_buttons(payload)
            keyboard = _keyboard(rows, button)
            without_link = _keyboard(rows, None) if button else None
        texts = split_lines(lines, MessageLimit.MAX_TEXT_LENGTH)
        silent = isinstance(payload, AlertMessage) and payload.silent

        def text_part(text: str, markup: InlineKeyboardMarkup | None) -> _Part:
            return partial(self._bot.send_message, chat_id=chat_id, text=text,
                           parse_mode=ParseMode.HTML, reply_markup=markup,
                           disable_notification=silent,
                           link_preview_options=LinkPreviewOptions(is_disabled=True))

        parts: list[tuple[_Part, _Part | None]] = [
            (text_part(text, None), None) for text in texts[:-1]]
        parts.append((text_part(texts[-1], keyboard),
                      text_part(texts[-1], without_link) if button else None))
        attachment = payload_attachment(payload)
        if attachment is not None:
            parts.append((partial(self._bot.send_document, chat_id=chat_id,
                                  document=_document(attachment), disable_notification=silent),
                          None))
        return parts

    async def _deliver_part(self, item: OutboxItem, part: _Part,
                            without_link: _Part | None) -> int:
        """One part; if Telegram refuses the advisory's link as a button (it refuses the whole
        message then), the part again without that button: the alert matters more."""
        try:
            return await self._deliver(part)
        except DeliveryError as exc:
            if without_link is None or not _refused_button_url(exc):
                raise
        log.warning("Telegram: outbox #%d: the advisory's link was refused as a button; "
                    "sending it without", item.id)
        return await self._deliver(without_link)

    async def _pace(self, chat_id: int) -> None:
        if chat_id < 0:
            return  # groups and channels: the rate limiter's per-group limit applies
        wait = self._last_sent.get(chat_id, 0.0) + self._gap - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_sent[chat_id] = time.monotonic()
        if len(self._last_sent) > 50_000:
            horizon = time.monotonic() - self._gap
            self._last_sent = {c: t for c, t in self._last_sent.items() if t > horizon}

    async def _deliver(self, part: _Part) -> int:
        """Make one Bot API send; its errors become DeliveryErrors the outbox can act on."""
        try:
            message = await part()
        except RetryAfter as exc:
            with warnings.catch_warnings():  # ptb 22 warns that this becomes a timedelta
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                retry = exc.retry_after
            seconds = retry.total_seconds() if isinstance(retry, timedelta) else float(retry)
            raise DeliveryError("Telegram: too many requests", transient=True,
                                retry_after=seconds, rate_limited=True) from None
        except ChatMigrated as exc:
            raise DeliveryError(
                f"Telegram: the group is now the supergroup {exc.new_chat_id}", transient=False,
                recipient_gone=True) from None
        except Forbidden as exc:
            raise DeliveryError(f"Telegram: {exc.message}", transient=False,
                                recipient_gone=True) from None
        except BadRequest as exc:  # the dispatcher logs it with the message's number
            gone = any(reason in exc.message.lower() for reason in _GONE)
            raise DeliveryError(f"Telegram: {exc.message}", transient=False,
                                recipient_gone=gone) from None
        except (TimedOut, NetworkError) as exc:
            if _too_large(exc):  # the Bot API refuses a request this big, however often sent
                raise DeliveryError(f"Telegram: {exc.message}", transient=False) from None
            self.connected = False
            raise DeliveryError(f"Telegram: {type(exc).__name__}: {exc.message}",
                                transient=True) from None
        except TelegramError as exc:
            raise DeliveryError(f"Telegram: {exc.message}", transient=True) from None
        self.connected = True
        return message.message_id


def button_url(link: str | None) -> str | None:
    """The link if Telegram takes it on a URL button, else None: Telegram refuses a whole
    message over a button URL it finds invalid (not http, https or tg; whitespace; a web
    host that is neither a name with a dot nor an IP address)."""
    if not link or any(c.isspace() for c in link):
        return None
    try:
        parts = urlsplit(link)
        host = parts.hostname or ""
    except ValueError:
        return None
    if parts.scheme == "tg":
        return link
    if parts.scheme not in ("http", "https") or not host:
        return None
    if "." in host.strip("."):
        return link
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return link


# Telegram's words for a URL button it will not take (an invalid URL; a keyboard too big).
_BUTTON_REFUSED = ("button_url_invalid", "button url", "reply_markup_too_long",
                   "reply markup is too long")


def _refused_button_url(exc: DeliveryError) -> bool:
    reason = exc.reason.lower()
    return not exc.transient and any(words in reason for words in _BUTTON_REFUSED)


def _too_large(exc: NetworkError) -> bool:
    """HTTP 413: ptb has no error class for it, only its text (Telegram's or the status')."""
    return "Request Entity Too Large" in exc.message or "(413)" in exc.message


class OutboxRateLimiter(AIORateLimiter):
    """ptb's limiter (just under 30 messages/s overall, 20 a minute per group) that hands a
    429 straight to the outbox, which waits it out and says so once: ptb itself would log an
    ERROR with a traceback for every message told to wait."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        async def passing_429s_on(
            *call_args: Any, **call_kwargs: Any
        ) -> bool | dict[str, Any] | list[dict[str, Any]]:
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter as exc:
                raise _PassedOn(exc) from None

        try:
            return await super().process_request(passing_429s_on, args, kwargs, endpoint, data,
                                                 rate_limit_args)
        except _PassedOn as passed:
            raise passed.error from None


class _PassedOn(Exception):
    """A RetryAfter carried past AIORateLimiter's own handling of it."""

    def __init__(self, error: RetryAfter) -> None:
        super().__init__()
        self.error = error


def _keyboard(rows: list[list[Button]], link: str | None) -> InlineKeyboardMarkup | None:
    """The payload's buttons, each sending its command back; the advisory's link last (its
    label in the active language)."""
    keyboard = [
        [InlineKeyboardButton(button.label, callback_data=button.command) for button in row]
        for row in rows
    ]
    if link:
        keyboard.append([InlineKeyboardButton(_("Open the advisory"), url=link)])
    return InlineKeyboardMarkup(keyboard) if keyboard else None


def _document(attachment: Attachment) -> InputFile:
    document = InputFile(attachment.text.encode(), filename=attachment.filename)
    document.mimetype = attachment.mime_type  # the payload knows better than the file name
    return document
