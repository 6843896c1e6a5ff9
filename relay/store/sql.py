"""The few SQL shapes that differ between SQLite and PostgreSQL, written once.

`prepared` keeps statements built once per dialect: building a SQLAlchemy statement costs
several times what SQLite takes to run it, and the webhook path runs a handful per message.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

_prepared: dict[tuple[str, str], Any] = {}


def dialect_module(conn: Connection) -> ModuleType:
    return postgresql if conn.dialect.name == "postgresql" else sqlite


def upsert(conn: Connection, table: Table) -> Any:
    """An INSERT that supports `.on_conflict_do_nothing()` / `.on_conflict_do_update()`."""
    return dialect_module(conn).insert(table)


def prepared(conn: Connection, name: str, build: Callable[[ModuleType], Any]) -> Any:
    """The statement `build(dialect)` made once per dialect; execute it with parameters."""
    key = (conn.dialect.name, name)
    statement = _prepared.get(key)
    if statement is None:
        statement = _prepared[key] = build(dialect_module(conn))
    return statement
