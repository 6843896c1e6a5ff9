"""The live event stream: Server-Sent Events read from the event log.

A stream first replays every event after the client's cursor, then waits for more. It is
woken at once when this process commits events, and polls the log every `poll_s` for
events that other relay processes (sharing one PostgreSQL) wrote. Since it always reads
from the log by id, a client that reconnects with its last id gets each event once, in
order, with no gap, whether the relay restarted or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator

from relay.store.database import Database
from relay.store.events import events_after

KEEPALIVE_S = 15.0


class EventHub:
    """Wakes every open stream when this process has committed new events."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def watch(self) -> asyncio.Event:
        """Take before reading the log: it is set by any commit that happens after."""
        return self._changed

    @staticmethod
    async def wait(watch: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await watch.wait()


def format_event(event: dict[str, object]) -> str:
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event['id']}\nevent: {event['type']}\ndata: {data}\n\n"


async def stream_events(
    db: Database, hub: EventHub, after: int, *, poll_s: float, stop: asyncio.Event
) -> AsyncIterator[str]:
    cursor = after
    yield "retry: 1000\n\n"
    idle = 0.0
    while not stop.is_set():
        watch = hub.watch()
        batch = await db.read(functools.partial(events_after, after=cursor))
        for event in batch:
            cursor = int(str(event["id"]))
            yield format_event(event)
        if batch:
            idle = 0.0
            continue
        if idle >= KEEPALIVE_S:
            idle = 0.0
            yield ": ping\n\n"
        await hub.wait(watch, poll_s)
        idle += poll_s
