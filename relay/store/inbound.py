"""Customers' new messages, stored a group at a time in the transaction before Meta's 200.

The writer runs every webhook queued at the same moment together (`relay.store.database.
RunsTogether`): a group's inserts, then its conversations' touches, each go to PostgreSQL as
one statement (`relay.store.sql.json_rows`), so a busy relay pays a few statements per batch
instead of a few per message; SQLite, in process, takes them one by one.
A known customer costs no statement at all: their contact and conversation ids never change,
and are remembered on the connection.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType, SimpleNamespace
from typing import Any

import phonenumbers
from sqlalchemy import (
    Connection,
    DateTime,
    Integer,
    bindparam,
    case,
    column,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeEngine

from relay.store.events import append_event, savepoint
from relay.store.sql import json_rows, json_text, prepared, rows_parameter
from relay.store.tables import contacts, conversations, messages, utcnow
from relay.store.views import conversation_view, message_view
from relay.webhooks.records import InboundMessage

# Inbound types that say nothing new for the agent to read.
_NOT_UNREAD = {"reaction", "system", "unsupported"}
_KNOWN_CUSTOMERS = "omnidesk_known_customers"
_CUSTOMER_TTL_S = 60.0  # a name changed by another relay process shows in events this soon
_MAX_KNOWN_CUSTOMERS = 50_000


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message of a webhook, with what the caller already resolved for it."""

    msg: InboundMessage
    channel: dict[str, str]  # id, kind, name
    default_mode: str
    reply_to: int | None  # the relay's id of the message it answers, if stored


@dataclass(frozen=True, slots=True)
class Stored:
    """A message that was new: its view, and its conversation's view after the group."""

    message: dict[str, Any]
    conversation: dict[str, Any]
    conversation_event: bool  # this message's group emitted the conversation.updated here


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


def store_new_messages(conn: Connection, group: Sequence[NewMessage]) -> list[Stored | None]:
    """Insert the group's messages (None for each one already stored: Meta retried it)."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    customers: list[_Customer] = []
    for item in group:
        customer = _customer(conn, item)
        customers.append(customer)
        rows.append(_row(item, customer.conversation_id, now))
    ids = _insert(conn, rows)
    stored: list[Stored | None] = [None] * len(group)
    last_of: dict[int, int] = {}  # conversation id -> index of its last new message
    for index, row in enumerate(rows):
        if ids.get(index) is not None:
            last_of[row["conversation_id"]] = index
    if not last_of:
        return stored
    views = _touch(conn, rows, ids, last_of, now)
    for index, (item, row, customer) in enumerate(zip(group, rows, customers, strict=True)):
        message_id = ids.get(index)
        if message_id is None:
            continue
        conversation_id = row["conversation_id"]
        message = message_view({**row, "id": message_id})
        append_event(
            conn,
            "message.created",
            conversation_id=conversation_id,
            message_id=message_id,
            data={"message": message},
        )
        is_last = last_of[conversation_id] == index
        touched = views[conversation_id]
        view = conversation_view(
            {
                **touched,
                "updated_at": now,
                "channel_kind": item.channel["kind"],
                "channel_name": item.channel["name"],
                "contact_name": customer.name,
                "contact_handle": customer.handle,
            },
            message,
        )
        if is_last:
            append_event(
                conn,
                "conversation.updated",
                conversation_id=conversation_id,
                data={"conversation": view},
            )
        stored[index] = Stored(message, view, is_last)
    return stored


def _row(item: NewMessage, conversation_id: int, now: datetime) -> dict[str, Any]:
    msg = item.msg
    inbound = msg.direction == "in"
    return {
        "conversation_id": conversation_id,
        "channel_id": item.channel["id"],
        "external_id": msg.external_id,
        "direction": msg.direction,
        "author": "customer" if inbound else "agent:instagram",
        "type": msg.type,
        "text": msg.text,
        "payload": msg.payload,
        "reply_to": item.reply_to,
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


# -- customers -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Customer:
    contact_id: int
    name: str
    handle: str
    conversation_id: int
    seen: float  # time.monotonic() when read from the store


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


def _customer(conn: Connection, item: NewMessage) -> _Customer:
    """The customer's contact and conversation, created by their first message.

    A known customer costs no statement unless their profile name changed (or was read long
    ago: another relay process may have renamed them).
    """
    msg, channel_id = item.msg, item.channel["id"]
    known: dict[tuple[str, str], _Customer] = conn.info.setdefault(_KNOWN_CUSTOMERS, {})
    cached = known.get((channel_id, msg.customer_id))
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
            "channel_id": channel_id,
            "external_id": msg.customer_id,
            "name": msg.customer_name,
            "handle": handle,
        },
    ).one()
    conversation_id = _conversation_upsert.run(
        conn,
        {
            "channel_id": channel_id,
            "contact_id": contact.id,
            "mode": item.default_mode,
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
    known[(channel_id, msg.customer_id)] = customer
    return customer


def follow_number_change(conn: Connection, item: NewMessage) -> bool:
    """WhatsApp's `user_changed_number` system message: the customer now writes from
    `system.wa_id`. Their contact moves to the new number, so that their next messages, and
    the replies to them, stay in this conversation. True if it moved.

    If the new number already has a contact (they wrote from it first), both are left as
    they are: the system line in the old conversation tells the agent.
    """
    system = item.msg.payload.get("system")
    if not isinstance(system, dict) or system.get("type") != "user_changed_number":
        return False
    new_id, old_id = system.get("wa_id"), item.msg.customer_id
    if not isinstance(new_id, str) or not new_id.isdigit() or new_id == old_id:
        return False
    channel_id = item.channel["id"]
    # The new number's own contact, if it has one, holds it: the unique key refuses the move.
    with contextlib.suppress(IntegrityError), savepoint(conn):
        moved = conn.execute(
            update(contacts)
            .where(contacts.c.channel_id == channel_id, contacts.c.external_id == old_id)
            .values(external_id=new_id, handle=e164(new_id))
        )
        conn.info.get(_KNOWN_CUSTOMERS, {}).pop((channel_id, old_id), None)
        return bool(moved.rowcount)
    return False


# -- messages ------------------------------------------------------------------------------


@prepared
def _message_insert(d: ModuleType) -> Any:
    return d.insert(messages).on_conflict_do_nothing().returning(messages.c.id)


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> dict[int, int]:
    """The new messages' ids by their index in `rows`; a repeated Meta id is stored once."""
    first: dict[tuple[str, str], int] = {}
    for index, row in enumerate(rows):
        first.setdefault((row["channel_id"], row["external_id"]), index)
    unique = sorted(first.values())
    if conn.dialect.name == "postgresql":
        new = _message_insert_pg.run(conn, {"rows": json_text([rows[index] for index in unique])})
        ids = {(row.channel_id, row.external_id): row.id for row in new}
        keys = (
            (index, (rows[index]["channel_id"], rows[index]["external_id"])) for index in unique
        )
        return {index: ids[key] for index, key in keys if key in ids}
    inserted = _message_insert.run_each(conn, [rows[index] for index in unique])
    return {index: new.scalar() for index, new in zip(unique, inserted, strict=True) if new.rows}


