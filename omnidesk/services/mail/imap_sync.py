"""Syncing one account's folders into a :class:`~.sink.MailSink`.

First sync: every UID, newest first, in batches of ``UID FETCH (UID FLAGS BODY.PEEK[])``
(never sets ``\\Seen``), parsed off the event loop, stored batch by batch with a progress
callback; the next batches are fetched and parsed while one is stored (a child process
for big fetches, see :mod:`.fetch_worker`; else a worker thread).
Later syncs: new mail above the highest known UID, flag changes by CONDSTORE
``CHANGEDSINCE`` (else chunked ``UID FETCH (UID FLAGS)``), expunges by a ``UID SEARCH ALL``
diff (only when the message count says something went away), and a full refetch when
UIDVALIDITY changed. The IMAP work runs on stdlib imaplib in worker threads (email-notes,
trap 9); each call is bounded by ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import TypeVar

from omnidesk.mail.sink import MailSink
from omnidesk.mail.types import (
    FlagUpdate,
    FolderState,
    MailAccount,
    ParsedMail,
    PasswordProvider,
    SyncProgress,
    SyncResult,
)

from .errors import MailConnectionLost, MailError
from .fetch_worker import FetchJob, WorkerFetch, fetch_and_parse
from .imap_blocking import BlockingImap, FetchedMessage, SelectInfo, chunks, uid_ranges
from .imap_connection import AsyncImap

T = TypeVar("T")
log = logging.getLogger(__name__)
ProgressCallback = Callable[[SyncProgress], None]
FLAG_CHUNK = 500
"""At most this many UIDs per flag FETCH (aioimaplib trap 2; also kind to servers)."""
WORKER_MIN = 1000
"""From this many messages a fetch runs in a child process (starting one costs ~0.2 s)."""


class FolderSync:
    """Sync engine for one account. One sync at a time; the connection is kept between syncs."""

    def __init__(
        self,
        account: MailAccount,
        password_provider: PasswordProvider,
        sink: MailSink,
        *,
        batch_size: int = 200,
        timeout: float = 60.0,
        progress: ProgressCallback | None = None,
        worker_min: int | None = WORKER_MIN,
    ) -> None:
        self.account = account
        self.password_provider = password_provider
        self.sink = sink
        self.batch_size = batch_size
        self.timeout = timeout
        self.progress = progress
        self.worker_min = worker_min
        """Fetch this many messages or more in a child process; None: never."""
        self._session: BlockingImap | None = None
        self._lock = asyncio.Lock()

    # -- plumbing --------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run a blocking call in a worker thread, bounded in time."""
        call = functools.partial(fn, *args, **kwargs)
        try:
            async with asyncio.timeout(self.timeout):
                return await asyncio.to_thread(call)
        except TimeoutError as exc:
            await self._drop_session()
            raise MailConnectionLost("IMAP operation timed out") from exc

    async def _connected(self) -> BlockingImap:
        if self._session is None:
            password = self.password_provider()
            connecting = asyncio.ensure_future(
                asyncio.to_thread(BlockingImap.connect, self.account, password, self.timeout)
            )
            try:
                async with asyncio.timeout(self.timeout):
                    self._session = await asyncio.shield(connecting)
            except TimeoutError as exc:
                connecting.add_done_callback(_close_abandoned)
                raise MailConnectionLost("IMAP connection timed out") from exc
            except asyncio.CancelledError:
                connecting.add_done_callback(_close_abandoned)
                raise
        return self._session

    async def _drop_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await asyncio.to_thread(session.close)

    async def aclose(self) -> None:
        async with self._lock:
            await self._drop_session()

    # -- sync ------------------------------------------------------------------------------

    async def sync(self, folder: str = "INBOX") -> SyncResult:
        async with self._lock:
            try:
                return await self._sync(folder)
            except MailConnectionLost:
                await self._drop_session()
                raise

    async def _sync(self, folder: str) -> SyncResult:
        session = await self._connected()
        sel: SelectInfo = await self._run(session.select, folder)
        account_id = self.account.id
        state = await self.sink.folder_state(account_id, folder)
        if state is None or state.uidvalidity != sel.uidvalidity:
            if state is not None:
                await self.sink.forget_folder(account_id, folder)
            return await self._full_sync(session, folder, sel, resync=state is not None)

        new_uids: list[int] = []
        if sel.uidnext > state.uidnext or sel.exists:
            found = await self._run(session.search_uids, f"UID {state.highest_uid + 1}:*")
            new_uids = sorted((u for u in found if u > state.highest_uid), reverse=True)
        await self._fetch_bodies(session, folder, sel, new_uids)

        flag_changes = await self._sync_flags(session, folder, state, sel)

        removed: list[int] = []
        known = await self.sink.known_uids(account_id, folder)
        if sel.exists != len(known):
            on_server = set(await self._run(session.search_uids, "ALL"))
            removed = sorted(known - on_server)
            if removed:
                await self.sink.remove_uids(account_id, folder, removed)

        await self._save_state(folder, sel, max([state.highest_uid, *new_uids]))
        return SyncResult(
            folder, new=len(new_uids), flag_changes=flag_changes, removed=len(removed)
        )

    async def _full_sync(
        self, session: BlockingImap, folder: str, sel: SelectInfo, *, resync: bool
    ) -> SyncResult:
        uids = sorted(await self._run(session.search_uids, "ALL"), reverse=True)
        await self._fetch_bodies(session, folder, sel, uids)
        await self._save_state(folder, sel, max(uids, default=0))
        return SyncResult(folder, new=len(uids), full_resync=resync)

    async def _save_state(self, folder: str, sel: SelectInfo, highest: int) -> None:
        """What the next sync starts from: this SELECT's counters and the highest UID stored."""
        await self.sink.save_folder_state(
            self.account.id,
            folder,
            FolderState(
                uidvalidity=sel.uidvalidity,
                uidnext=max(sel.uidnext, highest + 1),
                highestmodseq=sel.highestmodseq,
                highest_uid=highest,
            ),
        )

    async def _fetch_bodies(
        self, session: BlockingImap, folder: str, sel: SelectInfo, uids: list[int]
    ) -> None:
        """Fetch, parse and store ``uids`` in batches, in the order given (newest first).

        While the sink stores one batch (on the cache's thread) the next ones are already
        being fetched and parsed: in a child process for a big fetch (the GIL would
        otherwise serialise parsing and storing; see :mod:`.fetch_worker`), else in a
        worker thread. The first batch is always fetched here, so the newest mail shows up
        while the child starts. Progress is reported after each stored batch.
        """
        total = len(uids)
        if not total:
            return
        if self.progress:
            self.progress(SyncProgress(0, total))
        batches = list(chunks(uids, self.batch_size))
        local = _ThreadFetch(self, session, folder, batches)
        local.start(0)
        worker: WorkerFetch | None = None
        done = 0
        try:
            if self._worth_a_worker(total, len(batches)):
                worker = await self._start_worker(folder, sel, batches[1:])
            for i, batch in enumerate(batches):
                if worker is None or i == 0:
                    mails = await local.next_batch(i, prefetch=worker is None)
                else:
                    mails = await worker.next_batch(i - 1)
                await self.sink.store_messages(self.account.id, folder, mails)
                done += len(batch)
                if self.progress:
                    self.progress(SyncProgress(done, total))
        finally:
            if worker is not None:
                await worker.close()
            await local.close()

    def _worth_a_worker(self, messages: int, batches: int) -> bool:
        return (
            self.worker_min is not None
            and messages >= self.worker_min
            and batches > 1
            and WorkerFetch.available()
        )

    async def _start_worker(
        self, folder: str, sel: SelectInfo, batches: list[list[int]]
    ) -> WorkerFetch | None:
        """A running child for ``batches``, or None (then this process fetches them)."""
        job = FetchJob(
            self.account, self.password_provider(), folder, sel.uidvalidity, batches, self.timeout
        )
        worker = WorkerFetch(job)
        try:
            await worker.start()
        except OSError as exc:
            log.warning("no fetch worker (%s): fetching in this process", exc)
            await worker.close()
            return None
        except BaseException:
            await asyncio.shield(worker.close())
            raise
        return worker

    def _abandon(self, session: BlockingImap, ahead: asyncio.Future[list[ParsedMail]]) -> None:
        """The sync stopped while a worker thread still talks on ``session``: nobody may use
        that connection again; it is shut once the worker is done with it."""
        if self._session is session:
            self._session = None

        def shut(future: asyncio.Future[list[ParsedMail]]) -> None:
            if not future.cancelled():
                future.exception()  # retrieved: the sync already reported its own error
            session.shutdown()

        ahead.add_done_callback(shut)

    async def _sync_flags(
        self, session: BlockingImap, folder: str, state: FolderState, sel: SelectInfo
    ) -> int:
        if state.highest_uid == 0:
            return 0
        fetched: list[FetchedMessage] = []
        if session.condstore and state.highestmodseq is not None:
            if sel.highestmodseq == state.highestmodseq:
                return 0
            fetched = await self._run(
                session.fetch,
                f"1:{state.highest_uid}",
                body=False,
                changedsince=state.highestmodseq,
            )
        else:
            known = sorted(await self.sink.known_uids(self.account.id, folder))
            for chunk in chunks(known, FLAG_CHUNK):
                fetched += await self._run(session.fetch, uid_ranges(chunk), body=False)
        updates = [
            FlagUpdate(f.uid, _clean_flags(f.flags), f.modseq)
            for f in fetched
            if f.uid <= state.highest_uid
        ]
        if updates:
            await self.sink.apply_flags(self.account.id, folder, updates)
        return len(updates)

    # -- interactive -----------------------------------------------------------------------

    async def mark_seen(self, folder: str, uid: int, seen: bool = True) -> None:
        """Set (or clear) ``\\Seen`` on the server, then in the sink."""
        op = "+FLAGS.SILENT" if seen else "-FLAGS.SILENT"
        if self.account.imap_security == "starttls":  # aioimaplib cannot: use the worker
            async with self._lock:
                session = await self._connected()
                await self._run(session.select, folder)
                await self._run(session.store_flags, uid, op, "(\\Seen)")
        else:
            client = AsyncImap(self.account, self.password_provider, timeout=self.timeout)
            try:
                await client.connect()
                await client.select(folder)
                await client.uid_store(uid, op, "(\\Seen)")
            finally:
                await client.close()


