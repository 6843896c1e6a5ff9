"""Plain dataclasses shared by the mail modules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Security = Literal["tls", "starttls", "none"]

PasswordProvider = Callable[[], str]
"""Returns the account password (from the keyring or a prompt); never stored here."""


@dataclass(frozen=True)
class Address:
    name: str
    email: str

    def __str__(self) -> str:
        if self.name:
            from email.utils import formataddr

            return formataddr((self.name, self.email))
        return self.email


@dataclass(frozen=True)
class SignatureImage:
    """An inline image of the signature, referenced in the HTML as ``cid:<content_id>``."""

    content_id: str
    content_type: str
    data: bytes
    filename: str = ""


@dataclass(frozen=True)
class MailAccount:
    """One mailbox the agent works in. The password is not here: see ``PasswordProvider``."""

    id: str
    address: str
    login: str
    imap_host: str
    imap_port: int = 993
    imap_security: Security = "tls"
    smtp_host: str = ""
    smtp_port: int = 465
    smtp_security: Security = "tls"
    display_name: str = ""
    folders: tuple[str, ...] = ("INBOX",)
    sent_folder: str = "Sent"
    signature_html: str = ""
    signature_images: tuple[SignatureImage, ...] = ()
    own_addresses: tuple[str, ...] = ()
    """Aliases that also belong to the agent (left out of reply-all)."""
    tls_ca_file: str = ""
    """A PEM file of certificates to trust *as well as* the system's (a private CA or a
    self-signed server certificate), for IMAP and SMTP; ``""`` trusts the system store only."""

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"

    def all_own_addresses(self) -> frozenset[str]:
        return frozenset(a.lower() for a in (self.address, *self.own_addresses))


@dataclass(frozen=True)
class Attachment:
    """Metadata of one attachment; the body stays on the server (or in the raw bytes)."""

    filename: str
    content_type: str
    size: int
    content_id: str | None = None
    inline: bool = False
    part_path: str = ""
    """IMAP section number (``"2"``, ``"1.2"``) to fetch the part lazily."""


@dataclass
class ParsedMail:
    message_id: str
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    date: dt.datetime | None = None
    text: str = ""
    html: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    flags: frozenset[str] = frozenset()
    uid: int | None = None
    folder: str | None = None
    size: int = 0
    defects: list[str] = field(default_factory=list)
    synthetic_id: bool = False
    """True when the message had no usable Message-ID and one was derived from its content."""

    @property
    def seen(self) -> bool:
        return "\\Seen" in self.flags

    def participants(self) -> frozenset[str]:
        return frozenset(a.email.lower() for a in (*self.from_, *self.to, *self.cc) if a.email)


@dataclass(frozen=True)
class ThreadAssignment:
    """Result of feeding one message to the threader."""

    message_id: str
    thread_id: str
    is_new_thread: bool
    duplicate: bool = False
    """The Message-ID was already seen (e.g. the same mail in INBOX and Sent)."""
    merged: tuple[str, ...] = ()
    """Thread ids that this message proved to be the same thread; they now map to ``thread_id``."""


@dataclass
class Thread:
    thread_id: str
    subject: str
    message_ids: list[str] = field(default_factory=list)
    participants: set[str] = field(default_factory=set)
    last_date: dt.datetime | None = None


@dataclass(frozen=True)
class FolderState:
    """What the sync remembers per folder between runs."""

    uidvalidity: int
    uidnext: int
    highestmodseq: int | None = None
    highest_uid: int = 0


@dataclass(frozen=True)
class FlagUpdate:
    uid: int
    flags: frozenset[str]
    modseq: int | None = None


@dataclass(frozen=True)
class SyncProgress:
    fetched: int
    total: int


@dataclass(frozen=True)
class SyncResult:
    folder: str
    new: int = 0
    flag_changes: int = 0
    removed: int = 0
    full_resync: bool = False
