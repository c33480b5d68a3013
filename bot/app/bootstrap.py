"""Bootstrap: the one place that builds adapters and wires them into the services."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TextIO
from urllib.parse import urlsplit

from bot.app import i18n
from bot.app.health import HealthServer
from bot.app.metrics import Metrics
from bot.app.private_files import warn_if_exposed
from bot.app.settings import Settings
from bot.channels.console import ConsoleChannel
from bot.channels.matrix import MatrixChannel
from bot.channels.matrix_client import MatrixConfig, MatrixSession
from bot.channels.matrix_sync import MatrixGateway
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_updates import TelegramConfig, TelegramGateway, build_application
from bot.domain.clock import utc_now
from bot.domain.feed_config import FeedConfig
from bot.domain.members import Network
from bot.domain.outbox_payload import AlertMessage
from bot.domain.queued_messages import OutboxItem
from bot.feeds.config import load_feeds
from bot.feeds.csaf_source import CsafSource
from bot.feeds.exploitation_sources import EpssClient, KevSource
from bot.feeds.fetch import FeedFetcher, FetchLimits
from bot.feeds.parse import parse_feed
from bot.jobs.coordination import CoordinationJobs
from bot.jobs.exploitation import ExploitationJobs
from bot.jobs.polling import build_scheduler
from bot.outbox.channel import Channel
from bot.outbox.dispatcher import OutboxDispatcher
from bot.services.chat_commands import ChatCommands
from bot.services.command_rate import CommandRateLimit
from bot.services.direct_rooms import DirectRooms
from bot.services.housekeeping import forget_old_reports, forget_old_updates
from bot.services.polling import FeedPoller, PollOutcome
from bot.services.store_boundary import StoreBoundary
from bot.services.store_health import undeliverable_backlog
from bot.store.database import create_db_engine, safe_url, upgrade
from bot.store.unit_of_work import SqlStore

log = logging.getLogger(__name__)


def open_store(settings: Settings, migrate: bool = True) -> SqlStore:
    """Connect to the configured database and apply pending migrations."""
    engine = create_db_engine(settings.db_url)
    if migrate:
        log.debug("database %s: applying migrations", safe_url(settings.db_url))
        upgrade(engine)
    return SqlStore(engine)


class Gateway(Protocol):
    """An inbound chat adapter: takes commands from its network."""

    async def stop_receiving(self) -> None: ...


def delivery_recorder(metrics: Metrics) -> Callable[[OutboxItem, str, datetime], None]:
    """Feeds each send result into the metrics, with an alert's publication-to-delivery delay."""

    def record(item: OutboxItem, result: str, now: datetime) -> None:
        published = None
        if isinstance(item.payload, AlertMessage):
            published = item.payload.alert.advisory.published or item.created_at
        metrics.record_delivery(item.network.value, result, published, now)

    return record


@dataclass
class Bot:
    store: SqlStore
    # Async code reaches the store only through it (store work off the event loop).
    boundary: StoreBoundary
    feeds: list[FeedConfig]
    poller: FeedPoller
    dispatchers: list[OutboxDispatcher]
    channels: list[Channel]
    fetcher: FeedFetcher
    gateways: list[Gateway]
    metrics: Metrics
    coordination: CoordinationJobs
    exploitation: ExploitationJobs | None = None

    def networks_connected(self) -> dict[str, bool]:
        return {c.network.value: c.connected for c in self.channels}

    async def poll_all(self, feeds: Sequence[FeedConfig] | None = None) -> list[PollOutcome]:
        """Poll every enabled feed now, concurrently."""
        chosen = [f for f in (feeds or self.feeds) if f.enabled and f.advisories]
        return list(await asyncio.gather(*(self.poll(f, force=True) for f in chosen)))

    async def poll(self, feed: FeedConfig, force: bool = False) -> PollOutcome:
        """Poll one feed and count the outcome."""
        outcome = await self.poller.poll(feed, force=force)
        self.metrics.record_poll(outcome)
        return outcome

    async def drain(self) -> int:
        """Send everything that is due now, network by network."""
        return sum([await d.drain() for d in self.dispatchers])


