"""The sync engine against a real (private) Dovecot."""

from __future__ import annotations

from dataclasses import replace

import pytest

from omnidesk.mail.types import MailAccount, SyncProgress
from omnidesk.services.mail.errors import MailAuthError, MailUnreachable
from omnidesk.services.mail.imap_blocking import BlockingImap
from omnidesk.services.mail.imap_connection import AsyncImap
from omnidesk.services.mail.imap_sync import FolderSync
from tests.helpers.dovecot import DovecotServer, free_port
from tests.services.mail.factory import make_raw
from tests.services.mail.memory_sink import MemorySink


def server_flags(dovecot: DovecotServer, uid: int) -> str:
    with dovecot.client() as conn:
        _typ, data = conn.uid("FETCH", str(uid), "(FLAGS)")
        return repr(data)


async def test_first_sync_newest_first_in_batches_without_setting_seen(
    dovecot: DovecotServer, account: MailAccount
) -> None:
    dovecot.deliver_many(
        [make_raw(i, attachment=b"%PDF" + bytes(3000) if i % 10 == 0 else None) for i in range(120)]
    )
    sink = MemorySink()
    progress: list[SyncProgress] = []
    sync = FolderSync(account, lambda: dovecot.password, sink, batch_size=50,
                      progress=progress.append)  # fmt: skip
    try:
        result = await sync.sync("INBOX")
    finally:
        await sync.aclose()
    assert result.new == 120 and not result.full_resync
    box = sink.box("acct")
    assert len(box) == 120
    assert sink.stored_batches == [50, 50, 20]
    assert progress[0] == SyncProgress(0, 120) and progress[-1] == SyncProgress(120, 120)
    # newest first: the first batch stored holds the highest UIDs
    assert max(box) == 120
    mail = box[11]
    assert mail.message_id == "<msg10@c.example>"
    assert mail.folder == "INBOX" and not mail.seen
    assert [a.filename for a in mail.attachments] == ["invoice10.pdf"]
    assert mail.attachments[0].size == 3004
    assert "\\Seen" not in server_flags(dovecot, 11)
    state = sink.states[("acct", "INBOX")]
    assert state.highest_uid == 120 and state.uidnext == 121 and state.highestmodseq


async def test_incremental_new_flags_and_expunge(
    dovecot: DovecotServer, account: MailAccount
) -> None:
    dovecot.deliver_many([make_raw(i) for i in range(10)])
    sink = MemorySink()
    sync = FolderSync(account, lambda: dovecot.password, sink)
    try:
        await sync.sync()
        assert (await sync.sync()).new == 0

        dovecot.deliver_many([make_raw(i) for i in range(10, 13)])
        with dovecot.client() as conn:  # another client flags one and deletes one
            conn.uid("STORE", "2", "+FLAGS", "(\\Flagged \\Seen)")
            conn.uid("STORE", "3", "+FLAGS", "(\\Deleted)")
            conn.expunge()
        result = await sync.sync()
    finally:
        await sync.aclose()
    assert (result.new, result.removed) == (3, 1)
    assert result.flag_changes >= 1
    box = sink.box("acct")
    assert sorted(box) == [1, 2, *range(4, 14)]
    assert box[2].flags == {"\\Flagged", "\\Seen"}
    assert box[13].message_id == "<msg12@c.example>"


async def test_flags_without_condstore_use_chunked_fetch(
    dovecot: DovecotServer, account: MailAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_condstore(self: BlockingImap) -> None:
        self.capabilities = frozenset()

    monkeypatch.setattr(BlockingImap, "_after_login", no_condstore)
    dovecot.deliver_many([make_raw(i) for i in range(5)])
    sink = MemorySink()
    sync = FolderSync(account, lambda: dovecot.password, sink)
    try:
        await sync.sync()
        assert sink.states[("acct", "INBOX")].highestmodseq is None
        with dovecot.client() as conn:
            conn.uid("STORE", "4", "+FLAGS", "(\\Answered)")
        result = await sync.sync()
    finally:
        await sync.aclose()
    assert result.flag_changes == 5
    assert sink.box("acct")[4].flags == {"\\Answered"}


async def test_uidvalidity_change_refetches_everything(
    dovecot: DovecotServer, account: MailAccount
) -> None:
    with dovecot.client(None) as conn:
        conn.create("Work")
        for i in range(3):
            conn.append("Work", None, None, make_raw(i))
    sink = MemorySink()
    sync = FolderSync(account, lambda: dovecot.password, sink)
    try:
        await sync.sync("Work")
        before = sink.states[("acct", "Work")].uidvalidity
        with dovecot.client(None) as conn:
            conn.delete("Work")
            conn.create("Work")
            conn.append("Work", None, None, make_raw(99))
        result = await sync.sync("Work")
    finally:
        await sync.aclose()
    assert result.full_resync and result.new == 1
    assert sink.forgotten == [("acct", "Work")]
    assert sink.states[("acct", "Work")].uidvalidity != before
    assert [m.message_id for m in sink.box("acct", "Work").values()] == ["<msg99@c.example>"]


async def test_mark_seen(dovecot: DovecotServer, account: MailAccount) -> None:
    dovecot.deliver_many([make_raw(1), make_raw(2)])
    sync = FolderSync(account, lambda: dovecot.password, MemorySink())
    await sync.mark_seen("INBOX", 2)
    assert "\\Seen" in server_flags(dovecot, 2)
    assert "\\Seen" not in server_flags(dovecot, 1)
    await sync.mark_seen("INBOX", 2, seen=False)
    assert "\\Seen" not in server_flags(dovecot, 2)


async def test_wrong_password_sync(dovecot: DovecotServer, account: MailAccount) -> None:
    # one failed login per Dovecot: its anvil delays the next ones from the same address
    sync = FolderSync(account, lambda: "wrong", MemorySink(), timeout=10)
    with pytest.raises(MailAuthError):
        await sync.sync()


async def test_wrong_password_interactive(dovecot: DovecotServer, account: MailAccount) -> None:
    client = AsyncImap(account, lambda: "wrong", timeout=10)
    with pytest.raises(MailAuthError):
        await client.connect()


async def test_unreachable(account: MailAccount) -> None:
    nowhere = replace(account, imap_port=free_port())
    with pytest.raises(MailUnreachable):
        await FolderSync(nowhere, lambda: "x", MemorySink(), timeout=5).sync()
    with pytest.raises(MailUnreachable):
        await AsyncImap(nowhere, lambda: "x", timeout=5).connect()
