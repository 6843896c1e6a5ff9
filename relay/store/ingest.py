"""Storing what a signed webhook said, in the transaction that precedes Meta's 200.

Idempotent by construction: a message is inserted unless (channel, Meta id) already exists,
a status unless (channel, Meta id, status) already exists, and a duplicate causes no event
and no other side effect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from sqlalchemy import Connection, insert, select, update

from relay.store.events import append_event
from relay.store.sql import insert_ignore, upsert
from relay.store.tables import (
    channels,
    contacts,
    conversations,
    messages,
    status_receipts,
    unsupported_payloads,
    utcnow,
)
from relay.store.views import load_conversation, load_message
from relay.webhooks.records import (
    ChannelRef,
    InboundMessage,
    Record,
    StatusUpdate,
    Unsupported,
)

# Meta's statuses in the order a message moves through them; failed is terminal.
STATUS_RANK = {
    "queued": 0,
    "sending": 1,
    "unconfirmed": 1,
    "sent": 2,
    "delivered": 3,
    "read": 4,
    "played": 5,
    "failed": 99,
}
# Inbound types that say nothing new for the agent to read.
_NOT_UNREAD = {"reaction", "system", "unsupported"}


@dataclass
class IngestResult:
    """What one webhook changed: new inbound message ids (the bot bridge needs them)."""

    new_messages: list[int] = field(default_factory=list)
    statuses_applied: int = 0
    duplicates: int = 0
    unsupported: int = 0
    events: int = 0


def aware(stamp: datetime) -> datetime:
    """Records carry naive UTC; the store keeps aware UTC."""
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def e164(raw: str) -> str:
    """WhatsApp writes numbers as bare digits with country code; show them in E.164."""
    try:
        number = phonenumbers.parse("+" + raw.lstrip("+"))
    except phonenumbers.NumberParseException:
        return raw
    if not phonenumbers.is_possible_number(number):
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def ensure_channel(conn: Connection, ref: ChannelRef) -> str:
    stmt = upsert(conn, channels).values(
        id=ref.id,
        kind=ref.kind,
        external_id=ref.external_id,
        name=ref.display_number or ref.external_id,
        display_number=ref.display_number,
        created_at=utcnow(),
    )
    conn.execute(stmt.on_conflict_do_nothing())
    return ref.id


def _ensure_contact(conn: Connection, msg: InboundMessage, channel_id: str) -> int:
    handle = e164(msg.customer_handle) if msg.channel.kind == "whatsapp" else msg.customer_handle
    stmt = upsert(conn, contacts).values(
        channel_id=channel_id, external_id=msg.customer_id, name=msg.customer_name, handle=handle
    )
    if msg.customer_name and msg.direction == "in":  # keep the customer's latest profile name
        stmt = stmt.on_conflict_do_update(
            index_elements=["channel_id", "external_id"], set_={"name": msg.customer_name}
        )
    else:
        stmt = stmt.on_conflict_do_nothing()
    conn.execute(stmt)
    found = select(contacts.c.id).where(
        contacts.c.channel_id == channel_id, contacts.c.external_id == msg.customer_id
    )
    return int(conn.execute(found).scalar_one())


def ensure_conversation(
    conn: Connection, channel_id: str, contact_id: int, default_mode: str
) -> tuple[int, bool]:
    """The conversation of (channel, customer), and whether it was just created."""
    new_id = insert_ignore(
        conn,
        conversations,
        {
            "channel_id": channel_id,
            "contact_id": contact_id,
            "mode": default_mode,
            "updated_at": utcnow(),
        },
    )
    if new_id is not None:
        return int(new_id), True
    found = select(conversations.c.id).where(
        conversations.c.channel_id == channel_id, conversations.c.contact_id == contact_id
    )
    return int(conn.execute(found).scalar_one()), False


def find_message_id(conn: Connection, channel_id: str, external_id: str | None) -> int | None:
    if not external_id:
        return None
    query = select(messages.c.id).where(
        messages.c.channel_id == channel_id, messages.c.external_id == external_id
    )
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


def _store_message(
    conn: Connection, msg: InboundMessage, default_mode: str, result: IngestResult
) -> None:
    channel_id = ensure_channel(conn, msg.channel)
    if find_message_id(conn, channel_id, msg.external_id) is not None:
        result.duplicates += 1  # cheap pre-check; the unique key below is the real guard
        return
    contact_id = _ensure_contact(conn, msg, channel_id)
    conversation_id, _ = ensure_conversation(conn, channel_id, contact_id, default_mode)
    inbound = msg.direction == "in"
    message_id = insert_ignore(
        conn,
        messages,
        {
            "conversation_id": conversation_id,
            "channel_id": channel_id,
            "external_id": msg.external_id,
            "direction": msg.direction,
            "author": "customer" if inbound else "agent:instagram",
            "type": msg.type,
            "text": msg.text,
            "payload": msg.payload,
            "reply_to": find_message_id(conn, channel_id, msg.reply_to_external),
            "reply_to_external": msg.reply_to_external,
            "status": "received" if inbound else "sent",
            "created_at": aware(msg.timestamp),
            "updated_at": utcnow(),
        },
    )
    if message_id is None:
        result.duplicates += 1
        return
    _touch_conversation(conn, conversation_id, message_id, msg)
    result.new_messages.append(message_id)
    append_event(
        conn,
        "message.created",
        conversation_id=conversation_id,
        message_id=message_id,
        data={"message": load_message(conn, message_id)},
    )
    emit_conversation(conn, conversation_id)
    result.events += 2


def _touch_conversation(
    conn: Connection, conversation_id: int, message_id: int, msg: InboundMessage
) -> None:
    values: dict[str, Any] = {"last_message_id": message_id, "updated_at": utcnow()}
    if msg.direction == "in" and msg.type not in _NOT_UNREAD:
        current = conn.execute(
            select(conversations.c.status, conversations.c.last_inbound_at).where(
                conversations.c.id == conversation_id
            )
        ).one()
        values["unread_count"] = conversations.c.unread_count + 1
        # The 24-hour window runs from Meta's timestamp: a retry may arrive hours late.
        stamp = aware(msg.timestamp)
        if current.last_inbound_at is None or current.last_inbound_at < stamp:
            values["last_inbound_at"] = stamp
        if current.status == "resolved":  # a customer writing again reopens it
            values["status"] = "open"
    conn.execute(
        update(conversations).where(conversations.c.id == conversation_id).values(**values)
    )


def emit_conversation(conn: Connection, conversation_id: int) -> None:
    append_event(
        conn,
        "conversation.updated",
        conversation_id=conversation_id,
        data={"conversation": load_conversation(conn, conversation_id)},
    )


def _store_status(conn: Connection, status: StatusUpdate, result: IngestResult) -> None:
    channel_id = ensure_channel(conn, status.channel)
    receipt = insert_ignore(
        conn,
        status_receipts,
        {
            "channel_id": channel_id,
            "external_id": status.external_id,
            "status": status.status,
            "timestamp": aware(status.timestamp),
            "error_code": status.error_code,
        },
    )
    if receipt is None:
        result.duplicates += 1
        return
    message_id = find_message_id(conn, channel_id, status.external_id)
    if message_id is None and status.callback_data and status.callback_data.isdigit():
        # Our own id echoed back: the send whose answer a crash cut off reached Meta after all.
        message_id = _claim_by_callback(conn, channel_id, int(status.callback_data), status)
    if message_id is None:
        return  # kept as a receipt; applied when the send's answer names this Meta id
    if apply_status(
        conn, message_id, status.status, status.error_code, status.error_title, status.error_detail
    ):
        result.statuses_applied += 1
        result.events += 1


def _claim_by_callback(
    conn: Connection, channel_id: str, message_id: int, status: StatusUpdate
) -> int | None:
    claimed = conn.execute(
        update(messages)
        .where(
            messages.c.id == message_id,
            messages.c.channel_id == channel_id,
            messages.c.direction == "out",
            messages.c.external_id.is_(None),
        )
        .values(external_id=status.external_id)
    )
    return message_id if claimed.rowcount else None


def apply_status(
    conn: Connection,
    message_id: int,
    status: str,
    error_code: int | None = None,
    error_title: str | None = None,
    error_detail: str | None = None,
) -> bool:
    """Move an outgoing message forward to `status`; never backwards, never out of failed."""
    current = conn.execute(select(messages.c.status).where(messages.c.id == message_id)).scalar()
    if current is None or current == "failed" or current == "received":
        return False
    if STATUS_RANK.get(status, -1) <= STATUS_RANK.get(current, 0):
        return False
    values: dict[str, Any] = {"status": status, "updated_at": utcnow(), "next_attempt_at": None}
    if status == "failed":
        values |= {
            "error_code": error_code,
            "error_title": error_title,
            "error_detail": error_detail,
        }
    conn.execute(update(messages).where(messages.c.id == message_id).values(**values))
    row = load_message(conn, message_id)
    assert row is not None
    append_event(
        conn,
        "message.updated",
        conversation_id=row["conversation_id"],
        message_id=message_id,
        data={"message": row},
    )
    return True


def apply_pending_receipts(
    conn: Connection, message_id: int, channel_id: str, external_id: str
) -> None:
    """Statuses that arrived before we learnt the Meta id of our own send."""
    query = select(status_receipts).where(
        status_receipts.c.channel_id == channel_id, status_receipts.c.external_id == external_id
    )
    for receipt in conn.execute(query).mappings():
        apply_status(conn, message_id, receipt["status"], receipt["error_code"])


def _store_unsupported(conn: Connection, record: Unsupported, result: IngestResult) -> None:
    conn.execute(insert(unsupported_payloads).values(reason=record.reason[:500], raw=record.raw))
    result.unsupported += 1


def ingest(
    records: Sequence[Record],
    *,
    default_mode: str,
    after_message: Callable[[Connection, int], None] | None = None,
) -> Callable[[Connection], IngestResult]:
    """A store function that keeps every record of one webhook (see `Database.write`).

    `after_message` runs in the same transaction for every new inbound message: the bot
    bridge uses it to put the message in its outbox atomically with the message itself.
    """

    def run(conn: Connection) -> IngestResult:
        result = IngestResult()
        for record in records:
            if isinstance(record, InboundMessage):
                before = len(result.new_messages)
                _store_message(conn, record, default_mode, result)
                if after_message and record.direction == "in" and len(result.new_messages) > before:
                    after_message(conn, result.new_messages[-1])
            elif isinstance(record, StatusUpdate):
                _store_status(conn, record, result)
            else:
                _store_unsupported(conn, record, result)
        return result

    return run


def keep_raw(reason: str, raw: bytes) -> Callable[[Connection], IngestResult]:
    """Keep a signed body that could not be normalised at all."""
    record = Unsupported(reason=reason, raw=raw.decode("utf-8", "replace"))
    return ingest([record], default_mode="human")
