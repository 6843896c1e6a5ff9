"""Delivers queued outgoing messages through the Graph API, each at most once.

One task per conversation keeps a conversation's messages in order; conversations are
sent in parallel. A claim is committed before the Graph call, so a crash in the middle
leaves the message `sending`, which the next start holds as `unconfirmed` (see
`relay.store.outgoing`). Retryable errors wait with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable
from datetime import timedelta

from relay.channels.graph import GraphClient, SendError, SendOk, SendUnknown
from relay.metrics import Metrics
from relay.store import outgoing
from relay.store.database import Database, StoreFn
from relay.store.tables import utcnow

log = logging.getLogger(__name__)

PAIR_RATE_LIMIT = 131056  # too many messages to one customer: Meta asks for 4^X s waits
MAX_RETRY_DELAY_S = 900.0


class Sender:
    def __init__(
        self,
        db: Database,
        graph: GraphClient,
        metrics: Metrics,
        *,
        default_token: str,
        retry_scale: float,
        max_attempts: int,
        on_commit: Callable[[], None],
    ) -> None:
        self._db = db
        self._graph = graph
        self._metrics = metrics
        self._default_token = default_token
        self._retry_scale = retry_scale
        self._max_attempts = max_attempts
        self._on_commit = on_commit
        self._wake = asyncio.Event()
        self._busy: dict[int, asyncio.Task[None]] = {}  # conversation id -> its send task

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        held = await self._db.write(outgoing.hold_interrupted_sends)
        if held:
            log.warning("held %d interrupted sends as unconfirmed", len(held))
            self._on_commit()
        try:
            while True:
                await self._dispatch()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)
                except TimeoutError:
                    pass
                self._wake.clear()
        finally:
            for task in self._busy.values():
                task.cancel()
            await asyncio.gather(*self._busy.values(), return_exceptions=True)

    async def _dispatch(self) -> None:
        """Start a send task for each conversation with due messages and none running."""
        try:
            due = await self._db.read(outgoing.due_messages(utcnow()))
        except Exception:
            log.exception("cannot read the send queue; trying again shortly")
            return
        by_conversation: dict[int, list[int]] = {}
        for message_id, conversation_id in due:
            by_conversation.setdefault(conversation_id, []).append(message_id)
        for conversation_id, message_ids in by_conversation.items():
            if conversation_id not in self._busy:
                task = asyncio.create_task(self._send_in_order(message_ids))
                self._busy[conversation_id] = task
                task.add_done_callback(functools.partial(self._finished, conversation_id))

    def _finished(self, conversation_id: int, _task: asyncio.Task[None]) -> None:
        self._busy.pop(conversation_id, None)
        self._wake.set()  # more may have been queued for it meanwhile

    async def _send_in_order(self, message_ids: list[int]) -> None:
        for message_id in message_ids:
            try:
                await self.send_one(message_id)
            except Exception:  # the store is away: the message stays queued or sending
                log.exception("send of message %d interrupted", message_id)
                return

    async def send_one(self, message_id: int) -> None:
        job = await self._db.write(outgoing.claim(message_id))
        if job is None:
            return
        self._on_commit()
        token = job.channel_token or self._default_token
        if job.channel_kind == "whatsapp":
            result = await self._graph.send_whatsapp_text(
                token=token,
                phone_number_id=job.channel_external_id,
                to=job.recipient,
                body=job.text,
                reply_to=job.reply_to_external,
                callback_data=str(job.message_id),
            )
        else:
            result = await self._graph.send_instagram_text(
                token=token,
                ig_account_id=job.channel_external_id,
                recipient_id=job.recipient,
                body=job.text,
            )
        await self._db.write(self._outcome(job, result))
        self._on_commit()

    def _outcome(
        self, job: outgoing.SendJob, result: SendOk | SendError | SendUnknown
    ) -> StoreFn[None]:
        if isinstance(result, SendOk):
            self._metrics.messages_sent.inc()
            return outgoing.record_sent(job.message_id, result.external_id)
        if isinstance(result, SendUnknown):
            log.warning("send of message %d unconfirmed: %s", job.message_id, result.reason)
            return outgoing.record_unconfirmed(job.message_id, result.reason)
        if result.retryable and job.attempt < self._max_attempts:
            self._metrics.send_retries.inc()
            delay = self._retry_delay(result, job.attempt)
            log.info("send of message %d retried in %.1fs: %s", job.message_id, delay, result.title)
            return outgoing.record_retry(
                job.message_id, utcnow() + timedelta(seconds=delay), result.title
            )
        self._metrics.send_failures.labels(code=str(result.code)).inc()
        log.info("send of message %d failed: %s %s", job.message_id, result.code, result.title)
        return outgoing.record_failed(job.message_id, result.code, result.title, result.detail)

    def _retry_delay(self, error: SendError, attempt: int) -> float:
        growth = 4 if error.code == PAIR_RATE_LIMIT else 2
        delay: float = (error.retry_after_s or 0.5) * growth ** (attempt - 1)
        return min(delay, MAX_RETRY_DELAY_S) * self._retry_scale * random.uniform(0.8, 1.2)

    async def send_read_receipt(self, channel_id: str, token: str | None, external_id: str) -> None:
        kind, _, phone_number_id = channel_id.partition(":")
        if kind != "whatsapp":
            return
        result = await self._graph.mark_whatsapp_read(
            token=token or self._default_token,
            phone_number_id=phone_number_id,
            message_id=external_id,
        )
        if not isinstance(result, SendOk):
            log.info("read receipt for %s not sent: %s", external_id, result)
