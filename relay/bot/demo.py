"""The reference bot: the smallest bot that speaks docs/bot-protocol.md correctly.

Copy it. What every bot must do, and where this one does it:
- declare the queues exactly as the relay does (`declare_queues`), so either side may start first;
- consume the inbound queue with manual acks and a prefetch, and ack a message only after the
  answer to it was confirmed by RabbitMQ (publisher confirms): a crash loses nothing;
- answer conversations concurrently but each conversation in delivery order (`in_turn`): one
  at a time, every customer would wait for everyone else's answer;
- expect duplicates (delivery is at least once) and drop them by AMQP `message_id`; here a
  bounded in-memory LRU set, enough for redeliveries within one process;
- give every answer a stable `id` (also its AMQP `message_id`): the relay acts on an id once,
  so an answer published twice (e.g. redelivered after a bot crash) reaches the customer once.

What it says: "agent" or "human" -> handoff; an FAQ keyword -> its answer; otherwise an echo.
Run it with `omnidesk-relay bot-demo`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import signal
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection

from relay.bot.queues import declare_queues

log = logging.getLogger("omnidesk.bot")

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_INBOUND_QUEUE = "omnidesk.bot.inbound"  # the relay's defaults (relay.settings)
DEFAULT_OUTBOUND_QUEUE = "omnidesk.bot.outbound"
PREFETCH = 32  # messages RabbitMQ hands us before we ack: answered concurrently
PUBLISH_TIMEOUT_S = 5.0  # a publish waits for the broker's confirm at most this long
SEEN_MAX = 10_000  # message ids remembered to drop duplicates (oldest forgotten first)
ID_NAMESPACE = uuid.UUID("6f6d6e69-6465-736b-2d62-6f742d64656d")  # ours: answer ids derive from it

HANDOFF = re.compile(r"\b(agent|human)\b", re.IGNORECASE)
FAQ = {  # keyword -> answer, in the keyword's language
    "hours": "We're open Monday to Friday, 9:00 to 18:00.",
    "price": "Our prices are on the website, VAT included.",
    "shipping": "Shipping takes 2 to 5 business days.",
    "returns": "You can return any item within 30 days.",
    "horário": "Atendemos de segunda a sexta, das 9h às 18h.",
    "preço": "Os preços estão no site, com impostos incluídos.",
    "entrega": "A entrega leva de 2 a 5 dias úteis.",
    "devolução": "Você pode devolver qualquer item em até 30 dias.",
}
FAQ_WORDS = re.compile(r"\b(" + "|".join(map(re.escape, FAQ)) + r")\b", re.IGNORECASE)


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """What to publish for one inbound body (without `id`, added when publishing)."""
    head = {"version": 1, "conversation_id": body["conversation_id"]}
    if body["type"] == "handback":
        return {**head, "type": "reply", "in_reply_to": None, "text": "I'm back! How can I help?"}
    text = body.get("text") or ""  # text, or a media caption; null when there is none
    if HANDOFF.search(text):
        return {**head, "type": "handoff", "reason": "The customer asked for a human"}
    if faq := FAQ_WORDS.search(text):
        reply = FAQ[faq.group(1).lower()]
    elif body["message_type"] == "text":
        reply = f"You said: {text}"
    else:
        reply = f"Thanks for the {body['message_type']}!"
    reply = fit(reply, body["channel"])
    return {**head, "type": "reply", "in_reply_to": body["message_id"], "text": reply}


def fit(text: str, channel: str) -> str:
    """Instagram takes at most 1000 bytes of UTF-8, WhatsApp 4096 characters."""
    if channel == "instagram":
        return text.encode()[:1000].decode(errors="ignore")
    return text[:4096]


@dataclass
class QueueNames:  # what relay.bot.queues.declare_queues needs
    bot_inbound_queue: str
    bot_outbound_queue: str


class Bot:
    def __init__(self, channel: AbstractRobustChannel, outbound_queue: str) -> None:
        self.channel, self.outbound_queue = channel, outbound_queue
        self.seen: OrderedDict[str, None] = OrderedDict()
        # conversation -> its lock and how many messages hold or wait for it
        self.turns: dict[str, tuple[asyncio.Lock, int]] = {}

    def remember(self, key: str) -> None:
        self.seen[key] = None
        if len(self.seen) > SEEN_MAX:
            self.seen.popitem(last=False)  # forget the oldest

    @contextlib.asynccontextmanager
    async def in_turn(self, conversation: str) -> AsyncIterator[None]:
        """One conversation's messages one after another, in delivery order (asyncio's locks
        are first come, first served); other conversations meanwhile."""
        lock, users = self.turns.get(conversation, (asyncio.Lock(), 0))
        self.turns[conversation] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self.turns[conversation]
            if users == 1:
                del self.turns[conversation]
            else:
                self.turns[conversation] = (lock, users - 1)

    async def finish(self) -> None:
        """Let the messages in hand be answered (the consumer is cancelled: no more come)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PUBLISH_TIMEOUT_S + 1):
                while self.turns:
                    await asyncio.sleep(0.01)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        # aio-pika runs callbacks concurrently; the relay sets correlation_id = conversation.
        async with self.in_turn(message.correlation_id or ""):
            # The relay always sets message_id; a hash of the body stands in if it did not.
            key = message.message_id or hashlib.sha256(message.body).hexdigest()
            if key in self.seen:
                log.info("duplicate %s dropped", key)
                return await settle(message.ack())
            try:
                body = json.loads(message.body)
                kind = body["type"]
                out = answer(body) if kind in ("message", "handback") else None
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                log.warning("message %s is not a protocol message (%r): dead-lettered", key, exc)
                return await settle(message.reject(requeue=False))  # -> <inbound>.dead
            if out is None:  # a type this bot does not know (a newer relay): ignore it
                log.info("message %s of type %r ignored", key, kind)
                return await settle(message.ack())
            # A stable id: the same inbound message always yields the same answer id, so the
            # relay drops an answer we publish twice (say, after a crash before our ack).
            out["id"] = str(uuid.uuid5(ID_NAMESPACE, f"{body['conversation_id']}:{key}"))
            try:
                await self.channel.default_exchange.publish(
                    aio_pika.Message(
                        json.dumps(out, ensure_ascii=False).encode(),
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=out["id"],
                        correlation_id=str(out["conversation_id"]),
                        type=out["type"],
                    ),
                    routing_key=self.outbound_queue,
                    timeout=PUBLISH_TIMEOUT_S,  # returns once RabbitMQ confirmed it
                )
            except Exception as exc:  # not confirmed is not sent: have it redelivered
                log.warning("answer to %s not confirmed (%r): requeued", key, exc)
                await asyncio.sleep(0.5)
                return await settle(message.nack(requeue=True))
            await settle(message.ack())  # only now: the answer is safe in RabbitMQ
            self.remember(key)
            what = out.get("text") or out.get("reason")
            log.info(
                "conversation %s: %s %s -> %s %r",
                out["conversation_id"],
                kind,
                key,
                out["type"],
                what,
            )


