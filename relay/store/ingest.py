"""Storing what a signed webhook said, in the transaction that precedes Meta's 200.

Idempotent by construction: a message is inserted unless (channel, Meta id) already exists,
a status unless (channel, Meta id, status) already exists, and a duplicate causes no event
and no other side effect.

This is the relay's hot path, so it runs few statements, all prepared once (see
`relay.store.sql.prepared`), and builds the event snapshots from values it already holds.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import phonenumbers
from sqlalchemy import Boolean, Connection, bindparam, case, insert, select, update

from relay.store.events import append_event
from relay.store.sql import prepared
from relay.store.tables import (
    channels,
    contacts,
    conversations,
    messages,
    status_receipts,
    unsupported_payloads,
    utcnow,
)
from relay.store.views import conversation_view, load_conversation, message_view
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
_KNOWN_CHANNELS = "omnidesk_known_channels"
_CHANNEL_TTL_S = 5.0  # a channel renamed from the command line shows in events this soon
_KNOWN_CUSTOMERS = "omnidesk_known_customers"
_CUSTOMER_TTL_S = 60.0
_MAX_KNOWN_CUSTOMERS = 50_000

# Called in the ingest transaction for each new customer message (the bot bridge's outbox).
AfterMessage = Callable[[Connection, dict[str, Any], dict[str, Any]], None]


@dataclass
class IngestResult:
    """What one webhook changed."""

    new_messages: list[int] = field(default_factory=list)
    statuses_applied: int = 0
    duplicates: int = 0
    unsupported: int = 0
    events: int = 0


def aware(stamp: datetime) -> datetime:
    """Records carry naive UTC; the store keeps aware UTC."""
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


@functools.lru_cache(maxsize=4096)  # parsing a number costs more than storing its message
def e164(raw: str) -> str:
    """WhatsApp writes numbers as bare digits with country code; show them in E.164."""
    try:
        number = phonenumbers.parse("+" + raw.lstrip("+"))
    except phonenumbers.NumberParseException:
        return raw
    if not phonenumbers.is_possible_number(number):
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# -- channels ------------------------------------------------------------------------------


@prepared
def _channel_insert(d: ModuleType) -> Any:
    return d.insert(channels).on_conflict_do_nothing()


@prepared
def _channel_select(_d: ModuleType) -> Any:
    return select(channels.c.kind, channels.c.name).where(channels.c.id == bindparam("id"))


def ensure_channel(conn: Connection, ref: ChannelRef) -> dict[str, str]:
    """The channel's kind and name; created by the first signed webhook that names it.

    Remembered on the connection for a few seconds: channels are never deleted, and every
    webhook names one.
    """
    known: dict[str, tuple[float, dict[str, str]]] = conn.info.setdefault(_KNOWN_CHANNELS, {})
    cached = known.get(ref.id)
    if cached and time.monotonic() - cached[0] < _CHANNEL_TTL_S:
        return cached[1]
    if cached is None:
        _channel_insert.run(
            conn,
            {
                "id": ref.id,
                "kind": ref.kind,
                "external_id": ref.external_id,
                "name": ref.display_number or ref.external_id,
                "display_number": ref.display_number,
                "created_at": utcnow(),
            },
        )
    row = _channel_select.run(conn, {"id": ref.id}).one()
    channel = {"id": ref.id, "kind": row.kind, "name": row.name}
    known[ref.id] = (time.monotonic(), channel)
    return channel


# -- inbound messages ----------------------------------------------------------------------


@prepared
def _message_exists(_d: ModuleType) -> Any:
    return select(messages.c.id).where(
        messages.c.channel_id == bindparam("channel_id"),
        messages.c.external_id == bindparam("external_id"),
    )


@prepared
def _contact_upsert(d: ModuleType) -> Any:
    stmt = d.insert(contacts)
    # The customer's latest profile name wins; an empty one (Instagram, echoes) keeps ours.
    keep_name = case((stmt.excluded.name != "", stmt.excluded.name), else_=contacts.c.name)
    return stmt.on_conflict_do_update(
        index_elements=["channel_id", "external_id"], set_={"name": keep_name}
    ).returning(contacts.c.id, contacts.c.name, contacts.c.handle)


@prepared
def _conversation_upsert(d: ModuleType) -> Any:
    stmt = d.insert(conversations)
    # A no-op update, so RETURNING gives the existing row's id too.
    return stmt.on_conflict_do_update(
        index_elements=["channel_id", "contact_id"], set_={"mode": conversations.c.mode}
    ).returning(conversations.c.id)


@prepared
def _message_insert(d: ModuleType) -> Any:
    return d.insert(messages).on_conflict_do_nothing().returning(messages.c.id)


@prepared
def _conversation_touch(_d: ModuleType) -> Any:
    """The conversation moves on with a new message; RETURNING what its event shows.

    The 24-hour window runs from Meta's timestamp (a retry may arrive hours late), and a
    customer writing again reopens a resolved conversation.
    """
    c = conversations.c
    counts = bindparam("counts", type_=Boolean)
    return (
        update(conversations)
        .where(c.id == bindparam("conversation_id"))
        .values(
            last_message_id=bindparam("last_message_id"),
            updated_at=bindparam("now"),
            unread_count=c.unread_count + case((counts, 1), else_=0),
            last_inbound_at=case(
                (
                    counts
                    & (c.last_inbound_at.is_(None) | (c.last_inbound_at < bindparam("sent"))),
                    bindparam("sent"),
                ),
                else_=c.last_inbound_at,
            ),
            status=case((counts & (c.status == "resolved"), "open"), else_=c.status),
        )
        .returning(
            c.id,
            c.channel_id,
            c.contact_id,
            c.status,
            c.mode,
            c.assignee,
            c.handoff_reason,
            c.unread_count,
        )
    )


def find_message_id(conn: Connection, channel_id: str, external_id: str | None) -> int | None:
    if not external_id:
        return None
    found = _message_exists.run(
        conn,
        {"channel_id": channel_id, "external_id": external_id},
    ).scalar()
    return None if found is None else int(found)


@dataclass(frozen=True, slots=True)
class _Customer:
    contact_id: int
    name: str
    handle: str
    conversation_id: int
    seen: float  # time.monotonic() when read from the store


def _customer(
    conn: Connection, channel: dict[str, str], msg: InboundMessage, default_mode: str
) -> _Customer:
    """The customer's contact and conversation, created by their first message.

    Remembered on the connection: a customer's contact and conversation ids never change,
    so a known customer costs no statement unless their profile name changed (or was last
    read long ago: another relay process may have renamed them).
    """
    known: dict[tuple[str, str], _Customer] = conn.info.setdefault(_KNOWN_CUSTOMERS, {})
    key = (channel["id"], msg.customer_id)
    cached = known.get(key)
    if (
        cached is not None
        and msg.customer_name in ("", cached.name)
        and time.monotonic() - cached.seen < _CUSTOMER_TTL_S
    ):
        return cached
    handle = e164(msg.customer_handle) if msg.channel.kind == "whatsapp" else msg.customer_handle
    contact = _contact_upsert.run(
        conn,
        {
            "channel_id": channel["id"],
            "external_id": msg.customer_id,
            "name": msg.customer_name,
            "handle": handle,
        },
    ).one()
    conversation_id = _conversation_upsert.run(
        conn,
        {
            "channel_id": channel["id"],
            "contact_id": contact.id,
            "mode": default_mode,
            "status": "open",
            "unread_count": 0,
            "updated_at": utcnow(),
        },
    ).scalar()
    if len(known) >= _MAX_KNOWN_CUSTOMERS:
        known.clear()
    customer = _Customer(
        contact.id, contact.name, contact.handle, conversation_id, time.monotonic()
    )
    known[key] = customer
    return customer


def _store_message(
    conn: Connection,
    msg: InboundMessage,
    default_mode: str,
    result: IngestResult,
    after_message: AfterMessage | None,
) -> None:
    channel = ensure_channel(conn, msg.channel)
    inbound = msg.direction == "in"
    customer = _customer(conn, channel, msg, default_mode)
    now = utcnow()
    values: dict[str, Any] = {
        "conversation_id": customer.conversation_id,
        "channel_id": channel["id"],
        "external_id": msg.external_id,
        "direction": msg.direction,
        "author": "customer" if inbound else "agent:instagram",
        "type": msg.type,
        "text": msg.text,
        "payload": msg.payload,
        "reply_to": find_message_id(conn, channel["id"], msg.reply_to_external),
        "reply_to_external": msg.reply_to_external,
        "status": "received" if inbound else "sent",
        "error_code": None,
        "error_title": None,
        "error_detail": None,
        "idempotency_key": None,
        "send_attempts": 0,
        "next_attempt_at": None,
        "created_at": aware(msg.timestamp),
        "updated_at": now,
    }
    message_id = _message_insert.run(conn, values).scalar()
    if message_id is None:
        result.duplicates += 1
        return
    touched = _conversation_touch.run(
        conn,
        {
            "conversation_id": customer.conversation_id,
            "last_message_id": message_id,
            "now": now,
            "counts": inbound and msg.type not in _NOT_UNREAD,
            "sent": values["created_at"],
        },
    ).one()
    message = message_view({**values, "id": message_id})
    view = conversation_view(
        {
            **touched,
            "updated_at": now,
            "channel_kind": channel["kind"],
            "channel_name": channel["name"],
            "contact_name": customer.name,
            "contact_handle": customer.handle,
        },
        message,
    )
    append_event(
        conn,
        "message.created",
        conversation_id=customer.conversation_id,
        message_id=message_id,
        data={"message": message},
    )
    append_event(
        conn,
        "conversation.updated",
        conversation_id=customer.conversation_id,
        data={"conversation": view},
    )
    result.new_messages.append(message_id)
    result.events += 2
    if after_message and inbound:
        after_message(conn, message, view)


def emit_conversation(conn: Connection, conversation_id: int) -> None:
    append_event(
        conn,
        "conversation.updated",
        conversation_id=conversation_id,
        data={"conversation": load_conversation(conn, conversation_id)},
    )


# -- statuses ------------------------------------------------------------------------------


@prepared
def _receipt_insert(d: ModuleType) -> Any:
    return d.insert(status_receipts).on_conflict_do_nothing().returning(status_receipts.c.id)


def _store_status(conn: Connection, status: StatusUpdate, result: IngestResult) -> None:
    channel_id = ensure_channel(conn, status.channel)["id"]
    receipt = _receipt_insert.run(
        conn,
        {
            "channel_id": channel_id,
            "external_id": status.external_id,
            "status": status.status,
            "timestamp": aware(status.timestamp),
            "error_code": status.error_code,
            "received_at": utcnow(),
        },
    ).scalar()
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


@prepared
def _message_status(_d: ModuleType) -> Any:
    return select(messages.c.status).where(messages.c.id == bindparam("message_id"))


@prepared
def _status_move(_d: ModuleType) -> Any:
    return (
        update(messages)
        .where(messages.c.id == bindparam("message_id"))
        .values(status=bindparam("new_status"), updated_at=bindparam("now"), next_attempt_at=None)
        .returning(*messages.c)
    )


@prepared
def _status_fail(_d: ModuleType) -> Any:
    return (
        update(messages)
        .where(messages.c.id == bindparam("message_id"))
        .values(
            status="failed",
            updated_at=bindparam("now"),
            next_attempt_at=None,
            error_code=bindparam("code"),
            error_title=bindparam("title"),
            error_detail=bindparam("detail"),
        )
        .returning(*messages.c)
    )


@prepared
def _receipts_for(_d: ModuleType) -> Any:
    return select(status_receipts.c.status, status_receipts.c.error_code).where(
        status_receipts.c.channel_id == bindparam("channel_id"),
        status_receipts.c.external_id == bindparam("external_id"),
    )


def apply_status(
    conn: Connection,
    message_id: int,
    status: str,
    error_code: int | None = None,
    error_title: str | None = None,
    error_detail: str | None = None,
) -> bool:
    """Move an outgoing message forward to `status`; never backwards, never out of failed."""
    current = _message_status.run(conn, {"message_id": message_id}).scalar()
    if current is None or current in ("failed", "received", "suppressed"):
        return False
    if STATUS_RANK.get(status, -1) <= STATUS_RANK.get(current, 0):
        return False
    if status == "failed":
        row = _status_fail.run(
            conn,
            {
                "message_id": message_id,
                "now": utcnow(),
                "code": error_code,
                "title": error_title,
                "detail": error_detail,
            },
        ).one()
    else:
        params = {"message_id": message_id, "new_status": status, "now": utcnow()}
        row = _status_move.run(conn, params).one()
    view = message_view(row)
    append_event(
        conn,
        "message.updated",
        conversation_id=view["conversation_id"],
        message_id=message_id,
        data={"message": view},
    )
    return True


def apply_pending_receipts(
    conn: Connection, message_id: int, channel_id: str, external_id: str
) -> None:
    """Statuses that arrived before we learnt the Meta id of our own send."""
    params = {"channel_id": channel_id, "external_id": external_id}
    for receipt in _receipts_for.run(conn, params):
        apply_status(conn, message_id, receipt.status, receipt.error_code)


# -- the webhook as a whole ----------------------------------------------------------------


def ingest(
    records: Sequence[Record],
    *,
    default_mode: str,
    after_message: AfterMessage | None = None,
) -> Callable[[Connection], IngestResult]:
    """A store function that keeps every record of one webhook (see `Database.write`)."""

    def run(conn: Connection) -> IngestResult:
        result = IngestResult()
        for record in records:
            if isinstance(record, InboundMessage):
                _store_message(conn, record, default_mode, result, after_message)
            elif isinstance(record, StatusUpdate):
                _store_status(conn, record, result)
            else:
                conn.execute(
                    insert(unsupported_payloads).values(
                        reason=record.reason[:500], raw=record.raw, received_at=utcnow()
                    )
                )
                result.unsupported += 1
        return result

    return run


def keep_raw(reason: str, raw: bytes) -> Callable[[Connection], IngestResult]:
    """Keep a signed body that could not be normalised at all."""
    record = Unsupported(
        reason=reason, raw=raw.decode("utf-8", "replace").replace("\x00", "\ufffd")
    )
    return ingest([record], default_mode="human")
