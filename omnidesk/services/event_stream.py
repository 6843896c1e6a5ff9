"""Follow the relay's event stream into the cache: catch up from the stored cursor, then live.

Each event is applied with the cursor in one cache transaction, so a reconnect that resumes
from the cursor never misses or doubles an event. Timeouts, connection errors and 5xx put the
stream in ``RECONNECTING`` with backoff; a 401 puts it in ``NEEDS_TOKEN`` until
:meth:`EventStream.token_changed`; an event that cannot be parsed is logged, skipped, and the
affected data is fetched again over REST.

Catching up (the first start replays the relay's whole event log) can take a while, so the
stream reports its progress through ``on_catch_up``: the relay says in the ``X-Event-Head``
header which event id was the newest when the stream opened, and the stream is caught up once
it has applied that id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from omnidesk.changes import Changes
from omnidesk.domain import ConnectionState
from omnidesk.services.backoff import Backoff
from omnidesk.services.errors import (
    RelayAuthError,
    RelayError,
    RelayProtocolError,
    RelayUnavailable,
)
from omnidesk.services.relay_client import RelayClient
from omnidesk.services.wire import parse_event
from omnidesk.storage import Cache

if TYPE_CHECKING:
    import httpx
    import httpx_sse

log = logging.getLogger(__name__)

ChangesCallback = Callable[[Changes], None]
StateCallback = Callable[[ConnectionState], None]

HEAD_HEADER = "X-Event-Head"
"""The relay's newest event id when the stream opened (see ``relay.api.events``)."""


@dataclass(frozen=True, slots=True)
class CatchUpProgress:
    """How far the stream is in replaying the events the console missed.

    Both count event ids past the cursor the stream opened from: exact on SQLite, an estimate
    on a relay whose ids have gaps (the end is still exact: the newest id always exists).
    """

    done: int
    total: int


CatchUpCallback = Callable[[CatchUpProgress | None], None]
"""Gets progress while a catch-up runs, then ``None`` once it ended (caught up or cut off)."""


class EventStream:
    REPORT_EVERY_S = 0.1
    """Catch-up progress is reported at most this often: hundreds of events are applied a
    second, and a window needs a few updates a second, not a signal per event."""

    def __init__(
        self,
        client: RelayClient,
        cache: Cache,
        on_changes: ChangesCallback,
        on_state: StateCallback,
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_catch_up: CatchUpCallback | None = None,
    ) -> None:
        self._client = client
        self._cache = cache
        self._on_changes = on_changes
        self._on_state = on_state
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._token = asyncio.Event()
        self.state = ConnectionState.OFFLINE
        self.skipped_events = 0
        self.on_catch_up = on_catch_up
        self.catch_up: CatchUpProgress | None = None
        """The running catch-up's progress (always current; reports are throttled)."""
        self._reported_at = 0.0

    def _set_state(self, state: ConnectionState) -> None:
        if state is not self.state:
            log.info("relay stream: %s -> %s", self.state.value, state.value)
            self.state = state
            self._on_state(state)

    def token_changed(self) -> None:
        """A new token was set on the client: try again now."""
        self._token.set()

    async def run(self) -> None:
        """Run until cancelled."""
        import httpx  # imported once the stream runs: see relay_client

        self._set_state(ConnectionState.CONNECTING)
        try:
            while True:
                try:
                    await self._follow()
                    raise RelayUnavailable("the relay closed the event stream")
                except RelayAuthError as exc:
                    log.warning("relay refused the token: %s", exc)
                    self._set_state(ConnectionState.NEEDS_TOKEN)
                    self._token.clear()
                    await self._token.wait()
                    self._set_state(ConnectionState.CONNECTING)
                except (RelayUnavailable, RelayProtocolError, httpx.HTTPError) as exc:
                    delay = self._backoff.next()
                    log.info("relay stream down (%s); retrying in %.1fs", exc, delay)
                    self._set_state(ConnectionState.RECONNECTING)
                    await self._sleep(delay)
        finally:
            self._set_state(ConnectionState.OFFLINE)

    async def _follow(self) -> None:
        import httpx_sse  # as httpx in run()

        after = await self._cache.event_cursor()
        async with self._client.events(after) as source:
            self._set_state(ConnectionState.LIVE)
            self._backoff.reset()
            start = after or 0
            head = _head(source.response)
            if head is not None and head > start:
                self._report(CatchUpProgress(0, head - start))
            events = source.aiter_sse()
            try:
                async for sse in events:
                    await self._handle(sse)
                    if self.catch_up is not None and sse.id.isdigit():
                        self._advance(int(sse.id) - start)
            except httpx_sse.SSEError as exc:
                raise RelayProtocolError(str(exc)) from exc
            finally:
                self._report(None)  # caught up already, or cut off: the next stream starts anew
                # Cancelled while an event is applied, httpx's generators are left suspended.
                # qasync installs no async-generator finalizer, so they would be closed
                # synchronously when dropped, where httpcore's cleanup cannot await ("async
                # generator ignored GeneratorExit"). Close the response first, awaiting its
                # cleanup here; the generators then have nothing left to await.
                await source.response.aclose()
                await events.aclose()

    def _advance(self, done: int) -> None:
        assert self.catch_up is not None
        total = self.catch_up.total
        if done >= total:
            log.info("relay stream: caught up (%d events)", total)
            self._report(None)
            return
        self.catch_up = CatchUpProgress(done, total)
        if time.monotonic() - self._reported_at >= self.REPORT_EVERY_S:
            self._report(self.catch_up)

    def _report(self, progress: CatchUpProgress | None) -> None:
        if progress is None and self.catch_up is None:
            return
        self.catch_up = progress
        self._reported_at = time.monotonic()
        if self.on_catch_up is not None:
            self.on_catch_up(progress)

    async def _handle(self, sse: httpx_sse.ServerSentEvent) -> None:
        if not sse.data.strip():
            return  # a bare "retry:" or "id:" block carries no event
        raw: Any = None
        try:
            raw = json.loads(sse.data)
            event = parse_event(raw)
        except (ValueError, RelayProtocolError) as exc:
            self.skipped_events += 1
            log.warning("skipping an event the console cannot read (id %r): %s", sse.id, exc)
            if sse.id and sse.id.isdigit():
                await self._cache.skip_event(int(sse.id))
            conv = raw.get("conversation_id") if isinstance(raw, dict) else None
            await self.resync(conv if isinstance(conv, int) else None)
            return
        changes = await self._cache.apply_event(event)
        if changes:
            self._on_changes(changes)

    async def resync(self, conversation_id: int | None = None) -> None:
        """Fetch again over REST what a skipped event may have changed."""
        try:
            conversations, _ = await self._client.conversations(limit=50)
            changes = await self._cache.upsert_conversations(conversations)
            if conversation_id is not None:
                messages, _ = await self._client.messages(conversation_id, limit=50)
                changes = changes | await self._cache.upsert_messages(messages)
        except RelayAuthError:
            raise
        except RelayError as exc:
            log.warning("resync failed: %s", exc)
            return
        if changes:
            self._on_changes(changes)


def _head(response: httpx.Response) -> int | None:
    """The relay's newest event id, or None from a relay too old to say."""
    value = response.headers.get(HEAD_HEADER, "").strip()
    return int(value) if value.isdigit() else None
