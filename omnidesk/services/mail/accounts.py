"""One mail account kept in sync: first a sync of every folder, then push by IDLE.

:class:`AccountRunner` owns, for one :class:`~.types.MailAccount`, a
:class:`~.imap_sync.FolderSync` per folder (the watched ones and Sent; one each, so a push
on one folder never waits behind another's sync) and, once the first sync is done, a
:class:`~.imap_idle.FolderWatcher` per watched folder whose pushes run that folder's sync.
Sent is not watched: it is synced at start, after every reconnect and every
``sent_every`` seconds (a colleague's reply sent from another mail program lands there).
Every account is pushed, STARTTLS ones too (:class:`~.imap_connection.AsyncImap` upgrades
the connection itself); only a server without IDLE gets its folders synced every
``poll_every`` seconds instead (by the watcher, cheap when nothing changed).

What it is doing is reported as a :class:`~omnidesk.domain.MailAccountStatus`: ``SYNCING``
with ``(fetched, total)``, ``LIVE``, ``RETRYING`` with a sentence and the retry time, or
``AUTH_FAILED``, after which nothing is tried again until :meth:`set_password_changed` (a
wrong password retried in a loop gets the account locked out by many servers).

:func:`check_login` is the settings dialog's "Check": one IMAP and one SMTP login, answered
in one sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import aiosmtplib

from omnidesk.domain import MailAccountState, MailAccountStatus, utcnow
from omnidesk.mail.sink import MailSink
from omnidesk.mail.types import MailAccount, SyncProgress, SyncResult
from omnidesk.services.backoff import Backoff

from .errors import (
    MailAuthError,
    MailConnectionLost,
    MailError,
    MailFolderMissing,
    MailUnreachable,
)
from .imap_blocking import BlockingImap
from .imap_idle import DEFAULT_POLL, DEFAULT_REISSUE, FolderWatcher, raise_if_cancelled
from .imap_sync import FolderSync
from .tls import client_context, refuse_plaintext

log = logging.getLogger(__name__)

StatusCallback = Callable[[MailAccountStatus], None]
SyncedCallback = Callable[[str, SyncResult], None]
PasswordSource = Callable[[], str | None]
"""The account's password, or None when none is saved (the runner then waits for one)."""

BIG_CATCHUP = 100
"""Once live, a sync fetching at least this many mails shows progress again; smaller ones
(a new mail, a reconnect after a short outage) leave the status line alone."""


@dataclass(frozen=True)
class RunnerSettings:
    """How patient a runner is; tests shorten everything."""

    timeout: float = 60.0
    """Bound on one IMAP operation."""
    retry_initial: float = 2.0
    retry_max: float = 120.0
    """Backoff between attempts (with jitter), for the whole account and for each watcher."""
    reissue_after: float = DEFAULT_REISSUE
    sent_every: float = 300.0
    poll_every: float = DEFAULT_POLL
    """Only for a server without IDLE (see the module docstring)."""
    batch_size: int = 200


def describe(exc: BaseException, account: MailAccount) -> str:
    """One sentence for the agent about why the account is not live."""
    where = f"{account.imap_host}:{account.imap_port}"
    if isinstance(exc, MailAuthError):
        return f"wrong user name or password for {account.address}"
    if isinstance(exc, MailUnreachable):
        return str(exc) or f"cannot reach the mail server {where}"
    if isinstance(exc, MailConnectionLost):
        return f"lost the connection to the mail server {where}"
    if isinstance(exc, MailFolderMissing):
        return f"a folder is missing on the mail server {where}: {exc}"
    if isinstance(exc, MailError):
        return f"the mail server {where} answered something unexpected: {exc}"
    return f"unexpected error while syncing {account.address}: {exc!r}"


async def check_login(account: MailAccount, password: str, *, timeout: float = 20.0) -> str | None:
    """Log in to IMAP (and open every folder the account names), then to SMTP.

    None when both work, else one sentence saying what is wrong, for the settings dialog.
    """
    try:
        async with asyncio.timeout(timeout + 5):
            await asyncio.to_thread(_check_imap, account, password, timeout)
    except TimeoutError:
        return f"the IMAP server {account.imap_host}:{account.imap_port} did not answer"
    except MailError as exc:
        return describe(exc, account)
    return await _check_smtp(account, password, timeout)


