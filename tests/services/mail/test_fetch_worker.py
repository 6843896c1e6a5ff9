"""The first sync's child-process fetch (fetch_worker) against the real Dovecot."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from omnidesk.mail.types import MailAccount, SyncProgress
from omnidesk.services.mail.errors import MailAuthError, MailConnectionLost, MailProtocolError
from omnidesk.services.mail.fetch_worker import FetchJob, WorkerFetch
from omnidesk.services.mail.imap_blocking import BlockingImap
from omnidesk.services.mail.imap_sync import FolderSync
from tests.helpers.dovecot import DovecotServer
from tests.services.mail.factory import make_raw
from tests.services.mail.memory_sink import MemorySink


def deliver(dovecot: DovecotServer, count: int) -> None:
    dovecot.deliver_many(
        [make_raw(i, attachment=bytes(2000) if i % 7 == 0 else None) for i in range(count)]
    )


async def first_sync(account: MailAccount, password: str, worker_min: int | None) -> MemorySink:
    sink = MemorySink()
    progress: list[SyncProgress] = []
    sync = FolderSync(account, lambda: password, sink, batch_size=20, worker_min=worker_min,
                      progress=progress.append)  # fmt: skip
    try:
        assert (await sync.sync("INBOX")).new == 95
    finally:
        await sync.aclose()
    assert progress[0] == SyncProgress(0, 95) and progress[-1] == SyncProgress(95, 95)
    assert [p.fetched for p in progress] == [0, 20, 40, 60, 80, 95]
    return sink


async def test_worker_sync_stores_what_the_in_process_sync_stores(
    dovecot: DovecotServer, account: MailAccount
) -> None:
    deliver(dovecot, 95)
    in_worker = await first_sync(account, dovecot.password, worker_min=0)
    in_process = await first_sync(account, dovecot.password, worker_min=None)
    assert in_worker.stored_batches == [20, 20, 20, 20, 15]
    box = in_worker.box("acct")
    assert box == in_process.box("acct")
    assert sorted(box) == list(range(1, 96))
    # newest first: each stored batch holds higher UIDs than the next
    assert box[95].message_id == "<msg94@c.example>" and box[8].attachments
    stored = list(box)  # insertion order of the MemorySink
    assert stored[:20] == list(range(95, 75, -1))
    assert all(not m.seen for m in box.values())  # BODY.PEEK: nothing marked read


async def test_worker_reports_a_refused_login(dovecot: DovecotServer, account: MailAccount) -> None:
    deliver(dovecot, 45)
    passwords = iter([dovecot.password, "changed-meanwhile"])
    sync = FolderSync(account, lambda: next(passwords), MemorySink(), batch_size=20,
                      worker_min=0, timeout=20)  # fmt: skip
    try:
        with pytest.raises(MailAuthError):
            await sync.sync("INBOX")
    finally:
        await sync.aclose()


async def test_worker_sees_a_uidvalidity_change(
    dovecot: DovecotServer, account: MailAccount
) -> None:
    job = FetchJob(account, dovecot.password, "INBOX", uidvalidity=1, batches=[[1]], timeout=10)
    worker = WorkerFetch(job)
    await worker.start()
    try:
        with pytest.raises(MailProtocolError, match="UIDVALIDITY"):
            await worker.next_batch(0)
    finally:
        await worker.close()


async def test_a_dead_worker_is_a_lost_connection_and_the_next_sync_recovers(
    dovecot: DovecotServer, account: MailAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(dovecot, 95)
    started: list[WorkerFetch] = []
    real_start = WorkerFetch.start

    async def start_then_die(self: WorkerFetch) -> None:
        await real_start(self)
        started.append(self)
        assert self._proc is not None
        os.kill(self._proc.pid, signal.SIGKILL)

    monkeypatch.setattr(WorkerFetch, "start", start_then_die)
    sink = MemorySink()
    sync = FolderSync(account, lambda: dovecot.password, sink, batch_size=20, worker_min=0)
    try:
        with pytest.raises(MailConnectionLost, match="fetch worker"):
            await sync.sync("INBOX")
        assert started and started[0]._proc is None  # closed and reaped
        monkeypatch.setattr(WorkerFetch, "start", real_start)
        assert (await sync.sync("INBOX")).new == 95
    finally:
        await sync.aclose()
    assert len(sink.box("acct")) == 95


async def test_cancelled_sync_ends_the_worker(dovecot: DovecotServer, account: MailAccount) -> None:
    deliver(dovecot, 95)
    workers: list[WorkerFetch] = []
    real_start = WorkerFetch.start

    async def remember(self: WorkerFetch) -> None:
        await real_start(self)
        workers.append(self)

    sink = MemorySink()
    slow = asyncio.Event()
    real_store = sink.store_messages

    async def store_slowly(*args: object) -> None:
        await real_store(*args)  # type: ignore[arg-type]
        slow.set()
        await asyncio.sleep(30)

    sync = FolderSync(account, lambda: dovecot.password, sink, batch_size=20, worker_min=0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sink, "store_messages", store_slowly)
        mp.setattr(WorkerFetch, "start", remember)
        task = asyncio.create_task(sync.sync("INBOX"))
        await asyncio.wait_for(slow.wait(), 20)
        proc = workers[0]._proc
        assert proc is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert proc.poll() is not None  # the child is gone
    await sync.aclose()


def test_worker_is_unavailable_in_a_frozen_app(monkeypatch: pytest.MonkeyPatch) -> None:
    assert WorkerFetch.available()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert not WorkerFetch.available()


def test_pipelined_fetch_sorts_interleaved_answers_into_their_batches(
    dovecot: DovecotServer, account: MailAccount
) -> None:
    """Dovecot runs pipelined FETCHes in parallel and interleaves their answers."""
    dovecot.deliver_many([make_raw(i) for i in range(150)])
    session = BlockingImap.connect(account, dovecot.password, 10)
    try:
        session.select("INBOX")
        session.conn.uid("STORE", "20:29", "+FLAGS.SILENT", "(\\Deleted)")
        session.conn.expunge()
        batches = [list(range(u, max(0, u - 7), -1)) for u in range(150, 0, -7)]
        got = list(session.fetch_pipelined(batches))
        assert [sorted(m.uid for m in b) for b in got] == [
            sorted(u for u in batch if not 20 <= u <= 29) for batch in batches
        ]
        assert all(m.body and m.body.startswith(b"Message-ID: <msg") for b in got for m in b)
        assert session.fetch("1:3", body=False)  # the session is in step afterwards
    finally:
        session.close()
