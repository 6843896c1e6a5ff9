"""The outbox: replies are written to the cache first, then one sender delivers them in order.

Each reply gets a client id when it is written; it is the relay's ``Idempotency-Key``, so a
resend after a timeout or a restart never sends twice. A relay that is down leaves replies
queued (retried with backoff, or at once when :meth:`Outbox.wake` is called); a refusal (4xx)
marks the reply failed with the relay's reason and the sender moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from omnidesk.changes import Changes
from omnidesk.services.backoff import Backoff
from omnidesk.services.errors import (
    RelayAuthError,
    RelayProtocolError,
    RelayRequestError,
    RelayUnavailable,
)
from omnidesk.services.relay_client import RelayClient
from omnidesk.storage import Cache

log = logging.getLogger(__name__)


class Outbox:
    def __init__(
        self,
        client: RelayClient,
        cache: Cache,
        on_changes: Callable[[Changes], None],
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self._client = client
        self._cache = cache
        self._on_changes = on_changes
        self._backoff = backoff or Backoff(initial=1.0, maximum=30.0)
        self._wake = asyncio.Event()
        self.sent = 0

    async def enqueue(self, conversation_id: int, text: str, reply_to: int | None) -> Changes:
        _item, changes = await self._cache.outbox_add(conversation_id, text, reply_to)
        self.wake()
        return changes

    async def cancel(self, client_id: str) -> Changes:
        return await self._cache.outbox_cancel(client_id)

    async def retry(self, client_id: str) -> Changes:
        changes = await self._cache.outbox_retry(client_id)
        self.wake()
        return changes

    def wake(self) -> None:
        """Try now (the relay is reachable again, or something was queued)."""
        self._wake.set()

    async def _wait(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        self._wake.clear()

    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            item = await self._cache.outbox_claim_next()
            if item is None:
                await self._wait(None)
                continue
            self._on_changes(Changes(threads=frozenset({item.conversation_id}), outbox=True))
            try:
                message = await self._client.send_message(
                    item.conversation_id, item.text, item.reply_to, item.client_id
                )
            except (RelayUnavailable, RelayAuthError, RelayProtocolError) as exc:
                self._on_changes(await self._cache.outbox_requeue(item.client_id))
                delay = self._backoff.next()
                log.info("reply %s not sent (%s); retrying in %.1fs", item.client_id, exc, delay)
                await self._wait(delay)
            except RelayRequestError as exc:
                log.warning("relay refused reply %s: %s", item.client_id, exc)
                self._on_changes(await self._cache.outbox_failed(item.client_id, str(exc)))
            except asyncio.CancelledError:
                await asyncio.shield(self._cache.outbox_requeue(item.client_id))
                raise
            else:
                self.sent += 1
                self._backoff.reset()
                self._on_changes(await self._cache.outbox_delivered(item.client_id, message))
