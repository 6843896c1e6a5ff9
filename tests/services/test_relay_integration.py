"""The console's services against a real relay (SQLite) and the Graph API stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnidesk.changes import Changes
from omnidesk.domain import ConnectionState, Mode
from omnidesk.services.backoff import Backoff
from omnidesk.services.console import ConsoleService
from omnidesk.services.errors import TakeoverConflict
from omnidesk.services.relay_client import RelayClient
from omnidesk.storage import Cache
from relay.testing.graph_standin import GraphStandIn
from tests.relay.conftest import RelayHarness, relay_settings


@pytest.fixture(scope="module")
def graph_module() -> Iterator[GraphStandIn]:
    with GraphStandIn() as graph:
        yield graph


@pytest.fixture
def start_relay(tmp_path: Path, graph_module: GraphStandIn) -> Iterator[Callable[[], RelayHarness]]:
    graph_module.reset()
    url = f"sqlite:///{tmp_path / 'relay.sqlite3'}"
    started: list[RelayHarness] = []

    def start() -> RelayHarness:
        harness = RelayHarness(relay_settings(url, graph_module))
        started.append(harness)
        return harness

    yield start
    for h in started:
        h.close()


class Console:
    def __init__(self, relay: RelayHarness, cache: Cache, token: str | None = None) -> None:
        self.changes: list[Changes] = []
        self.states: list[ConnectionState] = []
        self.http = httpx.AsyncClient(base_url=relay.url, timeout=10)
        self.service = ConsoleService(
            RelayClient(self.http, token or relay.token),
            cache,
            on_changes=self.changes.append,
            on_state=self.states.append,
            stream_backoff=Backoff(initial=0.05, maximum=0.2),
            outbox_backoff=Backoff(initial=0.05, maximum=0.2),
        )
        self.cache = cache

    async def until(self, check: Callable[[], Any], timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while not await _maybe(check()):
                await asyncio.sleep(0.02)


def outbox_empty(cache: Cache) -> Callable[[], Any]:
    async def check() -> bool:
        return not await cache.outbox()

    return check


async def _maybe(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value


async def test_inbox_fills_reply_goes_out_once_and_takeover(
    start_relay: Callable[[], RelayHarness], graph_module: GraphStandIn, cache: Cache
) -> None:
    relay = start_relay()
    console = Console(relay, cache)
    await console.service.start()
    try:
        await console.until(lambda: console.service.state is ConnectionState.LIVE)
        assert relay.post_sample("wa_webhook_text.json").status_code == 200
        await console.until(lambda: cache.conversations())
        conv = (await cache.conversations())[0]
        await console.until(lambda: cache.messages(conv.id))
        incoming = await cache.messages(conv.id)
        assert incoming[0].direction.value == "in"

        await console.service.send_reply(conv.id, "Olá! Como posso ajudar?", incoming[0].id)
        await console.until(outbox_empty(cache))

        async def sent() -> bool:
            return "Olá! Como posso ajudar?" in graph_module.sent_texts()

        await console.until(sent)
        await asyncio.sleep(0.3)
        assert graph_module.sent_texts().count("Olá! Como posso ajudar?") == 1

        await console.service.takeover(conv.id)
        after = await cache.conversation(conv.id)
        assert after is not None and after.mode is Mode.HUMAN and after.assignee == "ana"
        other = RelayClient(httpx.AsyncClient(base_url=relay.url), relay.other_token)
        with pytest.raises(TakeoverConflict) as info:
            await other.takeover(conv.id)
        assert info.value.owner == "ana"
        await other.aclose()
    finally:
        await console.service.shutdown()


async def test_offline_replies_reach_the_relay_once_in_order_when_it_returns(
    start_relay: Callable[[], RelayHarness], graph_module: GraphStandIn, cache: Cache
) -> None:
    relay = start_relay()
    relay.post_sample("wa_webhook_text.json")
    console = Console(relay, cache)
    await console.service.start()
    await console.until(lambda: cache.conversations())
    conv = (await cache.conversations())[0]
    await console.service.shutdown()
    relay.close()  # the network is gone

    console = Console(relay, cache)
    await console.service.start()
    try:
        await console.until(lambda: console.service.state is ConnectionState.RECONNECTING)
        assert [c.id for c in await cache.conversations()] == [conv.id]  # cached thread opens
        await console.service.send_reply(conv.id, "primeira", None)
        await console.service.send_reply(conv.id, "segunda", None)
        await asyncio.sleep(0.2)
        assert [i.text for i in await cache.outbox()] == ["primeira", "segunda"]

        back = start_relay()  # same database, new port
        console.http.base_url = httpx.URL(back.url)
        console.service.reconnect()
        await console.until(lambda: console.service.state is ConnectionState.LIVE)
        await console.until(outbox_empty(cache))

        async def both() -> bool:
            return len([t for t in graph_module.sent_texts() if t in ("primeira", "segunda")]) >= 2

        await console.until(both)
        await asyncio.sleep(0.3)
        texts = [t for t in graph_module.sent_texts() if t in ("primeira", "segunda")]
        assert texts == ["primeira", "segunda"]
    finally:
        await console.service.shutdown()
