"""What the mail parts of the UI ask of the mail service (``omnidesk.services.mail``).

A structural type, so the UI is written and tested against the documented calls (docs/email.md)
and the real ``MailService`` satisfies it without the UI importing its machinery.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from omnidesk.changes import Changes
from omnidesk.domain import Conversation, ConversationStatus, MailDetail
from omnidesk.mail.types import MailAccount


class MailApi(Protocol):
    async def check_account(self, account: MailAccount, password: str) -> str | None:
        """None when IMAP and SMTP both accept the login, else one sentence."""
        ...

    async def open_conversation(self, conversation_id: int) -> Changes:
        """Mark its mails read here at once and on the server (later, if offline)."""
        ...

    async def detail(self, message_id: int, *, allow_remote: bool = False) -> MailDetail | None:
        """The mail from the cache; ``allow_remote`` keeps remote ``<img src>`` in the HTML."""
        ...

    async def load_remote_images(self, message_id: int) -> dict[str, bytes]:
        """``url -> bytes`` of the mail's remote images (only when the agent asks)."""
        ...

    async def save_attachment(self, message_id: int, index: int, path: Path) -> None: ...

    async def send_reply(
        self,
        conversation_id: int,
        text: str,
        reply_to: int | None,
        *,
        reply_all: bool = False,
        attachments: Sequence[Path] = (),
    ) -> Changes: ...

    async def cancel_reply(self, client_id: str) -> Changes:
        """Drop a queued or failed reply (one being sent goes out if SMTP already took it)."""
        ...

    async def set_status(self, conversation_id: int, status: ConversationStatus) -> Changes: ...

    async def contact_conversations(self, contact_id: int) -> list[Conversation]: ...
