"""The few SQL shapes that differ between SQLite and PostgreSQL, written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: Connection, table: Table) -> Any:
    """An INSERT that supports `.on_conflict_do_nothing()` / `.on_conflict_do_update()`."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> int | None:
    """Insert unless a unique key already holds the row; the new id, or None for a duplicate."""
    stmt = upsert(conn, table).values(**values).on_conflict_do_nothing().returning(table.c.id)
    return conn.execute(stmt).scalar()
