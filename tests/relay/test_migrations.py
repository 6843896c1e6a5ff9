"""Schema migrations: the models and the migrations agree, and an upgrade keeps the data."""

from __future__ import annotations

import json

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlmodel import SQLModel

from relay.store.database import Database
from relay.store.ingest import ingest
from relay.store.migrate import migrate
from relay.store.tables import messages
from relay.webhooks.normalize import normalize
from tests.relay.conftest import sample


@pytest.fixture
def empty_database_url(database_url: str) -> str:
    """The store with no tables at all, so migrations start from nothing."""
    db = Database(database_url)
    with db.engine.begin() as conn:
        for table in [*reversed(SQLModel.metadata.sorted_tables)]:
            conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.close()
    return database_url


def test_migrations_create_exactly_the_models(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        migrate(db.engine)
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == [], (
            "the models changed without a migration: run alembic revision --autogenerate"
        )
    finally:
        db.close()


def test_upgrading_from_the_first_release_keeps_every_message(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        migrate(db.engine, "0001")
        records = normalize(json.loads(sample("wa_webhook_batch_two_messages.json")))
        db.write_sync(ingest(records, default_mode="human"))
        migrate(db.engine)
        count = db.read_sync(
            lambda conn: conn.execute(select(func.count()).select_from(messages)).scalar_one()
        )
        assert count == 2
        version = db.read_sync(
            lambda conn: conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        )
        assert version == "0003"
    finally:
        db.close()
