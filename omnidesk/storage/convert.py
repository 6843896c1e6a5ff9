"""Rows <-> domain objects, at the edge of storage."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from omnidesk.domain import (
    Channel,
    ChannelKind,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageError,
    MessageStatus,
    Mode,
    OutboxItem,
    OutboxState,
)


def ts(value: dt.datetime) -> str:
    """Fixed-format UTC text, sortable as text."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def parse_ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def message_to_dict(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "direction": m.direction.value,
        "author": m.author,
        "type": m.type,
        "text": m.text,
        "body": m.body,
        "payload_json": json.dumps(m.payload, ensure_ascii=False),
        "reply_to": m.reply_to,
        "status": m.status.value,
        "error_json": (
            json.dumps({"code": m.error.code, "title": m.error.title, "detail": m.error.detail})
            if m.error
            else None
        ),
        "created_at": ts(m.created_at),
        "updated_at": ts(m.updated_at),
        "external_id": m.external_id,
    }


def message_from_mapping(r: Any) -> Message:
    error = None
    if r["error_json"]:
        e = json.loads(r["error_json"])
        error = MessageError(
            code=e.get("code"), title=e.get("title", ""), detail=e.get("detail", "")
        )
    return Message(
        id=r["id"],
        conversation_id=r["conversation_id"],
        direction=Direction(r["direction"]),
        author=r["author"],
        type=r["type"],
        text=r["text"],
        payload=json.loads(r["payload_json"] or "{}"),
        reply_to=r["reply_to"],
        status=MessageStatus(r["status"]),
        error=error,
        created_at=parse_ts(r["created_at"]),
        updated_at=parse_ts(r["updated_at"]),
        external_id=r["external_id"],
    )


def conversation_to_dict(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id,
        "channel_id": c.channel.id,
        "channel_kind": c.channel.kind.value,
        "channel_name": c.channel.name,
        "contact_id": c.contact.id,
        "contact_name": c.contact.name,
        "contact_handle": c.contact.handle,
        "status": c.status.value,
        "mode": c.mode.value,
        "assignee": c.assignee,
        "handoff_reason": c.handoff_reason,
        "last_message_json": (
            json.dumps(message_to_dict(c.last_message), ensure_ascii=False)
            if c.last_message
            else None
        ),
        "unread_count": c.unread_count,
        "updated_at": ts(c.updated_at),
    }


def conversation_from_mapping(r: Any) -> Conversation:
    last = (
        message_from_mapping(json.loads(r["last_message_json"])) if r["last_message_json"] else None
    )
    return Conversation(
        id=r["id"],
        channel=Channel(
            id=r["channel_id"], kind=ChannelKind.parse(r["channel_kind"]), name=r["channel_name"]
        ),
        contact=Contact(id=r["contact_id"], name=r["contact_name"], handle=r["contact_handle"]),
        status=ConversationStatus(r["status"]),
        mode=Mode(r["mode"]),
        assignee=r["assignee"],
        handoff_reason=r["handoff_reason"],
        last_message=last,
        unread_count=r["unread_count"],
        updated_at=parse_ts(r["updated_at"]),
    )


def outbox_from_mapping(r: Any) -> OutboxItem:
    return OutboxItem(
        client_id=r["client_id"],
        conversation_id=r["conversation_id"],
        text=r["text"],
        reply_to=r["reply_to"],
        state=OutboxState(r["state"]),
        created_at=parse_ts(r["created_at"]),
        error=r["error"],
        seq=r["seq"],
    )
