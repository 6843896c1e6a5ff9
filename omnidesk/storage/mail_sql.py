"""Plain SQLite for the mail tables: the ``sqlite3`` connection under SQLAlchemy's.

The mail side writes thousands of rows per sync; ``executemany`` on the driver's connection
(in the same transaction as ``Cache.run_in_transaction``) costs a fraction of SQLAlchemy
Core per row. Also :class:`Touched`, what one transaction changed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from omnidesk.changes import Changes

CHUNK = 500
"""Host parameters per ``IN (...)`` list (SQLite allows many more; this keeps plans small)."""
SEEN = "\\Seen"


def db(conn: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under SQLAlchemy's (same transaction): plain ``executemany``."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    return raw


def rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
    cur = db(conn).cursor()
    cur.row_factory = sqlite3.Row
    return cur.execute(sql, params).fetchall()


def chunked(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def marks(items: Sized) -> str:
    """``?,?,?``: one placeholder per item."""
    return ",".join("?" * len(items))


@dataclass
class Touched:
    """Accumulates what one transaction changed; :meth:`changes` is what the UI is told."""

    threads: set[int] = field(default_factory=set)
    """``mail_thread`` ids whose conversation row must be recomputed."""
    deleted: set[int] = field(default_factory=set)
    """``mail_thread`` ids whose conversation disappeared (merged or emptied)."""
    messages: set[int] = field(default_factory=set)
    """``message`` ids (negative) that appeared or changed."""
    reopen: dict[int, str] = field(default_factory=dict)
    """Thread -> date of its newest new unread inbound mail (may reopen a resolved one)."""
    outbox: bool = False

    def changes(self) -> Changes:
        convs = frozenset(-t for t in self.threads | self.deleted)
        return Changes(
            conversations=convs,
            threads=convs,
            messages=frozenset(self.messages),
            outbox=self.outbox,
        )
