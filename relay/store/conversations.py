"""What agents do to conversations: list, page, reply, change status, read, take over."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from relay.store.database import StoreFn
from relay.store.events import append_event
from relay.store.ingest import emit_conversation
from relay.store.tables import conversations, messages, utcnow
from relay.store.views import (
    conversation_query,
    load_conversation,
    load_conversations,
    message_view,
)


class NotFound(Exception):
    """The conversation or message does not exist."""


class Invalid(Exception):
    """The request names something that cannot be done; the message says why."""


class Owned(Exception):
    """Another agent already owns the conversation."""

    def __init__(self, owner: str) -> None:
        super().__init__(f"{owner} owns this conversation")
        self.owner = owner


@dataclass(frozen=True)
class ConversationFilter:
    channel: str | None = None
    status: str | None = None
    mode: str | None = None
    assignee: str | None = None  # an agent name, or "" for unassigned


def encode_cursor(updated_at: datetime, conversation_id: int) -> str:
    raw = f"{updated_at.isoformat()}|{conversation_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        return datetime.fromisoformat(stamp), int(ident)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("cursor is not one this relay handed out") from exc


def list_conversations(
    filters: ConversationFilter, cursor: str | None, limit: int
) -> StoreFn[dict[str, Any]]:
    def run(conn: Connection) -> dict[str, Any]:
        query = conversation_query()
        if filters.channel:
            query = query.where(conversations.c.channel_id == filters.channel)
        if filters.status:
            query = query.where(conversations.c.status == filters.status)
        if filters.mode:
            query = query.where(conversations.c.mode == filters.mode)
        if filters.assignee is not None:
            query = query.where(
                conversations.c.assignee.is_(None)
                if filters.assignee == ""
                else conversations.c.assignee == filters.assignee
            )
        if cursor:
            stamp, ident = decode_cursor(cursor)
            query = query.where(
                or_(
                    conversations.c.updated_at < stamp,
                    and_(conversations.c.updated_at == stamp, conversations.c.id < ident),
                )
            )
        query = query.order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
        rows = list(conn.execute(query.limit(limit + 1)).mappings())
        page = rows[:limit]
        next_cursor = (
            encode_cursor(page[-1]["updated_at"], page[-1]["id"]) if len(rows) > limit else None
        )
        return {"items": load_conversations(conn, page), "next_cursor": next_cursor}

    return run


def get_conversation(conversation_id: int) -> StoreFn[dict[str, Any]]:
    def run(conn: Connection) -> dict[str, Any]:
        found = load_conversation(conn, conversation_id)
        if found is None:
            raise NotFound(f"conversation {conversation_id} does not exist")
        return found

    return run


def list_messages(
    conversation_id: int, before: int | None, after: int | None, limit: int
) -> StoreFn[dict[str, Any]]:
    def run(conn: Connection) -> dict[str, Any]:
        require_conversation(conn, conversation_id)
        query = select(messages).where(messages.c.conversation_id == conversation_id)
        if after is not None:
            query = query.where(messages.c.id > after).order_by(messages.c.id.asc())
        else:
            if before is not None:
                query = query.where(messages.c.id < before)
            query = query.order_by(messages.c.id.desc())
        rows = list(conn.execute(query.limit(limit + 1)).mappings())
        page = rows[:limit]
        if after is None:
            page.reverse()
        return {"items": [message_view(r) for r in page], "has_more": len(rows) > limit}

    return run


def require_conversation(conn: Connection, conversation_id: int) -> Any:
    """The conversation's row, or NotFound."""
    row = (
        conn.execute(select(conversations).where(conversations.c.id == conversation_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return row


def add_message(
    conn: Connection, *, conversation_id: int, channel_id: str, **values: Any
) -> dict[str, Any]:
    """Store a message the relay itself writes (a reply, a draft, an activity line) and tell
    the event stream; returns its view."""
    now = utcnow()
    row = (
        conn.execute(
            insert(messages)
            .values(
                conversation_id=conversation_id,
                channel_id=channel_id,
                created_at=now,
                updated_at=now,
                **values,
            )
            .returning(*messages.c)
        )
        .mappings()
        .one()
    )
    view = message_view(row)
    append_event(
        conn,
        "message.created",
        conversation_id=conversation_id,
        message_id=view["id"],
        data={"message": view},
    )
    return view


def set_status(conversation_id: int, status: str) -> StoreFn[dict[str, Any]]:
    def run(conn: Connection) -> dict[str, Any]:
        current = require_conversation(conn, conversation_id)
        if current["status"] != status:
            conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(status=status, updated_at=utcnow())
            )
            emit_conversation(conn, conversation_id)
        return _view(conn, conversation_id)

    return run


def mark_read(conversation_id: int) -> StoreFn[tuple[dict[str, Any], str | None]]:
    """Clear the unread count; returns the view and the newest inbound Meta id (for receipts)."""

    def run(conn: Connection) -> tuple[dict[str, Any], str | None]:
        current = require_conversation(conn, conversation_id)
        if current["unread_count"]:
            conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(unread_count=0)
            )
            emit_conversation(conn, conversation_id)
        newest_inbound = conn.execute(
            select(messages.c.external_id)
            .where(
                messages.c.conversation_id == conversation_id,
                messages.c.direction == "in",
                messages.c.external_id.is_not(None),
            )
            .order_by(messages.c.id.desc())
            .limit(1)
        ).scalar()
        return _view(conn, conversation_id), None if newest_inbound is None else str(newest_inbound)

    return run


def _view(conn: Connection, conversation_id: int) -> dict[str, Any]:
    found = load_conversation(conn, conversation_id)
    assert found is not None
    return found
