"""Queued mail replies: rows of the shared ``outbox`` table plus their MIME in ``mail_outbox``.

They share the relay replies' table so the thread view shows them queued, sending or failed,
and the agent cancels or retries them the same way (``Cache.outbox_cancel``/``outbox_retry``).
The relay's sender claims positive conversations only; the mail sender negative ones.
Runs on the cache thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass, replace

from sqlalchemy import Connection

from omnidesk.changes import Changes
from omnidesk.domain import OutboxItem, OutboxState, is_mail_conversation
from omnidesk.storage import convert
from omnidesk.storage.cache import outbox_insert
from omnidesk.storage.mail_sql import db, marks, rows


@dataclass(frozen=True, slots=True)
class MailEnvelope:
    """What SMTP needs beside the bytes, fixed when the reply is built."""

    account_id: str
    message_id: str
    """The reply's own Message-ID: how its copy in Sent is recognised later."""
    sender: str
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueuedMail:
    item: OutboxItem
    envelope: MailEnvelope
    raw: bytes
    """The exact bytes to hand to SMTP and to APPEND to Sent."""


_SELECT = (
    "SELECT o.*, m.account_id, m.message_id, m.sender, m.recipients_json, m.raw "
    "FROM outbox o JOIN mail_outbox m ON m.client_id = o.client_id "
)


def queue(
    conn: Connection,
    conversation_id: int,
    client_id: str,
    text: str,
    reply_to: int | None,
    raw: bytes,
    envelope: MailEnvelope,
) -> Changes:
    if not is_mail_conversation(conversation_id):
        raise ValueError(f"conversation {conversation_id} is not an email thread")
    _item, changes = outbox_insert(conn, conversation_id, text, reply_to, client_id)
    db(conn).execute(
        "INSERT INTO mail_outbox (client_id, account_id, message_id, sender, recipients_json, "
        "raw) VALUES (?, ?, ?, ?, ?, ?)",
        (
            client_id,
            envelope.account_id,
            envelope.message_id,
            envelope.sender,
            json.dumps(list(envelope.recipients)),
            raw,
        ),
    )
    return changes


def claim_next(conn: Connection, skip_accounts: Collection[str]) -> QueuedMail | None:
    """The oldest queued mail of an account not in ``skip_accounts`` (waiting for a retry),
    marked ``sending``. An account's mail goes out in the order it was written."""
    skip = sorted(skip_accounts)
    where = f"AND m.account_id NOT IN ({marks(skip)}) " if skip else ""
    found = rows(
        conn,
        _SELECT + "WHERE o.state = 'queued' AND o.conversation_id < 0 " + where
        + "ORDER BY o.seq LIMIT 1",
        skip,
    )  # fmt: skip
    if not found:
        return None
    db(conn).execute(
        "UPDATE outbox SET state = ? WHERE seq = ?", (OutboxState.SENDING.value, found[0]["seq"])
    )
    queued = _queued(found[0])
    return replace(queued, item=replace(queued.item, state=OutboxState.SENDING))


def in_flight(conn: Connection) -> list[QueuedMail]:
    """Mail left ``sending`` (the console stopped mid-send): it may or may not have gone out."""
    return [
        _queued(r)
        for r in rows(
            conn, _SELECT + "WHERE o.state = 'sending' AND o.conversation_id < 0 ORDER BY o.seq"
        )
    ]


def take(conn: Connection, client_id: str) -> tuple[int, str, bytes] | None:
    """Remove a sent mail's outbox row: ``(conversation id, account id, raw)``."""
    found = rows(conn, _SELECT + "WHERE o.client_id = ?", (client_id,))
    if not found:
        return None
    r = found[0]
    db(conn).execute("DELETE FROM outbox WHERE client_id = ?", (client_id,))
    return r["conversation_id"], r["account_id"], r["raw"]


def _queued(r: sqlite3.Row) -> QueuedMail:
    return QueuedMail(
        item=convert.outbox_from_mapping(r),
        envelope=MailEnvelope(
            account_id=r["account_id"],
            message_id=r["message_id"],
            sender=r["sender"],
            recipients=tuple(json.loads(r["recipients_json"])),
        ),
        raw=bytes(r["raw"]),
    )
