"""Alembic environment: migrations run on a connection the relay hands over (see store.migrate)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from relay.store import tables  # noqa: F401  (registers the tables on the metadata)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
