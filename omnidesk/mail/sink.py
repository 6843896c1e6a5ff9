"""Where synced mail goes: the storage implements :class:`MailSink`; tests use a dict."""

from __future__ import annotations

from typing import Protocol

from .types import FlagUpdate, FolderState, ParsedMail


class MailSink(Protocol):
    """What the IMAP sync needs from the local cache, per account and folder."""

    async def folder_state(self, account_id: str, folder: str) -> FolderState | None:
        """The state saved by the last sync, or None before the first one."""
        ...

    async def save_folder_state(self, account_id: str, folder: str, state: FolderState) -> None: ...

    async def known_uids(self, account_id: str, folder: str) -> set[int]:
        """UIDs of the folder's messages in the cache."""
        ...

    async def store_messages(
        self, account_id: str, folder: str, messages: list[ParsedMail]
    ) -> None:
        """New messages (one batch). A UID already stored is replaced."""
        ...

    async def apply_flags(
        self, account_id: str, folder: str, updates: list[FlagUpdate]
    ) -> None: ...

    async def remove_uids(self, account_id: str, folder: str, uids: list[int]) -> None:
        """The messages were expunged on the server."""
        ...

    async def forget_folder(self, account_id: str, folder: str) -> None:
        """UIDVALIDITY changed: every cached UID of the folder is void."""
        ...
