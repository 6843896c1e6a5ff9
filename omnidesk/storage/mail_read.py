"""Reading mail back for the reader pane, the composer and the mail services (cache thread)."""

from __future__ import annotations

import re
import sqlite3
from email import policy
from email.parser import BytesParser

from sqlalchemy import Connection

from omnidesk.domain import Conversation, MailAttachmentInfo, MailDetail
from omnidesk.mail.html import sanitize_html
from omnidesk.mail.types import Attachment, ParsedMail
from omnidesk.storage import convert
from omnidesk.storage.mail_rows import (
    addresses_from_json,
    attachments_from_json,
    parsed_from_row,
    shown,
)
from omnidesk.storage.mail_sql import rows

Location = tuple[str, str, int]
"""``(account id, folder, uid)`` of one copy of a mail on the server."""

_REMOTE_IMG = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
MAX_INLINE_IMAGE = 2 * 1024 * 1024
"""Inline images bigger than this are not copied into the cache."""


def _mail(conn: Connection, message_id: int) -> sqlite3.Row | None:
    found = rows(
        conn,
        "SELECT mm.*, m.text AS message_text FROM mail_message mm "
        "JOIN message m ON m.id = -mm.id WHERE mm.id = ?",
        (-message_id,),
    )
    return found[0] if found else None


def detail(conn: Connection, message_id: int, allow_remote: bool) -> MailDetail | None:
    r = _mail(conn, message_id)
    if r is None:
        return None
    images = {
        p["content_id"]: bytes(p["data"])
        for p in rows(
            conn, "SELECT content_id, data FROM mail_part WHERE mail_id = ?", (-message_id,)
        )
    }
    html: str = r["html"]
    addresses = addresses_from_json(r["addresses_json"])
    sender = addresses["from"]
    return MailDetail(
        message_id=message_id,
        account_id=r["account_id"],
        subject=r["subject"],
        from_=shown(sender[0]) if sender else "",
        to=tuple(shown(a) for a in addresses["to"]),
        cc=tuple(shown(a) for a in addresses["cc"]),
        date=convert.parse_ts(r["date"]) if r["date"] else None,
        html=sanitize_html(html, allow_remote=allow_remote) if html else "",
        text=r["message_text"] or "",
        attachments=tuple(
            MailAttachmentInfo(
                index=i,
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                inline=a.inline,
                content_id=a.content_id,
            )
            for i, a in enumerate(attachments_from_json(r["attachments_json"]))
        ),
        inline_images=images,
        has_remote_images=bool(_REMOTE_IMG.search(html)),
    )


def parent(conn: Connection, message_id: int) -> ParsedMail | None:
    r = _mail(conn, message_id)
    return parsed_from_row(r, r["message_text"]) if r is not None else None


def attachments(conn: Connection, message_id: int) -> list[Attachment]:
    found = rows(conn, "SELECT attachments_json FROM mail_message WHERE id = ?", (-message_id,))
    return attachments_from_json(found[0][0]) if found else []


def locate(conn: Connection, message_id: int) -> list[Location]:
    return [
        (r[0], r[1], r[2])
        for r in rows(
            conn,
            "SELECT account_id, folder, uid FROM mail_copy WHERE mail_id = ? ORDER BY folder, uid",
            (-message_id,),
        )
    ]


def unseen(conn: Connection, conversation_id: int) -> list[Location]:
    """Copies without ``\\Seen`` of the thread's unread inbound mails."""
    return [
        (r[0], r[1], r[2])
        for r in rows(
            conn,
            "SELECT c.account_id, c.folder, c.uid FROM mail_message m "
            "JOIN mail_copy c ON c.mail_id = m.id "
            "WHERE m.thread_id = ? AND m.direction = 'in' AND NOT m.seen "
            "AND instr(' ' || c.flags || ' ', ' \\Seen ') = 0 ORDER BY c.folder, c.uid",
            (-conversation_id,),
        )
    ]


def seen_pending(conn: Connection, account_id: str | None) -> list[Location]:
    """Copies without ``\\Seen`` of the mails read here that the server has not confirmed."""
    where = "" if account_id is None else "AND c.account_id = ? "
    return [
        (r[0], r[1], r[2])
        for r in rows(
            conn,
            "SELECT c.account_id, c.folder, c.uid FROM mail_seen_pending p "
            "JOIN mail_copy c ON c.mail_id = p.mail_id "
            f"WHERE instr(' ' || c.flags || ' ', ' \\Seen ') = 0 {where}"
            "ORDER BY c.account_id, c.folder, c.uid",
            () if account_id is None else (account_id,),
        )
    ]


def contact_conversations(conn: Connection, contact_id: int) -> list[Conversation]:
    return [
        convert.conversation_from_mapping(r)
        for r in rows(
            conn,
            "SELECT * FROM conversation WHERE contact_id = ? ORDER BY updated_at DESC, id DESC",
            (contact_id,),
        )
    ]


def inline_images(raw: bytes) -> dict[str, tuple[str, bytes]]:
    """``cid -> (content type, bytes)`` of the images a message carries inline (e.g. the
    signature's), so the reader shows our own sent mail complete without the network."""
    found: dict[str, tuple[str, bytes]] = {}
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        for part in msg.walk():
            cid = str(part.get("content-id") or "").strip().strip("<>").strip()
            if not cid or part.get_content_maintype() != "image":
                continue
            data = part.get_payload(decode=True)
            if isinstance(data, bytes) and len(data) <= MAX_INLINE_IMAGE:
                found[cid] = (part.get_content_type(), data)
    except Exception:  # best effort: the mail is sent and stored either way
        return found
    return found
