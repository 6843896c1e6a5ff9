"""Parsed mail <-> the cache's rows, with no database access (pure, unit-testable).

A mail is written twice: a ``mail_message`` row (what a reply and the threader need) and a
``message`` row (what the unified thread view, search and previews read). Both use one id,
allocated from the mail's date so that ids grow with time like the relay's (see
:func:`mail_key`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from omnidesk.domain import utcnow
from omnidesk.mail.compose import html_to_text
from omnidesk.mail.types import Address, Attachment, ParsedMail
from omnidesk.storage import convert

KEY_BASE = 2**53
"""``mail_message.id = KEY_BASE - (seconds since 1970 * SLOTS + slot)``; stays below 2**53."""
SLOTS = 1_000_000
"""Ids available per second of date (mails of the same second get different slots)."""
_MAX_SECONDS = (KEY_BASE // SLOTS) - 1
_QUOTED = re.compile(r"^>.*(?:\n|\Z)", re.MULTILINE)
SEARCHABLE_CHARS = 20_000
"""Search indexes this much of a mail's text (beyond it: the thread's own words repeat)."""


def mail_key(date: dt.datetime, message_id: str) -> int:
    """The preferred ``mail_message.id``: older mail gets a larger id, so ``message.id`` (its
    negation) grows with time. The slot comes from the Message-ID, so a refetched mail
    (UIDVALIDITY reset) usually gets its old id back. Collisions are probed by the writer."""
    seconds = min(max(int(date.timestamp()), 0), _MAX_SECONDS)
    digest = hashlib.blake2b(message_id.encode("utf-8", "replace"), digest_size=8).digest()
    slot = int.from_bytes(digest, "big") % SLOTS
    return KEY_BASE - (seconds * SLOTS + slot)


def next_free_key(key: int) -> int:
    """The next candidate after a collision (still within the same second when possible)."""
    return key - 1


def contact_id(address: str) -> int:
    """A stable negative id per customer address: every thread with them shares it."""
    digest = hashlib.sha1(address.lower().encode("utf-8", "replace")).digest()
    return -(int.from_bytes(digest[:6], "big") + 1)


def channel_id(account_id: str) -> str:
    return f"email:{account_id}"


def account_of_channel(channel: str) -> str | None:
    return channel.removeprefix("email:") if channel.startswith("email:") else None


# -- addresses --------------------------------------------------------------------------------


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""One encoder for every row (``json.dumps(..., ensure_ascii=False)`` builds one per call)."""
ADDRESS_FIELDS = ("from", "to", "cc", "reply_to")


def addresses_json(mail: ParsedMail) -> str:
    lists = (mail.from_, mail.to, mail.cc, mail.reply_to)
    return _encode(
        {k: [[a.name, a.email] for a in v] for k, v in zip(ADDRESS_FIELDS, lists, strict=True)}
    )


def addresses_from_json(value: str) -> dict[str, list[Address]]:
    """Every address field (missing ones empty) as :class:`Address` lists."""
    found = json.loads(value or "{}")
    return {k: [Address(str(n), str(e)) for n, e in found.get(k, ())] for k in ADDRESS_FIELDS}


def shown(address: Address) -> str:
    """``Name <email>`` for people to read (``formataddr`` would encode non-ASCII names)."""
    return f"{address.name} <{address.email}>" if address.name else address.email


# -- ParsedMail -> rows -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MailFacts:
    """What the writer needs to know about one parsed mail before it has an id."""

    direction: str
    peer_email: str
    peer_name: str
    created_at: str
    """Date header as cache text (else the time it was stored)."""
    date: str | None
    text: str
    has_plain: bool


def facts(mail: ParsedMail, own: frozenset[str], arrived: dt.datetime | None = None) -> MailFacts:
    outbound = any(a.email.lower() in own for a in mail.from_)
    peer: Address | None = None
    if outbound:
        for a in (*mail.to, *mail.cc):
            if a.email and a.email.lower() not in own:
                peer = a
                break
    else:  # the customer is who wrote (not Reply-To, often a no-reply or a list)
        for a in (*mail.from_, *mail.reply_to):
            if a.email:
                peer = a
                break
    date = convert.ts(mail.date) if mail.date is not None else None
    has_plain = bool(mail.text) and not mail.text.isspace()
    text = mail.text if has_plain else (html_to_text(mail.html) if mail.html else "")
    return MailFacts(
        direction="out" if outbound else "in",
        peer_email=peer.email.lower() if peer else "",
        peer_name=peer.name if peer else "",
        created_at=date or convert.ts(arrived or utcnow()),
        date=date,
        text=text,
        has_plain=has_plain,
    )


