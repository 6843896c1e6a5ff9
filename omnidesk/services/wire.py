"""The relay's JSON -> domain objects. Anything malformed raises ``RelayProtocolError``."""

from __future__ import annotations

import datetime as dt
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
    RelayEvent,
)
from omnidesk.services.errors import RelayProtocolError


def _ts(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise RelayProtocolError(f"expected a timestamp, got {value!r}")
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def parse_message(raw: Any) -> Message:
    try:
        err = raw.get("error")
        error = (
            MessageError(
                code=err.get("code"),
                title=str(err.get("title", "")),
                detail=str(err.get("detail", "")),
            )
            if isinstance(err, dict)
            else None
        )
        payload = raw.get("payload") or {}
        if not isinstance(payload, dict):
            raise RelayProtocolError("payload is not an object")
        return Message(
            id=int(raw["id"]),
            conversation_id=int(raw["conversation_id"]),
            direction=Direction(raw["direction"]),
            author=str(raw["author"]),
            type=str(raw["type"]),
            text=raw.get("text") if isinstance(raw.get("text"), str) else None,
            payload=payload,
            reply_to=int(raw["reply_to"]) if raw.get("reply_to") is not None else None,
            status=MessageStatus.parse(str(raw["status"])),
            error=error,
            created_at=_ts(raw["created_at"]),
            updated_at=_ts(raw.get("updated_at") or raw["created_at"]),
            external_id=raw.get("external_id"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RelayProtocolError(f"bad message: {exc!r}") from exc


def parse_conversation(raw: Any) -> Conversation:
    try:
        ch = raw["channel"]
        co = raw["contact"]
        last = raw.get("last_message")
        return Conversation(
            id=int(raw["id"]),
            channel=Channel(
                id=str(ch["id"]), kind=ChannelKind.parse(str(ch["kind"])), name=str(ch["name"])
            ),
            contact=Contact(id=int(co["id"]), name=str(co["name"]), handle=str(co["handle"])),
            status=ConversationStatus(raw["status"]),
            mode=Mode(raw["mode"]),
            assignee=raw.get("assignee"),
            handoff_reason=raw.get("handoff_reason"),
            last_message=parse_message(last) if last else None,
            unread_count=int(raw.get("unread_count") or 0),
            updated_at=_ts(raw["updated_at"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RelayProtocolError(f"bad conversation: {exc!r}") from exc


def parse_event(raw: Any) -> RelayEvent:
    try:
        ev_id = int(raw["id"])
        kind = str(raw["type"])
        data = raw.get("data") or {}
        messages = (parse_message(data["message"]),) if "message" in data else ()
        conversations = (
            (parse_conversation(data["conversation"]),) if "conversation" in data else ()
        )
        conv_id = raw.get("conversation_id")
        msg_id = raw.get("message_id")
        return RelayEvent(
            id=ev_id,
            type=kind,
            conversation_id=int(conv_id) if conv_id is not None else None,
            message_id=int(msg_id) if msg_id is not None else None,
            messages=messages,
            conversations=conversations,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RelayProtocolError(f"bad event: {exc!r}") from exc
