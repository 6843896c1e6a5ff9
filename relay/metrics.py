"""Prometheus counters: one registry per app, so tests and several apps never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks_received = Counter(
            "omnidesk_webhooks_received", "Signed webhooks accepted", registry=self.registry
        )
        self.webhooks_rejected = Counter(
            "omnidesk_webhooks_rejected",
            "Webhooks refused, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.messages_sent = Counter(
            "omnidesk_messages_sent", "Messages Meta accepted", registry=self.registry
        )
        self.send_failures = Counter(
            "omnidesk_send_failures",
            "Sends that failed for good, by Meta error code",
            ["code"],
            registry=self.registry,
        )
        self.send_retries = Counter(
            "omnidesk_send_retries", "Sends retried after a transient error", registry=self.registry
        )
        self.event_stream_clients = Gauge(
            "omnidesk_event_stream_clients", "Open /v1/events streams", registry=self.registry
        )
        self.bot_published = Counter(
            "omnidesk_bot_published",
            "Messages confirmed on the bot inbound queue",
            registry=self.registry,
        )
        self.bot_replies = Counter(
            "omnidesk_bot_replies",
            "Bot messages handled, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.bot_dead_lettered = Counter(
            "omnidesk_bot_dead_lettered",
            "Bot messages refused to the dead-letter queue",
            registry=self.registry,
        )