MAIL_COLUMNS = (
    "id", "account_id", "message_id", "thread_id", "direction", "in_reply_to", "refs",
    "subject", "addresses_json", "participants",
    "peer_email", "peer_name", "date", "html", "has_plain", "attachments_json",
    "synthetic_id", "seen", "size", "gc_folder",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "id", "conversation_id", "direction", "author", "type", "text", "body", "payload_json",
    "reply_to", "status", "error_json", "created_at", "updated_at", "external_id",
)  # fmt: skip


def mail_row(
    mail: ParsedMail, f: MailFacts, account_id: str, key: int, thread_id: int, seen: bool
) -> tuple[Any, ...]:
    return (
        key, account_id, mail.message_id, thread_id, f.direction, mail.in_reply_to,
        " ".join(mail.references), mail.subject, addresses_json(mail),
        " ".join(sorted(mail.participants())), f.peer_email, f.peer_name, f.date, mail.html,
        f.has_plain, _encode([_attachment_dict(a) for a in mail.attachments]),
        mail.synthetic_id, seen, mail.size, None,
    )  # fmt: skip


def message_row(
    mail: ParsedMail,
    f: MailFacts,
    account_id: str,
    key: int,
    thread_id: int,
    own_address: str,
    stamp: str,
) -> tuple[Any, ...]:
    """The ``message`` row: ``-key`` in conversation ``-thread_id``; FTS indexes ``body``."""
    author = f"agent:{own_address}" if f.direction == "out" else "customer"
    payload = {
        "email": {
            "subject": mail.subject,
            "from": shown(mail.from_[0]) if mail.from_ else "",
            "to": [shown(a) for a in mail.to],
            "cc": [shown(a) for a in mail.cc],
            "message_id": mail.message_id,
            "account_id": account_id,
            "attachments": [
                {"filename": a.filename, "content_type": a.content_type, "size": a.size}
                for a in mail.attachments
                if not a.inline
            ],
        }
    }
    body = searchable(mail.subject, f.text)
    return (
        -key, -thread_id, f.direction, author, "email", f.text, body,
        _encode(payload), None, "sent" if f.direction == "out" else "received", None,
        f.created_at, stamp, mail.message_id,
    )  # fmt: skip


def searchable(subject: str, text: str) -> str:
    """What full-text search indexes: the subject and the mail's own words. Quoted lines
    (``> ...``) are left out: they repeat the thread's earlier mails, which are indexed
    themselves, and would make every reply match (and cost index time on a first sync)."""
    if "\n>" in text or text.startswith(">"):
        text = _QUOTED.sub("", text)
    if len(text) > SEARCHABLE_CHARS:
        text = text[:SEARCHABLE_CHARS]
    return f"{subject}\n{text}" if subject else text


def _attachment_dict(a: Attachment) -> dict[str, Any]:
    return {
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "content_id": a.content_id,
        "inline": a.inline,
        "part_path": a.part_path,
    }


def attachments_from_json(value: str) -> list[Attachment]:
    return [
        Attachment(
            filename=str(d.get("filename") or ""),
            content_type=str(d.get("content_type") or "application/octet-stream"),
            size=int(d.get("size") or 0),
            content_id=d.get("content_id"),
            inline=bool(d.get("inline")),
            part_path=str(d.get("part_path") or ""),
        )
        for d in json.loads(value or "[]")
    ]


# -- rows -> ParsedMail -----------------------------------------------------------------------


def parsed_from_row(r: Any, text: str | None) -> ParsedMail:
    """The stored headers and text of a mail, as the composer's ``build_reply`` takes them."""
    addresses = addresses_from_json(r["addresses_json"])
    return ParsedMail(
        message_id=r["message_id"],
        in_reply_to=r["in_reply_to"],
        references=r["refs"].split(),
        subject=r["subject"],
        from_=addresses["from"],
        to=addresses["to"],
        cc=addresses["cc"],
        reply_to=addresses["reply_to"],
        date=convert.parse_ts(r["date"]) if r["date"] else None,
        text=(text or "") if r["has_plain"] else "",
        html=r["html"],
        attachments=attachments_from_json(r["attachments_json"]),
        size=r["size"],
        synthetic_id=bool(r["synthetic_id"]),
    )
