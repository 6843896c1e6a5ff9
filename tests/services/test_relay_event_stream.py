from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from omnidesk.changes import Changes
from omnidesk.domain import ConnectionState
from omnidesk.services.backoff import Backoff
from omnidesk.services.event_stream import EventStream
from omnidesk.services.relay_client import RelayClient
from omnidesk.storage import Cache
from tests.helpers.console_factories import conversation_json, message_json
from tests.helpers.fake_relay import FakeRelay


class Harness:
    def __init__(self, relay: FakeRelay, cache: Cache) -> None:
        self.relay = relay
        self.cache = cache
        self.changes: list[Changes] = []
        self.states: list[ConnectionState] = []
        self.sleeps: list[float] = []
        self.client = RelayClient(relay.client(), token="tok")
        self.stream = EventStream(
            self.client,
            cache,
            self.changes.append,
            self.states.append,
            backoff=Backoff(initial=0.01, maximum=0.08, jitter=0),
            sleep=self._sleep,
        )
        self.task: asyncio.Task[None] | None = None

    async def _sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        await asyncio.sleep(0.001)

    def start(self) -> None:
        self.task = asyncio.create_task(self.stream.run())

    async def until(self, cond: Callable[[], bool], timeout: float = 3.0) -> None:
        async with asyncio.timeout(timeout):
            while not cond():
                await asyncio.sleep(0.005)

    async def cursor_is(self, n: int) -> None:
        async with asyncio.timeout(3):
            while await self.cache.event_cursor() != n:
                await asyncio.sleep(0.005)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    relay = FakeRelay()
    relay.add_conversation(conversation_json(1, "Ana"), event=True)
    cache = await Cache.open(tmp_path / "c.sqlite3")
    harness = Harness(relay, cache)
    yield harness
    if harness.task:
        harness.task.cancel()
        await asyncio.gather(harness.task, return_exceptions=True)
    await harness.client.aclose()
    await cache.close()


async def test_catch_up_then_resume_without_gap_or_double(h: Harness) -> None:
    for i in (1, 2, 3):
        h.relay.add_message(message_json(i, 1, f"m{i}"))
    h.start()
    await h.cursor_is(4)
    assert h.stream.state is ConnectionState.LIVE
    # live
    h.relay.add_message(message_json(4, 1, "m4"))
    await h.cursor_is(5)
    # the stream dies mid-way; events published meanwhile are caught up on reconnect
    h.relay.drop_stream()
    await h.until(lambda: ConnectionState.RECONNECTING in h.states)
    h.relay.add_message(message_json(5, 1, "m5"))
    h.relay.add_message(message_json(6, 1, "m6"))
    await h.cursor_is(7)
    assert [m.text for m in await h.cache.messages(1)] == [f"m{i}" for i in range(1, 7)]
    applied = [mid for c in h.changes for mid in sorted(c.messages)]
    assert applied == [1, 2, 3, 4, 5, 6]  # each once, in order
    assert h.relay.event_connects[0] is None
    assert h.relay.event_connects[-1] == "5"
    assert h.states[:2] == [ConnectionState.CONNECTING, ConnectionState.LIVE]
    assert h.states[-1] is ConnectionState.LIVE


async def test_replayed_events_are_not_applied_twice(h: Harness) -> None:
    h.relay.add_message(message_json(1, 1, "m1"))
    h.start()
    await h.cursor_is(2)
    # A relay that resends from an older id (e.g. after its own restart) changes nothing.
    h.relay.events.append(h.relay.events[1])
    h.relay.add_message(message_json(2, 1, "m2"))
    await h.cursor_is(4)
    applied = [mid for c in h.changes for mid in sorted(c.messages)]
    assert applied == [1, 2]


async def test_401_waits_for_a_new_token(h: Harness) -> None:
    h.client.set_token("revoked")
    h.start()
    await h.until(lambda: h.stream.state is ConnectionState.NEEDS_TOKEN)
    connects = len(h.relay.requests)
    await asyncio.sleep(0.05)
    assert len(h.relay.requests) == connects  # no hammering with a bad token
    h.client.set_token("tok")
    h.stream.token_changed()
    await h.until(lambda: h.stream.state is ConnectionState.LIVE)
    await h.cursor_is(1)


async def test_5xx_and_outage_back_off_then_recover(h: Harness) -> None:
    h.relay.fail_status = [503, 502, 500]
    h.start()
    await h.until(lambda: h.stream.state is ConnectionState.LIVE)
    assert h.sleeps == [0.01, 0.02, 0.04]
    assert ConnectionState.RECONNECTING in h.states
    h.relay.down = True
    h.relay.drop_stream()
    await h.until(lambda: len(h.sleeps) >= 5)
    assert h.stream.state is ConnectionState.RECONNECTING
    assert h.sleeps[3:5] == [0.01, 0.02]  # reset after being live
    h.relay.down = False
    await h.until(lambda: h.stream.state is ConnectionState.LIVE)


async def test_bad_event_is_skipped_and_resynced(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.relay.add_message(message_json(1, 1, "good"))
    h.relay.publish_raw("{not json")
    h.relay.add_message(message_json(2, 1, "also good"))
    h.relay.conversations[1]["status"] = "pending"  # only visible through a resync
    h.start()
    await h.cursor_is(4)
    assert h.stream.skipped_events == 1
    assert "skipping an event" in caplog.text
    assert [m.text for m in await h.cache.messages(1)] == ["good", "also good"]
    conv = await h.cache.conversation(1)
    assert conv is not None and conv.status.value == "pending"
    assert any(r.url.path == "/v1/conversations" for r in h.relay.requests)
    assert h.stream.state is ConnectionState.LIVE
