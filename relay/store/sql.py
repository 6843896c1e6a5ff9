"""The few SQL shapes that differ between SQLite and PostgreSQL, and the hot paths' statements.

`prepared` statements are built once per dialect and compiled once per set of parameter
names, then run straight on the driver's cursor with SQLAlchemy's own type conversions.
Building a SQLAlchemy statement, and SQLAlchemy's execution machinery around a cached one,
each cost several times what SQLite takes to run it; the webhook path, the bot bridge and the
sender run a handful per message, so they use these. Everything else uses `conn.execute`.
Both run in the same transaction on the same driver connection.

On PostgreSQL the webhook writer's per-message statements take a whole batch as one JSON
parameter instead (`json_rows`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, String, Table, bindparam, cast, func, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.sql.sqltypes import UTCDateTime

Build = Callable[[ModuleType], Any]


def json_text(value: Any) -> str:
    """JSON text: orjson, five times faster than `json` on what the webhook path writes;
    what orjson refuses (integers beyond 64 bits) goes through `json`. Datetimes become
    ISO 8601 either way (they only occur in `json_rows` parameters)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, default=_iso_datetime)


def _iso_datetime(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dialect_module(conn: Connection) -> ModuleType:
    return postgresql if conn.dialect.name == "postgresql" else sqlite


def upsert(conn: Connection, table: Table) -> Any:
    """An INSERT that supports `.on_conflict_do_nothing()` / `.on_conflict_do_update()`."""
    return dialect_module(conn).insert(table)


class Row(dict[str, Any]):
    """A result row, read as `row.id` or `row["id"]` (and spread with `**row`)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True, slots=True)
class Rows:
    """What a prepared statement returned, already fetched and converted."""

    rows: list[Row]
    rowcount: int

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def one(self) -> Row:
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def first(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        """The first column of the first row, or None when there is no row."""
        return next(iter(self.rows[0].values())) if self.rows else None

    def all(self) -> list[Row]:
        return self.rows


Convert = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool  # sqlite3 takes a tuple in `slots` order; psycopg takes a dict
    slots: tuple[tuple[str, Convert | None], ...]  # bind names and SQLAlchemy's processors
    fixed: dict[str, Any]  # binds whose value is part of the statement
    columns: tuple[str, ...]
    results: tuple[tuple[int, Convert], ...]  # SQLAlchemy's result processors, by column


class Prepared:
    """One statement of a hot path: built once per dialect, compiled once per parameter names."""

    def __init__(self, name: str, build: Build) -> None:
        self.name = name
        self._build = build
        self._compiled: dict[tuple[str, frozenset[str]], _Compiled] = {}

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Rows:
        params = params or {}
        compiled = self._compiled_for(conn, params)
        cursor = _cursor(conn, self.name)
        try:
            cursor.execute(compiled.sql, _bind(compiled, params))
            rows = _fetch(compiled, cursor) if compiled.columns else []
            return Rows(rows, cursor.rowcount)
        finally:
            cursor.close()

    def run_each(self, conn: Connection, many: Sequence[Mapping[str, Any]]) -> list[Rows]:
        """`run` once per parameter set (all with the same names), in order.

        On PostgreSQL they go in one pipelined driver call: one round trip for all, and one
        short query text that psycopg parses once and the server prepares once.
        """
        if len(many) < 2 or conn.dialect.name != "postgresql":
            return [self.run(conn, params) for params in many]
        compiled = self._compiled_for(conn, many[0])
        cursor = _cursor(conn, self.name)
        try:
            values = [_bind(compiled, params) for params in many]
            cursor.executemany(compiled.sql, values, returning=True)
            results = []
            while True:
                rows = _fetch(compiled, cursor) if compiled.columns else []
                results.append(Rows(rows, cursor.rowcount))
                if not cursor.nextset():
                    return results
        finally:
            cursor.close()

    def run_many(self, conn: Connection, many: Sequence[Mapping[str, Any]]) -> None:
        """The statement once per parameter set, in one driver call (no RETURNING)."""
        if not many:
            return
        compiled = self._compiled_for(conn, many[0])
        cursor = _cursor(conn, self.name)
        try:
            cursor.executemany(compiled.sql, [_bind(compiled, params) for params in many])
        finally:
            cursor.close()

    def _compiled_for(self, conn: Connection, params: Mapping[str, Any]) -> _Compiled:
        key = (conn.dialect.name, frozenset(params))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(conn, sorted(params))
        return compiled

    def _compile(self, conn: Connection, keys: list[str]) -> _Compiled:
        dialect = conn.dialect
        compiled = self._build(dialect_module(conn)).compile(dialect=dialect, column_keys=keys)
        defaults = {}  # the columns' constant defaults; functions are not run here
        for column in [*compiled.insert_prefetch, *compiled.update_prefetch]:
            if column.default is None or not column.default.is_scalar:
                raise ValueError(f"{self.name}: pass a value for {column.key!r}")
            defaults[column.key] = column.default.arg
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        if any(bind.expanding for bind in binds.values()):
            raise ValueError(f"{self.name}: IN lists need conn.execute")
        unset = [name for name in binds if name not in keys and name not in defaults]
        if missing := [name for name in unset if binds[name].required]:
            raise ValueError(f"{self.name}: no value for {missing}")
        fixed = defaults | {name: binds[name].effective_value for name in unset}
        processors = dict(compiled._bind_processors)
        if dialect.name == "sqlite":  # the same text as SQLAlchemy's, several times faster
            for bind, name in compiled.bind_names.items():
                if isinstance(bind.type, UTCDateTime) and name in processors:
                    processors[name] = sqlite_utc_text
        names = compiled.positiontup if compiled.positional else list(binds)
        columns = compiled._result_columns
        results = [entry.type._cached_result_processor(dialect, None) for entry in columns]
        return _Compiled(
            sql=compiled.string,
            positional=compiled.positional,
            slots=tuple((name, processors.get(name)) for name in names or ()),
            fixed=fixed,
            columns=tuple(entry.keyname for entry in columns),
            results=tuple((i, f) for i, f in enumerate(results) if f is not None),
        )


def json_rows(table: Table) -> Any:
    """PostgreSQL: the rows of parameter `rows`, one JSON array, read as `table`'s rows and
    named `r`, with their place in the array (`r.ordinality`, to keep their order).

    psycopg spends some 40 µs of Python on each statement, pipelined or not, holding the GIL
    that the HTTP side needs as well: run per message (an insert, two events, a conversation's
    touch), that was most of the webhook writer's time on PostgreSQL. Passed as one JSON text
    (`json_text`) that the server unpacks, a batch of any size costs one statement.
    """
    of_table: Any = literal_column(f"NULL::{table.name}")  # its row type: the columns' types
    return (
        func.json_populate_recordset(of_table, rows_parameter())
        .table_valued(*(column.name for column in table.c), with_ordinality="ordinality")
        .alias("r")
    )


def rows_parameter() -> Any:
    """The `rows` parameter of a batch statement: a JSON array, given as `json_text`."""
    return cast(bindparam("rows", type_=String()), JSON)


def _bind(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
    if compiled.fixed:
        params = {**compiled.fixed, **params}
    values = [
        params[name] if convert is None else convert(params[name])
        for name, convert in compiled.slots
    ]
    if compiled.positional:
        return values
    return dict(zip((name for name, _ in compiled.slots), values, strict=True))


def _fetch(compiled: _Compiled, cursor: Any) -> list[Row]:
    columns, results = compiled.columns, compiled.results
    rows = []
    for raw in cursor.fetchall():
        if results:
            raw = list(raw)
            for index, convert in results:
                raw[index] = convert(raw[index])
        rows.append(Row(zip(columns, raw, strict=True)))
    return rows


def sqlite_utc_text(value: datetime | None) -> str | None:
    """An aware datetime as SQLAlchemy stores a `UTCDateTime` in SQLite: naive UTC text with
    microseconds. Its own processor formats a dict of seven fields for every value, which
    was an eighth of the webhook writer's time."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.utcoffset() is None:
            raise ValueError("Datetime values must have timezone information")
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def _cursor(conn: Connection, what: str) -> Any:
    """A cursor of the driver's connection, inside the transaction SQLAlchemy began."""
    if not conn.in_transaction():
        raise RuntimeError(f"{what}: run it inside the store's transaction")
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def run_plain(conn: Connection, sql: str) -> None:
    """A statement without parameters or results (SAVEPOINT...), on the driver's cursor."""
    cursor = _cursor(conn, sql)
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def prepared(build: Build) -> Prepared:
    """Decorator: `build(dialect module)` becomes a hot-path statement, run with `.run(conn, ...)`."""
    return Prepared(build.__name__, build)