class _ThreadFetch:
    """Batches fetched and parsed in worker threads on the sync's own connection, one
    batch ahead of the store."""

    def __init__(
        self, sync: FolderSync, session: BlockingImap, folder: str, batches: list[list[int]]
    ) -> None:
        self.sync = sync
        self.session = session
        self.folder = folder
        self.batches = batches
        self._ahead: asyncio.Future[list[ParsedMail]] | None = None

    def start(self, index: int) -> asyncio.Future[list[ParsedMail]]:
        """Begin fetching batch ``index`` (one at a time: the connection is shared)."""
        assert self._ahead is None or self._ahead.done()
        self._ahead = asyncio.ensure_future(
            self.sync._run(fetch_and_parse, self.session, self.batches[index], self.folder)
        )
        return self._ahead

    async def next_batch(self, index: int, *, prefetch: bool = True) -> list[ParsedMail]:
        """Batch ``index`` (started before, or now); then start the one after it."""
        ahead = self._ahead if self._ahead is not None else self.start(index)
        mails = await ahead
        self._ahead = None
        if prefetch and index + 1 < len(self.batches):
            self.start(index + 1)
        return mails

    async def close(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and not ahead.done():
            self.sync._abandon(self.session, ahead)
        elif ahead is not None and not ahead.cancelled():
            ahead.exception()  # an unused batch: fetched after the sync gave up


def _clean_flags(flags: frozenset[str]) -> frozenset[str]:
    return frozenset(f for f in flags if f != "\\Recent")


__all__ = ["FolderSync", "MailError", "ProgressCallback"]


def _close_abandoned(connecting: asyncio.Future[BlockingImap]) -> None:
    """A connect its caller gave up on still ends in its thread: close what it opened there."""
    if not connecting.cancelled() and connecting.exception() is None:
        asyncio.get_running_loop().run_in_executor(None, connecting.result().close)
