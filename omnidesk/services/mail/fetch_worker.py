"""Bulk fetch and parse in a child process, so a big first sync uses both cores.

A first sync spends its CPU in two places: fetching and parsing (about 0.25 ms a message)
and storing in the cache (SQLite and threading, on the cache's thread). In one process the
GIL serialises them; in a child, the fetch and parse run beside the store and the sync
costs about the larger of the two instead of their sum.

The child (``python -m omnidesk.services.mail.fetch_worker``) reads one pickled
:class:`FetchJob` from stdin (the password never appears in its arguments or
environment), opens its own IMAP connection, checks UIDVALIDITY, and writes one pickled
message per batch to stdout, in order: ``("batch", index, [ParsedMail, ...])``, then
``("done",)``, or ``("error", MailError)``. It exits when its parent stops reading.
:class:`WorkerFetch` is the parent's side; :func:`fetch_and_parse` is the shared work,
also used in-process (worker threads) for small fetches or when no child can be started.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO, Any

from omnidesk.mail.parse import parse_message
from omnidesk.mail.types import MailAccount, ParsedMail

from .errors import MailConnectionLost, MailError, MailProtocolError
from .imap_blocking import BlockingImap, FetchedMessage, uid_ranges

READ_AHEAD = 3
"""Batches the child may have ready before the parent stores them (bounds memory)."""


@dataclass(frozen=True)
class FetchJob:
    account: MailAccount
    password: str
    folder: str
    uidvalidity: int
    batches: list[list[int]]
    timeout: float


def fetch_and_parse(session: BlockingImap, uids: list[int], folder: str) -> list[ParsedMail]:
    """One ``UID FETCH (UID FLAGS BODY.PEEK[])`` of ``uids``, parsed, newest first."""
    return parse_fetched(session.fetch(uid_ranges(uids), body=True), folder)


def parse_fetched(fetched: list[FetchedMessage], folder: str) -> list[ParsedMail]:
    out = []
    for item in fetched:
        if item.body is None:
            continue
        flags = frozenset(f for f in item.flags if f != "\\Recent")
        out.append(parse_message(item.body, uid=item.uid, folder=folder, flags=flags))
    out.sort(key=lambda m: m.uid or 0, reverse=True)
    return out


# -- the child -----------------------------------------------------------------------------


def run_job(job: FetchJob, out: IO[bytes]) -> None:
    def send(*message: object) -> None:
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    session: BlockingImap | None = None
    try:
        session = BlockingImap.connect(job.account, job.password, job.timeout)
        selected = session.select(job.folder)
        if selected.uidvalidity != job.uidvalidity:
            raise MailProtocolError(f"UIDVALIDITY of {job.folder!r} changed during the sync")
        for index, fetched in enumerate(session.fetch_pipelined(job.batches)):
            send("batch", index, parse_fetched(fetched, job.folder))
        send("done")
    except MailError as exc:
        send("error", exc)
    except (BrokenPipeError, KeyboardInterrupt):
        pass  # the parent stopped reading: nothing to report to
    except Exception as exc:  # a bug: say what it was rather than die silently
        send("error", MailProtocolError(f"fetch worker failed: {type(exc).__name__}: {exc}"))
    finally:
        if session is not None:
            session.shutdown()


def main() -> None:
    job = pickle.load(sys.stdin.buffer)
    if not isinstance(job, FetchJob):
        raise SystemExit("fetch_worker: expected a FetchJob on stdin")
    with contextlib.suppress(BrokenPipeError):
        run_job(job, sys.stdout.buffer)
    with contextlib.suppress(OSError):  # the parent may have gone: no flush error at exit
        sys.stdout.close()


# -- the parent ----------------------------------------------------------------------------


class WorkerFetch:
    """The parent's end: start the child, then take its batches in order.

    ``start()`` raises :class:`OSError` when no child can be started (the caller then
    fetches in-process); ``next_batch()`` raises the child's :class:`MailError`, or
    :class:`MailConnectionLost` when it dies or stays silent for ``timeout`` seconds.
    Always ``close()`` it: that ends the child if it is still running.
    """

    def __init__(self, job: FetchJob) -> None:
        self.job = job
        self._proc: subprocess.Popen[bytes] | None = None
        self._queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._room = threading.Semaphore(READ_AHEAD)
        self._stopped = threading.Event()

    @staticmethod
    def available() -> bool:
        """A frozen app has no interpreter to start a module with."""
        return not getattr(sys, "frozen", False) and bool(sys.executable)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        proc = await asyncio.to_thread(self._spawn)
        threading.Thread(
            target=self._read, args=(proc, loop), name="mail fetch worker", daemon=True
        ).start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._proc = proc  # set here: close() must find it even if start() was cancelled
        assert proc.stdin is not None
        try:
            pickle.dump(self.job, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.close()
        except OSError:
            self._proc = None
            proc.kill()
            proc.wait()
            raise
        return proc

    def _read(self, proc: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop) -> None:
        """Reader thread: unpickle the child's messages (at most READ_AHEAD unconsumed)."""
        assert proc.stdout is not None
        message: tuple[Any, ...]
        while not self._stopped.is_set():
            self._room.acquire()
            try:
                message = pickle.load(proc.stdout)
            except Exception as exc:  # EOF or garbage: the child died
                message = ("lost", f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(self._queue.put_nowait, message)
            if message[0] != "batch":
                return

    async def next_batch(self, index: int) -> list[ParsedMail]:
        """The job's batch ``index`` (they come in order)."""
        try:
            async with asyncio.timeout(self.job.timeout):
                message = await self._queue.get()
        except TimeoutError as exc:
            raise MailConnectionLost("the fetch worker stopped answering") from exc
        self._room.release()
        kind = message[0]
        if kind == "batch" and message[1] == index:
            mails: list[ParsedMail] = message[2]
            return mails
        if kind == "error" and isinstance(message[1], MailError):
            raise message[1]
        if kind == "lost":
            raise MailConnectionLost(f"the fetch worker ended unexpectedly ({message[1]})")
        raise MailProtocolError(f"unexpected message from the fetch worker: {kind!r}")

    async def close(self) -> None:
        self._stopped.set()
        self._room.release()  # a reader waiting for room sees the stop
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        await asyncio.to_thread(proc.wait)
        if proc.stdout is not None:
            proc.stdout.close()


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy's: the job was pickled with the
    # classes of ``omnidesk.services.mail.fetch_worker``.
    from omnidesk.services.mail.fetch_worker import main as worker_main

    worker_main()
