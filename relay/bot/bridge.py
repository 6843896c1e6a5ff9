"""The bot bridge: the relay's side of RabbitMQ.

Inbound (relay -> bot): a publisher drains the bot outbox, which ingest fills in the same
transaction as the customer message, publishing each row with a confirm and marking it
published only after RabbitMQ confirmed it. A broker outage only delays it: at least once.

Outbound (bot -> relay): one consumer with manual acks. What arrived together is handled
in order in one commit, so a conversation's replies keep their order and a burst costs one
write. A message is acked only after what it asks for is committed; one the relay cannot act
on is published to the dead-letter queue with the reason in a header, then acked, so it never
blocks the queue. Each bot message is acted on
once per id (see relay.store.bot), so a redelivery after a crash sends nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from relay.bot.protocol import REASON_HEADER, BadBotMessage, parse_outbound
from relay.bot.queues import declare_queues
from relay.services import Relay
from relay.store import bot as bot_store

log = logging.getLogger(__name__)

PREFETCH = 32
PUBLISH_TIMEOUT_S = 5.0


class BotBridge:
    def __init__(self, relay: Relay) -> None:
        self._relay = relay
        self._settings = relay.settings
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractRobustChannel | None = None
        self._consume_channel: AbstractRobustChannel | None = None
        self._queues: list[AbstractQueue] = []  # strong references: robust queues are weak
        self._wake = asyncio.Event()
        # Outbox rows confirmed by RabbitMQ whose mark_published may not be visible yet: the
        # publisher skips them instead of waiting for that commit before its next round.
        # Marked ones are forgotten only by a read that began after their mark committed.
        self._confirmed: set[int] = set()
        self._marked: set[int] = set()
        self._to_mark: list[int] = []
        self._mark_ready = asyncio.Event()
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._state = "connecting"
        relay.after_inbound = bot_store.enqueue_for_bot(self._settings.relay_public_url)
        relay.on_commit_hooks.append(self._wake.set)
        relay.broker_state = lambda: self._state

    async def start(self) -> None:
        """Start connecting in the background: the relay serves webhooks while the broker is away."""
        self._tasks = [
            asyncio.create_task(self._connect_and_consume(), name="bot-consumer"),
            asyncio.create_task(self._publish_loop(), name="bot-publisher"),
            asyncio.create_task(self._mark_loop(), name="bot-publisher-marks"),
            asyncio.create_task(self._consume_loop(), name="bot-replies"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()

    async def _connect_and_consume(self) -> None:
        delay = 0.2
        while self._connection is None:
            try:  # connect_robust fails fast on the first connect: retry it ourselves
                self._connection = await aio_pika.connect_robust(self._settings.amqp_url)
            except Exception as exc:
                self._state = f"unreachable: {type(exc).__name__}"
                log.warning("RabbitMQ unreachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        self._connection.reconnect_callbacks.add(self._on_reconnect)
        self._connection.close_callbacks.add(self._on_close)
        self._publish_channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._consume_channel = await self._connection.channel()
        assert self._consume_channel is not None and self._publish_channel is not None
        await self._consume_channel.set_qos(prefetch_count=PREFETCH)
        self._queues = await declare_queues(self._consume_channel, self._settings)
        outbound = next(q for q in self._queues if q.name == self._settings.bot_outbound_queue)
        await outbound.consume(self._on_bot_message, no_ack=False)
        self._state = "connected"
        self._wake.set()

    def _on_reconnect(self, *_args: Any) -> None:
        self._state = "connected"
        self._wake.set()

    def _on_close(self, *_args: Any) -> None:
        self._state = "reconnecting"

    # relay -> bot -------------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        """Publish what the outbox holds, then sleep until a commit may have added rows.

        Wakes that come while a round runs are coalesced into one more round; a round that
        found fewer rows than it may take drained the outbox, so it does not read it again.
        """
        while True:
            self._wake.clear()
            try:
                published = await self._publish_pending()
            except Exception as exc:  # broker away or store busy: the rows wait in the outbox
                log.info("bot outbox not drained (%s); retrying", exc)
                published = 0
                await asyncio.sleep(0.5)
            if published < bot_store.PUBLISH_BATCH:  # the outbox is drained: wait for a commit
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._wake.wait()

    async def _publish_pending(self) -> int:
        channel = self._publish_channel
        if channel is None or channel.is_closed or self._state != "connected":
            return 0
        settled, self._marked = self._marked, set()
        rows = await self._relay.db.read(bot_store.pending_publications())
        self._confirmed -= settled  # marked before this read began: it cannot return them
        rows = [row for row in rows if row["id"] not in self._confirmed]
        if not rows:
            return 0
        exchange = channel.default_exchange
        confirms = [
            exchange.publish(
                aio_pika.Message(
                    body=_json(row["body"]),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=row["amqp_message_id"],
                    correlation_id=str(row["conversation_id"]),
                    type=row["body"]["type"],
                ),
                routing_key=self._settings.bot_inbound_queue,
                timeout=PUBLISH_TIMEOUT_S,
            )
            for row in rows
        ]
        outcomes = await asyncio.gather(*confirms, return_exceptions=True)
        confirmed = [
            row["id"]
            for row, outcome in zip(rows, outcomes, strict=True)
            if not isinstance(outcome, BaseException)
        ]
        if confirmed:
            self._confirmed.update(confirmed)
            self._to_mark.extend(confirmed)
            self._mark_ready.set()
            self._relay.metrics.bot_published.inc(len(confirmed))
        failed = len(rows) - len(confirmed)
        if failed:  # not confirmed is not published: they stay in the outbox (trap 1)
            raise ConnectionError(f"{failed} publications not confirmed")
        return len(confirmed)

    async def _mark_loop(self) -> None:
        """Mark confirmed rows published, all that were confirmed meanwhile in one write.

        Off the publisher's path, so the next customer message does not wait for this
        commit. Rows whose mark fails are forgotten here and published again (at least once).
        """
        while True:
            await self._mark_ready.wait()
            self._mark_ready.clear()
            ids, self._to_mark = self._to_mark, []
            if not ids:
                continue
            try:
                await self._relay.db.write(bot_store.mark_published(ids))
            except Exception as exc:
                log.info("%d confirmed publications not marked (%s); they go again", len(ids), exc)
                self._confirmed.difference_update(ids)
                self._wake.set()
            else:
                self._marked.update(ids)

    # bot -> relay -------------------------------------------------------------------------

    async def _on_bot_message(self, message: AbstractIncomingMessage) -> None:
        await self._inbox.put(message)

    async def _consume_loop(self) -> None:
        """Take what arrived together (up to the prefetch) and commit it in one write."""
        while True:
            batch = [await self._inbox.get()]
            while len(batch) < PREFETCH and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            try:
                await self._handle_batch(batch)
            except Exception:
                # Our store is unavailable (or a bug): leave them for redelivery, never drop.
                # The queue's delivery limit dead-letters a message that always fails.
                log.exception("%d bot messages not handled; they will be redelivered", len(batch))
                await asyncio.sleep(1.0)
                for message in batch:
                    await _settle(message.nack(requeue=True))

    async def _handle_batch(self, batch: list[AbstractIncomingMessage]) -> None:
        valid: list[tuple[AbstractIncomingMessage, str, dict[str, Any]]] = []
        for message in batch:
            try:
                body = parse_outbound(message.body)
            except BadBotMessage as exc:
                await self._dead_letter(message, str(exc))
                continue
            key = body.get("id") or message.message_id or _digest(message.body)
            valid.append((message, str(key), body))
        if not valid:
            return
        outcomes = await self._relay.db.write(
            bot_store.act_on_bot_messages([(key, body) for _, key, body in valid])
        )
        self._relay.committed(may_publish=False)  # replies and handoffs fill no outbox
        for (message, _, _), outcome in zip(valid, outcomes, strict=True):
            if isinstance(outcome, bot_store.RejectedBotMessage):
                await self._dead_letter(message, str(outcome))
            elif isinstance(outcome, Exception):
                log.error(
                    "bot message %s failed: %r; it will be redelivered", message.message_id, outcome
                )
                await _settle(message.nack(requeue=True))
            else:
                self._relay.metrics.bot_replies.labels(outcome=outcome).inc()
                await _settle(message.ack())

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        log.warning("bot message %s dead-lettered: %s", message.message_id, reason)
        assert self._publish_channel is not None
        headers = dict(message.headers or {})
        headers[REASON_HEADER] = reason[:1000]
        await self._publish_channel.default_exchange.publish(
            aio_pika.Message(
                body=message.body,
                headers=headers,
                content_type=message.content_type,
                message_id=message.message_id,
                correlation_id=message.correlation_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=f"{self._settings.bot_outbound_queue}.dead",
            timeout=PUBLISH_TIMEOUT_S,
        )
        self._relay.metrics.bot_dead_lettered.inc()
        await _settle(message.ack())


async def _settle(acknowledgement: Any) -> None:
    """Acks after a reconnect fail (old channel's delivery tag): the redelivery is idempotent."""
    try:
        await acknowledgement
    except Exception as exc:
        log.info(
            "could not settle a bot message (%s); it will be redelivered and deduplicated", exc
        )


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _json(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
