"""Syncing one account's folders into a :class:`~.sink.MailSink`.

First sync: every UID, newest first, in batches of ``UID FETCH (UID FLAGS BODY.PEEK[])``
(never sets ``\\Seen``), parsed in the worker thread, with a progress callback.
Later syncs: new mail above the highest known UID, flag changes by CONDSTORE
``CHANGEDSINCE`` (else chunked ``UID FETCH (UID FLAGS)``), expunges by a ``UID SEARCH ALL``
diff (only when the message count says something went away), and a full refetch when
UIDVALIDITY changed. The IMAP work runs on stdlib imaplib in a worker thread (email-notes,
trap 9); each call is bounded by ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TypeVar

from .errors import MailConnectionLost, MailError
from .imap_blocking import BlockingImap, FetchedMessage, SelectInfo, chunks, uid_ranges
from .imap_connection import AsyncImap
from .parse import parse_message
from .sink import MailSink
from .types import (
    FlagUpdate,
    FolderState,
    MailAccount,
    ParsedMail,
    PasswordProvider,
    SyncProgress,
    SyncResult,
)

T = TypeVar("T")
ProgressCallback = Callable[[SyncProgress], None]
FLAG_CHUNK = 500
"""At most this many UIDs per flag FETCH (aioimaplib trap 2; also kind to servers)."""


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
    ) -> None:
        self.account = account
        self.password_provider = password_provider
        self.sink = sink
        self.batch_size = batch_size
        self.timeout = timeout
        self.progress = progress
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
            self._session = await self._run(
                BlockingImap.connect, self.account, password, self.timeout
            )
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
        await self._fetch_bodies(session, folder, new_uids)

        flag_changes = await self._sync_flags(session, folder, state, sel)

        removed: list[int] = []
        known = await self.sink.known_uids(account_id, folder)
        if sel.exists != len(known):
            on_server = set(await self._run(session.search_uids, "ALL"))
            removed = sorted(known - on_server)
            if removed:
                await self.sink.remove_uids(account_id, folder, removed)

        highest = max([state.highest_uid, *new_uids])
        await self.sink.save_folder_state(
            account_id,
            folder,
            FolderState(
                uidvalidity=sel.uidvalidity,
                uidnext=max(sel.uidnext, highest + 1),
                highestmodseq=sel.highestmodseq,
                highest_uid=highest,
            ),
        )
        return SyncResult(
            folder, new=len(new_uids), flag_changes=flag_changes, removed=len(removed)
        )

    async def _full_sync(
        self, session: BlockingImap, folder: str, sel: SelectInfo, *, resync: bool
    ) -> SyncResult:
        uids = sorted(await self._run(session.search_uids, "ALL"), reverse=True)
        await self._fetch_bodies(session, folder, uids)
        highest = max(uids, default=0)
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
        return SyncResult(folder, new=len(uids), full_resync=resync)

    async def _fetch_bodies(self, session: BlockingImap, folder: str, uids: list[int]) -> None:
        """Fetch, parse (in the worker) and store ``uids`` in batches, in the order given."""
        total = len(uids)
        done = 0
        if self.progress and total:
            self.progress(SyncProgress(0, total))
        for batch in chunks(uids, self.batch_size):
            mails = await self._run(_fetch_and_parse, session, batch, folder)
            mails.sort(key=lambda m: m.uid or 0, reverse=True)
            await self.sink.store_messages(self.account.id, folder, mails)
            done += len(batch)
            if self.progress:
                self.progress(SyncProgress(done, total))

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


def _fetch_and_parse(session: BlockingImap, uids: list[int], folder: str) -> list[ParsedMail]:
    out = []
    for item in session.fetch(uid_ranges(uids), body=True):
        if item.body is None:
            continue
        out.append(
            parse_message(item.body, uid=item.uid, folder=folder, flags=_clean_flags(item.flags))
        )
    return out


def _clean_flags(flags: frozenset[str]) -> frozenset[str]:
    return frozenset(f for f in flags if f != "\\Recent")


__all__ = ["FolderSync", "MailError", "ProgressCallback"]
