"""The console's mail side, as the UI and ``app.py`` see it: one object, no Qt (docs/email.md).

:class:`MailService` keeps one :class:`~.accounts.AccountRunner` per account (sync into the
:class:`~omnidesk.storage.mail_store.MailStore`, then IDLE) and the mail sender (queued
replies -> SMTP -> Sent). The store publishes what the syncs change through ``on_changes``;
every operation here returns its :class:`~omnidesk.changes.Changes` to the caller instead.
Account states go to ``on_status`` as :class:`~omnidesk.domain.MailAccountStatus`.

Errors the agent should read are :class:`~.errors.MailError` with a plain sentence.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import mimetypes
import os
import re
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

from omnidesk.changes import NO_CHANGES, Changes
from omnidesk.domain import (
    Conversation,
    ConversationStatus,
    MailAccountState,
    MailAccountStatus,
    MailDetail,
    is_mail_conversation,
)
from omnidesk.mail.compose import OutgoingAttachment, build_reply
from omnidesk.mail.types import MailAccount
from omnidesk.services.backoff import Backoff
from omnidesk.storage.mail_store import MailEnvelope, MailStore

from .accounts import AccountRunner, RunnerSettings, check_login, describe
from .errors import MailAuthError, MailError, MailProtocolError
from .parts import fetch_parts, load_remote_images, save_part
from .sender import MailSender
from .signature import embed_signature_images

log = logging.getLogger(__name__)

PasswordFor = Callable[[str], str | None]
"""Account id -> its password from the keyring, or None when none is saved."""
MAX_INLINE_IMAGE = 2 * 1024 * 1024
"""Bigger inline images are left to the attachment list rather than copied into the cache."""
_CID = re.compile(r"""\bsrc\s*=\s*["']?cid:([^"'\s>]+)""", re.IGNORECASE)
_CONNECTED = (MailAccountState.LIVE, MailAccountState.SYNCING)


class MailService:
    """Every mail account of the console, for the UI: see the module docstring.

    Callbacks (``app.py`` turns them into Qt signals): ``on_changes(Changes)`` for what the
    syncs and the sender wrote; ``on_status(MailAccountStatus)`` whenever an account's state
    changes. ``password_for(account_id)`` is asked at each login, so a new keyring entry is
    used at once (say so with :meth:`password_changed`).
    """

    def __init__(
        self,
        store: MailStore,
        accounts: Sequence[MailAccount],
        password_for: PasswordFor,
        on_changes: Callable[[Changes], None],
        on_status: Callable[[MailAccountStatus], None],
        *,
        settings: RunnerSettings | None = None,
        http: httpx.AsyncClient | None = None,
        interactive_timeout: float = 20.0,
    ) -> None:
        self._store = store
        self._password_for = password_for
        self._on_changes = on_changes
        self._on_status = on_status
        self._settings = settings or RunnerSettings()
        self._http = http
        self._timeout = interactive_timeout
        store.on_changes = on_changes  # what the syncs write reaches the UI the same way
        self._accounts: dict[str, MailAccount] = {}
        self._runners: dict[str, AccountRunner] = {}
        self._statuses: dict[str, MailAccountStatus] = {}
        self._seen_lock = asyncio.Lock()
        """One flush of ``\\Seen`` at a time (what waits is in the store: ``seen_pending``)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._sender = MailSender(
            store,
            self._account,
            self._password,
            on_changes,
            backoff=lambda: Backoff(self._settings.retry_initial, self._settings.retry_max),
            timeout=self._settings.timeout,
        )
        self._started = False
        self._closed = False
        self._remember(accounts)

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        for account in self._accounts.values():
            self._start_runner(account)
            self._spawn(self._flush_seen(account.id))  # mails read before a restart
        self._spawn(self._sender.run())

    async def shutdown(self) -> None:
        """Stop every runner and the sender, close connections; may be called more than once."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(runner.stop() for runner in self._runners.values()))
        self._runners.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def set_accounts(self, accounts: Sequence[MailAccount]) -> None:
        """The settings changed: stop what was removed or changed, start what is new."""
        wanted = {a.id: a for a in accounts}
        for account_id, old in list(self._accounts.items()):
            if wanted.get(account_id) != old:
                await self._stop_runner(account_id)
                if account_id not in wanted:
                    self._statuses.pop(account_id, None)
        changed = [a for a in accounts if self._accounts.get(a.id) != a]
        self._remember(accounts)
        if self._started and not self._closed:
            for account in changed:
                self._start_runner(account)
        self._sender.wake()

    def password_changed(self, account_id: str) -> None:
        """The agent saved a new password: try again now (after a wrong one too)."""
        runner = self._runners.get(account_id)
        if runner is not None:
            runner.set_password_changed()
        self._sender.wake()

    def statuses(self) -> list[MailAccountStatus]:
        """The latest status of every account, in settings order."""
        return [self._statuses[a] for a in self._accounts if a in self._statuses]

    async def check_account(self, account: MailAccount, password: str) -> str | None:
        """Log in to IMAP and SMTP once: None when both work, else one sentence."""
        return await check_login(account, password, timeout=self._timeout)

    # -- reading ------------------------------------------------------------------------------

    async def open_conversation(self, conversation_id: int) -> Changes:
        """Unread mails of the thread become read here at once, and ``\\Seen`` on the server
        in the background. What the server has not taken yet waits in the cache (it stays read
        here, across restarts too) and is sent at start and whenever the account is live."""
        if not is_mail_conversation(conversation_id):
            return NO_CHANGES
        changes = await self._store.mark_seen_local(conversation_id)
        account_id = await self._store.account_of(conversation_id)
        if account_id is not None and account_id in self._runners:
            self._spawn(self._flush_seen(account_id))
        return changes

    async def detail(self, message_id: int, *, allow_remote: bool = False) -> MailDetail | None:
        """The reader pane's mail; its ``cid:`` images fetched once from the server if needed."""
        detail = await self._store.detail(message_id, allow_remote=allow_remote)
        if detail is None or not detail.html:
            return detail
        missing = {unquote(c) for c in _CID.findall(detail.html)} - set(detail.inline_images)
        if not missing or not self._is_connected(detail.account_id):
            return detail
        fetched = await self._fetch_inline_images(message_id, missing)
        if not fetched:
            return detail
        # A cache fill, not a change anyone must see: the caller gets the images right here.
        await self._store.save_inline_images(message_id, fetched)
        images = {**detail.inline_images, **{cid: data for cid, (_t, data) in fetched.items()}}
        return replace(detail, inline_images=images)

    async def load_remote_images(self, message_id: int) -> dict[str, bytes]:
        """``{src: bytes}`` of the mail's remote images (only when the agent asks)."""
        detail = await self._store.detail(message_id, allow_remote=True)
        if detail is None or not detail.html:
            return {}
        return await load_remote_images(detail.html, client=self._http)

    async def save_attachment(
        self, message_id: int, index: int, path: str | os.PathLike[str]
    ) -> None:
        """Fetch attachment ``index`` (of ``MailDetail.attachments``) and write it to ``path``."""
        attachments = await self._store.attachments(message_id)
        if not 0 <= index < len(attachments):
            raise MailError("this attachment is no longer in the mail")
        part = attachments[index]
        problem: str | None = None
        for account_id, folder, uid in await self._store.locate(message_id):
            account = self._accounts.get(account_id)
            if account is None:
                continue
            try:
                await save_part(
                    account, self._password(account_id), folder, uid, part.part_path, path,
                    timeout=self._timeout,
                )  # fmt: skip
                return
            except MailError as exc:
                problem = describe(exc, account)
                if isinstance(exc, MailAuthError):
                    break
        name = part.filename or "the attachment"
        raise MailError(
            f"could not save {name}: {problem or 'the mail is no longer on the server'}"
        )

    async def contact_conversations(self, contact_id: int) -> list[Conversation]:
        return await self._store.contact_conversations(contact_id)

    # -- writing ------------------------------------------------------------------------------

    async def send_reply(
        self,
        conversation_id: int,
        text: str,
        reply_to: int | None,
        *,
        reply_all: bool = False,
        attachments: Sequence[str | os.PathLike[str]] = (),
    ) -> Changes:
        """Build the reply in the thread (signature, quote, attachments), queue it, wake the
        sender. It shows at once as queued; the sender sends it once, when it can."""
        account = await self._account_of(conversation_id)
        target = reply_to
        if target is None:
            target = await self._store.newest_in_conversation(conversation_id)
        parent = await self._store.parent_for_reply(target) if target is not None else None
        if parent is None:
            raise MailError("there is no mail in this conversation to answer")
        files = await asyncio.to_thread(read_attachments, attachments)
        account = await asyncio.to_thread(embed_signature_images, account)
        mail = await asyncio.to_thread(
            functools.partial(
                build_reply, account, parent, text=text, reply_all=reply_all, attachments=files
            )
        )
        envelope = MailEnvelope(account.id, mail.message_id, mail.sender, tuple(mail.recipients))
        changes = await self._store.queue_mail(
            conversation_id, str(uuid.uuid4()), text, reply_to, mail.raw, envelope
        )
        self._sender.wake()
        return changes

    async def cancel_reply(self, client_id: str) -> Changes:
        """Drop a queued or failed reply (one being sent right now goes out if SMTP took it)."""
        return await self._sender.cancel(client_id)

    async def retry_reply(self, client_id: str) -> Changes:
        """Queue a failed reply again (e.g. after the password was fixed)."""
        return await self._sender.retry(client_id)

    async def set_status(self, conversation_id: int, status: ConversationStatus) -> Changes:
        return await self._store.set_status(conversation_id, status)

    # -- internals ----------------------------------------------------------------------------

    def _remember(self, accounts: Sequence[MailAccount]) -> None:
        """Keep the accounts; tell the store the agent's addresses of new or changed ones."""
        for account in accounts:
            if self._accounts.get(account.id) != account:
                self._store.set_account(account.id, [account.address, *account.own_addresses])
        self._accounts = {a.id: a for a in accounts}

    def _account(self, account_id: str) -> MailAccount | None:
        return self._accounts.get(account_id)

    def _password(self, account_id: str) -> Callable[[], str]:
        return lambda: self._password_for(account_id) or ""

    async def _account_of(self, conversation_id: int) -> MailAccount:
        account_id = await self._store.account_of(conversation_id)
        account = self._accounts.get(account_id) if account_id is not None else None
        if account is None:
            raise MailError("the mail account of this conversation is no longer set up")
        return account

    def _is_connected(self, account_id: str) -> bool:
        status = self._statuses.get(account_id)
        return status is not None and status.state in _CONNECTED

    def _start_runner(self, account: MailAccount) -> None:
        def on_status(status: MailAccountStatus) -> None:
            current = self._runners.get(account.id)
            if current is runner or (current is None and status.state is MailAccountState.STOPPED):
                self._status_changed(status)  # not a replaced runner's last words

        runner = AccountRunner(
            account,
            functools.partial(self._password_for, account.id),
            self._store,
            on_status,
            settings=self._settings,
        )
        self._runners[account.id] = runner
        runner.start()

    async def _stop_runner(self, account_id: str) -> None:
        runner = self._runners.pop(account_id, None)
        if runner is not None:
            await runner.stop()

    def _status_changed(self, status: MailAccountStatus) -> None:
        self._statuses[status.account_id] = status
        if status.state is MailAccountState.LIVE:
            self._spawn(self._flush_seen(status.account_id))
            self._sender.wake()
        self._on_status(status)

    async def _flush_seen(self, account_id: str) -> None:
        """Set ``\\Seen`` on the server for the account's mails read here; each copy the
        server took is confirmed to the store at once, the rest wait for the next flush."""
        async with self._seen_lock:
            for location in await self._store.seen_pending(account_id):
                _account, folder, uid = location
                runner = self._runners.get(account_id)
                if runner is None:
                    return
                try:
                    await runner.mark_seen(folder, uid)
                except MailProtocolError as exc:  # the folder or mail is gone: nothing to mark
                    log.info("\\Seen not set on %s/%s/%s: %s", account_id, folder, uid, exc)
                except MailError as exc:
                    log.info("\\Seen for %s/%s/%s waits: %s", account_id, folder, uid, exc)
                    return
                changes = await self._store.seen_confirmed([location])
                if changes:
                    self._on_changes(changes)

    async def _fetch_inline_images(
        self, message_id: int, cids: set[str]
    ) -> dict[str, tuple[str, bytes]]:
        wanted = {
            a.part_path: a
            for a in await self._store.attachments(message_id)
            if a.content_id in cids
            and a.content_type.startswith("image/")
            and a.size <= MAX_INLINE_IMAGE
            and a.part_path
        }
        if not wanted:
            return {}
        for account_id, folder, uid in await self._store.locate(message_id):
            account = self._accounts.get(account_id)
            if account is None:
                continue
            try:
                found = await fetch_parts(
                    account, self._password(account_id), folder, uid, list(wanted),
                    timeout=self._timeout,
                )  # fmt: skip
            except MailError as exc:
                log.info("inline images of %s not fetched: %s", message_id, exc)
                continue
            return {
                str(a.content_id): (a.content_type, found[path])
                for path, a in wanted.items()
                if found.get(path)
            }
        return {}

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("mail service task failed", exc_info=task.exception())


def read_attachments(paths: Sequence[str | os.PathLike[str]]) -> list[OutgoingAttachment]:
    """The agent's files, read (off the event loop) with a content type guessed from the name."""
    out = []
    for raw_path in paths:
        path = Path(raw_path)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        out.append(OutgoingAttachment(path.name, content_type, path.read_bytes()))
    return out
