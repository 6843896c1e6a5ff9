"""Mail threads in the cache: one ``Threader`` per account, rebuilt from the stored headers.

The threader (``omnidesk/mail/threads.py``) names threads by keys; ``AccountThreads.rows``
maps each key to its ``mail_thread`` row (``conversation.id = -row``). When a mail proves
two threads are one, :func:`merge_rows` moves the mails, outbox and draft of one row into
the other and deletes the emptied conversation. Runs on the cache thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from omnidesk.mail.threads import Threader
from omnidesk.storage import convert
from omnidesk.storage.mail_sql import Touched, db, rows


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    address: str
    """The account's own address: the channel's name and the agent author of its mail."""
    own: frozenset[str]
    """Every address of the agent in this account (lower case): mail from these is ours."""


@dataclass
class AccountThreads:
    info: AccountInfo
    threader: Threader
    rows: dict[str, int]
    """Thread key (a root: never merged away) -> ``mail_thread.id``."""

    def key_of_row(self, row: int) -> str | None:
        return next((k for k, r in self.rows.items() if r == row), None)


def load_threads(conn: Connection, info: AccountInfo, out: Touched) -> AccountThreads:
    """Rebuild the account's threader from the stored headers (cheap: no bodies).

    The stored rows are the truth: mails kept in one conversation stay together even if the
    mail that linked them is gone, and rows the rebuilt threader finds to be one are merged.
    """
    threader = Threader(info.own)
    pairs: list[tuple[str, int]] = []
    for r in rows(
        conn,
        "SELECT message_id, in_reply_to, refs, subject, participants, date, thread_id "
        "FROM mail_message WHERE account_id = ? ORDER BY id DESC",
        (info.account_id,),
    ):
        threader.add_headers(
            message_id=r["message_id"],
            in_reply_to=r["in_reply_to"],
            references=r["refs"].split(),
            subject=r["subject"],
            participants=r["participants"].split(),
            date=convert.parse_ts(r["date"]) if r["date"] else None,
        )
        pairs.append((r["message_id"], r["thread_id"]))
    key_of_row: dict[int, str] = {}
    for message_id, row in pairs:
        key = threader.resolve(threader.state.thread_of[message_id])
        first = threader.resolve(key_of_row.setdefault(row, key))
        if key != first:
            _alias(threader, key, first)
    at = AccountThreads(info, threader, {})
    for row, key in sorted(key_of_row.items()):
        root = threader.resolve(key)
        survivor = at.rows.setdefault(root, row)
        if survivor != row:
            merge_rows(conn, row, survivor, out)
    return at


def _alias(threader: Threader, loser: str, survivor: str) -> None:
    """Make ``loser`` a name of ``survivor`` (the bookkeeping ``Threader.add`` does on a merge)."""
    st = threader.state
    st.aliases[loser] = survivor
    if loser in st.anchored:
        st.anchored.discard(loser)
        st.anchored.add(survivor)


_STATUS_RANK = {"open": 0, "pending": 1, "resolved": 2}


def merge_rows(conn: Connection, loser: int, survivor: int, out: Touched) -> None:
    """Thread ``loser`` turned out to be part of ``survivor``: move everything, drop it."""
    cx = db(conn)
    cx.execute("UPDATE mail_message SET thread_id = ? WHERE thread_id = ?", (survivor, loser))
    cx.execute(
        "UPDATE message SET conversation_id = ? WHERE conversation_id = ?", (-survivor, -loser)
    )
    moved = cx.execute(
        "UPDATE outbox SET conversation_id = ? WHERE conversation_id = ?", (-survivor, -loser)
    ).rowcount
    cx.execute(
        "UPDATE OR IGNORE draft SET conversation_id = ? WHERE conversation_id = ?",
        (-survivor, -loser),
    )
    cx.execute("DELETE FROM draft WHERE conversation_id = ?", (-loser,))
    # The merged conversation keeps the most active status and any assignee.
    both = {
        r["id"]: r
        for r in rows(
            conn,
            "SELECT id, status, assignee FROM conversation WHERE id IN (?, ?)",
            (-survivor, -loser),
        )
    }
    if -loser in both and -survivor in both:
        a, b = both[-survivor], both[-loser]
        status = min(a["status"], b["status"], key=lambda s: _STATUS_RANK.get(s, 0))
        cx.execute(
            "UPDATE conversation SET status = ?, assignee = COALESCE(assignee, ?) WHERE id = ?",
            (status, b["assignee"], -survivor),
        )
    cx.execute("DELETE FROM conversation WHERE id = ?", (-loser,))
    cx.execute("DELETE FROM mail_thread WHERE id = ?", (loser,))
    out.threads.discard(loser)
    out.deleted.add(loser)
    out.threads.add(survivor)
    out.outbox = out.outbox or moved > 0
