"""The event log behind `GET /v1/events`.

Store functions call `append_event`; the events wait on the connection and are written by
`flush_events` just before the commit (`relay.store.database` does it), in one statement.

Readers page through the log by id, so ids must become visible in increasing order. On
SQLite one writer guarantees that. On PostgreSQL several relay processes write at once and
a sequence hands out ids at insert time, not at commit: a transaction-scoped advisory lock,
taken right before the events are inserted and held until the commit, makes commit order
equal id order, so a reader that has seen id N never later finds an id below N. Taking it
only at the end keeps it held for one insert and the commit, not the whole transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, func, insert, select, true

from relay.store.sql import json_rows, json_text, prepared, run_plain
from relay.store.tables import events, utcnow

_EVENT_LOG_LOCK = 0x0D35_0001  # any constant shared by every relay process
_PENDING = "omnidesk_pending_events"
_SAVEPOINT_DEPTH = "omnidesk_savepoint_depth"


def append_event(
    conn: Connection,
    type_: str,
    *,
    conversation_id: int | None = None,
    message_id: int | None = None,
    data: dict[str, Any],
) -> None:
    conn.info.setdefault(_PENDING, []).append(
        {
            "type": type_,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "data": data,
            "created_at": utcnow(),
        }
    )


def take_pending(conn: Connection) -> list[dict[str, Any]]:
    """The events appended since the last call (a failed job's are dropped this way)."""
    return conn.info.pop(_PENDING, [])  # type: ignore[no-any-return]


def flush_events(conn: Connection, pending: list[dict[str, Any]]) -> None:
    if not pending:
        return
    if conn.dialect.name == "postgresql":
        _insert_events_pg.run(conn, {"rows": json_text(pending)})
    else:
        _insert_events.run_many(conn, pending)


_EVENT_COLUMNS = ("type", "conversation_id", "message_id", "data", "created_at")


@prepared
def _insert_events(_d: ModuleType) -> Any:
    return insert(events)


@prepared
def _insert_events_pg(_d: ModuleType) -> Any:
    """All the events as one JSON array (`json_rows`), in order; the lock is taken before
    the first id is drawn, since the sort needs every row of the join."""
    rows = json_rows(events)
    lock = select(func.pg_advisory_xact_lock(_EVENT_LOG_LOCK)).cte("locked")
    locked = lock.prefix_with("MATERIALIZED")
    query = select(*(rows.c[name] for name in _EVENT_COLUMNS)).select_from(
        rows.join(locked, true())
    )
    return insert(events).from_select(_EVENT_COLUMNS, query.order_by(rows.c.ordinality))


def events_after(conn: Connection, after: int, limit: int = 500) -> list[dict[str, Any]]:
    query = select(events).where(events.c.id > after).order_by(events.c.id).limit(limit)
    return [
        {
            "id": row["id"],
            "type": row["type"],
            "conversation_id": row["conversation_id"],
            "message_id": row["message_id"],
            "data": row["data"],
        }
        for row in conn.execute(query).mappings()
    ]


def latest_event_id(conn: Connection) -> int:
    """The newest event's id (0 for an empty log): where a stream opened now stops catching up.

    Ids become visible in increasing order (see the module docstring), so every event up to
    this id is readable by the time a client is told of it.
    """
    return int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one())


@contextmanager
def savepoint(conn: Connection) -> Iterator[None]:
    """A SAVEPOINT whose rollback also forgets the events appended inside it.

    Written on the driver's cursor: batches run one per item they act on, and SQLAlchemy's
    nested transactions cost more than the work inside them.
    """
    pending: list[dict[str, Any]] = conn.info.setdefault(_PENDING, [])
    mark = len(pending)
    depth = conn.info.get(_SAVEPOINT_DEPTH, 0) + 1
    conn.info[_SAVEPOINT_DEPTH] = depth
    name = f"omnidesk_{depth}"
    run_plain(conn, f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        del pending[mark:]
        run_plain(conn, f"ROLLBACK TO SAVEPOINT {name}")
        run_plain(conn, f"RELEASE SAVEPOINT {name}")
        raise
    else:
        run_plain(conn, f"RELEASE SAVEPOINT {name}")
    finally:
        conn.info[_SAVEPOINT_DEPTH] = depth - 1
