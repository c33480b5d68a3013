"""Prometheus metrics: what the admin graphs and alerts on (prometheus-client)."""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot.services.polling import PollOutcome
from bot.services.ports import OutboxQueue


class Metrics:
    """One registry per bot, so tests and several bots in one process do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("hubbot_polls", "Feed polls by outcome", ["feed", "outcome"],
                             registry=r)
        self.feed_errors = Counter("hubbot_feed_errors", "Failed feed polls", ["feed"],
                                   registry=r)
        self.advisories = Counter("hubbot_advisories", "Feed entries by what they were",
                                  ["kind"], registry=r)
        self.alerts = Counter("hubbot_messages_queued", "Messages queued by feed polls",
                              registry=r)
        self.withheld = Counter("hubbot_messages_withheld",
                                "Alerts of feed polls the TLP gate kept from readers not "
                                "cleared for them", registry=r)
        self.deliveries = Counter("hubbot_deliveries", "Send attempts by network and result",
                                  ["network", "result"], registry=r)
        self.delay = Histogram(
            "hubbot_alert_delay_seconds",
            "From an advisory's publication (or first sight) to its delivery",
            ["network"], registry=r,
            buckets=(10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 86400, 7 * 86400),
        )
        self.backlog = Gauge("hubbot_outbox_messages", "Outbox messages by network and state",
                             ["network", "state"], registry=r)
        self.connected = Gauge("hubbot_network_connected", "1 when the chat network is up",
                               ["network"], registry=r)
        self.loop_lag = Gauge(
            "hubbot_event_loop_lag_seconds",
            "How late the event loop ran a due timer, the worst over the last minute (work "
            "that blocks the loop delays every chat, sync and health answer)", registry=r)

    async def watch_event_loop(self, interval: float = 0.5, window: float = 60.0) -> None:
        """Measure, until cancelled, how late `asyncio.sleep(interval)` wakes."""
        loop = asyncio.get_running_loop()
        recent: deque[float] = deque(maxlen=max(1, round(window / interval)))
        while True:
            asked = loop.time()
            await asyncio.sleep(interval)
            recent.append(max(0.0, loop.time() - asked - interval))
            self.loop_lag.set(max(recent))

    def record_poll(self, outcome: PollOutcome) -> None:
        self.polls.labels(outcome.feed, outcome.status).inc()
        if outcome.status == "failed":
            self.feed_errors.labels(outcome.feed).inc()
        self.advisories.labels("new").inc(outcome.new)
        self.advisories.labels("merged").inc(outcome.merged)
        self.advisories.labels("known").inc(outcome.known)
        self.alerts.inc(outcome.messages)
        self.withheld.inc(outcome.withheld)

    def record_delivery(
        self, network: str, result: str, published: datetime | None, now: datetime
    ) -> None:
        self.deliveries.labels(network, result).inc()
        if result == "sent" and published is not None:
            self.delay.labels(network).observe(max(0.0, (now - published).total_seconds()))

    def record_backlog(self, backlog: dict[OutboxQueue, int]) -> None:
        self.backlog.clear()
        for queue, count in backlog.items():
            self.backlog.labels(queue.network.value, queue.state.value).set(count)
