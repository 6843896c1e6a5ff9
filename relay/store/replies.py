"""Texts the relay sends on someone's behalf (an agent, the bot), put in the send queue.

Agents' replies and the bot's go through `queue_text`, so both store, order and announce a
message the same way. It runs in few statements, all prepared (`relay.store.sql.prepared`):
bot replies are most of the writer's work when the bot is busy.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from relay.store.conversations import Invalid, NotFound
from relay.store.database import StoreFn
from relay.store.events import append_event
from relay.store.outgoing import RECIPIENT_COLUMNS, SendJob, nothing_to_send_before, send_job
from relay.store.sql import Row, prepared
from relay.store.tables import conversations, messages, utcnow
from relay.store.views import conversation_query, conversation_view, load_message, message_view


def queue_reply(
    conversation_id: int,
    *,
    author: str,
    text: str,
    reply_to: int | None,
    idempotency_key: str | None,
) -> StoreFn[tuple[dict[str, Any], bool]]:
    """An agent's reply, stored as queued: the sender delivers it after the commit.

    Returns (message view, created). The same idempotency key returns the message it made.
    """

    def run(conn: Connection) -> tuple[dict[str, Any], bool]:
        if idempotency_key:
            existing = sent_with_key(conn, idempotency_key, conversation_id)
            if existing is not None:
                found = load_message(conn, existing)
                assert found is not None
                return found, False
        conversation = conversation_to_answer(conn, conversation_id)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id} does not exist")
        reply_external = None
        if reply_to is not None:
            target = quoted_message(conn, reply_to)
            if target is None or target.conversation_id != conversation_id:
                raise Invalid(f"reply_to {reply_to} is not a message of this conversation")
            reply_external = target.external_id
        view, _ = queue_text(
            conn,
            conversation,
            author=author,
            text=text,
            reply_to=reply_to,
            reply_external=reply_external,
            idempotency_key=idempotency_key,
            claim=False,
        )
        return view, True

    return run


def queue_text(
    conn: Connection,
    conversation: Mapping[str, Any],
    *,
    author: str,
    text: str,
    reply_to: int | None,
    reply_external: str | None,
    idempotency_key: str | None,
    claim: bool,
) -> tuple[dict[str, Any], SendJob | None]:
    """Store a text in its conversation's send queue and tell the event stream: its view,
    and its send when it was claimed as it was stored.

    `conversation` is its `conversation_to_answer` row: the events are built from it and
    from RETURNING rows, nothing is read back. With `claim`, a text with nothing before it
    in its conversation's queue is stored as `sending` and its send returned for the caller
    to hand to the sender (a write and a wake-up saved); otherwise it waits as `queued`.
    """
    claimed = claim and nothing_to_send_before(conn, conversation["id"])
    now = utcnow()
    created = _insert_message.run(
        conn,
        {
            "conversation_id": conversation["id"],
            "channel_id": conversation["channel_id"],
            "direction": "out",
            "author": author,
            "type": "text",
            "text": text,
            "payload": {},
            "reply_to": reply_to,
            "reply_to_external": reply_external,
            "status": "sending" if claimed else "queued",
            "send_attempts": 1 if claimed else 0,
            "idempotency_key": idempotency_key,
            "created_at": now,
            "updated_at": now,
        },
    ).one()
    view = message_view(created)
    params = {"conversation_id": conversation["id"], "last_message_id": created.id, "now": now}
    updated = _touch_conversation.run(conn, params).one()
    append_event(
        conn,
        "message.created",
        conversation_id=conversation["id"],
        message_id=created.id,
        data={"message": view},
    )
    names = {
        name: conversation[name]
        for name in ("channel_kind", "channel_name", "contact_name", "contact_handle")
    }
    append_event(
        conn,
        "conversation.updated",
        conversation_id=conversation["id"],
        data={"conversation": conversation_view({**updated, **names}, view)},
    )
    return view, send_job(created, conversation) if claimed else None


def conversation_to_answer(conn: Connection, conversation_id: int) -> Row | None:
    """The conversation with what `queue_text` needs: its view's columns and its recipient."""
    return _conversation_to_answer.run(conn, {"id": conversation_id}).first()


def quoted_message(conn: Connection, message_id: int) -> Row | None:
    """The conversation and Meta id of a message a reply quotes (None if there is none)."""
    return _quoted.run(conn, {"id": message_id}).first()


def sent_with_key(conn: Connection, idempotency_key: str, conversation_id: int) -> int | None:
    """The message an idempotency key already made, if any (in this conversation only)."""
    existing = _by_idempotency_key.run(conn, {"key": idempotency_key}).first()
    if existing is None:
        return None
    if existing.conversation_id != conversation_id:
        raise Invalid("Idempotency-Key was already used for another conversation")
    return int(existing.id)


@prepared
def _conversation_to_answer(_d: ModuleType) -> Any:
    query = conversation_query().add_columns(*RECIPIENT_COLUMNS)
    return query.where(conversations.c.id == bindparam("id"))


@prepared
def _quoted(_d: ModuleType) -> Any:
    return select(messages.c.conversation_id, messages.c.external_id).where(
        messages.c.id == bindparam("id")
    )


@prepared
def _by_idempotency_key(_d: ModuleType) -> Any:
    return select(messages.c.id, messages.c.conversation_id).where(
        messages.c.idempotency_key == bindparam("key")
    )


@prepared
def _insert_message(_d: ModuleType) -> Any:
    return insert(messages).returning(*messages.c)


@prepared
def _touch_conversation(_d: ModuleType) -> Any:
    return (
        update(conversations)
        .where(conversations.c.id == bindparam("conversation_id"))
        .values(last_message_id=bindparam("last_message_id"), updated_at=bindparam("now"))
        .returning(*conversations.c)
    )