def _check_imap(account: MailAccount, password: str, timeout: float) -> None:
    session = BlockingImap.connect(account, password, timeout)
    try:
        for folder in dict.fromkeys((*account.folders, account.sent_folder)):
            try:
                session.select(folder)
            except MailFolderMissing as exc:
                raise MailFolderMissing(f"there is no folder {folder!r}") from exc
    finally:
        session.close()


async def _check_smtp(account: MailAccount, password: str, timeout: float) -> str | None:
    host, port, security = account.smtp_host, account.smtp_port, account.smtp_security
    if not host:
        return "no SMTP server is set, so replies could not be sent"
    try:
        if security == "none":
            refuse_plaintext(host, port, "SMTP")
        smtp = aiosmtplib.SMTP(
            hostname=host,
            port=port,
            username=account.login,
            password=password,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            tls_context=client_context(account.tls_ca_file) if security != "none" else None,
            timeout=timeout,
        )
        async with asyncio.timeout(timeout + 5):
            await smtp.connect()  # logs in, since a user name is given
            await smtp.quit()
    except MailError as exc:
        return str(exc)
    except aiosmtplib.SMTPAuthenticationError:
        return f"the SMTP server {host}:{port} refused the user name or password"
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError, OSError) as exc:
        return f"cannot reach the SMTP server {host}:{port}: {exc}"
    except (aiosmtplib.SMTPException, TimeoutError) as exc:
        return f"the SMTP server {host}:{port} did not accept the login: {exc or 'no answer'}"
    return None


