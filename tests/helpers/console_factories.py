"""Relay-shaped JSON and domain objects for the console's tests (storage, services, UI)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from omnidesk.domain import Conversation, Message
from omnidesk.services.wire import parse_conversation, parse_message

BASE = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

CHANNELS = {
    "whatsapp": {"id": "whatsapp:109800001", "kind": "whatsapp", "name": "Loja Centro"},
    "instagram": {"id": "instagram:17841400", "kind": "instagram", "name": "@lojacentro"},
}


def iso(minutes: float) -> str:
    return (BASE + dt.timedelta(minutes=minutes)).isoformat()


def message_json(
    id: int,
    conversation_id: int,
    text: str | None = "hello",
    *,
    direction: str = "in",
    author: str = "customer",
    type: str = "text",
    status: str = "received",
    minute: float | None = None,
    reply_to: int | None = None,
    payload: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    stamp = iso(minute if minute is not None else id)
    return {
        "id": id,
        "conversation_id": conversation_id,
        "direction": direction,
        "author": author,
        "type": type,
        "text": text,
        "payload": payload or {},
        "reply_to": reply_to,
        "status": status,
        "error": error,
        "created_at": stamp,
        "updated_at": stamp,
        "external_id": f"wamid.{id}",
    }


def conversation_json(
    id: int,
    name: str = "Ana Souza",
    *,
    channel: str = "whatsapp",
    status: str = "open",
    mode: str = "bot",
    assignee: str | None = None,
    unread: int = 0,
    last: dict[str, Any] | None = None,
    minute: float | None = None,
    handle: str | None = None,
) -> dict[str, Any]:
    return {
        "id": id,
        "channel": CHANNELS[channel],
        "contact": {"id": 1000 + id, "name": name, "handle": handle or f"+55 11 9{id:04d}-0000"},
        "status": status,
        "mode": mode,
        "assignee": assignee,
        "handoff_reason": None,
        "last_message": last,
        "unread_count": unread,
        "updated_at": iso(minute if minute is not None else id),
    }


def message(id: int, conversation_id: int, text: str | None = "hello", **kw: Any) -> Message:
    return parse_message(message_json(id, conversation_id, text, **kw))


def conversation(id: int, name: str = "Ana Souza", **kw: Any) -> Conversation:
    return parse_conversation(conversation_json(id, name, **kw))


def event_json(
    id: int, *, message: dict[str, Any] | None = None, conversation: dict[str, Any] | None = None
) -> dict[str, Any]:
    if message is not None:
        return {
            "id": id,
            "type": "message.created",
            "conversation_id": message["conversation_id"],
            "message_id": message["id"],
            "data": {"message": message},
        }
    assert conversation is not None
    return {
        "id": id,
        "type": "conversation.updated",
        "conversation_id": conversation["id"],
        "message_id": None,
        "data": {"conversation": conversation},
    }
