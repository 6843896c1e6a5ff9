from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from omnidesk.changes import Changes
from omnidesk.domain import OutboxState
from omnidesk.services.backoff import Backoff
from omnidesk.services.outbox import Outbox
from omnidesk.services.relay_client import RelayClient
from omnidesk.storage import Cache
from tests.helpers.console_factories import conversation_json
from tests.helpers.fake_relay import FakeRelay


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[FakeRelay, Cache, Outbox, list[Changes]]]:
    relay = FakeRelay()
    relay.add_conversation(conversation_json(1, "Ana"))
    cache = await Cache.open(tmp_path / "c.sqlite3")
    client = RelayClient(relay.client(), token="tok")
    changes: list[Changes] = []
    outbox = Outbox(client, cache, changes.append, backoff=Backoff(initial=5, jitter=0))
    task = asyncio.create_task(outbox.run())
    yield relay, cache, outbox, changes
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await client.aclose()
    await cache.close()


async def until_empty(cache: Cache) -> None:
    async with asyncio.timeout(3):
        while await cache.outbox():
            await asyncio.sleep(0.005)


async def test_offline_replies_go_out_once_in_order(
    env: tuple[FakeRelay, Cache, Outbox, list[Changes]],
) -> None:
    relay, cache, outbox, _ = env
    relay.down = True
    await outbox.enqueue(1, "first", None)
    await outbox.enqueue(1, "second", None)
    await asyncio.sleep(0.05)
    items = await cache.outbox()
    assert [(i.text, i.state) for i in items] == [
        ("first", OutboxState.QUEUED),
        ("second", OutboxState.QUEUED),
    ]
    relay.down = False
    outbox.wake()  # the event stream went live
    await until_empty(cache)
    assert [m["text"] for m in relay.sent] == ["first", "second"]
    assert [m.text for m in await cache.messages(1)] == ["first", "second"]


async def test_lost_answer_is_retried_with_same_key_and_sent_once(
    env: tuple[FakeRelay, Cache, Outbox, list[Changes]],
) -> None:
    relay, cache, outbox, _ = env
    original = relay.handle
    calls = 0

    async def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        response = await original(request)
        calls += 1
        if calls == 1:  # the relay accepted it, but the answer never arrives
            raise httpx.ReadTimeout("lost", request=request)
        return response

    relay.handle = flaky  # type: ignore[method-assign]
    await outbox.enqueue(1, "only once", None)
    await asyncio.sleep(0.05)
    outbox.wake()
    await until_empty(cache)
    keys = [r.headers["Idempotency-Key"] for r in relay.requests if r.method == "POST"]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert [m["text"] for m in relay.sent] == ["only once"]


async def test_cancel_a_queued_reply(env: tuple[FakeRelay, Cache, Outbox, list[Changes]]) -> None:
    relay, cache, outbox, _ = env
    relay.down = True
    await outbox.enqueue(1, "oops", None)
    await outbox.enqueue(1, "keep", None)
    await asyncio.sleep(0.05)
    first = (await cache.outbox())[0]
    assert (await outbox.cancel(first.client_id)).outbox
    relay.down = False
    outbox.wake()
    await until_empty(cache)
    assert [m["text"] for m in relay.sent] == ["keep"]


async def test_refused_reply_is_kept_as_failed_with_reason(
    env: tuple[FakeRelay, Cache, Outbox, list[Changes]],
) -> None:
    relay, cache, outbox, _ = env
    relay.fail_status = [422]
    await outbox.enqueue(1, "refused", None)
    await outbox.enqueue(1, "fine", None)
    async with asyncio.timeout(3):
        while len(relay.sent) < 1:
            await asyncio.sleep(0.005)
    items = await cache.outbox()
    assert [(i.text, i.state, i.error) for i in items] == [("refused", OutboxState.FAILED, "boom")]
    assert [m["text"] for m in relay.sent] == ["fine"]
