"""Push: IDLE on a dedicated connection per watched folder, with reconnects.

The watcher only says *that* something changed (``on_change``); the sync finds out what.
IDLE is re-issued every ``reissue_after`` seconds (servers may drop an IDLE after 30
minutes), a dropped connection is retried with exponential backoff and jitter, and after
every (re)connect ``on_change`` runs once so nothing that happened meanwhile is missed.
A wrong password ends the watcher with :class:`~.errors.MailAuthError`. TLS, STARTTLS and
(loopback) plain accounts are all pushed; only a server without the IDLE capability is
polled instead, every ``poll_every`` seconds (a NOOP on the watcher's connection keeps it
open and notices a drop, then ``on_change``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aioimaplib import STOP_WAIT_SERVER_PUSH

from omnidesk.mail.types import MailAccount, PasswordProvider
from omnidesk.services.backoff import Backoff

from .errors import MailAuthError, MailConnectionLost, MailError
from .imap_connection import LOST, AsyncImap

log = logging.getLogger(__name__)

ChangeCallback = Callable[[], Awaitable[None]]
StatusCallback = Callable[[str, Exception | None], None]
"""``("connected" | "disconnected" | "idle", error)``."""
DEFAULT_REISSUE = 28 * 60.0
DEFAULT_POLL = 60.0
_CHANGE_WORDS = (b"EXISTS", b"EXPUNGE", b"FETCH", b"VANISHED")


def raise_if_cancelled() -> None:
    """Honour a cancel that something swallowed on the way.

    On Python 3.11 ``asyncio.wait_for`` (used inside aioimaplib) drops a cancel that lands
    as its inner call completes; the task still counts it, so the loops check here (and so
    does every loop built over them, e.g. :class:`~.accounts.AccountRunner`).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class FolderWatcher:
    def __init__(
        self,
        account: MailAccount,
        password_provider: PasswordProvider,
        folder: str,
        on_change: ChangeCallback,
        *,
        reissue_after: float = DEFAULT_REISSUE,
        poll_every: float = DEFAULT_POLL,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        on_status: StatusCallback | None = None,
    ) -> None:
        self.account = account
        self.password_provider = password_provider
        self.folder = folder
        self.on_change = on_change
        self.reissue_after = reissue_after
        self.poll_every = poll_every
        self.timeout = timeout
        self.backoff = backoff or Backoff(initial=0.5, maximum=60.0)
        self.on_status = on_status
        self.idle_count = 0
        """How many IDLE commands were issued (tests check the re-issue)."""
        self.connect_count = 0
        self.idling = asyncio.Event()
        """Set while the watcher waits for a push (or, without IDLE, between polls)."""
        self.retry_delay = 0.0
        """Seconds until the next reconnect; set before ``on_status("disconnected", ...)``
        so a status line can say when."""

    def _status(self, what: str, error: Exception | None = None) -> None:
        if self.on_status is not None:
            self.on_status(what, error)

    async def run(self) -> None:
        """Watch until cancelled. Raises only :class:`MailAuthError`."""
        while True:
            raise_if_cancelled()
            client = AsyncImap(self.account, self.password_provider, timeout=self.timeout)
            try:
                await client.connect()
                await client.select(self.folder)
                self.connect_count += 1
                self.backoff.reset()
                self._status("connected")
                await self.on_change()  # catch up with whatever happened while away
                await self._idle_loop(client)
            except MailAuthError:
                raise
            except MailError as exc:
                self.idling.clear()
                delay = self.backoff.next()
                self.retry_delay = delay
                self._status("disconnected", exc)
                log.info("IMAP watcher for %s: %s; retry in %.1fs", self.folder, exc, delay)
                await asyncio.sleep(delay)
            finally:
                await asyncio.shield(client.close())

    async def _idle_loop(self, client: AsyncImap) -> None:
        if not client.can_idle():
            await self._poll_loop(client)
            return
        while True:
            raise_if_cancelled()
            idle = await client.idle_start(self.reissue_after)
            self.idle_count += 1
            self.idling.set()
            self._status("idle")
            changed = False
            while client.has_pending_idle():
                raise_if_cancelled()
                pushed = await client.wait_push(self.reissue_after)
                if pushed == LOST:
                    raise MailConnectionLost("IMAP connection lost during IDLE")
                if pushed == STOP_WAIT_SERVER_PUSH:
                    break  # time to re-issue IDLE
                lines = pushed if isinstance(pushed, list) else []
                if any(b"BYE" in line for line in lines if isinstance(line, bytes)):
                    raise MailConnectionLost("server said BYE")
                if any(
                    w in line for line in lines if isinstance(line, bytes) for w in _CHANGE_WORDS
                ):
                    changed = True
                    break
            self.idling.clear()
            await client.idle_done(idle)
            if changed:
                await self.on_change()

    async def _poll_loop(self, client: AsyncImap) -> None:
        log.info("IMAP server of %s has no IDLE: polling %s every %.0fs",
                 self.account.id, self.folder, self.poll_every)  # fmt: skip
        self.idling.set()
        self._status("idle")
        while True:
            await asyncio.sleep(self.poll_every)
            raise_if_cancelled()
            await client.noop()
            await self.on_change()
