"""Plain values shared by every layer of the console: no Qt, no SQL, no HTTP.

The relay's JSON is turned into these by ``omnidesk.services.wire``; the cache turns its rows
into these at its edge; the UI only ever sees these.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any


class ChannelKind(enum.StrEnum):
    WHATSAPP = "whatsapp"
    INSTAGRAM = "instagram"
    EMAIL = "email"
    OTHER = "other"

    @classmethod
    def parse(cls, value: str) -> ChannelKind:
        try:
            return cls(value)
        except ValueError:
            return cls.OTHER


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"


class Mode(enum.StrEnum):
    BOT = "bot"
    HUMAN = "human"


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"
    INTERNAL = "internal"
    """A note inside the relay (handoffs, system activity), never sent to the customer."""


class MessageStatus(enum.StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENDING = "sending"
    UNCONFIRMED = "unconfirmed"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    UNKNOWN = "unknown"
    """A status this console does not know yet (the relay is newer)."""

    @classmethod
    def parse(cls, value: str) -> MessageStatus:
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


class OutboxState(enum.StrEnum):
    QUEUED = "queued"
    """Written by the agent, waiting for the relay."""
    SENDING = "sending"
    """Handed to the relay, no answer yet."""
    FAILED = "failed"
    """The relay refused it for good; ``error`` says why. Kept until cancelled."""
    CANCELLING = "cancelling"
    """Cancelled while handed to the relay: dropped unless the relay already took it."""


class ConnectionState(enum.StrEnum):
    OFFLINE = "offline"
    """Not started, or stopped."""
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    NEEDS_TOKEN = "needs_token"
    """The relay said 401: the token is missing or revoked."""


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    kind: ChannelKind
    name: str


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    name: str
    handle: str

    @property
    def display_name(self) -> str:
        """The name, or the handle when the channel gave no name (Instagram often does not)."""
        return self.name.strip() or self.handle


@dataclass(frozen=True, slots=True)
class MessageError:
    code: int | None
    title: str
    detail: str


@dataclass(frozen=True, slots=True)
class Media:
    id: str | None
    mime_type: str | None
    caption: str | None
    filename: str | None


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: int
    direction: Direction
    author: str
    """``customer``, ``agent:<name>``, ``bot`` or ``system``."""
    type: str
    text: str | None
    payload: dict[str, Any]
    reply_to: int | None
    status: MessageStatus
    error: MessageError | None
    created_at: dt.datetime
    updated_at: dt.datetime
    external_id: str | None = None

    @property
    def media(self) -> Media | None:
        raw = self.payload.get("media")
        if not isinstance(raw, dict):
            return None
        return Media(
            id=_opt_str(raw.get("id")),
            mime_type=_opt_str(raw.get("mime_type")),
            caption=_opt_str(raw.get("caption")),
            filename=_opt_str(raw.get("filename")),
        )

    @property
    def body(self) -> str:
        """The text a person reads for this message (text, else caption, else file name)."""
        if self.text:
            return self.text
        media = self.media
        if media is not None:
            return media.caption or media.filename or ""
        return ""

    @property
    def is_note(self) -> bool:
        """Shown as a centred line, not a bubble."""
        return self.type == "activity" or self.direction is Direction.INTERNAL

    @property
    def author_agent(self) -> str | None:
        return self.author.removeprefix("agent:") if self.author.startswith("agent:") else None


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    channel: Channel
    contact: Contact
    status: ConversationStatus
    mode: Mode
    assignee: str | None
    handoff_reason: str | None
    last_message: Message | None
    unread_count: int
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A reply the agent wrote that the relay has not accepted yet."""

    client_id: str
    """Fixed when written; sent as ``Idempotency-Key`` so a retry never sends twice."""
    conversation_id: int
    text: str
    reply_to: int | None
    state: OutboxState
    created_at: dt.datetime
    error: str | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Draft:
    conversation_id: int
    text: str
    reply_to: int | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    conversation_id: int
    message_id: int
    snippet: str
    contact_name: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    """What the conversation list shows. ``None`` means "any"."""

    channel_id: str | None = None
    status: ConversationStatus | None = None
    mine: bool = False
    unassigned: bool = False
    bot: bool = False
    me: str | None = None
    """The agent's name, needed for ``mine``."""


@dataclass(frozen=True, slots=True)
class RelayEvent:
    id: int
    type: str
    conversation_id: int | None
    message_id: int | None
    messages: tuple[Message, ...] = ()
    conversations: tuple[Conversation, ...] = ()


@dataclass(frozen=True, slots=True)
class CacheReport:
    """What happened when the cache was opened, in words the agent can be shown."""

    path: str
    rebuilt: bool = False
    reason: str | None = None
    """``"corrupt"`` or ``"newer"`` when rebuilt."""
    moved_to: str | None = None
    recovered_outbox: int = 0
    notes: list[str] = field(default_factory=list)


def is_mail_conversation(conversation_id: int) -> bool:
    """Mail threads live in the cache under negative ids; the relay's ids are positive."""
    return conversation_id < 0


class MailAccountState(enum.StrEnum):
    STARTING = "starting"
    SYNCING = "syncing"
    """First or catch-up sync running; ``progress`` says how far."""
    LIVE = "live"
    """Synced and waiting for push (IDLE)."""
    RETRYING = "retrying"
    """The server could not be reached or dropped us; ``detail`` says why, retried later."""
    AUTH_FAILED = "auth_failed"
    """The password was refused: nothing is retried until the agent enters a new one."""
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class MailAccountStatus:
    """What the console shows about one mail account (a status line, the settings dialog)."""

    account_id: str
    address: str
    state: MailAccountState
    detail: str = ""
    """Plain words for the agent (``"wrong password for support@acme.example"``)."""
    progress: tuple[int, int] | None = None
    """``(fetched, total)`` during a sync."""
    retry_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class MailAttachmentInfo:
    index: int
    """Position in :attr:`MailDetail.attachments`; what ``save_attachment`` takes."""
    filename: str
    content_type: str
    size: int
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class MailDetail:
    """One email as the reader pane shows it (bodies come from the cache, not the network)."""

    message_id: int
    """The cache's (negative) message id."""
    account_id: str
    subject: str
    from_: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: dt.datetime | None
    html: str
    """Sanitised by nh3, remote images blocked; empty when the mail had no HTML part."""
    text: str
    attachments: tuple[MailAttachmentInfo, ...]
    inline_images: dict[str, bytes] = field(default_factory=dict)
    """``cid`` (without brackets) -> image bytes, for ``cid:`` references in ``html``."""
    has_remote_images: bool = False


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
