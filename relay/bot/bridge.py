"""The bot bridge: the relay's side of RabbitMQ.

Inbound (relay -> bot): ingest fills the bot outbox in the same transaction as the customer
message, and hands the row over once committed; it is published at once, with a confirm,
and marked published only after RabbitMQ confirmed it. Rows nobody handed over (a broker
outage, another relay process, a handback) are found by reading the outbox. At least once.

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
from collections.abc import Awaitable, Sequence
from datetime import datetime
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
from relay.store.tables import utcnow

log = logging.getLogger(__name__)

PREFETCH = 32
PUBLISH_TIMEOUT_S = 5.0
READ_EVERY_S = 1.0  # how soon outbox rows nobody handed over are found (another relay's)


class BotBridge:
    def __init__(self, relay: Relay) -> None:
        self._relay = relay
        self._settings = relay.settings
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractRobustChannel | None = None
        self._consume_channel: AbstractRobustChannel | None = None
        self._queues: list[AbstractQueue] = []  # strong references: robust queues are weak
        self._wake = asyncio.Event()
        # Outbox rows being published, or confirmed but maybe not yet marked published: a
        # read skips them. Marked ones are forgotten only by a read that began after their
        # mark committed.
        self._taken: set[int] = set()
        self._marked: set[int] = set()
        self._to_mark: list[tuple[int, datetime]] = []  # confirmed rows, and when
        self._mark_ready = asyncio.Event()
        self._confirming: set[asyncio.Task[None]] = set()
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._state = "connecting"
        relay.after_inbound = bot_store.enqueue_for_bot(self._settings.relay_public_url)
        relay.on_commit_hooks.append(self._committed)
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
        for task in [*self._tasks, *self._confirming]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._confirming, return_exceptions=True)
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

    def _committed(self, outbox: Sequence[dict[str, Any]]) -> None:
        """Publish the rows a commit handed over at once; for anything else, read the outbox."""
        if outbox and self._connected():
            self._publish(outbox)
            return
        self._wake.set()  # rows handed over while the broker is away wait in the store

    def _connected(self) -> bool:
        channel = self._publish_channel
        return channel is not None and not channel.is_closed and self._state == "connected"

    async def _publish_loop(self) -> None:
        """Publish what the outbox holds that nobody handed over: at start and after a
        reconnect, after a failure, after a commit that did not hand its rows over, and every
        READ_EVERY_S (rows of other relay processes, and any this process missed)."""
        while True:
            self._wake.clear()
            try:
                more = await self._read_round()
            except Exception as exc:  # the store is busy: the rows wait in the outbox
                log.info("bot outbox not drained (%s); retrying", exc)
                await asyncio.sleep(0.5)
                continue
            if more:
                continue  # the read took its limit of rows: more are waiting
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(READ_EVERY_S):
                    await self._wake.wait()

    async def _read_round(self) -> bool:
        """Publish the outbox's rows not taken yet; True when the read hit its limit."""
        if not self._connected():
            return False  # the reconnect wakes the loop
        settled, self._marked = self._marked, set()
        rows = await self._relay.db.read(bot_store.pending_publications())
        self._taken -= settled  # marked before this read began: it cannot return them
        if not self._connected():
            return False
        published = self._publish(rows)  # none: what it found is in flight already
        return published > 0 and len(rows) >= bot_store.PUBLISH_BATCH

    def _publish(self, rows: Sequence[dict[str, Any]]) -> int:
        """Publish the rows not taken yet, in order, without waiting for RabbitMQ:
        `_settle_round` waits for the confirms while the next messages go out."""
        rows = [row for row in rows if row["id"] not in self._taken]
        if not rows or self._publish_channel is None:
            return 0
        self._taken.update(row["id"] for row in rows)
        exchange = self._publish_channel.default_exchange
        confirms = [
            asyncio.ensure_future(
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
            )
            for row in rows
        ]
        task = asyncio.create_task(self._settle_round([row["id"] for row in rows], confirms))
        self._confirming.add(task)
        task.add_done_callback(self._confirming.discard)
        return len(rows)

    async def _settle_round(self, ids: list[int], confirms: Sequence[Awaitable[Any]]) -> None:
        """Hand the confirmed rows to the marker; the others stay in the outbox (trap 1)."""
        outcomes = await asyncio.gather(*confirms, return_exceptions=True)
        confirmed = [
            i for i, out in zip(ids, outcomes, strict=True) if not isinstance(out, BaseException)
        ]
        if confirmed:
            now = utcnow()
            self._to_mark.extend((i, now) for i in confirmed)
            self._mark_ready.set()
            self._relay.metrics.bot_published.inc(len(confirmed))
        if len(confirmed) < len(ids):
            log.info("%d bot publications not confirmed; they go again", len(ids) - len(confirmed))
            self._taken.difference_update(set(ids) - set(confirmed))
            await asyncio.sleep(0.5)
            self._wake.set()

    async def _mark_loop(self) -> None:
        """Mark confirmed rows published, all that were confirmed meanwhile in one write.

        Off the publisher's path, so the next customer message does not wait for this
        commit. Rows whose mark fails are forgotten here and published again (at least once).
        """
        while True:
            await self._mark_ready.wait()
            self._mark_ready.clear()
            confirmed, self._to_mark = self._to_mark, []
            if not confirmed:
                continue
            ids = [i for i, _ in confirmed]
            try:
                await self._relay.db.write(bot_store.mark_published(confirmed))
            except Exception as exc:
                log.info("%d confirmed publications not marked (%s); they go again", len(ids), exc)
                self._taken.difference_update(ids)
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
        acts = await self._relay.db.write(
            bot_store.act_on_bot_messages([(key, body) for _, key, body in valid])
        )
        self._relay.sender.adopt(acts.sends)
        queued = sum(outcome == "queued" for outcome in acts.outcomes)
        # replies and handoffs fill no outbox; replies claimed as stored need no claim round
        self._relay.committed(may_send=queued > len(acts.sends), may_publish=False)
        for (message, _, _), outcome in zip(valid, acts.outcomes, strict=True):
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
