"""The event stream's catch-up progress, against a real relay (SQLite): from the stored cursor
to the newest event the relay names in ``X-Event-Head``, then nothing while live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from omnidesk.changes import Changes
from omnidesk.domain import ConnectionState
from omnidesk.services.event_stream import CatchUpProgress, EventStream
from omnidesk.services.relay_client import RelayClient
from omnidesk.storage import Cache
from relay.testing.graph_standin import GraphStandIn
from tests.helpers.console_factories import conversation_json, message_json
from tests.helpers.fake_relay import FakeRelay
from tests.helpers.meta_samples import text_webhook
from tests.relay.conftest import RelayHarness, relay_settings

Report = CatchUpProgress | None


@pytest.fixture(scope="module")
def graph_module() -> Iterator[GraphStandIn]:
    with GraphStandIn() as graph:
        yield graph


@pytest.fixture
def relay(tmp_path: Path, graph_module: GraphStandIn) -> Iterator[RelayHarness]:
    harness = RelayHarness(relay_settings(f"sqlite:///{tmp_path / 'relay.sqlite3'}", graph_module))
    yield harness
    harness.close()


class Follower:
    """An event stream into ``cache`` that records every catch-up report."""

    def __init__(self, client: RelayClient, cache: Cache) -> None:
        self.cache = cache
        self.reports: list[Report] = []
        self.stream = EventStream(
            client, cache, self._changes, self._state, on_catch_up=self.report
        )
        self.stream.REPORT_EVERY_S = 0  # every event, so the test sees each step
        self.task: asyncio.Task[None] | None = None

    def report(self, progress: Report) -> None:
        self.reports.append(progress)

    def _changes(self, _changes: Changes) -> None:
        pass

    def _state(self, _state: ConnectionState) -> None:
        pass

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.stream.run())

    async def until_cursor(self, cursor: int) -> None:
        async with asyncio.timeout(15):
            while await self.cache.event_cursor() != cursor:
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def head(relay: RelayHarness) -> int:
    with relay.api.stream("GET", "/v1/events") as response:
        return int(response.headers["X-Event-Head"])


@pytest.fixture
async def client(relay: RelayHarness) -> AsyncIterator[RelayClient]:
    c = RelayClient(httpx.AsyncClient(base_url=relay.url, timeout=10), relay.token)
    yield c
    await c.aclose()


async def test_catch_up_counts_from_the_cursor_to_the_relays_newest_event(
    relay: RelayHarness, client: RelayClient, cache: Cache
) -> None:
    assert head(relay) == 0  # an empty log says so
    relay.post_webhook(text_webhook(*(f"m{n}" for n in range(20)), wamid="wamid.c1"))
    first = head(relay)
    assert first == 21  # each message, then their conversation's update once
    follower = Follower(client, cache)
    follower.start()
    await follower.until_cursor(first)
    assert follower.reports == [CatchUpProgress(n, first) for n in range(first)] + [None]

    relay.post_webhook(text_webhook("live", wamid="wamid.c2"))
    await follower.until_cursor(first + 2)
    assert len(follower.reports) == first + 1  # live events are no catch-up
    await follower.stop()

    # away for a while: the next catch-up counts only what was missed, from the cursor
    relay.post_webhook(text_webhook("a", "b", "c", wamid="wamid.c3"))
    again = Follower(client, cache)
    again.start()
    await again.until_cursor(first + 6)  # three messages, one conversation update
    assert again.reports == [CatchUpProgress(n, 4) for n in range(4)] + [None]
    await again.stop()


async def test_a_catch_up_cut_off_ends_its_report_and_the_next_one_finishes_it(
    relay: RelayHarness, client: RelayClient, cache: Cache
) -> None:
    relay.post_webhook(text_webhook(*(f"m{n}" for n in range(20)), wamid="wamid.x1"))
    total = head(relay)
    cut = Follower(client, cache)

    def report(progress: Report) -> None:
        cut.reports.append(progress)
        if progress is not None and progress.done == 5 and cut.task is not None:
            cut.task.cancel()  # the console closes mid-way

    cut.stream.on_catch_up = report
    cut.start()
    assert cut.task is not None
    await asyncio.gather(cut.task, return_exceptions=True)
    assert cut.reports == [CatchUpProgress(n, total) for n in range(6)] + [None]

    resumed = Follower(client, cache)
    resumed.start()
    await resumed.until_cursor(total)
    assert resumed.reports[0] is not None and 0 < resumed.reports[0].total < total
    assert resumed.reports[-1] is None
    conversation = relay.conversations()[0]["id"]
    assert [m.text for m in await cache.messages(conversation)] == [f"m{n}" for n in range(20)]
    await resumed.stop()


async def test_a_relay_without_the_head_header_reports_nothing(cache: Cache) -> None:
    fake = FakeRelay()  # like a relay from before X-Event-Head
    fake.add_conversation(conversation_json(1, "Ana"), event=True)
    for n in range(1, 4):
        fake.add_message(message_json(n, 1, f"m{n}"))
    client = RelayClient(fake.client(), "tok")
    follower = Follower(client, cache)
    follower.start()
    await follower.until_cursor(4)
    assert follower.reports == []
    await follower.stop()
    await client.aclose()
