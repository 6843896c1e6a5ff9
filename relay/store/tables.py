"""The relay's tables. Every row the relay acknowledged to Meta or to an agent lives here.

Unique keys carry the idempotency rules: a Meta message id is stored once per channel,
a status once per (message, status), an agent's Idempotency-Key once per agent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, Table, UniqueConstraint, text
from sqlmodel import Field, SQLModel

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for a log that grows.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Channel(SQLModel, table=True):
    """A WhatsApp business number or an Instagram account: the key Meta routes by."""

    id: str = Field(primary_key=True)  # "whatsapp:<phone_number_id>" or "instagram:<ig id>"
    kind: str  # whatsapp | instagram
    external_id: str
    name: str = ""
    display_number: str | None = None
    access_token: str | None = None  # overrides OMNIDESK_META_ACCESS_TOKEN for this channel
    created_at: datetime = Field(default_factory=utcnow)


class Contact(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("channel_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = Field(foreign_key="channel.id")
    external_id: str  # wa_id / BSUID, or Instagram-scoped id
    name: str = ""
    handle: str = ""  # E.164 number for WhatsApp, IGSID or username for Instagram


class Conversation(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("channel_id", "contact_id"),
        Index("ix_conversation_activity", "updated_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = Field(foreign_key="channel.id")
    contact_id: int = Field(foreign_key="contact.id")
    status: str = "open"  # open | pending | resolved
    mode: str = "human"  # bot | human
    assignee: str | None = None
    handoff_reason: str | None = None
    unread_count: int = 0
    last_message_id: int | None = None
    last_inbound_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id"),
        UniqueConstraint("idempotency_key"),
        Index("ix_message_conversation", "conversation_id", "id"),
        # The sender's queue: a handful of rows among millions of received messages.
        Index(
            "ix_message_queued",
            "id",
            sqlite_where=text("status = 'queued'"),
            postgresql_where=text("status = 'queued'"),
        ),
        # A conversation's place in that queue, and its sends in flight: one message is
        # sent at a time, in order (relay.store.outgoing).
        Index(
            "ix_message_queued_conversation",
            "conversation_id",
            "id",
            sqlite_where=text("status = 'queued'"),
            postgresql_where=text("status = 'queued'"),
        ),
        Index(
            "ix_message_sending",
            "conversation_id",
            sqlite_where=text("status = 'sending'"),
            postgresql_where=text("status = 'sending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    channel_id: str = Field(foreign_key="channel.id")
    external_id: str | None = None  # Meta's id (wamid / mid); None until a send returns it
    direction: str  # in | out
    author: str  # customer | agent:<name> | bot
    type: str  # text | image | ... | reaction | unsupported
    text: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reply_to: int | None = None  # our id of the message this one answers
    reply_to_external: str | None = None  # Meta's id of it, kept when we do not have it (yet)
    # Outgoing: queued | sending | unconfirmed | sent | delivered | read | failed.
    # Incoming: received. Suppressed bot drafts: suppressed.
    status: str = "received"
    error_code: int | None = None
    error_title: str | None = None
    error_detail: str | None = None
    idempotency_key: str | None = None
    send_attempts: int = 0
    next_attempt_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)  # Meta's timestamp for inbound
    updated_at: datetime = Field(default_factory=utcnow)


class StatusReceipt(SQLModel, table=True):
    """Each (message, status) Meta reported, once: dedupes retries and keeps what came first."""

    __table_args__ = (UniqueConstraint("channel_id", "external_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str
    external_id: str
    status: str
    timestamp: datetime
    error_code: int | None = None
    received_at: datetime = Field(default_factory=utcnow)


class UnsupportedPayload(SQLModel, table=True):
    """A signed webhook (or part of one) the relay could not understand, kept verbatim."""

    id: int | None = Field(default=None, primary_key=True)
    reason: str
    raw: str
    received_at: datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    """The event log behind `GET /v1/events`: ids increase in commit order."""

    id: int | None = Field(
        default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True)
    )
    type: str
    conversation_id: int | None = None
    message_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Agent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    token_hash: str = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class BotOutbox(SQLModel, table=True):
    """What the bot must receive, written in the transaction that stored its cause.

    A row leaves the outbox only when RabbitMQ confirmed it: at least once, whatever fails.
    """

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int
    amqp_message_id: str  # the relay's message id (or "handback-<n>"): bots drop duplicates by it
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = Field(default=None, index=True)


class BotReply(SQLModel, table=True):
    """Each bot message acted on, by its id: a redelivered AMQP message is recognised."""

    key: str = Field(primary_key=True)
    conversation_id: int
    outcome: str  # queued | suppressed | handoff
    message_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


# Core handles: the store's hot paths use SQL expressions, not ORM sessions.
channels = _table(Channel)
contacts = _table(Contact)
conversations = _table(Conversation)
messages = _table(Message)
status_receipts = _table(StatusReceipt)
unsupported_payloads = _table(UnsupportedPayload)
events = _table(Event)
agents = _table(Agent)
bot_outbox = _table(BotOutbox)
bot_replies = _table(BotReply)
