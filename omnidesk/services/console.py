"""What the console's UI asks of the services. Every mutation returns :class:`Changes`.

:class:`ConsoleService` owns the relay client, the event stream and the outbox sender; it
starts them with :meth:`start` and stops them (and closes the HTTP client) with
:meth:`shutdown`, which may be called more than once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from omnidesk.changes import NO_CHANGES, Changes
from omnidesk.domain import ConnectionState, ConversationStatus, Draft
from omnidesk.services.backoff import Backoff
from omnidesk.services.errors import RelayAuthError, RelayError, RelayUnavailable
from omnidesk.services.event_stream import CatchUpCallback, EventStream
from omnidesk.services.outbox import Outbox
from omnidesk.services.relay_client import RelayClient
from omnidesk.storage import Cache

log = logging.getLogger(__name__)


class ConsoleService:
    def __init__(
        self,
        client: RelayClient,
        cache: Cache,
        *,
        on_changes: Callable[[Changes], None],
        on_state: Callable[[ConnectionState], None],
        stream_backoff: Backoff | None = None,
        outbox_backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        self._on_changes = on_changes
        self._on_state = on_state
        self.me: str | None = None
        self.stream = EventStream(
            client, cache, on_changes, self._state_changed, backoff=stream_backoff
        )
        self.outbox = Outbox(client, cache, on_changes, backoff=outbox_backoff)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stream_task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def state(self) -> ConnectionState:
        return self.stream.state

    def _state_changed(self, state: ConnectionState) -> None:
        if state is ConnectionState.LIVE:
            self.outbox.wake()
            if self.me is None:
                self._spawn(self._fetch_me())
        self._on_state(state)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("service task failed", exc_info=task.exception())

    async def _fetch_me(self) -> None:
        try:
            self.me = await self.client.me()
        except RelayError as exc:
            log.info("could not ask the relay who I am: %s", exc)
            return
        await self.cache.set_meta("me", self.me)
        self._on_changes(Changes(settings=True))

    async def start(self) -> None:
        self.me = await self.cache.get_meta("me")
        self._stream_task = self._spawn(self.stream.run())
        self._spawn(self.outbox.run())

    def reconnect(self) -> None:
        """Drop the event stream and open it again (the relay URL changed)."""
        if self._closed or self._stream_task is None:
            return
        self._stream_task.cancel()
        self.me = None
        self._stream_task = self._spawn(self.stream.run())
        self.outbox.wake()

    async def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.client.aclose()

    def watch_catch_up(self, callback: CatchUpCallback | None) -> None:
        """Report the event stream's catch-up progress to ``callback`` (see ``EventStream``).

        The window that shows it subscribes itself, so every place that builds a window
        (the app, the demo, tests) gets the progress without wiring it again.
        """
        self.stream.on_catch_up = callback

    def set_token(self, token: str | None) -> None:
        self.client.set_token(token)
        self.stream.token_changed()
        self.outbox.wake()

    # -- operations ---------------------------------------------------------------------------

    async def sync_conversation(self, conversation_id: int) -> Changes:
        """Fetch the newest messages of a conversation and mark it read; quiet when offline."""
        try:
            messages, _ = await self.client.messages(conversation_id, limit=50)
            changes = await self.cache.upsert_messages(messages)
            conv = await self.cache.conversation(conversation_id)
            if conv is not None and conv.unread_count:
                changes = changes | await self.cache.upsert_conversations(
                    [await self.client.mark_read(conversation_id)]
                )
            return changes
        except (RelayUnavailable, RelayAuthError) as exc:
            log.info("conversation %s not synced: %s", conversation_id, exc)
            return NO_CHANGES

    async def load_older(self, conversation_id: int, before: int) -> Changes:
        try:
            messages, _ = await self.client.messages(conversation_id, before=before, limit=50)
        except (RelayUnavailable, RelayAuthError):
            return NO_CHANGES
        return await self.cache.upsert_messages(messages)

    async def send_reply(self, conversation_id: int, text: str, reply_to: int | None) -> Changes:
        return await self.outbox.enqueue(conversation_id, text, reply_to)

    async def cancel_reply(self, client_id: str) -> Changes:
        return await self.outbox.cancel(client_id)

    async def retry_reply(self, client_id: str) -> Changes:
        return await self.outbox.retry(client_id)

    async def refresh_conversation(self, conversation_id: int) -> Changes:
        return await self.cache.upsert_conversations(
            [await self.client.conversation(conversation_id)]
        )

    async def takeover(self, conversation_id: int) -> Changes:
        return await self.cache.upsert_conversations([await self.client.takeover(conversation_id)])

    async def handback(self, conversation_id: int) -> Changes:
        return await self.cache.upsert_conversations([await self.client.handback(conversation_id)])

    async def set_status(self, conversation_id: int, status: ConversationStatus) -> Changes:
        conv = await self.client.set_status(conversation_id, status)
        return await self.cache.upsert_conversations([conv])

    async def save_draft(self, draft: Draft) -> Changes:
        return await self.cache.save_draft(draft)
