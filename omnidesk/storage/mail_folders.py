"""Per folder: the sync state, the (folder, uid) copies and their flags (cache thread).

What the IMAP sync reports about a folder lands here; the mails themselves are stored by
``mail_write``. A mail leaves the cache only when its last copy does (``drop_orphans``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from omnidesk.mail.types import FlagUpdate, FolderState
from omnidesk.storage.mail_sql import Touched, chunked, db, marks
from omnidesk.storage.mail_write import drop_orphans, recompute_seen


def folder_state(conn: Connection, account_id: str, folder: str) -> FolderState | None:
    found = (
        db(conn)
        .execute(
            "SELECT uidvalidity, uidnext, highestmodseq, highest_uid FROM mail_folder "
            "WHERE account_id = ? AND folder = ?",
            (account_id, folder),
        )
        .fetchone()
    )
    return FolderState(*found) if found else None


def save_folder_state(
    conn: Connection, account_id: str, folder: str, state: FolderState, out: Touched
) -> None:
    """Also ends a refetch after UIDVALIDITY changed: the mails it did not find are removed."""
    cx = db(conn)
    cx.execute(
        "INSERT INTO mail_folder (account_id, folder, uidvalidity, uidnext, highestmodseq, "
        "highest_uid) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(account_id, folder) DO UPDATE SET "
        "uidvalidity = excluded.uidvalidity, uidnext = excluded.uidnext, "
        "highestmodseq = excluded.highestmodseq, highest_uid = excluded.highest_uid",
        (account_id, folder, state.uidvalidity, state.uidnext, state.highestmodseq,
         state.highest_uid),
    )  # fmt: skip
    voided = [
        r[0]
        for r in cx.execute(
            "SELECT id FROM mail_message WHERE account_id = ? AND gc_folder = ?",
            (account_id, folder),
        )
    ]
    for chunk in chunked(voided):
        cx.execute(f"UPDATE mail_message SET gc_folder = NULL WHERE id IN ({marks(chunk)})", chunk)
    if voided:
        drop_orphans(conn, voided, out)


def known_uids(conn: Connection, account_id: str, folder: str) -> set[int]:
    cur = db(conn).execute(
        "SELECT uid FROM mail_copy WHERE account_id = ? AND folder = ?", (account_id, folder)
    )
    return {r[0] for r in cur}


def apply_flags(
    conn: Connection, account_id: str, folder: str, updates: Sequence[FlagUpdate], out: Touched
) -> None:
    """Only flags that really changed are written (a sync without CONDSTORE sends them all)."""
    cx = db(conn)
    wanted = {u.uid: " ".join(sorted(u.flags)) for u in updates}
    changed: list[tuple[str, str, str, int]] = []
    mail_ids: list[int] = []
    for chunk in chunked(list(wanted)):
        for uid, mail_id, flags in cx.execute(
            f"SELECT uid, mail_id, flags FROM mail_copy WHERE account_id = ? AND folder = ? "
            f"AND uid IN ({marks(chunk)})",
            [account_id, folder, *chunk],
        ):
            if set(flags.split()) != set(wanted[uid].split()):
                changed.append((wanted[uid], account_id, folder, uid))
                mail_ids.append(mail_id)
    cx.executemany(
        "UPDATE mail_copy SET flags = ? WHERE account_id = ? AND folder = ? AND uid = ?", changed
    )
    recompute_seen(conn, mail_ids, out)


def remove_uids(
    conn: Connection, account_id: str, folder: str, uids: Sequence[int], out: Touched
) -> None:
    """Expunged: a mail goes with its last copy, a thread with its last mail."""
    drop_orphans(conn, _drop_copies(conn, account_id, folder, uids), out)


def forget_folder(conn: Connection, account_id: str, folder: str) -> None:
    """UIDVALIDITY changed: every copy of the folder is void. Their mails stay (keeping their
    conversation, status and id) until the refetch ends (:func:`save_folder_state`)."""
    mail_ids = _drop_copies(conn, account_id, folder, None)
    cx = db(conn)
    cx.execute("DELETE FROM mail_folder WHERE account_id = ? AND folder = ?", (account_id, folder))
    for chunk in chunked(mail_ids):
        cx.execute(
            f"UPDATE mail_message SET gc_folder = ? WHERE id IN ({marks(chunk)}) "
            f"AND NOT EXISTS (SELECT 1 FROM mail_copy c WHERE c.mail_id = mail_message.id)",
            [folder, *chunk],
        )


def _drop_copies(
    conn: Connection, account_id: str, folder: str, uids: Sequence[int] | None
) -> list[int]:
    """Delete copies (all of the folder's when ``uids`` is None); the ids of their mails."""
    cx = db(conn)
    batches: list[list[int]] = list(chunked(uids)) if uids is not None else [[]]
    mail_ids: list[int] = []
    for chunk in batches:
        where = "FROM mail_copy WHERE account_id = ? AND folder = ?"
        if uids is not None:
            where += f" AND uid IN ({marks(chunk)})"
        params = [account_id, folder, *chunk]
        mail_ids += [r[0] for r in cx.execute("SELECT mail_id " + where, params)]
        cx.execute("DELETE " + where, params)
    return mail_ids