async def build_bot(
    settings: Settings,
    stack: AsyncExitStack,
    feeds: list[FeedConfig] | None = None,
    console_stream: TextIO | None = None,
    receive_commands: bool = False,
) -> Bot:
    """Build the bot's parts; `stack` closes them in reverse order.

    With `receive_commands` the chat networks also take members' commands (`hubbot run`);
    without, they only send (`hubbot poll --once`).
    """
    i18n.install(settings.default_language, settings.timezone)
    feeds = feeds if feeds is not None else load_feeds(settings.feeds_file)
    store = open_store(settings)
    boundary = StoreBoundary.with_workers(store)
    stack.callback(boundary.close)
    fetcher = FeedFetcher(
        limits=FetchLimits(total=settings.fetch_timeout, max_bytes=settings.max_feed_bytes),
        allow_private=settings.feeds_allow_private,
    )
    stack.push_async_callback(fetcher.aclose)
    channels: list[Channel] = []
    if settings.console_enabled:
        channels.append(ConsoleChannel(settings.alerts_file, console_stream))
    for channel in channels:
        await channel.start()
        stack.push_async_callback(channel.stop)
    metrics = Metrics()
    watcher = asyncio.create_task(metrics.watch_event_loop(), name="event-loop-lag")
    stack.callback(watcher.cancel)
    recorder = delivery_recorder(metrics)
    dispatchers = [OutboxDispatcher(boundary, c, on_result=recorder) for c in channels]

    loop = asyncio.get_running_loop()

    def wake_now() -> None:
        for d in dispatchers:
            d.wake()

    def wake() -> None:
        """Callable from any thread (scheduler jobs and commands run in worker threads)."""
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            wake_now()
        else:
            loop.call_soon_threadsafe(wake_now)

    coordination = CoordinationJobs(boundary, settings.policy(), utc_now, wake,
                                    settings.summary_day, settings.summary_hour)
    gateways: list[Gateway] = []
    if settings.telegram_token is not None:
        gateway, channel = telegram_parts(settings, store, wake, coordination)
        await gateway.start(receive=receive_commands)
        stack.push_async_callback(gateway.stop)
        gateways.append(gateway)
        channels.append(channel)
        dispatchers.append(OutboxDispatcher(boundary, channel, batch_size=60, concurrency=30,
                                            on_result=recorder))
    if settings.matrix_homeserver is not None:
        matrix_gateway, matrix_channel = matrix_parts(settings, store, boundary, wake,
                                                      coordination)
        stack.push_async_callback(matrix_gateway.stop)  # after the dispatchers finished
        await matrix_gateway.start(receive=receive_commands)
        gateways.append(matrix_gateway)
        channels.append(matrix_channel)
        dispatchers.append(OutboxDispatcher(boundary, matrix_channel, batch_size=40, concurrency=8,
                                            on_result=recorder))

    exploitation = exploitation_parts(feeds, boundary, fetcher, wake, settings.policy().admins)
    poller = FeedPoller(
        boundary, fetcher, parse_feed, console=settings.console_enabled, clock=utc_now,
        on_queued=wake, csaf=CsafSource(fetcher),
        enrich=exploitation.enrich if exploitation else None, admins=settings.policy().admins,
        backlog=timedelta(days=settings.backlog_days),
    )
    return Bot(store, boundary, feeds, poller, dispatchers, channels, fetcher, gateways, metrics,
               coordination, exploitation)


def exploitation_parts(feeds: list[FeedConfig], store: StoreBoundary, fetcher: FeedFetcher,
                       wake: Callable[[], None],
                       admins: frozenset[tuple[Network, str]] = frozenset(),
                       ) -> ExploitationJobs | None:
    """KEV and EPSS, when feeds.yaml lists them (type: kev / type: epss)."""
    kev = next((f for f in feeds if f.type == "kev" and f.enabled), None)
    epss = next((f for f in feeds if f.type == "epss" and f.enabled), None)
    if kev is None and epss is None:
        return None
    return ExploitationJobs(
        store, KevSource(fetcher, kev.url) if kev else None,
        EpssClient(fetcher, epss.url) if epss else None, utc_now, wake,
        interval=kev.interval if kev else timedelta(days=1), admins=admins,
    )


def chat_commands(settings: Settings, store: SqlStore,
                  coordination: CoordinationJobs | None) -> ChatCommands:
    """The command service both networks share."""
    return ChatCommands(
        store, utc_now, CommandRateLimit(settings.command_rate), settings.policy(),
        on_meetings_changed=coordination.resync_reminders if coordination else lambda: None,
    )


