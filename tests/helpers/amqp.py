"""A test's view of the bot's side of RabbitMQ: read what the relay published, publish as a bot."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from relay.bot.queues import declare_queues


@dataclass(frozen=True)
class QueueNames:
    bot_inbound_queue: str
    bot_outbound_queue: str

    @classmethod
    def unique(cls) -> QueueNames:
        prefix = f"test.{uuid.uuid4().hex[:10]}"
        return cls(f"{prefix}.inbound", f"{prefix}.outbound")


class BotPeer:
    """Plays the bot: `received()` drains the inbound queue, `publish()` answers on outbound."""

    def __init__(self, url: str, names: QueueNames) -> None:
        self.url, self.names = url, names
        self.connection: AbstractRobustConnection | None = None
        self.queues: dict[str, AbstractQueue] = {}

    async def __aenter__(self) -> BotPeer:
        self.connection = await aio_pika.connect_robust(self.url)
        channel = await self.connection.channel(publisher_confirms=True)
        self.channel = channel
        self.queues = {q.name: q for q in await declare_queues(channel, self.names)}
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.connection is not None
        for queue in self.queues.values():
            await queue.delete(if_unused=False, if_empty=False)
        await self.connection.close()

    async def get(self, queue: str, timeout: float = 10.0) -> AbstractIncomingMessage:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            message = await self.queues[queue].get(no_ack=True, fail=False)
            if message is not None:
                return message
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"nothing on {queue} within {timeout}s")
            await asyncio.sleep(0.02)

    async def inbound(
        self, timeout: float = 10.0
    ) -> tuple[AbstractIncomingMessage, dict[str, Any]]:
        message = await self.get(self.names.bot_inbound_queue, timeout)
        return message, json.loads(message.body)

    async def inbound_bodies(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        return [(await self.inbound(timeout))[1] for _ in range(count)]

    async def nothing_inbound(self, wait: float = 0.5) -> bool:
        await asyncio.sleep(wait)
        return await self.queues[self.names.bot_inbound_queue].get(no_ack=True, fail=False) is None

    async def dead_letter(self, timeout: float = 10.0) -> AbstractIncomingMessage:
        return await self.get(f"{self.names.bot_outbound_queue}.dead", timeout)

    async def publish(self, body: dict[str, Any] | bytes, *, message_id: str | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        await self.channel.default_exchange.publish(
            aio_pika.Message(
                raw,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message_id or uuid.uuid4().hex,
            ),
            routing_key=self.names.bot_outbound_queue,
            timeout=5,
        )


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)
