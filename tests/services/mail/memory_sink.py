"""An in-memory :class:`MailSink` for tests (the SQLite one lives in storage, later)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field, replace

from omnidesk.mail.threads import Threader
from omnidesk.mail.types import FlagUpdate, FolderState, ParsedMail


@dataclass
class MemorySink:
    own_addresses: tuple[str, ...] = ()
    states: dict[tuple[str, str], FolderState] = field(default_factory=dict)
    messages: dict[tuple[str, str], dict[int, ParsedMail]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    forgotten: list[tuple[str, str]] = field(default_factory=list)
    stored_batches: list[int] = field(default_factory=list)
    threader: Threader = field(init=False)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.threader = Threader(self.own_addresses)

    async def folder_state(self, account_id: str, folder: str) -> FolderState | None:
        return self.states.get((account_id, folder))

    async def save_folder_state(self, account_id: str, folder: str, state: FolderState) -> None:
        self.states[(account_id, folder)] = state

    async def known_uids(self, account_id: str, folder: str) -> set[int]:
        return set(self.messages[(account_id, folder)])

    async def store_messages(
        self, account_id: str, folder: str, messages: list[ParsedMail]
    ) -> None:
        box = self.messages[(account_id, folder)]
        for mail in messages:
            assert mail.uid is not None
            box[mail.uid] = mail
            self.threader.add(mail)
        self.stored_batches.append(len(messages))
        self.changed.set()

    async def apply_flags(self, account_id: str, folder: str, updates: list[FlagUpdate]) -> None:
        box = self.messages[(account_id, folder)]
        for update in updates:
            if update.uid in box:
                box[update.uid] = replace(box[update.uid], flags=update.flags)
        self.changed.set()

    async def remove_uids(self, account_id: str, folder: str, uids: list[int]) -> None:
        box = self.messages[(account_id, folder)]
        for uid in uids:
            box.pop(uid, None)
        self.changed.set()

    async def forget_folder(self, account_id: str, folder: str) -> None:
        self.forgotten.append((account_id, folder))
        self.messages.pop((account_id, folder), None)
        self.states.pop((account_id, folder), None)

    # -- test conveniences ---------------------------------------------------------------

    def box(self, account_id: str, folder: str = "INBOX") -> dict[int, ParsedMail]:
        return self.messages[(account_id, folder)]

    def by_message_id(self, account_id: str, folder: str = "INBOX") -> dict[str, ParsedMail]:
        return {m.message_id: m for m in self.box(account_id, folder).values()}
