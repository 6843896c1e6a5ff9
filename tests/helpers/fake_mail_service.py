"""A small in-memory stand-in for ``MailService`` (the calls in ``omnidesk.ui.mail_api``) and
mail-shaped domain objects, for UI tests that need no IMAP server."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omnidesk.changes import NO_CHANGES, Changes
from omnidesk.domain import (
    Channel,
    ChannelKind,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    MailDetail,
    Message,
    MessageStatus,
    Mode,
)
from omnidesk.mail.types import MailAccount
from omnidesk.storage import Cache

BASE = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def mail_message(
    id: int,
    conversation_id: int,
    text: str,
    *,
    subject: str = "Order 1234 arrived broken",
    outgoing: bool = False,
    minute: float = 0,
) -> Message:
    stamp = BASE + dt.timedelta(minutes=minute)
    return Message(
        id=id,
        conversation_id=conversation_id,
        direction=Direction.OUT if outgoing else Direction.IN,
        author="agent:support@shop.test" if outgoing else "customer",
        type="email",
        text=text,
        payload={"email": {"subject": subject, "account_id": "acct"}},
        reply_to=None,
        status=MessageStatus.SENT if outgoing else MessageStatus.RECEIVED,
        error=None,
        created_at=stamp,
        updated_at=stamp,
    )


def mail_conversation(
    id: int,
    last: Message | None,
    *,
    contact_id: int = -501,
    name: str = "Carol Customer",
    handle: str = "carol@cust.example",
    unread: int = 1,
    minute: float = 0,
) -> Conversation:
    return Conversation(
        id=id,
        channel=Channel("email:acct", ChannelKind.EMAIL, "support@shop.test"),
        contact=Contact(contact_id, name, handle),
        status=ConversationStatus.OPEN,
        mode=Mode.HUMAN,
        assignee=None,
        handoff_reason=None,
        last_message=last,
        unread_count=unread,
        updated_at=BASE + dt.timedelta(minutes=minute),
    )


class FakeMailService:
    """Records what the UI asked; answers from dicts the test fills."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.details: dict[int, MailDetail] = {}
        self.remote_html: dict[int, str] = {}
        self.remote_images: dict[str, bytes] = {}
        self.opened: list[int] = []
        self.sent: list[tuple[int, str, int | None, bool, tuple[Path, ...]]] = []
        self.statuses: list[tuple[int, ConversationStatus]] = []
        self.saved: list[tuple[int, int, Path]] = []
        self.remote_calls: list[int] = []
        self.checks: list[tuple[MailAccount, str]] = []
        self.check_answer: str | None = None
        self.save_error: BaseException | None = None
        self.cancelled: list[str] = []

    async def check_account(self, account: MailAccount, password: str) -> str | None:
        self.checks.append((account, password))
        return self.check_answer

    async def open_conversation(self, conversation_id: int) -> Changes:
        self.opened.append(conversation_id)
        conv = await self.cache.conversation(conversation_id)
        if conv is None or not conv.unread_count:
            return NO_CHANGES
        return await self.cache.upsert_conversations([dataclasses.replace(conv, unread_count=0)])

    async def detail(self, message_id: int, *, allow_remote: bool = False) -> MailDetail | None:
        found = self.details.get(message_id)
        if found is not None and allow_remote and message_id in self.remote_html:
            return dataclasses.replace(found, html=self.remote_html[message_id])
        return found

    async def load_remote_images(self, message_id: int) -> dict[str, bytes]:
        self.remote_calls.append(message_id)
        return dict(self.remote_images)

    async def save_attachment(self, message_id: int, index: int, path: Path) -> None:
        if self.save_error is not None:
            raise self.save_error
        self.saved.append((message_id, index, path))

    async def send_reply(
        self,
        conversation_id: int,
        text: str,
        reply_to: int | None,
        *,
        reply_all: bool = False,
        attachments: Sequence[Path] = (),
    ) -> Changes:
        self.sent.append((conversation_id, text, reply_to, reply_all, tuple(attachments)))
        return Changes(threads=frozenset({conversation_id}))

    async def cancel_reply(self, client_id: str) -> Changes:
        self.cancelled.append(client_id)
        return await self.cache.outbox_cancel(client_id)

    async def set_status(self, conversation_id: int, status: ConversationStatus) -> Changes:
        self.statuses.append((conversation_id, status))
        conv = await self.cache.conversation(conversation_id)
        assert conv is not None
        return await self.cache.upsert_conversations([dataclasses.replace(conv, status=status)])

    async def contact_conversations(self, contact_id: int) -> list[Conversation]:
        everything: list[Any] = await self.cache.conversations(limit=500)
        return [c for c in everything if c.contact.id == contact_id]
