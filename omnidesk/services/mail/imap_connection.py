"""aioimaplib for what must not block: IDLE and the interactive commands.

Every call is bounded by ``asyncio.wait_for`` (aioimaplib can hang: email-notes traps 2 and 5)
and its failures are mapped onto :mod:`.errors`. aioimaplib has no STARTTLS, so accounts
with ``imap_security="starttls"`` cannot use this class (``MailProtocolError``); the sync's
blocking session does STARTTLS, and :class:`~.imap_sync.FolderSync` falls back to it for
the interactive commands.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Any, TypeVar

import aioimaplib

from omnidesk.mail.types import MailAccount, PasswordProvider

from .errors import (
    MailAuthError,
    MailConnectionLost,
    MailFolderMissing,
    MailProtocolError,
    MailUnreachable,
)
from .imap_blocking import quote_mailbox
from .tls import client_context, describe_connect_error, refuse_plaintext

T = TypeVar("T")
LOST = "__omnidesk_connection_lost__"
"""Put in the push queue when the connection drops, so a waiting IDLE wakes up."""
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


class AsyncImap:
    def __init__(
        self, account: MailAccount, password_provider: PasswordProvider, *, timeout: float = 30.0
    ) -> None:
        self.account = account
        self.password_provider = password_provider
        self.timeout = timeout
        self.client: Any = None
        self.lost = asyncio.Event()

    async def connect(self) -> None:
        account = self.account
        if account.imap_security == "starttls":
            raise MailProtocolError("aioimaplib has no STARTTLS; use TLS (port 993) for push")
        if account.imap_security == "none":
            refuse_plaintext(account.imap_host, account.imap_port, "IMAP")
        try:
            if account.imap_security == "tls":
                client = aioimaplib.IMAP4_SSL(
                    account.imap_host,
                    account.imap_port,
                    timeout=self.timeout,
                    ssl_context=client_context(account.tls_ca_file),
                )
            else:
                client = aioimaplib.IMAP4(
                    account.imap_host, account.imap_port, timeout=self.timeout
                )
        except OSError as exc:
            raise MailUnreachable(str(exc)) from exc
        self.client = client
        client.protocol.conn_lost_cb = self._connection_lost
        try:
            async with asyncio.timeout(self.timeout):
                await client.wait_hello_from_server()
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            await self.close()
            raise MailUnreachable(
                describe_connect_error(exc, account.imap_host, account.imap_port, "IMAP")
            ) from exc
        response = await self._call(client.login(account.login, self.password_provider()))
        if response.result != "OK":
            await self.close()
            raise MailAuthError(f"IMAP login refused for {account.login}")

    def _connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()
        if self.client is not None:
            self.client.protocol.idle_queue.put_nowait(LOST)

    async def _call(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        if self.lost.is_set():
            raise MailConnectionLost("IMAP connection lost")
        try:
            async with asyncio.timeout(timeout or self.timeout):
                return await awaitable
        except TimeoutError as exc:
            raise MailConnectionLost("IMAP command timed out") from exc
        except (OSError, aioimaplib.AioImapException) as exc:
            raise MailConnectionLost(f"IMAP connection failed: {exc!r}") from exc

    async def select(self, folder: str) -> None:
        response = await self._call(self.client.select(quote_mailbox(folder)))
        if response.result != "OK":
            raise MailFolderMissing(f"cannot select {folder!r}")

    async def uid_store(self, uid: int, op: str, flags: str) -> None:
        response = await self._call(self.client.uid("store", str(uid), op, flags))
        if response.result != "OK":
            raise MailProtocolError(f"UID STORE {uid} failed: {response.lines!r}")

    async def append(self, raw: bytes, folder: str, flags: str = "") -> int | None:
        """APPEND; the new UID when the server speaks UIDPLUS, else None."""
        response = await self._call(
            self.client.append(raw, mailbox=quote_mailbox(folder), flags=flags or None)
        )
        if response.result != "OK":
            raise MailProtocolError(f"APPEND to {folder!r} failed: {response.lines!r}")
        for line in response.lines:
            match = _APPENDUID.search(line if isinstance(line, bytes) else str(line).encode())
            if match:
                return int(match.group(2))
        return None

    async def idle_start(self, reissue_after: float) -> asyncio.Future[Any]:
        idle: asyncio.Future[Any] = await self._call(self.client.idle_start(timeout=reissue_after))
        return idle

    async def wait_push(self, timeout: float) -> list[bytes] | str:
        """Lines the server pushed during IDLE, ``STOP_WAIT_SERVER_PUSH`` or :data:`LOST`."""
        try:
            # aioimaplib ends the wait itself with STOP_WAIT_SERVER_PUSH when the IDLE is due
            # for re-issue; the bound here is only the safety net for a silent hang.
            async with asyncio.timeout(timeout + 2 * self.timeout):
                pushed: list[bytes] | str = await self.client.wait_server_push(
                    timeout + self.timeout
                )
        except TimeoutError as exc:
            raise MailConnectionLost("no answer during IDLE") from exc
        return pushed

    async def idle_done(self, idle: asyncio.Future[Any]) -> None:
        if self.lost.is_set():
            idle.cancel()
            raise MailConnectionLost("IMAP connection lost during IDLE")
        self.client.idle_done()
        await self._call(idle)

    def has_pending_idle(self) -> bool:
        return bool(self.client.has_pending_idle())

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        if not self.lost.is_set() and client.protocol.transport is not None:
            try:
                async with asyncio.timeout(2):
                    await client.logout()
            except (OSError, TimeoutError, aioimaplib.AioImapException):
                pass
        transport = client.protocol.transport
        if transport is not None:
            transport.close()
        for task in list(getattr(client, "tasks", ())) + list(client.protocol.tasks):
            task.cancel()
        client_task = getattr(client, "_client_task", None)
        if client_task is not None and not client_task.done():
            client_task.cancel()
        await asyncio.sleep(0)
