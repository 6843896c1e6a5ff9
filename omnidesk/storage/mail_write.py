"""Storing parsed mail, flags and expunges (cache thread, one transaction per call).

A batch costs a handful of statements whatever its size (``executemany``): the first sync
of a 10,000-message mailbox must beat mbsync, network and parsing included. A Message-ID
is one mail per account (the same mail in INBOX and Sent is one row); each (folder, uid)
copy keeps its flags, and a mail goes when its last copy does.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from omnidesk.domain import utcnow
from omnidesk.mail.types import ParsedMail
from omnidesk.storage import convert
from omnidesk.storage.mail_rows import (
    MAIL_COLUMNS,
    MESSAGE_COLUMNS,
    facts,
    mail_key,
    mail_row,
    message_row,
    next_free_key,
)
from omnidesk.storage.mail_sql import SEEN, Touched, chunked, db, marks, rows
from omnidesk.storage.mail_threads import AccountThreads, merge_rows

ROWS_PER_INSERT = 200
"""``message`` rows per INSERT statement (fewer when the SQLite build allows fewer
parameters than 200 rows need: 999 before SQLite 3.32)."""


@dataclass
class _New:
    mail: ParsedMail
    key: str
    seen: bool


def store_batch(
    conn: Connection,
    at: AccountThreads,
    folder: str | None,
    mails: Sequence[ParsedMail],
    out: Touched,
    *,
    prefer_row: int | None = None,
    arrived: dt.datetime | None = None,
) -> dict[str, int]:
    """Store parsed mail (one batch of a folder; a UID already stored is replaced); the
    ``mail_message`` id of each Message-ID.

    A Message-ID already stored (the same mail in INBOX and Sent) only gains a copy.
    ``prefer_row`` is the conversation a mail of ours was sent from: it lands there even if
    its headers link it nowhere. ``folder=None`` stores no copy (a sent mail not filed).
    """
    info = at.info
    cx = db(conn)
    existing = _existing_ids(conn, info.account_id, [m.message_id for m in mails])
    old_copies = _copies_of(conn, info.account_id, folder, [m.uid for m in mails if m.uid])

    new: dict[str, _New] = {}
    copies: list[tuple[str, str, int, str, str]] = []  # account, folder, uid, Message-ID, flags
    for mail in mails:
        if mail.message_id not in existing and mail.message_id not in new:
            key = _thread_key(conn, at, mail, out, prefer_row)
            new[mail.message_id] = _New(mail, key, mail.seen)
        elif mail.message_id in new:
            new[mail.message_id].seen |= mail.seen
        if folder is not None and mail.uid is not None:
            flags = " ".join(sorted(mail.flags))
            copies.append((info.account_id, folder, mail.uid, mail.message_id, flags))

    ids = _allocate(conn, new.values(), arrived)
    _insert_new(conn, at, new, ids, out, arrived)

    id_of = {**existing, **ids}
    cx.executemany(
        "INSERT INTO mail_copy (account_id, folder, uid, mail_id, flags) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(account_id, folder, uid) DO UPDATE SET "
        "mail_id = excluded.mail_id, flags = excluded.flags",
        [(a, f, u, id_of[mid], flags) for a, f, u, mid, flags in copies],
    )
    # Mails already stored that gained a copy: no longer awaiting removal; maybe read now.
    gained = {id_of[c[3]] for c in copies if c[3] in existing}
    if gained:
        for chunk in chunked(sorted(gained)):
            cx.execute(
                f"UPDATE mail_message SET gc_folder = NULL WHERE id IN ({marks(chunk)})", chunk
            )
        recompute_seen(conn, gained, out)
    # A UID that pointed to another mail (replaced): that one may have no copy left.
    replaced = [
        old_copies[uid]
        for _a, _f, uid, mid, _flags in copies
        if uid in old_copies and old_copies[uid] != id_of[mid]
    ]
    if replaced:
        drop_orphans(conn, replaced, out)
    return id_of


def _thread_key(
    conn: Connection, at: AccountThreads, mail: ParsedMail, out: Touched, prefer: int | None
) -> str:
    threader = at.threader
    if prefer is not None and mail.message_id not in threader.state.thread_of:
        key = at.key_of_row(prefer)
        if key is not None:  # seed the link: the threader now joins it to that thread
            threader.state.thread_of[mail.message_id] = key
    assignment = threader.add(mail)
    key = assignment.thread_id
    for other in assignment.merged:
        loser = at.rows.pop(other, None)
        if loser is None:
            continue
        survivor = at.rows.setdefault(key, loser)
        if survivor != loser:
            merge_rows(conn, loser, survivor, out)
    return key


def _existing_ids(conn: Connection, account_id: str, message_ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunked(set(message_ids)):
        for r in rows(
            conn,
            f"SELECT message_id, id FROM mail_message WHERE account_id = ? "
            f"AND message_id IN ({marks(chunk)})",
            [account_id, *chunk],
        ):
            found[r[0]] = r[1]
    return found


def _copies_of(
    conn: Connection, account_id: str, folder: str | None, uids: list[int]
) -> dict[int, int]:
    if folder is None:
        return {}
    found: dict[int, int] = {}
    for chunk in chunked(uids):
        for r in rows(
            conn,
            f"SELECT uid, mail_id FROM mail_copy WHERE account_id = ? AND folder = ? "
            f"AND uid IN ({marks(chunk)})",
            [account_id, folder, *chunk],
        ):
            found[r[0]] = r[1]
    return found


def _allocate(conn: Connection, new: Iterable[_New], arrived: dt.datetime | None) -> dict[str, int]:
    """Date-ordered ids for the new mails, probing past ids already taken."""
    now = arrived or utcnow()
    wanted = {n.mail.message_id: mail_key(n.mail.date or now, n.mail.message_id) for n in new}
    taken: set[int] = set()
    for chunk in chunked(sorted(set(wanted.values()))):
        taken.update(
            r[0]
            for r in db(conn).execute(
                f"SELECT id FROM mail_message WHERE id IN ({marks(chunk)})", chunk
            )
        )
    ids: dict[str, int] = {}
    for message_id, key in wanted.items():
        while key in taken:  # a collision (same second and slot): rare, one lookup per probe
            key = next_free_key(key)
            if db(conn).execute("SELECT 1 FROM mail_message WHERE id = ?", (key,)).fetchone():
                taken.add(key)
        taken.add(key)
        ids[message_id] = key
    return ids


def _insert_new(
    conn: Connection,
    at: AccountThreads,
    new: dict[str, _New],
    ids: dict[str, int],
    out: Touched,
    arrived: dt.datetime | None,
) -> None:
    info = at.info
    cx = db(conn)
    stamp = convert.ts(utcnow())
    mail_rows: list[tuple[Any, ...]] = []
    message_rows: list[tuple[Any, ...]] = []
    for message_id, n in new.items():
        root = at.threader.resolve(n.key)
        row = at.rows.get(root)
        if row is None:
            cur = cx.execute("INSERT INTO mail_thread (account_id) VALUES (?)", (info.account_id,))
            row = at.rows[root] = int(cur.lastrowid or 0)
        key = ids[message_id]
        f = facts(n.mail, info.own, arrived)
        mail_rows.append(mail_row(n.mail, f, info.account_id, key, row, n.seen))
        message_rows.append(message_row(n.mail, f, info.account_id, key, row, info.address, stamp))
        out.threads.add(row)
        out.messages.add(-key)
        if f.direction == "in" and not n.seen:
            if f.created_at > out.reopen.get(row, ""):
                out.reopen[row] = f.created_at
    cx.executemany(
        f"INSERT INTO mail_message ({', '.join(MAIL_COLUMNS)}) VALUES ({marks(MAIL_COLUMNS)})",
        mail_rows,
    )
    # FTS5 (the trigger on ``message``) keeps new index entries in memory until the
    # statement's savepoint ends or a row id is not above the previous one, then writes an
    # index segment (merged later: the cost). So many rows per statement, not executemany,
    # in ascending id order: one segment per statement instead of one per mail (3x faster).
    message_rows.sort(key=lambda r: int(r[0]))
    columns, one = ", ".join(MESSAGE_COLUMNS), f"({marks(MESSAGE_COLUMNS)})"
    per_statement = cx.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(MESSAGE_COLUMNS)
    for chunk in chunked(message_rows, min(ROWS_PER_INSERT, per_statement)):
        cx.execute(
            f"INSERT INTO message ({columns}) VALUES {','.join([one] * len(chunk))}",
            [value for r in chunk for value in r],
        )


# -- flags, removal ---------------------------------------------------------------------------


def recompute_seen(conn: Connection, mail_ids: Iterable[int], out: Touched) -> None:
    """``seen`` = some copy has ``\\Seen`` or the agent read it here and the server has not
    confirmed yet (``mail_seen_pending``: dropped once every copy has ``\\Seen``), for mails
    that have copies; threads whose unread count may change are marked for refresh."""
    cx = db(conn)
    has_seen = "instr(' ' || c.flags || ' ', ' \\Seen ') > 0"
    for chunk in chunked(sorted(set(mail_ids))):
        confirmed: list[int] = []
        for r in rows(
            conn,
            f"SELECT m.id, m.thread_id, m.seen, MAX({has_seen}), MIN({has_seen}), "
            f"EXISTS (SELECT 1 FROM mail_seen_pending p WHERE p.mail_id = m.id) "
            f"FROM mail_message m JOIN mail_copy c ON c.mail_id = m.id "
            f"WHERE m.id IN ({marks(chunk)}) GROUP BY m.id",
            chunk,
        ):
            if r[5] and r[4]:
                confirmed.append(r[0])
            seen = bool(r[3]) or bool(r[5])
            if bool(r[2]) != seen:
                cx.execute("UPDATE mail_message SET seen = ? WHERE id = ?", (seen, r[0]))
                out.threads.add(r[1])
        if confirmed:
            cx.execute(
                f"DELETE FROM mail_seen_pending WHERE mail_id IN ({marks(confirmed)})", confirmed
            )


def drop_orphans(conn: Connection, mail_ids: Iterable[int], out: Touched) -> None:
    """Delete the mails among ``mail_ids`` that have no copy left on the server."""
    cx = db(conn)
    for chunk in chunked(sorted(set(mail_ids))):
        gone = rows(
            conn,
            f"SELECT id, thread_id FROM mail_message WHERE id IN ({marks(chunk)}) "
            f"AND NOT EXISTS (SELECT 1 FROM mail_copy c WHERE c.mail_id = mail_message.id)",
            chunk,
        )
        if not gone:
            continue
        ids = [r[0] for r in gone]
        cx.execute(f"DELETE FROM message WHERE id IN ({marks(ids)})", [-i for i in ids])
        cx.execute(f"DELETE FROM mail_part WHERE mail_id IN ({marks(ids)})", ids)
        cx.execute(f"DELETE FROM mail_message WHERE id IN ({marks(ids)})", ids)
        out.threads.update(r[1] for r in gone)
        out.messages.update(-i for i in ids)
    recompute_seen(conn, mail_ids, out)


# -- local changes ----------------------------------------------------------------------------


def mark_thread_seen(conn: Connection, thread: int, out: Touched) -> str | None:
    """The thread's inbound mails are read here at once, and stay read until the server has
    ``\\Seen`` on their copies (``mail_seen_pending``, kept across restarts; the copies' flags
    stay the server's); the account, or None when nothing was unread."""
    found = rows(
        conn,
        "SELECT id, account_id FROM mail_message "
        "WHERE thread_id = ? AND direction = 'in' AND NOT seen",
        (thread,),
    )
    if not found:
        return None
    cx = db(conn)
    for chunk in chunked([r[0] for r in found]):
        cx.execute(f"UPDATE mail_message SET seen = 1 WHERE id IN ({marks(chunk)})", chunk)
        cx.executemany(
            "INSERT OR IGNORE INTO mail_seen_pending (mail_id) VALUES (?)", [(i,) for i in chunk]
        )
    out.threads.add(thread)
    return str(found[0][1])


def seen_confirmed(conn: Connection, copies: Iterable[tuple[str, str, int]], out: Touched) -> None:
    """The server has ``\\Seen`` on these ``(account, folder, uid)`` copies now: their flags
    say so here, and a mail read here stops waiting once every copy has it."""
    cx = db(conn)
    mail_ids: list[int] = []
    for account_id, folder, uid in set(copies):
        found = cx.execute(
            "SELECT mail_id FROM mail_copy WHERE account_id = ? AND folder = ? AND uid = ?",
            (account_id, folder, uid),
        ).fetchone()
        if found is None:  # expunged meanwhile
            continue
        mail_ids.append(found[0])
        cx.execute(
            "UPDATE mail_copy SET flags = trim(flags || ' ' || ?) "
            "WHERE account_id = ? AND folder = ? AND uid = ? "
            "AND instr(' ' || flags || ' ', ' ' || ? || ' ') = 0",
            (SEEN, account_id, folder, uid, SEEN),
        )
    recompute_seen(conn, mail_ids, out)


def save_parts(conn: Connection, mail_id: int, images: Mapping[str, tuple[str, bytes]]) -> None:
    """Inline images of a mail: ``cid -> (content type, bytes)``."""
    db(conn).executemany(
        "INSERT OR REPLACE INTO mail_part (mail_id, content_id, content_type, data) "
        "VALUES (?, ?, ?, ?)",
        [(mail_id, cid, ctype, data) for cid, (ctype, data) in images.items()],
    )


def forget_account(conn: Connection, account_id: str, channel: str, out: Touched) -> None:
    """Everything of an account that was removed: threads, mails, copies, queued mail."""
    cx = db(conn)
    out.deleted.update(
        r[0] for r in cx.execute("SELECT id FROM mail_thread WHERE account_id = ?", (account_id,))
    )
    cx.execute(
        "DELETE FROM outbox WHERE client_id IN "
        "(SELECT client_id FROM mail_outbox WHERE account_id = ?)",
        (account_id,),
    )
    cx.execute(
        "DELETE FROM message WHERE id IN (SELECT -id FROM mail_message WHERE account_id = ?)",
        (account_id,),
    )
    cx.execute(
        "DELETE FROM mail_part WHERE mail_id IN (SELECT id FROM mail_message WHERE account_id = ?)",
        (account_id,),
    )
    for table in ("mail_message", "mail_copy", "mail_folder", "mail_thread"):
        cx.execute(f"DELETE FROM {table} WHERE account_id = ?", (account_id,))
    cx.execute("DELETE FROM conversation WHERE channel_id = ?", (channel,))
    out.outbox = True
