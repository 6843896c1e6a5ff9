"""The queues of the bot protocol, declared identically by the relay, the reference bot and tests.

Quorum queues: durable, replicated on a cluster, free on one node. Each has a dead-letter
queue named `<queue>.dead`.
"""

from __future__ import annotations

from typing import Protocol

from aio_pika.abc import AbstractChannel, AbstractQueue
from pamqp.common import FieldTable


class QueueNames(Protocol):
    bot_inbound_queue: str
    bot_outbound_queue: str


def queue_arguments(name: str) -> FieldTable:
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": f"{name}.dead",
        # A message that keeps failing (nacked for redelivery) is dead-lettered after this.
        "x-delivery-limit": 10,
    }


async def declare_queues(channel: AbstractChannel, names: QueueNames) -> list[AbstractQueue]:
    """Both queues and their dead-letter queues; safe to call from any side, in any order."""
    queues = []
    for name in (names.bot_inbound_queue, names.bot_outbound_queue):
        queues.append(
            await channel.declare_queue(
                f"{name}.dead", durable=True, arguments={"x-queue-type": "quorum"}
            )
        )
        queues.append(
            await channel.declare_queue(name, durable=True, arguments=queue_arguments(name))
        )
    return queues
