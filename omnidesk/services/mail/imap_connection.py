"""aioimaplib for what must not block: IDLE and the interactive commands.

Every call is bounded by ``asyncio.timeout`` (aioimaplib can hang: email-notes traps 2 and 5)
and its failures are mapped onto :mod:`.errors`. aioimaplib has no STARTTLS (trap 8), so for
``imap_security="starttls"`` this class does it: it sends ``STARTTLS`` through aioimaplib
on the plain connection, upgrades the same transport with ``loop.start_tls`` (verified
against the account's CA, like every other connection) and asks for the capabilities again
over TLS before logging in. Everything after that, IDLE included, is unchanged.
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
from .tls import NO_STARTTLS, client_context, describe_connect_error, refuse_plaintext

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
                if account.imap_security == "starttls":
                    await self._starttls(client)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            await self.close()
            raise MailUnreachable(
                describe_connect_error(exc, account.imap_host, account.imap_port, "IMAP")
            ) from exc
        response = await self._call(client.login(account.login, self.password_provider()))
        if response.result != "OK":
            await self.close()
            raise MailAuthError(f"IMAP login refused for {account.login}")

    async def _starttls(self, client: Any) -> None:
        """Upgrade the greeted plain connection to TLS; refused (never skipped) if not offered.

        Whatever arrived in clear is dropped and the capabilities are asked again over TLS
        (RFC 3501 6.2.1), so nothing a man in the middle injected before the handshake counts.
        """
        protocol = client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise aioimaplib.Abort(NO_STARTTLS)
        response = await protocol.execute(
            aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        )
        if response.result != "OK":
            raise aioimaplib.Abort(f"{NO_STARTTLS}: {response.lines!r}")
        protocol.incomplete_line, protocol.current_command = b"", None
        protocol.transport = await protocol.loop.start_tls(
            protocol.transport,
            protocol,
            client_context(self.account.tls_ca_file),
            server_hostname=self.account.imap_host,
        )
        await protocol.capability()

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

    def can_idle(self) -> bool:
        return "IDLE" in self.client.protocol.capabilities

    async def noop(self) -> None:
        response = await self._call(self.client.noop())
        if response.result != "OK":
            raise MailProtocolError(f"NOOP failed: {response.lines!r}")

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
        protocol = client.protocol
        # LOGOUT only from a logged-in, quiet connection: it would queue behind a command
        # still running (an IDLE left by a cancel) or go unanswered mid-STARTTLS, and a
        # cancelled watcher must stop at once; otherwise the connection is just dropped
        busy = protocol.pending_sync_command is not None or protocol.pending_async_commands
        logged_in = protocol.state in (aioimaplib.AUTH, aioimaplib.SELECTED)
        if not self.lost.is_set() and protocol.transport is not None and logged_in and not busy:
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
