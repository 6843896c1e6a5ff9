"""The event log behind `GET /v1/events`.

Readers page through it by id, so ids must become visible in increasing order. On SQLite
one writer guarantees that. On PostgreSQL several relay processes write at once and a
sequence hands out ids at insert time, not at commit: a transaction-scoped advisory lock,
taken just before a transaction appends its events and held until it commits, makes commit
order equal id order, so a reader that has seen id N will never later find an id below N.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, text

from relay.store.tables import events, utcnow

_EVENT_LOG_LOCK = 0x0D35_0001  # any constant shared by every relay process


def append_event(
    conn: Connection,
    type_: str,
    *,
    conversation_id: int | None = None,
    message_id: int | None = None,
    data: dict[str, Any],
) -> int:
    if conn.dialect.name == "postgresql":  # taking it again in one transaction is free
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _EVENT_LOG_LOCK})
    stmt = insert(events).values(
        type=type_,
        conversation_id=conversation_id,
        message_id=message_id,
        data=data,
        created_at=utcnow(),
    )
    return int(conn.execute(stmt.returning(events.c.id)).scalar_one())


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


def last_event_id(conn: Connection) -> int:
    return int(
        conn.execute(select(events.c.id).order_by(events.c.id.desc()).limit(1)).scalar() or 0
    )
