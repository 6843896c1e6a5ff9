"""Follow the relay's event stream into the cache: catch up from the stored cursor, then live.

Each event is applied with the cursor in one cache transaction, so a reconnect that resumes
from the cursor never misses or doubles an event. Timeouts, connection errors and 5xx put the
stream in ``RECONNECTING`` with backoff; a 401 puts it in ``NEEDS_TOKEN`` until
:meth:`EventStream.token_changed`; an event that cannot be parsed is logged, skipped, and the
affected data is fetched again over REST.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import httpx_sse

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

log = logging.getLogger(__name__)

ChangesCallback = Callable[[Changes], None]
StateCallback = Callable[[ConnectionState], None]


class EventStream:
    def __init__(
        self,
        client: RelayClient,
        cache: Cache,
        on_changes: ChangesCallback,
        on_state: StateCallback,
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
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
        after = await self._cache.event_cursor()
        async with self._client.events(after) as source:
            self._set_state(ConnectionState.LIVE)
            self._backoff.reset()
            try:
                async for sse in source.aiter_sse():
                    await self._handle(sse)
            except httpx_sse.SSEError as exc:
                raise RelayProtocolError(str(exc)) from exc

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
