"""Storing what a signed webhook said, in the transaction that precedes Meta's 200.

Idempotent by construction: a message is inserted unless (channel, Meta id) already exists,
a status unless (channel, Meta id, status) already exists, and a duplicate causes no event
and no other side effect.

This is the relay's hot path, so it runs few statements, all prepared once (see
`relay.store.sql.prepared`), and builds the event snapshots from values it already holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from relay.store.database import RunsTogether
from relay.store.events import append_event
from relay.store.inbound import NewMessage, aware, follow_number_change, store_new_messages
from relay.store.sql import prepared
from relay.store.tables import (
    channels,
    messages,
    status_receipts,
    unsupported_payloads,
    utcnow,
)
from relay.store.views import load_conversation, message_view
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
_KNOWN_CHANNELS = "omnidesk_known_channels"
_CHANNEL_TTL_S = 5.0  # a channel renamed from the command line shows in events this soon

# Called in the ingest transaction for each new customer message (the bot bridge's outbox);
# what it returns is handed back in IngestResult.after_commit once the webhook is committed.
AfterMessage = Callable[[Connection, dict[str, Any], dict[str, Any]], dict[str, Any] | None]


@dataclass
class IngestResult:
    """What one webhook changed."""

    new_messages: list[int] = field(default_factory=list)
    statuses_applied: int = 0
    duplicates: int = 0
    unsupported: int = 0
    events: int = 0
    after_commit: list[dict[str, Any]] = field(default_factory=list)


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


def find_message_id(conn: Connection, channel_id: str, external_id: str | None) -> int | None:
    if not external_id:
        return None
    found = _message_exists.run(
        conn,
        {"channel_id": channel_id, "external_id": external_id},
    ).scalar()
    return None if found is None else int(found)


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


class Ingest(RunsTogether[IngestResult]):
    """A store function that keeps every record of one webhook (see `Database.write`).

    Webhooks queued together are stored together: consecutive messages go in as one group
    (see relay.store.inbound); a status or unsupported record, or a message that answers one
    of the group, first closes the group, so everything lands in the order Meta sent it.
    """

    def __init__(
        self, records: Sequence[Record], default_mode: str, after_message: AfterMessage | None
    ) -> None:
        self.records = records
        self.default_mode = default_mode
        self.after_message = after_message

    @classmethod
    def run_together(cls, conn: Connection, jobs: Sequence[Ingest]) -> list[IngestResult]:
        results = [IngestResult() for _ in jobs]
        group: list[tuple[NewMessage, Ingest, IngestResult]] = []
        in_group: set[tuple[str, str]] = set()
        for job, result in zip(jobs, results, strict=True):
            for record in job.records:
                if not isinstance(record, InboundMessage):
                    _store_group(conn, group)
                    in_group.clear()
                    _store_other(conn, record, result)
                    continue
                channel = ensure_channel(conn, record.channel)
                if (
                    record.reply_to_external
                    and (channel["id"], record.reply_to_external) in in_group
                ):
                    _store_group(conn, group)
                    in_group.clear()
                reply_to = find_message_id(conn, channel["id"], record.reply_to_external)
                group.append((NewMessage(record, channel, job.default_mode, reply_to), job, result))
                in_group.add((channel["id"], record.external_id))
        _store_group(conn, group)
        return results


def _store_group(conn: Connection, group: list[tuple[NewMessage, Ingest, IngestResult]]) -> None:
    """Store the messages gathered so far, then empty `group`."""
    if not group:
        return
    stored = store_new_messages(conn, [item for item, _, _ in group])
    for (item, job, result), new in zip(group, stored, strict=True):
        if new is None:
            result.duplicates += 1
            continue
        result.new_messages.append(new.message["id"])
        result.events += 2 if new.conversation_event else 1
        if item.msg.type == "system" and follow_number_change(conn, item):
            emit_conversation(conn, new.message["conversation_id"])  # shows the new number
            result.events += 1
        if job.after_message and item.msg.direction == "in":
            handed = job.after_message(conn, new.message, new.conversation)
            if handed is not None:
                result.after_commit.append(handed)
    group.clear()


def _store_other(conn: Connection, record: Record, result: IngestResult) -> None:
    if isinstance(record, StatusUpdate):
        _store_status(conn, record, result)
    elif isinstance(record, Unsupported):
        conn.execute(
            insert(unsupported_payloads).values(
                reason=record.reason[:500], raw=record.raw, received_at=utcnow()
            )
        )
        result.unsupported += 1


def ingest(
    records: Sequence[Record],
    *,
    default_mode: str,
    after_message: AfterMessage | None = None,
) -> Ingest:
    """The store function that keeps every record of one webhook."""
    return Ingest(records, default_mode, after_message)


def keep_raw(reason: str, raw: bytes) -> Ingest:
    """Keep a signed body that could not be normalised at all."""
    record = Unsupported(
        reason=reason, raw=raw.decode("utf-8", "replace").replace("\x00", "\ufffd")
    )
    return ingest([record], default_mode="human")
