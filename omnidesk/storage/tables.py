"""The cache's tables. Rows never leave storage: ``convert`` turns them into domain objects.

They live in their own registry and metadata, not SQLModel's global one, so the console and
the relay (whose tables have the same names) can be imported in one process (the demo, tests).
"""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

cache_registry = registry()


class CacheModel(SQLModel, registry=cache_registry):
    """Base of the cache's tables."""


class ConversationRow(CacheModel, table=True):
    __tablename__ = "conversation"

    id: int = Field(primary_key=True)
    channel_id: str = Field(index=True)
    channel_kind: str
    channel_name: str
    contact_id: int
    contact_name: str
    contact_handle: str
    status: str = Field(index=True)
    mode: str
    assignee: str | None = None
    handoff_reason: str | None = None
    last_message_json: str | None = None
    unread_count: int = 0
    updated_at: str = Field(index=True)
    """UTC ISO-8601 with a fixed format, so text order is time order."""


class MessageRow(CacheModel, table=True):
    __tablename__ = "message"

    id: int = Field(primary_key=True)
    conversation_id: int = Field(index=True)
    direction: str
    author: str
    type: str
    text: str | None = None
    body: str = ""
    """What full-text search indexes: text, else caption, else file name."""
    payload_json: str = "{}"
    reply_to: int | None = None
    status: str
    error_json: str | None = None
    created_at: str
    updated_at: str
    external_id: str | None = None


class OutboxRow(CacheModel, table=True):
    __tablename__ = "outbox"

    seq: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(unique=True)
    conversation_id: int = Field(index=True)
    text: str
    reply_to: int | None = None
    state: str
    error: str | None = None
    created_at: str


class DraftRow(CacheModel, table=True):
    __tablename__ = "draft"

    conversation_id: int = Field(primary_key=True)
    text: str
    reply_to: int | None = None


class MetaRow(CacheModel, table=True):
    __tablename__ = "meta"

    key: str = Field(primary_key=True)
    value: str
