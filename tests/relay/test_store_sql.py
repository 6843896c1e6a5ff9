"""The hot paths' statements run on the driver's cursor: they must store and read exactly
what SQLAlchemy's own execution would, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.dialects.sqlite import pysqlite

from relay.store.database import Database
from relay.store.events import append_event, flush_events, savepoint, take_pending
from relay.store.sql import Prepared, json_text, prepared, sqlite_utc_text
from relay.store.tables import channels, events, utcnow
from relay.store.views import iso


@prepared
def _channel_insert(_d: ModuleType) -> Any:
    return insert(channels).returning(channels.c.id, channels.c.created_at)


@prepared
def _channel_by_id(_d: ModuleType) -> Any:
    return select(channels).where(channels.c.id == bindparam("id"))


@prepared
def _event_insert(_d: ModuleType) -> Any:
    return insert(events).returning(events.c.id, events.c.data)


def _channel(channel_id: str, created_at: datetime) -> dict[str, Any]:
    return {
        "id": channel_id,
        "kind": "whatsapp",
        "external_id": channel_id,
        "name": "Support ☎",
        "display_number": None,
        "access_token": None,
        "created_at": created_at,
    }


def test_values_written_on_the_cursor_read_back_as_sqlalchemy_reads_them(store: Database) -> None:
    stamp = datetime(2026, 3, 1, 23, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-3)))

    def write(conn: Connection) -> Any:
        return _channel_insert.run(conn, _channel("whatsapp:1", stamp)).one()

    returned = store.write_sync(write)
    assert returned.id == "whatsapp:1"
    assert returned.created_at == stamp  # the same instant, as aware UTC
    assert returned.created_at.tzinfo is not None
    by_sqlalchemy = store.read_sync(lambda conn: conn.execute(select(channels)).mappings().one())
    by_cursor = store.read_sync(lambda conn: _channel_by_id.run(conn, {"id": "whatsapp:1"}).one())
    assert dict(by_cursor) == dict(by_sqlalchemy)
    assert by_cursor.name == "Support ☎"


def test_json_columns_and_column_defaults(store: Database) -> None:
    data = {"message": {"text": "olá 👋", "n": 2**70, "nested": [1, None, True]}}

    def write(conn: Connection) -> Any:
        # `type` and `data` given; conversation_id, message_id left to the column (NULL)
        return _event_insert.run(conn, {"type": "x", "data": data, "created_at": utcnow()}).one()

    row = store.write_sync(write)
    assert row.data == data  # beyond orjson's 64-bit integers too
    stored = store.read_sync(lambda conn: conn.execute(select(events.c.data)).scalar_one())
    assert stored == data


def test_run_each_answers_in_order_and_empty_for_rows_not_written(store: Database) -> None:
    @prepared
    def skip_existing(d: ModuleType) -> Any:
        return d.insert(channels).on_conflict_do_nothing().returning(channels.c.id)

    now = datetime.now(UTC)
    store.write_sync(lambda conn: skip_existing.run(conn, _channel("whatsapp:2", now)))
    rows = store.write_sync(
        lambda conn: skip_existing.run_each(
            conn, [_channel(f"whatsapp:{n}", now) for n in (1, 2, 3)]
        )
    )
    assert [r.scalar() for r in rows] == ["whatsapp:1", None, "whatsapp:3"]


def test_mistakes_are_refused_at_first_use(store: Database) -> None:
    def missing_value(conn: Connection) -> None:
        _channel_by_id.run(conn, {})

    with pytest.raises(ValueError, match="no value"):
        store.write_sync(missing_value)

    in_list = Prepared("in_list", lambda _d: select(channels).where(channels.c.id.in_(["a", "b"])))
    with pytest.raises(ValueError, match="IN lists"):
        store.write_sync(lambda conn: in_list.run(conn))

    no_default = Prepared("no_default", lambda _d: insert(channels))
    with pytest.raises(ValueError, match="created_at"):  # a function default is not run
        store.write_sync(
            lambda conn: no_default.run(conn, {"id": "c", "kind": "w", "external_id": "c"})
        )


def test_a_savepoint_rolled_back_keeps_the_rest_of_the_transaction(store: Database) -> None:
    def write(conn: Connection) -> list[str]:
        _channel_insert.run(conn, _channel("whatsapp:kept", utcnow()))
        append_event(conn, "kept", data={})
        with pytest.raises(RuntimeError), savepoint(conn):
            _channel_insert.run(conn, _channel("whatsapp:dropped", utcnow()))
            append_event(conn, "dropped", data={})
            raise RuntimeError("undo this part")
        with savepoint(conn):  # a second one at the same depth works too
            append_event(conn, "also kept", data={})
        return [event["type"] for event in conn.info["omnidesk_pending_events"]]

    assert store.write_sync(write) == ["kept", "also kept"]
    ids = store.read_sync(lambda conn: list(conn.execute(select(channels.c.id)).scalars()))
    assert ids == ["whatsapp:kept"]


def test_run_outside_a_transaction_is_refused(store: Database) -> None:
    with store.engine.connect() as conn, pytest.raises(RuntimeError, match="transaction"):
        _channel_by_id.run(conn, {"id": "x"})


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-11))]
        ),
    )
)
def test_sqlite_datetime_text_is_sqlalchemys(value: datetime) -> None:
    compiled = insert(channels).compile(
        dialect=pysqlite.dialect(), column_keys=["id", "kind", "external_id", "created_at"]
    )
    assert sqlite_utc_text(value) == compiled._bind_processors["created_at"](value)


def test_json_text_is_json() -> None:
    import json

    for value in [{"a": [1, 2.5, None, "é"]}, {1: "int key"}, {"big": 2**80}, []]:
        assert json.loads(json_text(value)) == json.loads(json.dumps(value))


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11, minutes=-30))]),
    )
)
def test_api_timestamps_are_utc_with_milliseconds(value: datetime) -> None:
    expected = value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert iso(value) == expected


@pytest.fixture
def pg_store(pg_database: str) -> Iterator[Database]:
    database = Database(pg_database)
    yield database
    database.close()


def test_events_of_a_batch_reach_postgresql_whole_and_in_order(pg_store: Database) -> None:
    """PostgreSQL takes a batch's events as one JSON array (`json_rows`): each keeps its
    values, whatever JSON they hold, its ids follow the order they were appended in, and
    the event log's lock is held from the insert to the commit."""
    tag = uuid.uuid4().hex
    stamp = datetime(2026, 3, 1, 23, 30, 0, 123456, tzinfo=UTC)
    data = [
        {"i": 0, "text": 'é ☎ 🙂 "quoted" \\ back', "nested": {"list": [1, 2.5, None, True]}},
        {"i": 1, "big": 2**70},  # beyond 64 bits: orjson refuses it, `json` writes it
        {"i": 2},
    ]

    def write(conn: Connection) -> Any:
        take_pending(conn)
        for index, item in enumerate(data):
            append_event(conn, f"{tag}.{index}", conversation_id=index or None, data=item)
        pending = take_pending(conn)
        for event in pending:
            event["created_at"] = stamp
        flush_events(conn, pending)
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s"
        return conn.exec_driver_sql(held, (0x0D35_0001,)).scalar()

    assert pg_store.write_sync(write) == 1

    def read(conn: Connection) -> list[Any]:
        query = select(events).where(events.c.type.startswith(tag)).order_by(events.c.id)
        return list(conn.execute(query).mappings())

    written = pg_store.read_sync(read)
    assert [row["type"] for row in written] == [f"{tag}.0", f"{tag}.1", f"{tag}.2"]
    assert [row["data"] for row in written] == data
    assert [row["conversation_id"] for row in written] == [None, 1, 2]
    assert [row["message_id"] for row in written] == [None, None, None]
    assert all(row["created_at"] == stamp for row in written)
