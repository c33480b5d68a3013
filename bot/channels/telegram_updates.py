"""Telegram, inbound: python-telegram-bot's Application receives updates; private texts (commands,
or answers to an open report), commands sent by pressing an inline button, and photos or files
sent privately (refused by the service: it takes text only) go to the network-independent command
service. Group messages are never handed on; answers go to private chats only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.channels.telegram import OutboxRateLimiter
from bot.channels.telegram_webhook import TelegramWebhook
from bot.domain.commands import menu
from bot.domain.language import N_, _, languages, speaking
from bot.domain.members import Network
from bot.services.ports.chat import IncomingCommands, Sender

log = logging.getLogger(__name__)

# Just under Telegram's 30 messages/s, so the server never has to say 429.
OVERALL_RATE = 29.0
SORRY = N_("Sorry, something went wrong on my side and your command was not done. Please try "
           "again.")
# What the pressing user's client shows briefly: the answer itself comes as a message.
PRESSED_HERE = N_("Got it: my reply comes as a message.")
PRESSED_ELSEWHERE = N_("Got it: my reply comes in our private chat.")
GROUP_RATE_PER_MINUTE = 20
WEBHOOK_SECRET_MISSING = (
    "HUBBOT_TELEGRAM_WEBHOOK_URL is set but HUBBOT_TELEGRAM_WEBHOOK_SECRET is not: without it "
    "anyone who reaches the webhook port could send the bot commands as any user, admins "
    "included. Set HUBBOT_TELEGRAM_WEBHOOK_SECRET to a random value of up to 256 letters, "
    "digits, _ and -, e.g. the output of: python3 -c 'import secrets; "
    "print(secrets.token_urlsafe(32))'")


@dataclass(frozen=True)
class TelegramConfig:
    token: str
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str | None = None
    overall_rate: float = OVERALL_RATE
    timeout: float = 20.0  # seconds for one Bot API call (not the long poll)


def build_application(config: TelegramConfig) -> Application:  # type: ignore[type-arg]
    """The ptb Application, rate-limited below Telegram's limits; 429s reach the outbox."""
    request = HTTPXRequest(connection_pool_size=64, connect_timeout=10,
                           read_timeout=config.timeout, write_timeout=config.timeout,
                           pool_timeout=10)
    updates_request = HTTPXRequest(connection_pool_size=2, read_timeout=40, connect_timeout=10)
    return (
        ApplicationBuilder()
        .token(config.token)
        .base_url(config.base_url)
        .base_file_url(config.base_file_url)
        .request(request)
        .get_updates_request(updates_request)
        .rate_limiter(OutboxRateLimiter(overall_max_rate=config.overall_rate,
                                        overall_time_period=1,
                                        group_max_rate=GROUP_RATE_PER_MINUTE,
                                        group_time_period=60, max_retries=0))
        .build()
    )


