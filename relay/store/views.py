"""Rows as the agent API and the event stream show them: one shape for both."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from relay.store.tables import channels, contacts, conversations, messages


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:  # the store's own datetimes already are: skip the conversion
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def message_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    error = None
    if row["status"] == "failed" or row["error_code"] is not None or row["error_title"]:
        error = {
            "code": row["error_code"],
            "title": row["error_title"] or "",
            "detail": row["error_detail"] or "",
        }
    return {
        "id": row["id"],
        "conversation_id": row["conversation_id"],
        "direction": row["direction"],
        "author": row["author"],
        "type": row["type"],
        "text": row["text"],
        "payload": row["payload"],
        "reply_to": row["reply_to"],
        "status": row["status"],
        "error": error,
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "external_id": row["external_id"],
    }


def load_message(conn: Connection, message_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(messages).where(messages.c.id == message_id)).mappings().first()
    return None if row is None else message_view(row)


CONVERSATION_COLUMNS: list[Any] = [
    conversations,
    channels.c.kind.label("channel_kind"),
    channels.c.name.label("channel_name"),
    contacts.c.name.label("contact_name"),
    contacts.c.handle.label("contact_handle"),
]


def conversation_query() -> Any:
    return (
        select(*CONVERSATION_COLUMNS)
        .join(channels, channels.c.id == conversations.c.channel_id)
        .join(contacts, contacts.c.id == conversations.c.contact_id)
    )


def conversation_view(
    row: Mapping[Any, Any], last_message: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "channel": {
            "id": row["channel_id"],
            "kind": row["channel_kind"],
            "name": row["channel_name"],
        },
        "contact": {
            "id": row["contact_id"],
            "name": row["contact_name"],
            "handle": row["contact_handle"],
        },
        "status": row["status"],
        "mode": row["mode"],
        "assignee": row["assignee"],
        "handoff_reason": row["handoff_reason"],
        "last_message": last_message,
        "unread_count": row["unread_count"],
        "updated_at": iso(row["updated_at"]),
    }


def load_conversations(conn: Connection, rows: list[RowMapping]) -> list[dict[str, Any]]:
    """Views of conversation rows, with their last messages fetched in one query."""
    last_ids = [r["last_message_id"] for r in rows if r["last_message_id"] is not None]
    last = {}
    if last_ids:
        found = conn.execute(select(messages).where(messages.c.id.in_(last_ids))).mappings()
        last = {m["id"]: message_view(m) for m in found}
    return [conversation_view(r, last.get(r["last_message_id"])) for r in rows]


def load_conversation(conn: Connection, conversation_id: int) -> dict[str, Any] | None:
    query = conversation_query().where(conversations.c.id == conversation_id)
    row = conn.execute(query).mappings().first()
    return None if row is None else load_conversations(conn, [row])[0]
