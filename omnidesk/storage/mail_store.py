"""Email in the local cache (see docs/email.md, "Ids" and "Storage").

Mail threads and mails are conversations and messages under negative ids, so the unified
list, search, unread counts and the thread view work for them unchanged; the mail-only
details (headers a reply needs, HTML, server copies and flags, folder sync state, queued
MIME) live in the ``mail_*`` tables. Everything runs on the cache's single thread through
``Cache.run_in_transaction``; the SQL is in the ``mail_*`` modules beside this one
(``mail_write``: storing; ``mail_folders``: copies, flags, expunges; ``mail_threads``:
threads and merges; ``mail_summary``: conversation rows; ``mail_read``; ``mail_outbox``).

How the UI is told: the :class:`~omnidesk.mail.sink.MailSink` methods (called by
the sync loops, which return nothing) publish their :class:`Changes` through ``on_changes``;
every other write returns its ``Changes`` to the caller (an op, or the mail sender's loop),
which publishes it, as the relay side does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

from sqlalchemy import Connection

from omnidesk.changes import NO_CHANGES, Changes
from omnidesk.domain import Conversation, ConversationStatus, MailDetail, is_mail_conversation
from omnidesk.mail.types import Attachment, FlagUpdate, FolderState, ParsedMail
from omnidesk.storage import mail_folders, mail_outbox, mail_read
from omnidesk.storage.cache import Cache
from omnidesk.storage.mail_outbox import MailEnvelope, QueuedMail
from omnidesk.storage.mail_read import Location
from omnidesk.storage.mail_rows import account_of_channel, channel_id
from omnidesk.storage.mail_sql import SEEN, Touched, db, rows
from omnidesk.storage.mail_summary import refresh
from omnidesk.storage.mail_threads import AccountInfo, AccountThreads, load_threads
from omnidesk.storage.mail_write import (
    forget_account,
    mark_thread_seen,
    save_parts,
    seen_confirmed,
    store_batch,
)

__all__ = ["Location", "MailEnvelope", "MailStore", "QueuedMail"]

T = TypeVar("T")
OnChanges = Callable[[Changes], None]
Work = Callable[[Connection, Touched], str | None]
"""A write on the cache thread: fills ``Touched``, returns the account whose conversation
rows must be recomputed (or None)."""


class MailStore:
    """The cache's mail side; implements ``MailSink``. Build it over an open :class:`Cache`.

    ``own_addresses_by_account``: account id -> the agent's addresses in that account, its
    main address first (the channel's name). Mail from one of them is outbound.
    """

    def __init__(
        self,
        cache: Cache,
        own_addresses_by_account: Mapping[str, Sequence[str]],
        on_changes: OnChanges | None = None,
    ) -> None:
        self._cache = cache
        self.on_changes = on_changes
        """Where the sink methods publish what they changed (set it before syncing)."""
        self._accounts: dict[str, AccountInfo] = {}
        self._threads: dict[str, AccountThreads] = {}
        """Per account; touched only on the cache thread. Dropped when a write fails (the file
        is the truth) and rebuilt from the stored headers on the next write."""
        for account_id, addresses in own_addresses_by_account.items():
            self.set_account(account_id, addresses)

    def set_account(self, account_id: str, addresses: Sequence[str]) -> None:
        """Add an account or change its addresses (main address first)."""
        main = addresses[0] if addresses else account_id
        own = frozenset(a.lower() for a in addresses)
        self._accounts[account_id] = AccountInfo(account_id, main, own)
        # The threader (built with the old addresses) is rebuilt by the next write, on the
        # cache thread: see _threads_for.

    async def load(self) -> Changes:
        """Rebuild every known account's threads now (else done on its first write)."""

        def work(conn: Connection, out: Touched) -> str | None:
            for account_id in self._accounts:
                self._threads_for(conn, account_id, out)
            return None

        return await self._write(work)

    # -- plumbing ---------------------------------------------------------------------------

    def _info(self, account_id: str) -> AccountInfo:
        info = self._accounts.get(account_id)
        if info is None:  # an account we were not told about: nothing of it is "ours"
            info = self._accounts[account_id] = AccountInfo(account_id, account_id, frozenset())
        return info

    def _threads_for(self, conn: Connection, account_id: str, out: Touched) -> AccountThreads:
        info = self._info(account_id)
        at = self._threads.get(account_id)
        if at is None or at.info is not info:  # first use, or the addresses changed
            at = self._threads[account_id] = load_threads(conn, info, out)
        return at

    async def _run(self, fn: Callable[[Connection], T]) -> T:
        """Work on the cache thread that recomputes no conversation row (reads, small writes)."""
        return await self._cache.run_in_transaction(fn)

    async def _write(self, fn: Work, *, publish: bool = False) -> Changes:
        # Touched threads are recomputed for every account a write names; merges found while
        # loading threads belong to the same account, so one refresh covers them.
        # A failed write rolls the file back; the threaders it fed may be ahead of the file, so
        # they are dropped and rebuilt from it by the next write.
        def work(conn: Connection) -> Changes:
            out = Touched()
            try:
                account_id = fn(conn, out)
                if account_id is not None:
                    refresh(conn, self._info(account_id), out)
            except BaseException:
                self._threads.clear()
                raise
            return out.changes()

        try:
            changes = await self._cache.run_in_transaction(work)
        except asyncio.CancelledError:
            raise  # the work itself may still finish (and clean up) on the cache thread
        except BaseException:
            self._threads.clear()  # e.g. the commit failed (disk full)
            raise
        if publish and changes and self.on_changes is not None:
            self.on_changes(changes)
        return changes

    # -- MailSink ---------------------------------------------------------------------------

    async def folder_state(self, account_id: str, folder: str) -> FolderState | None:
        return await self._run(lambda conn: mail_folders.folder_state(conn, account_id, folder))

    async def save_folder_state(self, account_id: str, folder: str, state: FolderState) -> None:
        """Also ends a refetch after UIDVALIDITY changed: mails it did not find are removed."""

        def work(conn: Connection, out: Touched) -> str:
            mail_folders.save_folder_state(conn, account_id, folder, state, out)
            return account_id

        await self._write(work, publish=True)

    async def known_uids(self, account_id: str, folder: str) -> set[int]:
        return await self._run(lambda conn: mail_folders.known_uids(conn, account_id, folder))

    async def store_messages(
        self, account_id: str, folder: str, messages: list[ParsedMail]
    ) -> None:
        """One batch, one transaction (a first sync of 10k mails must beat mbsync)."""

        def work(conn: Connection, out: Touched) -> str:
            store_batch(conn, self._threads_for(conn, account_id, out), folder, messages, out)
            return account_id

        if messages:
            await self._write(work, publish=True)

    async def apply_flags(self, account_id: str, folder: str, updates: list[FlagUpdate]) -> None:
        def work(conn: Connection, out: Touched) -> str:
            mail_folders.apply_flags(conn, account_id, folder, updates, out)
            return account_id

        if updates:
            await self._write(work, publish=True)

    async def remove_uids(self, account_id: str, folder: str, uids: list[int]) -> None:
        """Expunged: a mail goes when no copy of it is left; an empty thread goes with it."""

        def work(conn: Connection, out: Touched) -> str:
            mail_folders.remove_uids(conn, account_id, folder, uids, out)
            return account_id

        if uids:
            await self._write(work, publish=True)

    async def forget_folder(self, account_id: str, folder: str) -> None:
        """UIDVALIDITY changed: the copies are void. Their mails stay (and keep their
        conversation, status and id) until the refetch ends; those it does not bring back are
        removed then (:meth:`save_folder_state`)."""

        def work(conn: Connection, _out: Touched) -> None:
            mail_folders.forget_folder(conn, account_id, folder)
            return None

        await self._write(work, publish=True)

    # -- reading ----------------------------------------------------------------------------

    async def detail(self, message_id: int, *, allow_remote: bool = False) -> MailDetail | None:
        """The reader pane's view: sanitised HTML (remote images only with ``allow_remote``),
        text, attachments, inline images stored for it."""
        return await self._run(lambda conn: mail_read.detail(conn, message_id, allow_remote))

    async def parent_for_reply(self, message_id: int) -> ParsedMail | None:
        """The stored headers and text ``compose.build_reply`` needs."""
        return await self._run(lambda conn: mail_read.parent(conn, message_id))

    async def attachments(self, message_id: int) -> list[Attachment]:
        """Attachment metadata with IMAP section numbers, in ``MailDetail.attachments`` order."""
        return await self._run(lambda conn: mail_read.attachments(conn, message_id))

    async def newest_in_conversation(self, conversation_id: int) -> int | None:
        """The mail a reply answers by default (ids grow with the date)."""

        def work(conn: Connection) -> int | None:
            value = (
                db(conn)
                .execute(
                    "SELECT MAX(id) FROM message WHERE conversation_id = ?", (conversation_id,)
                )
                .fetchone()[0]
            )
            return int(value) if value is not None else None

        return await self._run(work)

    async def account_of(self, conversation_id: int) -> str | None:
        def work(conn: Connection) -> str | None:
            found = rows(
                conn, "SELECT channel_id FROM conversation WHERE id = ?", (conversation_id,)
            )
            return account_of_channel(found[0][0]) if found else None

        return await self._run(work)

    async def locate(self, message_id: int) -> list[Location]:
        """Every ``(account, folder, uid)`` copy of a mail (for ``\\Seen`` and attachments)."""
        return await self._run(lambda conn: mail_read.locate(conn, message_id))

    async def unseen_in_conversation(self, conversation_id: int) -> list[Location]:
        return await self._run(lambda conn: mail_read.unseen(conn, conversation_id))

    async def seen_pending(self, account_id: str | None = None) -> list[Location]:
        """Copies (of every account, or of one) still lacking ``\\Seen`` of the mails the
        agent read here: the mail service sets it on the server, then says
        :meth:`seen_confirmed`. Kept in the file, so a restart does not lose them."""
        return await self._run(lambda conn: mail_read.seen_pending(conn, account_id))

    async def contact_conversations(self, contact_id: int) -> list[Conversation]:
        """Every thread with this customer, newest first."""
        return await self._run(lambda conn: mail_read.contact_conversations(conn, contact_id))

    # -- local changes ----------------------------------------------------------------------

    async def mark_seen_local(self, conversation_id: int) -> Changes:
        """The agent opened the thread: its inbound mails are read here at once, and stay read
        (whatever a flag sync says, across restarts) until the server confirms ``\\Seen``:
        see :meth:`seen_pending`."""
        if not is_mail_conversation(conversation_id):
            return NO_CHANGES
        return await self._write(lambda conn, out: mark_thread_seen(conn, -conversation_id, out))

    async def seen_confirmed(self, locations: Collection[Location]) -> Changes:
        """The server took ``\\Seen`` on these copies (or they are gone): they no longer wait."""
        by_account: dict[str, list[Location]] = {}
        for location in locations:
            by_account.setdefault(location[0], []).append(location)

        def confirm(account_id: str, copies: list[Location]) -> Work:
            def work(conn: Connection, out: Touched) -> str:
                seen_confirmed(conn, copies, out)
                return account_id

            return work

        changes = NO_CHANGES
        for account_id, copies in by_account.items():
            changes |= await self._write(confirm(account_id, copies))
        return changes

    async def set_status(self, conversation_id: int, status: ConversationStatus) -> Changes:
        """Open, pending or resolved: decided here, there is no relay to ask."""
        await self._run(
            lambda conn: db(conn).execute(
                "UPDATE conversation SET status = ? WHERE id = ?", (status.value, conversation_id)
            )
        )
        return Changes(conversations=frozenset({conversation_id}))

    async def save_inline_images(
        self, message_id: int, images: Mapping[str, tuple[str, bytes]]
    ) -> Changes:
        """Keep inline images fetched for a mail (``cid -> (content type, bytes)``)."""
        if not images:
            return NO_CHANGES
        await self._run(lambda conn: save_parts(conn, -message_id, images))
        return Changes(messages=frozenset({message_id}))

    async def forget_account(self, account_id: str) -> Changes:
        """The account was removed: its threads, mails and queued mail go."""

        def work(conn: Connection, out: Touched) -> None:
            forget_account(conn, account_id, channel_id(account_id), out)
            self._threads.pop(account_id, None)
            return None

        return await self._write(work)

    # -- the outbox's mail side -------------------------------------------------------------

    async def queue_mail(
        self,
        conversation_id: int,
        client_id: str,
        text: str,
        reply_to: int | None,
        raw: bytes,
        envelope: MailEnvelope,
    ) -> Changes:
        """Queue a built reply (shown at once as queued; cancel with ``Cache.outbox_cancel``)."""
        return await self._run(
            lambda conn: mail_outbox.queue(
                conn, conversation_id, client_id, text, reply_to, raw, envelope
            )
        )

    async def claim_next_mail(self, skip_accounts: Collection[str] = ()) -> QueuedMail | None:
        """The oldest queued mail (of an account not waiting for a retry), now ``sending``."""
        return await self._run(lambda conn: mail_outbox.claim_next(conn, skip_accounts))

    async def interrupted_mail(self) -> list[QueuedMail]:
        """Mail left ``sending`` by a console that stopped mid-send (see ``MailSender``)."""
        return await self._run(mail_outbox.in_flight)

    async def mail_sent(self, client_id: str, parsed: ParsedMail) -> Changes:
        """SMTP took it: the outbox row becomes an outbound mail of its thread at once.

        ``parsed`` is the sent bytes parsed, with ``folder``/``uid`` of its copy in Sent when
        known (APPENDUID): the Sent sync then finds the same row, by UID or by Message-ID.
        """

        def work(conn: Connection, out: Touched) -> str | None:
            taken = mail_outbox.take(conn, client_id)
            if taken is None:
                return None
            conversation_id, account_id, raw = taken
            out.outbox = True
            out.threads.add(-conversation_id)
            mail = replace(parsed, flags=parsed.flags | {SEEN})
            folder = mail.folder if mail.uid is not None else None
            at = self._threads_for(conn, account_id, out)
            ids = store_batch(conn, at, folder, [mail], out, prefer_row=-conversation_id)
            save_parts(conn, ids[mail.message_id], mail_read.inline_images(raw))
            return account_id

        return await self._write(work)

    async def cancel_mail(self, client_id: str) -> Changes:
        """Drop a queued or failed mail reply; one being sent goes out if SMTP takes it."""
        return await self._cache.outbox_cancel(client_id)

    async def retry_mail(self, client_id: str) -> Changes:
        """Queue a failed mail reply again (the same bytes and Message-ID)."""
        return await self._cache.outbox_retry(client_id)

    async def mail_failed(self, client_id: str, reason: str) -> Changes:
        """Refused for good (or may have gone out): kept as failed with ``reason``."""
        return await self._cache.outbox_failed(client_id, reason)

    async def mail_requeue(self, client_id: str) -> Changes:
        """Not sent (server unreachable): queued again; dropped if cancelled meanwhile."""
        return await self._cache.outbox_requeue(client_id)