class TelegramGateway:
    """Runs the Application inside the bot's event loop (no run_polling: one loop for all)."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        commands: IncomingCommands,
        config: TelegramConfig,
        on_answer: Callable[[], None] = lambda: None,
    ) -> None:
        self.application = application
        self._commands = commands
        self._config = config
        self._on_answer = on_answer
        self.webhook: TelegramWebhook | None = None
        application.add_handler(
            MessageHandler(filters.ChatType.PRIVATE & (filters.TEXT | filters.COMMAND),
                           self._on_private_message)
        )
        # Anything else a person sends privately (photo, file, voice, sticker …), but not the
        # service messages Telegram posts itself (a pin, a changed auto-delete timer …).
        application.add_handler(
            MessageHandler(filters.ChatType.PRIVATE & ~(filters.TEXT | filters.COMMAND)
                           & ~filters.StatusUpdate.ALL, self._on_private_attachment)
        )
        application.add_handler(CallbackQueryHandler(self._on_button))
        application.add_error_handler(self._on_error)

    async def start(self, receive: bool = True) -> None:
        """Connect; with `receive`, also register the command menu and take updates."""
        app = self.application
        if receive and self._config.webhook_url and not self._config.webhook_secret:
            raise ValueError(WEBHOOK_SECRET_MISSING)
        await app.initialize()
        if not receive:
            return
        await self._register_commands(app)
        await app.start()
        allowed = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
        if self._config.webhook_url:
            await self._start_webhook(app, allowed)
        else:
            updater = app.updater
            assert updater is not None
            await updater.start_polling(allowed_updates=allowed, timeout=30,
                                        drop_pending_updates=False)
            log.info("Telegram: long polling started as @%s", app.bot.username)

    async def _start_webhook(self, app: Application,  # type: ignore[type-arg]
                             allowed: list[str]) -> None:
        """Serve the webhook (secret checked on every request), then tell Telegram its URL."""
        config = self._config
        assert config.webhook_url is not None and config.webhook_secret is not None
        self.webhook = TelegramWebhook(app, config.webhook_listen, config.webhook_port,
                                       config.webhook_secret)
        await self.webhook.start()
        await app.bot.set_webhook(config.webhook_url, secret_token=config.webhook_secret,
                                  allowed_updates=allowed, drop_pending_updates=False)
        log.info("Telegram: webhook listening on %s:%d", config.webhook_listen,
                 self.webhook.port)

    @staticmethod
    async def _register_commands(app: Application) -> None:  # type: ignore[type-arg]
        """The command menu in each language; people whose app uses another see the hub's."""
        for code in (None, *languages()):
            with speaking(code):
                commands = [BotCommand(name, summary) for name, summary in menu()]
            await app.bot.set_my_commands(commands, language_code=code)

    async def stop_receiving(self) -> None:
        """Take no new commands (shutdown begins); sending still works until `stop`."""
        if self.webhook is not None:
            await self.webhook.stop()
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()

    async def stop(self) -> None:
        app = self.application
        await self.stop_receiving()
        if app.running:
            await app.stop()
        await app.shutdown()

    async def _on_private_message(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        message = update.effective_message
        user = update.effective_user
        if message is None or user is None or message.text is None or user.is_bot:
            return
        await self._hand_on(update, message.text)

    async def _on_private_attachment(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """A photo, file, voice message … in a private chat: the service says it takes text
        only (and, during a report, asks its question again); the content is never read."""
        user = update.effective_user
        if update.effective_message is None or user is None or user.is_bot:
            return
        await self._hand_on(update, "", attachment=True)

    async def _hand_on(self, update: Update, text: str, attachment: bool = False) -> None:
        """Give a private message to the command service, off the event loop."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        sender = Sender(Network.TELEGRAM, str(user.id), str(message.chat_id), user.language_code)
        answer = await asyncio.to_thread(
            self._commands.handle, sender, text, str(update.update_id), attachment=attachment
        )
        if answer is not None:
            self._on_answer()

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A pressed inline button sends its command as if the user had typed it."""
        query, user, chat = update.callback_query, update.effective_user, _private_chat(update)
        if query is None or user is None or user.is_bot or not query.data or chat is None:
            return
        pressed_here = query.message is not None and query.message.chat.id == chat
        sender = Sender(Network.TELEGRAM, str(user.id), str(chat), user.language_code)
        language = await asyncio.to_thread(self._commands.language_of, sender)
        with speaking(language):
            pressed = _(PRESSED_HERE) if pressed_here else _(PRESSED_ELSEWHERE)
        try:
            await query.answer(pressed)
        except TelegramError as exc:  # the press is still handled; the spinner just times out
            log.warning("Telegram: could not answer the button press of update %s: %s",
                        update.update_id, exc.message)
        answer = await asyncio.to_thread(
            self._commands.handle, sender, query.data, str(update.update_id)
        )
        if answer is not None:
            self._on_answer()

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else "-"
        log.error("Telegram: handling update %s failed", update_id, exc_info=context.error)
        chat = _private_chat(update) if isinstance(update, Update) else None
        if chat is not None:
            user = update.effective_user if isinstance(update, Update) else None
            sender = Sender(Network.TELEGRAM, str(user.id if user else chat), str(chat),
                            user.language_code if user else None)
            language = await asyncio.to_thread(self._commands.language_of, sender)
            with speaking(language):
                sorry = _(SORRY)
            # Straight to the chat, not via the outbox: the store may be what failed.
            try:
                await context.bot.send_message(chat, sorry)
            except Exception:
                log.warning("Telegram: could not tell the user about the failure")


def _private_chat(update: Update) -> int | None:
    """Where answers to this update go: its private chat, or for a button pressed in a group
    or channel post, the pressing user's private chat with the bot; None: nowhere."""
    user, chat = update.effective_user, update.effective_chat
    if chat is not None and chat.type == chat.PRIVATE:
        return chat.id
    if update.callback_query is not None and user is not None and not user.is_bot:
        return user.id  # a private chat's id is its user's id
    return None
