"""Conversation rows of mail threads, recomputed from their mails (cache thread).

The unified list reads ``conversation`` rows: for a thread, its order and preview are its
newest mail, its unread count is its inbound mail without ``\\Seen`` and its contact is the
customer. They are recomputed for the threads a write touched, a few statements per batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection

from omnidesk.storage.mail_rows import channel_id, contact_id
from omnidesk.storage.mail_sql import Touched, chunked, db, marks, rows
from omnidesk.storage.mail_threads import AccountInfo

PREVIEW_CHARS = 500
"""The conversation list's copy of the newest message keeps this much of its text."""


def refresh(conn: Connection, info: AccountInfo, out: Touched) -> None:
    """Recompute the conversation rows of ``out.threads`` from their mails: preview and order
    (the newest mail), unread count (inbound without ``\\Seen``), the customer. A thread with
    no mail left disappears."""
    cx = db(conn)
    pending = sorted(out.threads - out.deleted)
    for chunk in chunked(pending):
        summary = _summaries(conn, chunk)
        empty = [t for t in chunk if t not in summary]
        if empty:
            cx.execute(f"DELETE FROM mail_thread WHERE id IN ({marks(empty)})", empty)
            cx.execute(
                f"DELETE FROM conversation WHERE id IN ({marks(empty)})", [-t for t in empty]
            )
            out.deleted.update(empty)
            out.threads.difference_update(empty)
        if not summary:
            continue
        newest = [s.newest for s in summary.values()]
        last = {
            r["id"]: r
            for r in rows(conn, f"SELECT * FROM message WHERE id IN ({marks(newest)})", newest)
        }
        values = []
        for thread, s in summary.items():
            r = last[s.newest]
            preview = dict(r)
            preview["text"] = (r["text"] or "")[:PREVIEW_CHARS]
            preview["body"] = r["body"][:PREVIEW_CHARS]
            values.append(
                (
                    -thread,
                    channel_id(info.account_id),
                    "email",
                    info.address,
                    contact_id(s.peer_email) if s.peer_email else 0,
                    s.peer_name,
                    s.peer_email,
                    json.dumps(preview, ensure_ascii=False),
                    s.unread,
                    r["created_at"],
                )  # fmt: skip
            )
        _reopen(conn, {t: d for t, d in out.reopen.items() if t in summary})
        cx.executemany(
            "INSERT INTO conversation (id, channel_id, channel_kind, channel_name, contact_id, "
            "contact_name, contact_handle, status, mode, assignee, handoff_reason, "
            "last_message_json, unread_count, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'open', 'human', NULL, NULL, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET channel_name = excluded.channel_name, "
            "contact_id = excluded.contact_id, contact_name = excluded.contact_name, "
            "contact_handle = excluded.contact_handle, "
            "last_message_json = excluded.last_message_json, "
            "unread_count = excluded.unread_count, updated_at = excluded.updated_at",
            values,
        )


def _reopen(conn: Connection, newest_unread: dict[int, str]) -> None:
    """A resolved conversation opens again when unread mail newer than its last one comes."""
    if not newest_unread:
        return
    ids = [-t for t in newest_unread]
    for r in rows(
        conn,
        f"SELECT id, updated_at FROM conversation WHERE status = 'resolved' "
        f"AND id IN ({marks(ids)})",
        ids,
    ):
        if newest_unread[-r[0]] > r[1]:
            db(conn).execute("UPDATE conversation SET status = 'open' WHERE id = ?", (r[0],))


@dataclass
class _Summary:
    newest: int = 0
    """``message.id`` of the newest mail (the largest: ids grow with the date)."""
    unread: int = 0
    peer_email: str = ""
    peer_name: str = ""
    peer_inbound: bool = False
    peer_at: int = 0


def _summaries(conn: Connection, threads: list[int]) -> dict[int, _Summary]:
    """Per thread: newest mail, unread inbound mails, and the customer (the From of its
    first inbound mail, else the first external To of its first mail of ours)."""
    out: dict[int, _Summary] = {}
    for r in rows(
        conn,
        f"SELECT thread_id, id, direction, seen, peer_email, peer_name FROM mail_message "
        f"WHERE thread_id IN ({marks(threads)})",
        threads,
    ):
        s = out.setdefault(r[0], _Summary(newest=-r[1]))
        message_id = -r[1]
        s.newest = max(s.newest, message_id)
        inbound = r[2] == "in"
        if inbound and not r[3]:
            s.unread += 1
        if r[4]:
            better = (inbound and not s.peer_inbound) or (
                inbound == s.peer_inbound and (not s.peer_email or message_id < s.peer_at)
            )
            if better:
                s.peer_email, s.peer_name, s.peer_inbound, s.peer_at = (
                    r[4], r[5], inbound, message_id,
                )  # fmt: skip
    return out
