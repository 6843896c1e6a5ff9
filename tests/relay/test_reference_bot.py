"""The reference bot (`omnidesk-relay bot-demo`) speaks the protocol with the real relay."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from relay.bot.demo import serve_bot
from relay.testing.graph_standin import GraphStandIn
from tests.helpers.amqp import BotPeer, QueueNames
from tests.helpers.services import require_rabbitmq
from tests.relay.conftest import RelayHarness, sample

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
async def queues() -> AsyncIterator[QueueNames]:
    names = QueueNames.unique()
    async with BotPeer(require_rabbitmq(), names):  # declares them, and deletes them after
        yield names


@pytest.fixture
async def reference_bot(queues: QueueNames) -> AsyncIterator[None]:
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve_bot(
            require_rabbitmq(),
            queues.bot_inbound_queue,
            queues.bot_outbound_queue,
            stop=stop,
            ready=ready,
        )
    )
    await asyncio.wait_for(ready.wait(), 20)
    yield
    stop.set()
    await asyncio.wait_for(task, 20)


def customer_says(text: str, wamid: str) -> dict[str, Any]:
    body = json.loads(sample("wa_webhook_text.json"))
    body["entry"][0]["changes"][0]["value"]["messages"][0].update(
        {"id": wamid, "text": {"body": text}}
    )
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_reference_bot_answers_faqs_echoes_and_hands_off(
    queues: QueueNames,
    reference_bot: None,
    relay_factory: Callable[..., RelayHarness],
    graph: GraphStandIn,
) -> None:
    relay = relay_factory(
        amqp_url=require_rabbitmq(),
        bot_inbound_queue=queues.bot_inbound_queue,
        bot_outbound_queue=queues.bot_outbound_queue,
    )
    assert (
        await asyncio.to_thread(
            relay.post_webhook, customer_says("What are your opening hours?", "wamid.rb-1")
        )
    ).status_code == 200
    first = await graph.await_requests(1, timeout=20)
    assert first[0].json["context"] == {"message_id": "wamid.rb-1"}  # it quotes the question
    assert "You said" not in first[0].json["text"]["body"]  # an FAQ answer, not the echo

    await asyncio.to_thread(relay.post_webhook, customer_says("blue jacket, size M", "wamid.rb-2"))
    await graph.await_requests(2, timeout=20)
    assert "You said: blue jacket, size M" in graph.sent_texts()

    await asyncio.to_thread(
        relay.post_webhook, customer_says("I want to talk to a human", "wamid.rb-3")
    )

    def handed_off() -> dict[str, Any] | None:
        conversation = relay.conversations()[0]
        return conversation if conversation["mode"] == "human" else None

    conversation = await asyncio.to_thread(relay.wait_until, handed_off, 20)
    assert conversation["status"] == "pending" and conversation["handoff_reason"]
