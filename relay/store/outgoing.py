"""The life of an outgoing message in the store, as the sender moves it.

queued -> sending (claimed, committed before the Graph call) -> sent | queued again (retry
later) | failed | unconfirmed. A message left in `sending` by a crash may or may not have
reached Meta, so it becomes `unconfirmed`: never resent blindly, confirmed by a status
webhook carrying our id, or resent when an agent asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, bindparam, case, exists, literal_column, or_, select, update

from relay.store.conversations import Invalid, NotFound
from relay.store.database import StoreFn
from relay.store.events import append_event, savepoint
from relay.store.ingest import STATUS_RANK, apply_pending_receipts
from relay.store.sql import prepared
from relay.store.tables import channels, contacts, conversations, messages, utcnow
from relay.store.views import load_message, message_view

# Written into the statements, not bound: only a literal lets the databases use the partial
# indexes on these statuses (relay.store.tables) instead of reading every message.
QUEUED: Any = literal_column("'queued'")
SENDING: Any = literal_column("'sending'")


@dataclass(frozen=True)
class SendJob:
    """Everything the sender needs to call Meta for one claimed message."""

    message_id: int
    conversation_id: int
    channel_kind: str
    channel_external_id: str
    channel_token: str | None
    recipient: str  # WhatsApp: E.164 number or BSUID; Instagram: Instagram-scoped id
    text: str
    reply_to_external: str | None
    attempt: int


def _emit(conn: Connection, message_id: int) -> None:
    view = load_message(conn, message_id)
    assert view is not None
    _emit_view(conn, view)


def _emit_view(conn: Connection, view: dict[str, Any]) -> None:
    append_event(
        conn,
        "message.updated",
        conversation_id=view["conversation_id"],
        message_id=view["id"],
        data={"message": view},
    )


def due_messages(now: datetime, limit: int = 200) -> StoreFn[list[tuple[int, int]]]:
    """Queued messages whose time has come and that are first in their conversation's queue:
    one waiting to be retried holds back the ones written after it, and one being sent holds
    back the whole conversation (whoever claimed it: a bot reply may be claimed as it is
    stored, see relay.store.bot), so they keep their order."""

    def run(conn: Connection) -> list[tuple[int, int]]:
        due = _due.run(conn, {"now": now, "limit": limit})
        return [(int(r.id), int(r.conversation_id)) for r in due]

    return run


@prepared
def _due(_d: ModuleType) -> Any:
    earlier, sending = messages.alias("earlier"), messages.alias("sending")
    now = bindparam("now", type_=messages.c.next_attempt_at.type)
    return (
        select(messages.c.id, messages.c.conversation_id)
        .where(
            messages.c.status == QUEUED,
            or_(messages.c.next_attempt_at.is_(None), messages.c.next_attempt_at <= now),
            ~exists().where(
                earlier.c.conversation_id == messages.c.conversation_id,
                earlier.c.status == QUEUED,
                earlier.c.id < messages.c.id,
            ),
            ~exists().where(
                sending.c.conversation_id == messages.c.conversation_id,
                sending.c.status == SENDING,
            ),
        )
        .order_by(messages.c.id)
        .limit(bindparam("limit"))
    )


@prepared
def _claim(_d: ModuleType) -> Any:
    # RETURNING: exactly the row this claim won, as the events show it
    return (
        update(messages)
        .where(messages.c.id == bindparam("message_id"), messages.c.status == QUEUED)
        .values(
            status="sending",
            send_attempts=messages.c.send_attempts + 1,
            updated_at=bindparam("now"),
        )
        .returning(*messages.c)
    )


# Who a message goes to and through which account: what a SendJob needs besides the message.
RECIPIENT_COLUMNS: list[Any] = [
    channels.c.kind,
    channels.c.external_id.label("channel_external_id"),
    channels.c.access_token,
    contacts.c.handle,
    contacts.c.external_id.label("contact_external_id"),
]


@prepared
def _recipient(_d: ModuleType) -> Any:
    return (
        select(*RECIPIENT_COLUMNS)
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .join(channels, channels.c.id == messages.c.channel_id)
        .join(contacts, contacts.c.id == conversations.c.contact_id)
        .where(messages.c.id == bindparam("message_id"))
    )


def claim_due(now: datetime, busy: frozenset[int], limit: int = 200) -> StoreFn[list[SendJob]]:
    """Claim the oldest due message of every conversation not in `busy`, in one write.

    One transaction (one commit, one wake) for a whole round of sends instead of one per
    message; each claim is still committed before its Graph call. Taking only each
    conversation's oldest, and none of a conversation still sending, keeps its order.
    """

    def run(conn: Connection) -> list[SendJob]:
        heads: dict[int, int] = {}
        for message_id, conversation_id in due_messages(now, limit)(conn):
            if conversation_id not in busy:
                heads.setdefault(conversation_id, message_id)
        if not heads:
            return []
        claiming = [{"message_id": message_id, "now": utcnow()} for message_id in heads.values()]
        tried = _claim.run_each(conn, claiming)
        claimed = [rows.one() for rows in tried if rows.rows]
        if not claimed:
            return []
        found = _recipient.run_each(conn, [{"message_id": row.id} for row in claimed])
        recipients = {row.id: rows.one() for row, rows in zip(claimed, found, strict=True)}
        jobs = []
        for row in sorted(claimed, key=lambda r: int(r["id"])):
            _emit_view(conn, message_view(row))
            jobs.append(send_job(row, recipients[row["id"]]))
        return jobs

    return run


def nothing_to_send_before(conn: Connection, conversation_id: int) -> bool:
    """True when the conversation has nothing queued or being sent: a message stored now
    may be claimed in the same transaction (stored as `sending`) and keep its order."""
    return not _in_line.run(conn, {"conversation_id": conversation_id}).scalar()


def send_job(row: Mapping[str, Any], to: Any) -> SendJob:
    """The send of message `row` to `to` (a row with RECIPIENT_COLUMNS)."""
    return SendJob(
        message_id=row["id"],
        conversation_id=row["conversation_id"],
        channel_kind=to.kind,
        channel_external_id=to.channel_external_id,
        channel_token=to.access_token,
        # WhatsApp: the E.164 number, or the BSUID of a customer whose number Meta withholds
        # (older rows kept an empty handle for them; their external id is the BSUID).
        recipient=(to.handle or to.contact_external_id)
        if to.kind == "whatsapp"
        else to.contact_external_id,
        text=row["text"] or "",
        reply_to_external=row["reply_to_external"],
        attempt=row["send_attempts"],
    )


@prepared
def _in_line(_d: ModuleType) -> Any:
    conversation: Any = bindparam("conversation_id")
    return select(
        exists().where(messages.c.status == QUEUED, messages.c.conversation_id == conversation)
        | exists().where(messages.c.status == SENDING, messages.c.conversation_id == conversation)
    )


def record_outcomes(outcomes: list[StoreFn[None]]) -> StoreFn[list[Exception | None]]:
    """Record the answers of several sends in one write, each in its own savepoint.

    A send whose record fails (None otherwise) stays `sending`, as it would have alone; the
    others are still recorded.
    """

    def run(conn: Connection) -> list[Exception | None]:
        failures: list[Exception | None] = []
        for outcome in outcomes:
            try:
                with savepoint(conn):
                    outcome(conn)
            except Exception as exc:
                failures.append(exc)
            else:
                failures.append(None)
        return failures

    return run


def _move(conn: Connection, message_id: int, expected: str, **values: Any) -> bool:
    moved = conn.execute(
        update(messages)
        .where(messages.c.id == message_id, messages.c.status == expected)
        .values(updated_at=utcnow(), **values)
    )
    if moved.rowcount:
        _emit(conn, message_id)
    return bool(moved.rowcount)


# Statuses a send's success does not move back to `sent` (webhooks may have gone further).
_AT_LEAST_SENT = [status for status, rank in STATUS_RANK.items() if rank >= STATUS_RANK["sent"]]


@prepared
def _mark_sent(_d: ModuleType) -> Any:  # built once: it runs for every message sent
    return (
        update(messages)
        .where(messages.c.id == bindparam("message_id"))
        .values(
            updated_at=bindparam("now"),
            external_id=bindparam("new_external_id"),
            next_attempt_at=None,
            status=case(  # spelt out, not IN: prepared statements take no IN lists
                (or_(*(messages.c.status == s for s in _AT_LEAST_SENT)), messages.c.status),
                else_="sent",
            ),
        )
        .returning(*messages.c)
    )


def record_sent(message_id: int, external_id: str) -> StoreFn[None]:
    """Meta accepted the send: one UPDATE ... RETURNING gives the row for the event."""

    def run(conn: Connection) -> None:
        row = _mark_sent.run(
            conn,
            {"message_id": message_id, "new_external_id": external_id, "now": utcnow()},
        ).one()
        _emit_view(conn, message_view(row))
        apply_pending_receipts(conn, message_id, row["channel_id"], external_id)

    return run


def record_retry(message_id: int, when: datetime, reason: str) -> StoreFn[None]:
    def run(conn: Connection) -> None:
        _move(
            conn, message_id, "sending", status="queued", next_attempt_at=when, error_title=reason
        )

    return run


def record_failed(message_id: int, code: int | None, title: str, detail: str) -> StoreFn[None]:
    def run(conn: Connection) -> None:
        _move(
            conn,
            message_id,
            "sending",
            status="failed",
            error_code=code,
            error_title=title,
            error_detail=detail,
            next_attempt_at=None,
        )

    return run


def record_unconfirmed(message_id: int, reason: str) -> StoreFn[None]:
    def run(conn: Connection) -> None:
        _move(
            conn,
            message_id,
            "sending",
            status="unconfirmed",
            error_title="Not confirmed by Meta",
            error_detail=reason,
        )

    return run


def hold_interrupted_sends(conn: Connection) -> list[int]:
    """At start: a send still `sending` was cut off by a crash and is held as unconfirmed."""
    ids = [
        int(i)
        for i in conn.execute(select(messages.c.id).where(messages.c.status == SENDING)).scalars()
    ]
    for message_id in ids:
        _move(
            conn,
            message_id,
            "sending",
            status="unconfirmed",
            error_title="Not confirmed by Meta",
            error_detail="The relay stopped while sending; it may or may not have reached the customer.",
        )
    return ids


def resend(message_id: int) -> StoreFn[dict[str, Any]]:
    """An agent's explicit choice to send an unconfirmed or failed message again."""

    def run(conn: Connection) -> dict[str, Any]:
        status = conn.execute(select(messages.c.status).where(messages.c.id == message_id)).scalar()
        if status is None:
            raise NotFound(f"message {message_id} does not exist")
        if status not in ("unconfirmed", "failed"):
            raise Invalid(
                f"only unconfirmed or failed messages can be resent (this one is {status})"
            )
        _move(
            conn,
            message_id,
            status,
            status="queued",
            error_code=None,
            error_title=None,
            error_detail=None,
            next_attempt_at=None,
        )
        view = load_message(conn, message_id)
        assert view is not None
        return view

    return run