_MESSAGE_COLUMNS = [column.name for column in messages.c if column.name != "id"]


@prepared
def _message_insert_pg(d: ModuleType) -> Any:
    """PostgreSQL: the group's messages as one JSON array (`json_rows`), in order."""
    rows = json_rows(messages)
    query = select(*(rows.c[name] for name in _MESSAGE_COLUMNS)).order_by(rows.c.ordinality)
    statement = d.insert(messages).from_select(_MESSAGE_COLUMNS, query)
    return statement.on_conflict_do_nothing().returning(
        messages.c.id, messages.c.channel_id, messages.c.external_id
    )


# What each conversation of a group gets: its latest message, the time, how many of them
# the agent has to read, and when the customer last wrote.
_TOUCH: dict[str, TypeEngine[Any]] = {
    "conversation_id": Integer(),
    "last_message_id": Integer(),
    "now": DateTime(timezone=True),
    "unread": Integer(),
    "sent": DateTime(timezone=True),
}


def _touch_statement(touch: Any, conversation: Any) -> Any:
    """The conversation moves on with its new messages; RETURNING what its event shows.

    The 24-hour window runs from Meta's timestamp (a retry may arrive hours late), and a
    customer writing again reopens a resolved conversation. `touch` holds the `_TOUCH`
    values, and `conversation` says which conversation they are for.
    """
    c = conversations.c
    wrote = touch.unread > 0
    return (
        update(conversations)
        .where(conversation)
        .values(
            last_message_id=touch.last_message_id,
            updated_at=touch.now,
            unread_count=c.unread_count + touch.unread,
            last_inbound_at=case(
                (
                    wrote & (c.last_inbound_at.is_(None) | (c.last_inbound_at < touch.sent)),
                    touch.sent,
                ),
                else_=c.last_inbound_at,
            ),
            status=case((wrote & (c.status == "resolved"), "open"), else_=c.status),
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


@prepared
def _conversation_touch(_d: ModuleType) -> Any:
    """One conversation, its values bound."""
    # Untyped: each takes its column's type, and so the store's fast datetime text on SQLite.
    touch = SimpleNamespace(**{name: bindparam(name) for name in _TOUCH})
    return _touch_statement(touch, conversations.c.id == touch.conversation_id)


@prepared
def _conversation_touch_all(_d: ModuleType) -> Any:
    """PostgreSQL: every conversation of the group in one statement, their values given
    as one JSON array (`rows`; see relay.store.sql.json_rows for why)."""
    touch = (
        func.json_to_recordset(rows_parameter())
        .table_valued(*(column(name, type_) for name, type_ in _TOUCH.items()))
        .render_derived(name="touch", with_types=True)
    )
    return _touch_statement(touch.c, conversations.c.id == touch.c.conversation_id)


def _touch(
    conn: Connection,
    rows: list[dict[str, Any]],
    ids: dict[int, int],
    last_of: dict[int, int],
    now: datetime,
) -> dict[int, dict[str, Any]]:
    """One UPDATE per conversation that got messages (one in all on PostgreSQL); their rows
    as the events show them."""
    unread = dict.fromkeys(last_of, 0)
    sent: dict[int, datetime | None] = dict.fromkeys(last_of)
    for index in ids:
        row = rows[index]
        if row["direction"] == "in" and row["type"] not in _NOT_UNREAD:
            conversation_id = row["conversation_id"]
            unread[conversation_id] += 1
            latest = sent[conversation_id]
            if latest is None or latest < row["created_at"]:
                sent[conversation_id] = row["created_at"]
    params = [
        {
            "conversation_id": conversation_id,
            "last_message_id": ids[index],
            "now": now,
            "unread": unread[conversation_id],
            "sent": sent[conversation_id],
        }
        for conversation_id, index in last_of.items()
    ]
    if conn.dialect.name == "postgresql":
        return {
            row.id: row for row in _conversation_touch_all.run(conn, {"rows": json_text(params)})
        }
    touched = _conversation_touch.run_each(conn, params)
    return {row.id: row for row in (rows.one() for rows in touched)}