class AccountRunner:
    """Sync and push for one account until :meth:`stop`; see the module docstring."""

    def __init__(
        self,
        account: MailAccount,
        password: PasswordSource,
        sink: MailSink,
        on_status: StatusCallback,
        *,
        settings: RunnerSettings | None = None,
        on_synced: SyncedCallback | None = None,
    ) -> None:
        self.account = account
        self._sink = sink
        self._password = password
        self._on_status = on_status
        self._on_synced = on_synced
        self._settings = settings or RunnerSettings()
        self._backoff = Backoff(self._settings.retry_initial, self._settings.retry_max)
        watched = tuple(dict.fromkeys(account.folders))
        self.watched = watched
        self.folders = watched + (
            (account.sent_folder,) if account.sent_folder not in watched else ()
        )
        self._syncs = {
            folder: FolderSync(
                account,
                self._password_or_empty,
                sink,
                batch_size=self._settings.batch_size,
                timeout=self._settings.timeout,
                progress=functools.partial(self._progress, folder),
            )
            for folder in self.folders
        }
        self._fetching: dict[str, tuple[int, int]] = {}
        self._watchers: dict[str, FolderWatcher] = {}
        self._watch: dict[str, str] = {}
        """Per watched folder: ``starting``, ``connected``, ``idle`` or ``down``."""
        self._initial = True
        self._password_changed = asyncio.Event()
        self._sent_due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.status = MailAccountStatus(account.id, account.address, MailAccountState.STOPPED)

    # -- control ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._report(MailAccountState.STARTING)
            self._task = asyncio.create_task(self.run(), name=f"mail account {self.account.id}")

    async def stop(self, timeout: float = 10.0) -> None:
        """Cancel the loop and close every connection; safe to call more than once."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(timeout):
                    await task
        for sync in self._syncs.values():
            await sync.aclose()
        self._report(MailAccountState.STOPPED)

    def set_password_changed(self) -> None:
        """The agent entered a new password: an account that gave up tries again now."""
        self._password_changed.set()

    async def mark_seen(self, folder: str, uid: int) -> None:
        """``\\Seen`` on the server (raises :class:`MailError` when offline)."""
        sync = self._syncs.get(folder)
        if sync is None:  # a copy in a folder no longer synced
            sync = FolderSync(
                self.account, self._password_or_empty, self._sink, timeout=self._settings.timeout
            )
        await sync.mark_seen(folder, uid)

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Sync, then watch; on trouble wait (backoff, or a new password) and start over."""
        while True:
            raise_if_cancelled()
            if self._password() is None:
                await self._wait_for_password(f"no password is saved for {self.account.address}")
                continue
            try:
                await self._sync_then_watch()
            except MailAuthError as exc:
                await self._wait_for_password(describe(exc, self.account))
            except Exception as exc:
                if not isinstance(exc, MailError):
                    log.exception("mail account %s failed", self.account.id)
                delay = self._backoff.next()
                log.info("mail account %s: %s; retry in %.1fs", self.account.id, exc, delay)
                self._report(
                    MailAccountState.RETRYING,
                    detail=describe(exc, self.account),
                    retry_at=utcnow() + dt.timedelta(seconds=delay),
                )
                await self._pause(delay)

    async def _wait_for_password(self, detail: str) -> None:
        self._report(MailAccountState.AUTH_FAILED, detail=detail)
        await self._password_changed.wait()
        self._password_changed.clear()
        self._backoff.reset()

    async def _pause(self, delay: float) -> None:
        """Sleep ``delay`` seconds, cut short by a new password."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._password_changed.wait()
        self._password_changed.clear()

    async def _sync_then_watch(self) -> None:
        self._initial = True
        self._fetching.clear()
        self._report(MailAccountState.SYNCING, progress=(0, 0))
        for folder in self.folders:
            await self._sync(folder)
        self._initial = False
        self._fetching.clear()
        self._backoff.reset()
        self._password_changed.clear()  # the password in use works
        self._watchers = {folder: self._watcher(folder) for folder in self.watched}
        self._watch = dict.fromkeys(self.watched, "starting")
        tasks = [asyncio.create_task(w.run()) for w in self._watchers.values()]
        tasks.append(asyncio.create_task(self._sync_sent_now_and_then()))
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # they end only by raising (MailAuthError)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _watcher(self, folder: str) -> FolderWatcher:
        async def on_change() -> None:
            await self._sync(folder)

        return FolderWatcher(
            self.account,
            self._password_or_empty,
            folder,
            on_change,
            reissue_after=self._settings.reissue_after,
            poll_every=self._settings.poll_every,
            timeout=self._settings.timeout,
            backoff=Backoff(self._settings.retry_initial, self._settings.retry_max),
            on_status=functools.partial(self._watcher_status, folder),
        )

    async def _sync_sent_now_and_then(self) -> None:
        """Sync Sent every ``sent_every`` seconds, and soon after a watcher (re)connects."""
        folder = self.account.sent_folder
        if folder in self.watched:
            return
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.sent_every):
                    await self._sent_due.wait()
            self._sent_due.clear()
            try:
                await self._sync(folder)
            except MailAuthError:
                raise
            except MailError as exc:  # a real outage is noticed and reported by the watchers
                log.info("sync of %s/%s failed: %s", self.account.id, folder, exc)

    async def _sync(self, folder: str) -> None:
        """Sync one folder; a connection that went stale while unused is reopened once."""
        sync = self._syncs[folder]
        try:
            try:
                result = await sync.sync(folder)
            except MailConnectionLost:
                result = await sync.sync(folder)
        finally:
            if not self._initial and self._fetching.pop(folder, None) is not None:
                self._report_watching()  # a big catch-up showed progress: back to LIVE
        if self._on_synced is not None:
            self._on_synced(folder, result)

    # -- status ----------------------------------------------------------------------------

    def _password_or_empty(self) -> str:
        return self._password() or ""

    def _progress(self, folder: str, progress: SyncProgress) -> None:
        self._fetching[folder] = (progress.fetched, progress.total)
        fetched = sum(f for f, _ in self._fetching.values())
        total = sum(t for _, t in self._fetching.values())
        if self._initial or total >= BIG_CATCHUP:
            self._report(MailAccountState.SYNCING, progress=(fetched, total))

    def _watcher_status(self, folder: str, what: str, error: Exception | None) -> None:
        self._watch[folder] = "down" if what == "disconnected" else what
        if what == "disconnected":
            self._report(
                MailAccountState.RETRYING,
                detail=describe(error or MailConnectionLost(), self.account),
                retry_at=utcnow() + dt.timedelta(seconds=self._watchers[folder].retry_delay),
            )
            return
        if what == "connected":
            self._sent_due.set()  # mail may have been sent elsewhere while we were away
        self._report_watching()

    def _report_watching(self) -> None:
        """LIVE once every watcher idles; RETRYING stays until none is down."""
        states = set(self._watch.values())
        if "down" in states:
            return
        if states <= {"idle"}:
            self._report(MailAccountState.LIVE)

    def _report(
        self,
        state: MailAccountState,
        *,
        detail: str = "",
        progress: tuple[int, int] | None = None,
        retry_at: dt.datetime | None = None,
    ) -> None:
        status = MailAccountStatus(
            self.account.id, self.account.address, state, detail, progress, retry_at
        )
        if status != self.status:
            self.status = status
            self._on_status(status)
