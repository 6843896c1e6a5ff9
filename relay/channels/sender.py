"""Delivers queued outgoing messages through the Graph API, each at most once.

At most one message per conversation is in flight, which keeps a conversation's messages
in order; conversations are sent in parallel. Claims are made, and answers recorded, a
round at a time (one write each, see `Sender`). A claim is committed before the Graph
call, so a crash in the middle
leaves the message `sending`, which the next start holds as `unconfirmed` (see
`relay.store.outgoing`). Retryable errors wait with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    """Claims due messages in rounds, sends them, and records the answers in batches.

    A round is one write that claims the oldest due message of every idle conversation, so
    a burst of bot replies costs one commit to claim and one to record, however large. The
    loop is woken by commits that may have queued a message (coalesced: a wake that comes
    while a round runs causes one more round, not one per commit), by a conversation
    becoming idle, and every `POLL_S` for retries coming due and other processes' messages
    (for these two it looks with a read first, and writes only if there is something to
    claim: the writer is the relay's busiest resource).
    """

    POLL_S = 0.5

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
        self._maybe_queued = True
        # Conversations with a claimed message whose outcome is not recorded yet: nothing
        # more of theirs is claimed meanwhile, which keeps each conversation in order.
        self._busy: set[int] = set()
        self._sends: set[asyncio.Task[None]] = set()
        self._outcomes: list[tuple[outgoing.SendJob, StoreFn[None]]] = []
        self._outcomes_ready = asyncio.Event()

    def wake(self) -> None:
        """A commit may have queued a message: the next round claims without looking first."""
        self._maybe_queued = True
        self._wake.set()

    async def run(self) -> None:
        held = await self._db.write(outgoing.hold_interrupted_sends)
        if held:
            log.warning("held %d interrupted sends as unconfirmed", len(held))
            self._on_commit()
        recorder = asyncio.create_task(self._record_loop(), name="sender-recorder")
        try:
            while True:
                look_first, self._maybe_queued = not self._maybe_queued, False
                await self._dispatch(look_first=look_first)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.POLL_S):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            recorder.cancel()
            for task in self._sends:
                task.cancel()
            await asyncio.gather(recorder, *self._sends, return_exceptions=True)
            if self._outcomes:  # sent but not recorded yet: record them rather than hold them
                try:
                    await self._db.write(outgoing.record_outcomes([f for _, f in self._outcomes]))
                except Exception:
                    log.exception("could not record %d send outcomes", len(self._outcomes))

    async def _dispatch(self, *, look_first: bool) -> None:
        """Claim what is due for the idle conversations (one write) and start sending it."""
        now, busy = utcnow(), frozenset(self._busy)
        try:
            if look_first:  # a poll or a freed conversation: most likely nothing, so only read
                due = await self._db.read(outgoing.due_messages(now))
                if all(conversation_id in busy for _, conversation_id in due):
                    return
            jobs = await self._db.write(outgoing.claim_due(now, busy))
        except Exception:
            log.exception("cannot claim from the send queue; trying again shortly")
            return
        if not jobs:
            return
        self._on_commit()
        self.adopt(jobs)

    def adopt(self, jobs: list[outgoing.SendJob]) -> None:
        """Send messages claimed by a commit, ours or one that stored them as claimed."""
        for job in jobs:
            self._busy.add(job.conversation_id)
            task = asyncio.create_task(self._send(job))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _send(self, job: outgoing.SendJob) -> None:
        """Call Meta for one claimed message and hand its answer to the recorder."""
        try:
            result = await self._call_graph(job)
        except Exception:  # a bug: the message stays `sending`, held as unconfirmed at start
            log.exception("send of message %d interrupted", job.message_id)
            self._release([job])
            return
        self._outcomes.append((job, self._outcome(job, result)))
        self._outcomes_ready.set()

    async def _call_graph(self, job: outgoing.SendJob) -> SendOk | SendError | SendUnknown:
        token = job.channel_token or self._default_token
        if job.channel_kind == "whatsapp":
            return await self._graph.send_whatsapp_text(
                token=token,
                phone_number_id=job.channel_external_id,
                to=job.recipient,
                body=job.text,
                reply_to=job.reply_to_external,
                callback_data=str(job.message_id),
            )
        return await self._graph.send_instagram_text(
            token=token,
            ig_account_id=job.channel_external_id,
            recipient_id=job.recipient,
            body=job.text,
        )

    async def _record_loop(self) -> None:
        """Record every answer that came in meanwhile in one write, then free their
        conversations (their next message may be claimed only once this one is settled)."""
        while True:
            await self._outcomes_ready.wait()
            self._outcomes_ready.clear()
            batch, self._outcomes = self._outcomes, []
            if not batch:
                continue
            try:
                failures = await self._db.write(outgoing.record_outcomes([f for _, f in batch]))
            except Exception:  # the store is away: the messages stay `sending`
                log.exception("could not record %d send outcomes", len(batch))
            else:
                for (job, _), failure in zip(batch, failures, strict=True):
                    if failure is not None:
                        log.error("send of message %d not recorded: %r", job.message_id, failure)
                self._on_commit()
            self._release([job for job, _ in batch])

    def _release(self, jobs: list[outgoing.SendJob]) -> None:
        for job in jobs:
            self._busy.discard(job.conversation_id)
        self._wake.set()  # more may have been queued for them meanwhile

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
