"""A small blocking IMAP session on stdlib ``imaplib``, run in worker threads.

aioimaplib costs 3-6x the CPU of imaplib and has quadratic FETCH parsing (email-notes, traps
1, 2 and 9), so the bulk work of a sync runs here, one call at a time via
``asyncio.to_thread``. It does STARTTLS with imaplib's own ``starttls``.
"""

from __future__ import annotations

import contextlib
import functools
import imaplib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from omnidesk.mail.types import MailAccount

from .errors import (
    MailAuthError,
    MailConnectionLost,
    MailFolderMissing,
    MailProtocolError,
    MailUnreachable,
)
from .tls import NO_STARTTLS, client_context, describe_connect_error, refuse_plaintext

T = TypeVar("T")

_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_MODSEQ = re.compile(rb"\bMODSEQ \((\d+)\)")


@dataclass(frozen=True)
class SelectInfo:
    exists: int
    uidvalidity: int
    uidnext: int
    highestmodseq: int | None


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    flags: frozenset[str]
    modseq: int | None
    body: bytes | None


def quote_mailbox(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def uid_ranges(uids: Iterable[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1:3,7,9:10"``."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = prev = None
    for uid in ordered:
        if start is None:
            start = prev = uid
        elif prev is not None and uid == prev + 1:
            prev = uid
        else:
            parts.append(f"{start}:{prev}" if start != prev else str(start))
            start = prev = uid
    if start is not None:
        parts.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(parts)


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class BlockingImap:
    """One connection. Every method blocks: call it through ``asyncio.to_thread``."""

    def __init__(self, conn: imaplib.IMAP4) -> None:
        self.conn = conn
        self.capabilities: frozenset[str] = frozenset()
        self.condstore = False

    @classmethod
    def connect(cls, account: MailAccount, password: str, timeout: float) -> BlockingImap:
        host, port, security = account.imap_host, account.imap_port, account.imap_security
        if security == "none":
            refuse_plaintext(host, port, "IMAP")
        context = client_context(account.tls_ca_file) if security != "none" else None
        conn: imaplib.IMAP4 | None = None
        try:
            if context is not None and security == "tls":
                conn = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
            else:
                conn = imaplib.IMAP4(host, port, timeout=timeout)
                if context is not None:  # STARTTLS: refused (not skipped) if not offered
                    if "STARTTLS" not in conn.capabilities:
                        raise imaplib.IMAP4.error(NO_STARTTLS)
                    conn.starttls(context)
        except (OSError, imaplib.IMAP4.error) as exc:
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.shutdown()
            raise MailUnreachable(describe_connect_error(exc, host, port, "IMAP")) from exc
        session = cls(conn)
        try:
            conn.login(account.login, password)
        except imaplib.IMAP4.error as exc:
            session.close()
            raise MailAuthError(f"IMAP login refused for {account.login}: {exc}") from exc
        except OSError as exc:
            session.close()
            raise MailConnectionLost(f"connection lost during login: {exc}") from exc
        session._wrap(session._after_login)
        return session

    def _after_login(self) -> None:
        typ, data = self.conn.capability()
        words = b" ".join(d for d in data if isinstance(d, bytes)).decode().upper().split()
        self.capabilities = frozenset(words)
        if "CONDSTORE" in self.capabilities and "ENABLE" in self.capabilities:
            self.conn.enable("CONDSTORE")
            self.condstore = True

    def _wrap(self, fn: Callable[[], T]) -> T:
        """Map imaplib's and the socket's failures onto the mail error hierarchy."""
        try:
            return fn()
        except imaplib.IMAP4.abort as exc:
            raise MailConnectionLost(str(exc)) from exc
        except imaplib.IMAP4.error as exc:
            raise MailProtocolError(str(exc)) from exc
        except (OSError, EOFError) as exc:  # socket.timeout is an OSError
            raise MailConnectionLost(f"{type(exc).__name__}: {exc}") from exc

    def _check(self, typ: str, data: list[object], what: str) -> None:
        if typ != "OK":
            raise MailProtocolError(f"{what}: {typ} {data!r}")

    # -- commands --------------------------------------------------------------------------

    def select(self, folder: str) -> SelectInfo:
        def run() -> SelectInfo:
            typ, data = self.conn.select(quote_mailbox(folder))
            if typ != "OK":
                raise MailFolderMissing(f"cannot select {folder!r}: {data!r}")
            exists = int(data[0] or 0) if data and data[0] else 0

            def code(name: str) -> int | None:
                _t, values = self.conn.response(name)
                value = values[-1] if values else None
                return int(value) if isinstance(value, bytes) and value.isdigit() else None

            modseq = code("HIGHESTMODSEQ") if self.condstore else None
            return SelectInfo(exists, code("UIDVALIDITY") or 0, code("UIDNEXT") or 0, modseq)

        return self._wrap(run)

    def search_uids(self, criteria: str = "ALL") -> list[int]:
        def run() -> list[int]:
            typ, data = self.conn.uid("SEARCH", criteria)
            self._check(typ, data, "UID SEARCH")
            return [int(x) for x in b" ".join(d for d in data if d).split()]

        return self._wrap(run)

    def _fetch_spec(self, body: bool, changedsince: int | None = None) -> str:
        items = ["UID", "FLAGS"]
        if self.condstore:
            items.append("MODSEQ")
        if body:
            items.append("BODY.PEEK[]")
        spec = "(" + " ".join(items) + ")"
        if changedsince is not None:
            spec += f" (CHANGEDSINCE {changedsince})"
        return spec

    def fetch(
        self, uids: Iterable[int] | str, *, body: bool, changedsince: int | None = None
    ) -> list[FetchedMessage]:
        """UID FETCH of flags (and the whole message with ``BODY.PEEK[]``, never setting \\Seen)."""
        spec = self._fetch_spec(body, changedsince)
        uid_set = uids if isinstance(uids, str) else uid_ranges(uids)

        def run() -> list[FetchedMessage]:
            typ, data = self.conn.uid("FETCH", uid_set, spec)
            self._check(typ, data, "UID FETCH")
            return _parse_fetch(data)

        return self._wrap(run)

    def fetch_pipelined(self, batches: list[list[int]]) -> Iterator[list[FetchedMessage]]:
        """Whole messages of each batch of UIDs in turn (``BODY.PEEK[]``), with the next
        command sent before this one's answer is read: the server reads and sends the next
        batch while the caller parses this one.

        imaplib has no pipelining API; its ``_command`` / ``_command_complete`` (the two
        halves of every command, unchanged since Python 2) do it; without them the commands
        run one at a time. A server may answer pipelined FETCHes interleaved (Dovecot
        does), so answers are sorted into batches by UID: once a command completes, every
        message it asked for has arrived (those missing were expunged).
        """
        conn: Any = self.conn
        if not (hasattr(conn, "_command") and hasattr(conn, "_command_complete")):
            for batch in batches:
                yield [m for m in self.fetch(batch, body=True) if m.body is not None]
            return
        spec = self._fetch_spec(body=True)
        arrived: dict[int, FetchedMessage] = {}

        def send(batch: list[int]) -> Any:
            return conn._command("UID", "FETCH", uid_ranges(batch), spec)

        def complete(tag: Any) -> None:
            typ, dat = conn._command_complete("UID", tag)
            typ, data = conn._untagged_response(typ, dat, "FETCH")
            self._check(typ, data, "UID FETCH")
            for message in _parse_fetch(data):
                if message.body is not None:  # not a flag change pushed meanwhile
                    arrived[message.uid] = message

        pending = self._wrap(functools.partial(send, batches[0])) if batches else None
        for i, batch in enumerate(batches):
            tag, pending = pending, None
            if i + 1 < len(batches):
                pending = self._wrap(functools.partial(send, batches[i + 1]))
            self._wrap(functools.partial(complete, tag))
            yield [arrived.pop(uid) for uid in batch if uid in arrived]

    def store_flags(self, uid: int, op: str, flags: str) -> None:
        def run() -> None:
            typ, data = self.conn.uid("STORE", str(uid), op, flags)
            self._check(typ, data, "UID STORE")

        self._wrap(run)

    def shutdown(self) -> None:
        """Drop the connection without a word to the server (never blocks)."""
        try:
            self.conn.shutdown()
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.conn.logout()
        except (imaplib.IMAP4.error, OSError, EOFError):
            pass
        try:
            self.conn.shutdown()
        except OSError:
            pass


def _parse_fetch(data: list[object]) -> list[FetchedMessage]:
    out: list[FetchedMessage] = []
    i = 0
    while i < len(data):
        item = data[i]
        body: bytes | None = None
        if isinstance(item, tuple):
            meta, body = bytes(item[0]), bytes(item[1])
            # items after the literal (e.g. FLAGS sent after BODY[]) come in the next element
            following = data[i + 1] if i + 1 < len(data) else None
            if isinstance(following, bytes):
                meta += following
                i += 1
        elif isinstance(item, bytes):
            meta = item
        else:
            i += 1
            continue
        i += 1
        uid = _UID.search(meta)
        if uid is None:  # an unsolicited FETCH without UID
            continue
        flags = _FLAGS.search(meta)
        modseq = _MODSEQ.search(meta)
        out.append(
            FetchedMessage(
                uid=int(uid.group(1)),
                flags=frozenset(flags.group(1).decode().split()) if flags else frozenset(),
                modseq=int(modseq.group(1)) if modseq else None,
                body=body,
            )
        )
    return out