def telegram_parts(
    settings: Settings, store: SqlStore, wake: Callable[[], None],
    coordination: CoordinationJobs | None = None,
) -> tuple[TelegramGateway, TelegramChannel]:
    assert settings.telegram_token is not None
    secret = settings.telegram_webhook_secret
    config = TelegramConfig(
        token=settings.telegram_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        base_file_url=settings.telegram_file_url,
        webhook_url=settings.telegram_webhook_url,
        webhook_listen=settings.telegram_webhook_listen,
        webhook_port=settings.telegram_webhook_port,
        webhook_secret=secret.get_secret_value() if secret else None,
        timeout=settings.telegram_timeout,
    )
    if config.webhook_url and config.webhook_secret and len(config.webhook_secret) < 16:
        log.warning("HUBBOT_TELEGRAM_WEBHOOK_SECRET is only %d characters long: anyone who "
                    "guesses it can send the bot commands as any user; use 32 or more random "
                    "characters", len(config.webhook_secret))
    log.info("Telegram: Bot API server %s", urlsplit(config.base_url).netloc)
    application = build_application(config)
    commands = chat_commands(settings, store, coordination)
    gateway = TelegramGateway(application, commands, config, on_answer=wake)
    return gateway, TelegramChannel(application.bot)


def matrix_parts(
    settings: Settings, store: SqlStore, boundary: StoreBoundary, wake: Callable[[], None],
    coordination: CoordinationJobs | None = None,
) -> tuple[MatrixGateway, MatrixChannel]:
    assert settings.matrix_homeserver is not None
    if not settings.matrix_user:
        raise ValueError("HUBBOT_MATRIX_USER is needed with HUBBOT_MATRIX_HOMESERVER")
    password, token = settings.matrix_password, settings.matrix_access_token
    config = MatrixConfig(
        homeserver=settings.matrix_homeserver.rstrip("/"),
        user=settings.matrix_user,
        store_path=settings.matrix_store,
        password=password.get_secret_value() if password else None,
        access_token=token.get_secret_value() if token else None,
    )
    session = MatrixSession(config)
    rooms = DirectRooms(boundary, utc_now)
    channel = MatrixChannel(session, rooms)
    commands = chat_commands(settings, store, coordination)
    gateway = MatrixGateway(session, channel, commands, rooms, on_answer=wake)
    return gateway, channel


async def run_forever(settings: Settings) -> None:
    """`hubbot run`: poll on schedule and deliver until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        bot = await build_bot(settings, stack, receive_commands=True)
        enabled = [f for f in bot.feeds if f.enabled and f.advisories]
        log.info(
            "hubbot running: %d feeds, database %s, channels: %s",
            len(enabled), safe_url(settings.db_url),
            ", ".join(c.network.value for c in bot.channels) or "none",
        )
        await _warn_of_undeliverable_backlog(bot)
        warn_if_exposed(*settings.private_files())
        if settings.health_port is not None:
            health = HealthServer(bot.boundary, bot.metrics, bot.networks_connected,
                                  settings.health_host, settings.health_port)
            await health.start()
            stack.push_async_callback(health.stop)
        async def housekeeping() -> None:
            await bot.boundary.call(forget_old_updates, bot.boundary, utc_now())
            await bot.boundary.call(forget_old_reports, bot.boundary, utc_now(),
                                    timedelta(days=settings.report_retention_days))

        scheduler = build_scheduler(enabled, bot.poll, utc_now(), housekeeping=housekeeping)
        await bot.boundary.call(bot.coordination.attach, scheduler)
        if bot.exploitation is not None:
            bot.exploitation.attach(scheduler)
        scheduler.start()
        tasks = [asyncio.create_task(d.run(stop), name=f"dispatch:{d.network}")
                 for d in bot.dispatchers]
        try:
            await stop.wait()
            log.info("stopping: no new polls; finishing the sends in flight")
        finally:
            scheduler.shutdown(wait=False)
            for gateway in bot.gateways:
                await gateway.stop_receiving()
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=8)
    log.info("hubbot stopped")


async def _warn_of_undeliverable_backlog(bot: Bot) -> None:
    """Say so when messages wait for a network this process does not serve."""
    served = {c.network.value for c in bot.channels}
    waiting = await bot.boundary.unit(lambda uow: undeliverable_backlog(uow, served))
    for network, count in waiting.items():
        log.warning("%d messages wait for %s, which is not configured; they are kept and "
                    "sent once it is", count, network)
