"""Where store functions run: on threads that own their connections, never on the event loop.

Every store function is plain synchronous SQLAlchemy Core taking a `Connection`; `Database`
runs it in a transaction on a worker thread and hands the result back to asyncio.

Writes go to one writer thread that commits the jobs waiting together in one transaction.
SQLite has one writer at a time anyway; on PostgreSQL a commit (its fsync, and the event
log's lock, see relay.store.events) costs more than all the statements of a webhook, and
sharing it is what lets the webhook endpoint keep up under load on either. If one job of
a batch fails, the batch is rolled back and its jobs run again one per transaction, so only
the failing job fails (job functions only touch the database, so running one again is safe).
Reads run on a small thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from relay.store.events import flush_events, take_pending
from relay.store.sql import json_text

T = TypeVar("T")
StoreFn = Callable[[Connection], T]

log = logging.getLogger(__name__)

_SYNC_DRIVERS = {
    "sqlite+aiosqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
}
_MAX_BATCH = 128


def sync_url(url: str) -> str:
    """Accept the usual spellings of SQLite and PostgreSQL URLs and pick our drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    driver = _SYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


def _sqlite_engine(url: str, *, writer: bool) -> Engine:
    """SQLite: the writer's one connection takes the write lock when it begins."""
    engine = create_engine(
        url, pool_size=1 if writer else 4, max_overflow=0, json_serializer=json_text
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (savepoints work).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: no deadlock when another process writes.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


class RunsTogether(ABC, Generic[T]):
    """A store function that the writer runs in one go with the others of its class queued
    beside it: set-based statements for a whole batch instead of a few per job."""

    def __call__(self, conn: Connection) -> T:
        return type(self).run_together(conn, [self])[0]

    @classmethod
    @abstractmethod
    def run_together(cls, conn: Connection, jobs: Sequence[Self]) -> list[T]:
        """Each job's result, in order."""


def _run_jobs(conn: Connection, fns: list[StoreFn[Any]]) -> list[Any]:
    results: list[Any] = []
    start = 0
    while start < len(fns):
        kind = type(fns[start])
        end = start + 1
        if issubclass(kind, RunsTogether):
            while end < len(fns) and type(fns[end]) is kind:
                end += 1
            results.extend(kind.run_together(conn, cast(list[RunsTogether[Any]], fns[start:end])))
        else:
            results.append(fns[start](conn))
        start = end
    return results


# A job's future, and its result or the exception it raised.
_Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


@dataclass
class _Job:
    fn: StoreFn[Any]
    future: asyncio.Future[Any]


class _BatchingWriter:
    """One thread, one connection, one commit for all the jobs that queued meanwhile.

    The jobs' asyncio futures are settled from the event loop, once per batch: waking the
    loop is the costly part of handing a result across threads.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def submit(self, fn: StoreFn[T]) -> asyncio.Future[T]:
        """Called on the event loop; the future is settled there."""
        job = _Job(fn, asyncio.get_running_loop().create_future())
        self._jobs.put(job)
        return job.future

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < _MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)  # finish this batch, then stop
                    break
                batch.append(job)
            outcomes: list[_Outcome] = []
            self._commit(batch, outcomes)
            by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
            for outcome in outcomes:
                by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
            for loop, settled in by_loop.items():
                with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
                    loop.call_soon_threadsafe(_settle, settled)

    def _commit(self, batch: list[_Job], outcomes: list[_Outcome]) -> None:
        """All jobs in one transaction; if any fails, each alone, so only it fails."""
        try:
            results = self._run_batch(batch)
        except Exception as exc:
            if len(batch) == 1:
                outcomes.append((batch[0].future, None, exc))
            else:
                for job in batch:
                    self._commit([job], outcomes)
            return
        outcomes.extend(
            (job.future, result, None) for job, result in zip(batch, results, strict=True)
        )

    def _run_batch(self, batch: list[_Job]) -> list[Any]:
        with self._engine.connect() as conn:
            try:
                with conn.begin():
                    take_pending(conn)
                    results = _run_jobs(conn, [job.fn for job in batch])
                    flush_events(conn, take_pending(conn))
                return results
            except Exception:
                conn.info.clear()  # whatever the jobs remembered on it was rolled back too
                raise


def _settle(outcomes: list[_Outcome]) -> None:
    for future, result, error in outcomes:
        if future.cancelled():
            continue  # its caller gave up waiting; the job ran (or failed) all the same
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


class Database:
    """The relay's database: `await db.write(fn)` and `await db.read(fn)`."""

    def __init__(self, url: str) -> None:
        self.url = sync_url(url)
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url, writer=True)
            self._read_engine = _sqlite_engine(self.url, writer=False)
        else:
            # The writer keeps to one connection: what a batch remembers on it (known
            # customers and channels, see relay.store.inbound) serves the next batches.
            self.engine = create_engine(
                self.url, pool_size=1, max_overflow=2, pool_recycle=1800, json_serializer=json_text
            )
            self._read_engine = create_engine(
                self.url, pool_size=6, max_overflow=4, pool_recycle=1800, json_serializer=json_text
            )
        self._writer = _BatchingWriter(self.engine)
        self._readers = ThreadPoolExecutor(4, thread_name_prefix="store-read")

    async def write(self, fn: StoreFn[T]) -> T:
        """Run `fn` in a write transaction; it is committed when this returns."""
        return await self._writer.submit(fn)

    async def read(self, fn: StoreFn[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._in_read_tx, fn)

    def write_sync(self, fn: StoreFn[T]) -> T:
        """For the command line, which has no event loop."""
        return self._in_tx(fn)

    def read_sync(self, fn: StoreFn[T]) -> T:
        return self._in_read_tx(fn)

    def _in_tx(self, fn: StoreFn[T]) -> T:
        with self.engine.connect() as conn:
            try:
                with conn.begin():
                    take_pending(conn)
                    result = fn(conn)
                    flush_events(conn, take_pending(conn))
                return result
            except Exception:
                conn.info.clear()  # whatever the job remembered on it was rolled back too
                raise

    def _in_read_tx(self, fn: StoreFn[T]) -> T:
        with self._read_engine.begin() as conn:
            return fn(conn)

    def close(self) -> None:
        self._writer.close()
        self._readers.shutdown(wait=True)
        self.engine.dispose()
        self._read_engine.dispose()