async def settle(acknowledgement: Any) -> None:
    """An ack after a reconnect fails (stale delivery tag); the redelivery is then dropped."""
    try:
        await acknowledgement
    except Exception as exc:
        log.info("could not settle a message (%r); RabbitMQ will redeliver it", exc)


async def connect(amqp_url: str, stop: asyncio.Event) -> AbstractRobustConnection | None:
    """connect_robust reconnects by itself, but fails fast on the first connect: retry that."""
    delay = 0.2
    while not stop.is_set():
        try:
            return await aio_pika.connect_robust(amqp_url)
        except Exception as exc:
            log.warning("RabbitMQ unreachable (%r); retrying in %.1f s", exc, delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()
            delay = min(delay * 2, 10.0)
    return None


async def serve_bot(
    amqp_url: str,
    inbound_queue: str,
    outbound_queue: str,
    *,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
) -> None:
    """Answer the inbound queue until `stop` is set; `ready` is set once consuming."""
    connection = await connect(amqp_url, stop)
    if connection is None:
        return
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await channel.set_qos(prefetch_count=PREFETCH)
        # Keep these references: robust queues are held weakly, and restored on reconnect.
        queues = await declare_queues(channel, QueueNames(inbound_queue, outbound_queue))
        inbound = next(q for q in queues if q.name == inbound_queue)
        bot = Bot(channel, outbound_queue)
        tag = await inbound.consume(bot.on_message, no_ack=False)
        log.info("consuming %s, answering on %s", inbound_queue, outbound_queue)
        if ready is not None:
            ready.set()
        await stop.wait()
        await inbound.cancel(tag)
        await bot.finish()
    finally:
        await connection.close()


def run_demo_bot(amqp_url: str | None) -> int:
    """`omnidesk-relay bot-demo`: serve until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    url = amqp_url or os.environ.get("OMNIDESK_AMQP_URL") or DEFAULT_AMQP_URL
    inbound = os.environ.get("OMNIDESK_BOT_INBOUND_QUEUE") or DEFAULT_INBOUND_QUEUE
    outbound = os.environ.get("OMNIDESK_BOT_OUTBOUND_QUEUE") or DEFAULT_OUTBOUND_QUEUE

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_bot(url, inbound, outbound, stop=stop)

    asyncio.run(main())
    log.info("stopped")
    return 0
