"""Nothing lost, nothing twice: the bridge with RabbitMQ stopped, and with the relay SIGKILLed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from relay.store.database import Database
from relay.store.tables import messages
from relay.testing.graph_standin import DEFAULT_TOKEN, GraphStandIn
from relay.webhooks.signature import signature_for
from tests.helpers.amqp import BotPeer, QueueNames, rabbitmqctl
from tests.helpers.relay_process import RelayProcess
from tests.helpers.services import require_rabbitmq
from tests.relay.conftest import APP_SECRET, RelayHarness, sample

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def webhook(n: int) -> bytes:
    body = json.loads(sample("wa_webhook_text.json"))
    value = body["entry"][0]["changes"][0]["value"]
    wa_id = f"1650555{n % 7:04d}"
    value["contacts"][0]["wa_id"] = wa_id
    value["messages"][0].update(
        {"from": wa_id, "id": f"wamid.fault-{n}", "text": {"body": f"message {n}"}}
    )
    return json.dumps(body).encode()


def post(url: str, n: int) -> int:
    raw = webhook(n)
    headers = {
        "X-Hub-Signature-256": signature_for(APP_SECRET, raw),
        "Content-Type": "application/json",
    }
    return httpx.post(f"{url}/webhooks/meta", content=raw, headers=headers, timeout=10).status_code


async def collect_texts(bot: BotPeer, expected: set[str], timeout: float = 60.0) -> list[str]:
    """Everything the bot receives until it has seen every expected text (duplicates kept)."""
    seen: list[str] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while not expected <= set(seen):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"missing at the bot: {sorted(expected - set(seen))}")
        try:
            message = await bot.queues[bot.names.bot_inbound_queue].get(no_ack=True, fail=False)
        except Exception:  # the peer's own channel is reconnecting after the broker restart
            message = None
        if message is None:
            await asyncio.sleep(0.05)
            continue
        seen.append(json.loads(message.body)["text"])
    return seen


@pytest.fixture
async def bot() -> AsyncIterator[BotPeer]:
    async with BotPeer(require_rabbitmq(), QueueNames.unique()) as peer:
        yield peer


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_messages_acknowledged_while_rabbitmq_is_down_reach_the_bot_after(
    bot: BotPeer, relay_factory: Callable[..., RelayHarness]
) -> None:
    relay = relay_factory(
        amqp_url=bot.url,
        bot_inbound_queue=bot.names.bot_inbound_queue,
        bot_outbound_queue=bot.names.bot_outbound_queue,
    )
    expected = {f"message {n}" for n in range(30)}
    for n in range(10):
        assert await asyncio.to_thread(post, relay.url, n) == 200
    rabbitmqctl("stop_app")
    try:
        for n in range(10, 30):  # Meta still gets its 200: the store is the buffer
            assert await asyncio.to_thread(post, relay.url, n) == 200
        health = await asyncio.to_thread(relay.http.get, "/healthz")
        assert health.json()["broker"] != "connected"
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
    seen = await collect_texts(bot, expected)
    assert set(seen) == expected


def relay_env(database_url: str, graph: GraphStandIn, bot: BotPeer) -> dict[str, str]:
    return {
        "OMNIDESK_RELAY_DATABASE_URL": database_url,
        "OMNIDESK_META_APP_SECRET": APP_SECRET.decode(),
        "OMNIDESK_META_VERIFY_TOKEN": "v",
        "OMNIDESK_META_ACCESS_TOKEN": DEFAULT_TOKEN,
        "OMNIDESK_GRAPH_BASE_URL": graph.base_url,
        "OMNIDESK_INSTAGRAM_GRAPH_BASE_URL": graph.instagram_base_url,
        "OMNIDESK_AMQP_URL": bot.url,
        "OMNIDESK_BOT_INBOUND_QUEUE": bot.names.bot_inbound_queue,
        "OMNIDESK_BOT_OUTBOUND_QUEUE": bot.names.bot_outbound_queue,
    }


def bot_messages(database_url: str) -> list[Any]:
    db = Database(database_url)
    try:
        query = select(messages.c.text, messages.c.status).where(messages.c.author == "bot")
        return db.read_sync(lambda conn: list(conn.execute(query)))
    finally:
        db.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_relay_killed_mid_stream_loses_nothing_and_sends_nothing_twice(
    bot: BotPeer, graph: GraphStandIn, database_url: str, tmp_path: Path
) -> None:
    relay = RelayProcess(relay_env(database_url, graph, bot), tmp_path / "relay.log")
    await asyncio.to_thread(relay.start)
    try:
        # Customers write; the relay dies right after acknowledging the 15th webhook.
        for n in range(15):
            assert await asyncio.to_thread(post, relay.url, n) == 200
        await asyncio.to_thread(relay.kill)
        await asyncio.to_thread(relay.start)
        for n in range(15, 25):
            assert await asyncio.to_thread(post, relay.url, n) == 200
        inbound = await collect_texts(bot, {f"message {n}" for n in range(25)})
        assert len(set(inbound)) == 25

        # The bot answers all of them; the relay dies while it is sending the replies.
        conversations = sorted(
            {
                json.loads(webhook(n))["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"]
                for n in range(25)
            }
        )
        assert len(conversations) == 7
        graph.set_delay(0.05)
        for n in range(40):
            reply = {
                "version": 1,
                "type": "reply",
                "conversation_id": n % 7 + 1,
                "text": f"reply {n}",
            }
            await bot.publish(reply, message_id=f"reply-{n}")
        await asyncio.to_thread(graph.wait_for_requests, 8, 30)
        await asyncio.to_thread(relay.kill)
        graph.set_delay(0)
        await asyncio.to_thread(relay.start)

        def all_stored() -> bool:
            rows = bot_messages(database_url)
            return len(rows) == 40 and all(r.status in ("sent", "unconfirmed") for r in rows)

        deadline = asyncio.get_running_loop().time() + 60
        while not await asyncio.to_thread(all_stored):
            assert asyncio.get_running_loop().time() < deadline, bot_messages(database_url)
            await asyncio.sleep(0.2)
        sent = graph.sent_texts()
        assert len(sent) == len(set(sent)), "a reply reached the customer twice"
        rows = bot_messages(database_url)
        assert sorted(r.text for r in rows) == sorted(f"reply {n}" for n in range(40))
        assert {r.text for r in rows if r.status == "sent"} <= set(sent)
    finally:
        await asyncio.to_thread(relay.stop)
