"""The cache's tables. Rows never leave storage: ``convert`` turns them into domain objects.

They live in their own registry and metadata, not SQLModel's global one, so the console and
the relay (whose tables have the same names) can be imported in one process (the demo, tests).
"""

from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

cache_registry = registry()


class CacheModel(SQLModel, registry=cache_registry):
    """Base of the cache's tables."""


class ConversationRow(CacheModel, table=True):
    __tablename__ = "conversation"

    id: int = Field(primary_key=True)
    channel_id: str = Field(index=True)
    channel_kind: str
    channel_name: str
    contact_id: int
    contact_name: str
    contact_handle: str
    status: str = Field(index=True)
    mode: str
    assignee: str | None = None
    handoff_reason: str | None = None
    last_message_json: str | None = None
    unread_count: int = 0
    updated_at: str = Field(index=True)
    """UTC ISO-8601 with a fixed format, so text order is time order."""


class MessageRow(CacheModel, table=True):
    __tablename__ = "message"

    id: int = Field(primary_key=True)
    conversation_id: int = Field(index=True)
    direction: str
    author: str
    type: str
    text: str | None = None
    body: str = ""
    """What full-text search indexes: text, else caption, else file name."""
    payload_json: str = "{}"
    reply_to: int | None = None
    status: str
    error_json: str | None = None
    created_at: str
    updated_at: str
    external_id: str | None = None


class OutboxRow(CacheModel, table=True):
    __tablename__ = "outbox"

    seq: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(unique=True)
    conversation_id: int = Field(index=True)
    text: str
    reply_to: int | None = None
    state: str
    error: str | None = None
    created_at: str


class DraftRow(CacheModel, table=True):
    __tablename__ = "draft"

    conversation_id: int = Field(primary_key=True)
    text: str
    reply_to: int | None = None


class MetaRow(CacheModel, table=True):
    __tablename__ = "meta"

    key: str = Field(primary_key=True)
    value: str


# -- email (schema version 2) -----------------------------------------------------------------
# Mail threads and mails are shown through the ``conversation`` and ``message`` tables above,
# under negative ids (``conversation.id = -mail_thread.id``, ``message.id = -mail_message.id``).
# These tables keep what only the mail side needs: the headers a reply and the threader need,
# the HTML body, the (folder, uid) copies on the server, and each folder's sync state.


class MailThreadRow(CacheModel, table=True):
    """One JWZ thread of one account; never reused after deletion (AUTOINCREMENT)."""

    __tablename__ = "mail_thread"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(index=True)


class MailMessageRow(CacheModel, table=True):
    """One mail (one Message-ID per account), whatever the number of copies on the server.

    ``id`` is allocated from the mail's date (older = larger, see ``mail_rows.mail_key``), so
    ``message.id = -id`` grows with time like the relay's ids and the thread view, its paging
    and "newest message" work unchanged for mail.
    """

    __tablename__ = "mail_message"
    __table_args__ = (UniqueConstraint("account_id", "message_id"),)

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    account_id: str
    message_id: str
    thread_id: int = Field(index=True)
    direction: str
    in_reply_to: str | None = None
    refs: str = ""
    """References, space separated."""
    subject: str = ""
    addresses_json: str = "{}"
    """``{"from": [[name, email], ...], "to": ..., "cc": ..., "reply_to": ...}``."""
    participants: str = ""
    """Lower-case addresses of From, To and Cc, space separated (for the threader)."""
    peer_email: str = ""
    """The customer this mail is with: From if inbound, else the first external To/Cc."""
    peer_name: str = ""
    date: str | None = None
    html: str = ""
    has_plain: bool = False
    """``message.text`` is the text/plain part (else it was made from the HTML)."""
    attachments_json: str = "[]"
    synthetic_id: bool = False
    seen: bool = False
    """Any copy has ``\\Seen`` (or the agent opened it here)."""
    size: int = 0
    gc_folder: str | None = None
    """Its last copy, in this folder, was voided by a UIDVALIDITY change: removed when that
    folder's refetch ends without finding it (the conversation survives a refetch)."""


class MailCopyRow(CacheModel, table=True):
    """One (folder, uid) copy of a mail on the server, with its flags."""

    __tablename__ = "mail_copy"

    account_id: str = Field(primary_key=True)
    folder: str = Field(primary_key=True)
    uid: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    mail_id: int = Field(index=True)
    flags: str = ""
    """Space separated, e.g. ``\\Seen \\Flagged``."""


class MailFolderRow(CacheModel, table=True):
    __tablename__ = "mail_folder"

    account_id: str = Field(primary_key=True)
    folder: str = Field(primary_key=True)
    uidvalidity: int
    uidnext: int
    highestmodseq: int | None = None
    highest_uid: int = 0


class MailPartRow(CacheModel, table=True):
    """Bytes of an inline (``cid:``) image, so the reader shows it without the network."""

    __tablename__ = "mail_part"

    mail_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    content_id: str = Field(primary_key=True)
    content_type: str
    data: bytes


class MailSeenPendingRow(CacheModel, table=True):
    """A mail the agent read here whose ``\\Seen`` the server has not confirmed yet (schema
    version 3): it stays read here whatever a flag sync says, and the mail service sets
    ``\\Seen`` on its copies when it can (after a restart too). Gone once every copy has
    ``\\Seen``, or with its mail (trigger)."""

    __tablename__ = "mail_seen_pending"

    mail_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})


class MailOutboxRow(CacheModel, table=True):
    """The built MIME of a queued mail reply, beside its ``outbox`` row (same client id).

    A trigger deletes it with its outbox row (cancel, sent), so the outbox code stays the same
    for both channels.
    """

    __tablename__ = "mail_outbox"

    client_id: str = Field(primary_key=True)
    account_id: str
    message_id: str
    sender: str
    recipients_json: str
    raw: bytes
