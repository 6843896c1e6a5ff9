"""MailService end to end: real Dovecot, real aiosmtpd, the real SQLite cache and MailStore."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Connection

from omnidesk.changes import Changes
from omnidesk.domain import (
    ConversationStatus,
    Direction,
    MailAccountState,
    MailAccountStatus,
    MessageStatus,
)
from omnidesk.mail.types import MailAccount
from omnidesk.services.mail.accounts import AccountRunner
from omnidesk.services.mail.service import MailService
from omnidesk.storage import Cache
from omnidesk.storage.mail_store import MailStore
from tests.helpers.dovecot import DovecotServer
from tests.helpers.smtp_server import SmtpServer
from tests.helpers.waiting import wait_for_async, wait_until
from tests.services.mail.factory import QUICK, make_raw

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def server_flags(dovecot: DovecotServer, folder: str = "INBOX") -> dict[int, str]:
    with dovecot.client(folder) as conn:
        _typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
    out = {}
    for line in data:
        if isinstance(line, bytes) and b"UID" in line:
            text = line.decode()
            uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
            out[uid] = text.split("FLAGS (")[1].split(")")[0]
    return out


@dataclass
class Console:
    """What app.py would build, plus what the UI would have been told."""

    service: MailService
    cache: Cache
    store: MailStore
    account: MailAccount
    changes: list[Changes] = field(default_factory=list)
    statuses: list[MailAccountStatus] = field(default_factory=list)

    def state(self) -> MailAccountState | None:
        return self.statuses[-1].state if self.statuses else None

    async def mail_conversations(self) -> list[int]:
        return [c.id for c in await self.cache.conversations() if c.id < 0]

    async def only_conversation(self) -> int:
        await wait_for_async(self.mail_conversations)
        (cid,) = await self.mail_conversations()
        return cid


@pytest.fixture
def smtp_later(dovecot: DovecotServer) -> Iterator[SmtpServer]:
    """An SMTP server with its port chosen but not started (a test starts it when it likes)."""
    server = SmtpServer(user=dovecot.user, password=dovecot.password, deliver=dovecot.deliver)
    yield server
    if server.controller._thread is not None:
        server.stop()
    else:  # never started: its loop was made anyway
        server.controller.loop.close()


@pytest.fixture
async def console(
    dovecot: DovecotServer, account: MailAccount, smtp_later: SmtpServer, tmp_path: Path
) -> AsyncIterator[Console]:
    (tmp_path / "logo.png").write_bytes(PNG)
    signature = f'<b>Shop</b> team <img src="file://{tmp_path / "logo.png"}" alt="Shop">'
    account = replace(account, smtp_port=smtp_later.port, signature_html=signature)
    async with running_console(tmp_path / "cache.sqlite3", account, dovecot) as box:
        yield box
    await box.service.shutdown()  # a second shutdown is harmless


async def test_mail_shows_as_conversation_and_opening_marks_it_read_on_server(
    dovecot: DovecotServer, console: Console
) -> None:
    dovecot.deliver(make_raw(1, sender="Anna <anna@c.example>", subject="Broken lamp"))
    cid = await console.only_conversation()
    await wait_until(lambda: console.state() is MailAccountState.LIVE)
    conv = await console.cache.conversation(cid)
    assert conv is not None and conv.unread_count == 1
    assert conv.contact.handle == "anna@c.example" and conv.channel.id == "email:acct"
    assert any(cid in c.conversations for c in console.changes)  # the UI was told
    assert "\\Seen" not in server_flags(dovecot)[1]

    changes = await console.service.open_conversation(cid)
    assert cid in changes.conversations or cid in changes.threads
    conv = await console.cache.conversation(cid)
    assert conv is not None and conv.unread_count == 0  # at once, before the server knows
    await wait_until(lambda: "\\Seen" in server_flags(dovecot)[1], timeout=5)

    # new mail in the same conversation arrives by IDLE
    dovecot.deliver(make_raw(2, sender="anna@c.example", subject="Re: Broken lamp",
                             in_reply_to="<msg1@c.example>"))  # fmt: skip
    await wait_for_async(lambda: _unread(console, cid, 1), timeout=5)


async def _unread(console: Console, cid: int, count: int) -> bool:
    conv = await console.cache.conversation(cid)
    return conv is not None and conv.unread_count == count


async def test_reading_in_another_client_clears_unread(
    dovecot: DovecotServer, console: Console
) -> None:
    dovecot.deliver(make_raw(1))
    cid = await console.only_conversation()
    await wait_until(lambda: console.state() is MailAccountState.LIVE)
    assert await _unread(console, cid, 1)
    with dovecot.client() as conn:
        conn.uid("STORE", "1", "+FLAGS", "(\\Seen)")
    await wait_for_async(lambda: _unread(console, cid, 0), timeout=5)


async def test_open_while_offline_sets_seen_once_back(
    dovecot: DovecotServer, console: Console
) -> None:
    dovecot.deliver(make_raw(1))
    cid = await console.only_conversation()
    await wait_until(lambda: console.state() is MailAccountState.LIVE)
    await asyncio.to_thread(dovecot.stop)
    await wait_until(lambda: console.state() is MailAccountState.RETRYING)
    await console.service.open_conversation(cid)
    assert await _unread(console, cid, 0)
    await asyncio.sleep(0.5)
    await asyncio.to_thread(dovecot.start)
    await wait_until(lambda: "\\Seen" in server_flags(dovecot).get(1, ""), timeout=10)
    await wait_until(lambda: console.state() is MailAccountState.LIVE)
    assert await _unread(console, cid, 0)


async def test_reply_reaches_smtp_in_the_thread_with_attachment(
    dovecot: DovecotServer, console: Console, smtp_later: SmtpServer, tmp_path: Path
) -> None:
    smtp_later.start()
    dovecot.deliver(make_raw(1, sender="Anna <anna@c.example>", subject="Broken lamp",
                             message_id="<root@c.example>"))  # fmt: skip
    cid = await console.only_conversation()
    (tmp_path / "manual.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 400)

    changes = await console.service.send_reply(
        cid, "A new lamp is on its way.", None, attachments=[tmp_path / "manual.pdf"]
    )
    assert changes.outbox and cid in changes.threads
    await wait_until(lambda: smtp_later.received, timeout=10)
    (received,) = smtp_later.received
    assert received.rcpt_tos == ["anna@c.example"]
    msg = message_from_bytes(received.data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["In-Reply-To"] == "<root@c.example>"
    assert msg["References"] == "<root@c.example>"
    assert msg["Subject"] == "Re: Broken lamp"
    body = msg.get_body(("plain",))
    assert body is not None and "A new lamp is on its way." in body.get_content()
    assert "Shop team" in body.get_content()  # the signature
    html = msg.get_body(("html",))  # ... with its logo inline, not a path on this computer
    assert html is not None and "file:" not in html.get_content()
    (logo,) = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert logo.get_content() == PNG
    assert f'src="cid:{logo["Content-ID"].strip("<>")}"' in html.get_content()
    (attached,) = list(msg.iter_attachments())
    assert attached.get_content() == (tmp_path / "manual.pdf").read_bytes()

    # shown in the thread as sent, the outbox empty, filed in Sent with \Seen
    async def sent_in_thread() -> bool:
        mine = [m for m in await console.cache.messages(cid) if m.direction is Direction.OUT]
        return bool(mine) and mine[0].status is MessageStatus.SENT

    async def outbox_empty() -> bool:
        return await console.cache.outbox(cid) == []

    # The Sent folder's sync may file the copy a moment before the sender records it: both
    # land on one row, and the outbox empties.
    await wait_for_async(sent_in_thread)
    await wait_for_async(outbox_empty)
    mine = [m for m in await console.cache.messages(cid) if m.direction is Direction.OUT]
    assert len(mine) == 1 and mine[0].status is MessageStatus.SENT
    await wait_until(lambda: "\\Seen" in server_flags(dovecot, "Sent").get(1, ""), timeout=5)
    assert await console.mail_conversations() == [cid]  # Sent and the INBOX copy: one thread

    # the attachment saved from the server is the file that was sent
    ours = [m for m in await console.cache.messages(cid) if m.direction is Direction.OUT][0]
    await wait_for_async(lambda: _located(console, ours.id))
    detail = await console.service.detail(ours.id)
    assert detail is not None
    (manual,) = [a for a in detail.attachments if a.filename == "manual.pdf"]
    await console.service.save_attachment(ours.id, manual.index, tmp_path / "saved.pdf")
    assert (tmp_path / "saved.pdf").read_bytes() == (tmp_path / "manual.pdf").read_bytes()


async def _located(console: Console, message_id: int) -> bool:
    return bool(await console.store.locate(message_id))


async def test_reply_written_while_smtp_is_down_goes_out_once(
    dovecot: DovecotServer, console: Console, smtp_later: SmtpServer
) -> None:
    dovecot.deliver(make_raw(1, sender="anna@c.example", message_id="<root@c.example>"))
    cid = await console.only_conversation()
    await console.service.send_reply(cid, "Sorry for the wait.", None)
    await asyncio.sleep(1.0)  # the sender tries, fails, and keeps it queued
    (queued,) = await console.cache.outbox(cid)
    assert queued.text == "Sorry for the wait."

    smtp_later.start()
    await wait_until(lambda: smtp_later.received, timeout=15)
    await wait_for_async(lambda: _outbox_empty(console, cid), timeout=5)
    await asyncio.sleep(1.0)
    assert len(smtp_later.received) == 1


async def _outbox_empty(console: Console, cid: int) -> bool:
    return await console.cache.outbox(cid) == []


async def test_cancelled_reply_is_never_sent(
    dovecot: DovecotServer, console: Console, smtp_later: SmtpServer
) -> None:
    dovecot.deliver(make_raw(1, sender="anna@c.example"))
    cid = await console.only_conversation()
    await console.service.send_reply(cid, "Oops, wrong customer.", None)
    await asyncio.sleep(0.5)
    (queued,) = await console.cache.outbox(cid)
    changes = await console.service.cancel_reply(queued.client_id)
    assert changes.outbox
    smtp_later.start()
    await asyncio.sleep(1.5)
    assert smtp_later.received == []
    assert await console.cache.outbox(cid) == []


async def test_detail_with_inline_image_and_status(
    dovecot: DovecotServer, console: Console
) -> None:
    logo = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    msg = EmailMessage()
    msg["Message-ID"] = "<rich@c.example>"
    msg["From"] = "anna@c.example"
    msg["To"] = "agent@shop.test"
    msg["Subject"] = "Look"
    msg.set_content("see the picture")
    msg.add_alternative('<p>see <img src="cid:pic@c"> and <img src="http://x.example/t.gif"></p>',
                        subtype="html")  # fmt: skip
    html_part = list(msg.iter_parts())[1]
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(logo, "image", "png", cid="<pic@c>")
    dovecot.deliver(msg.as_bytes(policy=policy.SMTP))
    cid = await console.only_conversation()
    await wait_until(lambda: console.state() is MailAccountState.LIVE)
    (mail,) = await console.cache.messages(cid)

    detail = await console.service.detail(mail.id)
    assert detail is not None and detail.inline_images == {"pic@c": logo}
    assert detail.has_remote_images and "x.example" not in detail.html
    await asyncio.to_thread(dovecot.stop)  # now served from the cache
    again = await console.service.detail(mail.id)
    assert again is not None and again.inline_images == {"pic@c": logo}
    with_remote = await console.service.detail(mail.id, allow_remote=True)
    assert with_remote is not None and "http://x.example/t.gif" in with_remote.html

    changes = await console.service.set_status(cid, ConversationStatus.RESOLVED)
    assert cid in changes.conversations
    conv = await console.cache.conversation(cid)
    assert conv is not None and conv.status is ConversationStatus.RESOLVED


async def test_set_accounts_restarts_changed_and_stops_removed(
    dovecot: DovecotServer, console: Console
) -> None:
    await wait_until(lambda: console.state() is MailAccountState.LIVE)
    assert [s.state for s in console.service.statuses()] == [MailAccountState.LIVE]
    changed = replace(console.account, display_name="Support")
    await console.service.set_accounts([changed])
    states = [s.state for s in console.statuses]
    stopped = states.index(MailAccountState.STOPPED)
    assert states[stopped - 1 : stopped + 2] == [
        MailAccountState.LIVE, MailAccountState.STOPPED, MailAccountState.STARTING,
    ]  # fmt: skip
    await wait_until(lambda: console.state() is MailAccountState.LIVE)
    await console.service.set_accounts([])
    assert console.state() is MailAccountState.STOPPED
    assert console.service.statuses() == []


async def test_wrong_password_waits_until_it_changes(
    dovecot: DovecotServer, account: MailAccount, tmp_path: Path
) -> None:
    cache = await Cache.open(tmp_path / "cache.sqlite3")
    passwords = {"acct": "wrong"}
    statuses: list[MailAccountStatus] = []
    service = MailService(MailStore(cache, {}), [account], passwords.get, lambda _c: None,
                          statuses.append, settings=QUICK)  # fmt: skip
    try:
        await service.start()
        await wait_until(lambda: statuses and statuses[-1].state is MailAccountState.AUTH_FAILED)
        passwords["acct"] = dovecot.password
        service.password_changed("acct")
        await wait_until(lambda: statuses[-1].state is MailAccountState.LIVE, timeout=15)
    finally:
        await service.shutdown()
        await cache.close()


# -- read here, \Seen on the server later: kept in the cache ----------------------------------


@contextlib.asynccontextmanager
async def running_console(
    path: Path, account: MailAccount, dovecot: DovecotServer, *, start: bool = True
) -> AsyncIterator[Console]:
    """A console over the cache file at ``path`` (closed, service and cache, on the way out)."""
    cache = await Cache.open(path)
    store = MailStore(cache, {})
    changes: list[Changes] = []
    statuses: list[MailAccountStatus] = []
    service = MailService(
        store, [account], lambda _id: dovecot.password, changes.append, statuses.append,
        settings=QUICK, interactive_timeout=5,
    )  # fmt: skip
    box = Console(service, cache, store, account, changes, statuses)
    try:
        if start:
            await box.service.start()
        yield box
    finally:
        await box.service.shutdown()
        await cache.close()


class UnreadWatch:
    """Samples a conversation's unread count every few milliseconds while it runs."""

    def __init__(self, console: Console, cid: int) -> None:
        self.seen: list[int | None] = []
        self._console, self._cid = console, cid
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            conv = await self._console.cache.conversation(self._cid)
            self.seen.append(conv.unread_count if conv is not None else None)
            await asyncio.sleep(0.01)

    async def stop(self) -> list[int | None]:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return self.seen


@pytest.fixture
def seen_gate(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """While clear, setting ``\\Seen`` on the server waits (so a flag sync can come first)."""
    gate = asyncio.Event()
    original = AccountRunner.mark_seen

    async def gated(self: AccountRunner, folder: str, uid: int) -> None:
        await gate.wait()
        await original(self, folder, uid)

    monkeypatch.setattr(AccountRunner, "mark_seen", gated)
    return gate


async def test_read_while_offline_survives_a_restart_and_reaches_the_server(
    dovecot: DovecotServer, account: MailAccount, tmp_path: Path, seen_gate: asyncio.Event
) -> None:
    path = tmp_path / "cache.sqlite3"
    dovecot.deliver(make_raw(1))
    async with running_console(path, account, dovecot) as console:
        cid = await console.only_conversation()
        await wait_until(lambda: console.state() is MailAccountState.LIVE)
        assert await _unread(console, cid, 1)
        await asyncio.to_thread(dovecot.stop)
        await wait_until(lambda: console.state() is MailAccountState.RETRYING)
        seen_gate.set()
        await console.service.open_conversation(cid)
        watch = UnreadWatch(console, cid)
        await asyncio.sleep(0.3)  # the flush tries and fails: the server is down
        assert await console.store.seen_pending() == [("acct", "INBOX", 1)]
        await console.service.shutdown()
        assert set(await watch.stop()) == {0}

    # meanwhile another mail program flags it (not \Seen): the next sync reports its flags
    await asyncio.to_thread(dovecot.start)
    with dovecot.client() as conn:
        conn.uid("STORE", "1", "+FLAGS", "(\\Flagged)")
    assert "\\Seen" not in server_flags(dovecot)[1]

    seen_gate.clear()  # the new console syncs the flags before it may set \Seen
    async with running_console(path, account, dovecot, start=False) as console:
        watch = UnreadWatch(console, cid)
        assert await console.store.seen_pending() == [("acct", "INBOX", 1)]
        await console.service.start()
        await wait_until(lambda: console.state() is MailAccountState.LIVE)
        assert await _copy_flags(console, 1) == "\\Flagged"  # the server's flags were synced
        assert await _unread(console, cid, 0)
        seen_gate.set()
        await wait_until(lambda: "\\Seen" in server_flags(dovecot).get(1, ""), timeout=10)
        await wait_for_async(lambda: _nothing_pending(console), timeout=5)
        await asyncio.sleep(0.3)  # the flag sync after our STORE agrees
        assert set(await watch.stop()) == {0}
    assert "\\Seen" in server_flags(dovecot)[1]


async def test_a_flag_sync_before_the_flush_keeps_the_mail_read(
    dovecot: DovecotServer, console: Console, seen_gate: asyncio.Event
) -> None:
    dovecot.deliver(make_raw(1))
    cid = await console.only_conversation()
    await wait_until(lambda: console.state() is MailAccountState.LIVE)
    await console.service.open_conversation(cid)  # its \Seen waits at the gate
    watch = UnreadWatch(console, cid)
    with dovecot.client() as conn:  # a flag change elsewhere: IDLE, then a flag sync
        conn.uid("STORE", "1", "+FLAGS", "(\\Flagged)")
    await wait_for_async(lambda: _has_copy_flags(console, 1, "\\Flagged"), timeout=5)
    assert await _unread(console, cid, 0)
    assert await console.store.seen_pending() == [("acct", "INBOX", 1)]

    seen_gate.set()
    await console.service.open_conversation(cid)  # nothing new to mark: the flush goes on
    await wait_until(lambda: "\\Seen" in server_flags(dovecot).get(1, ""), timeout=5)
    await wait_for_async(lambda: _nothing_pending(console), timeout=5)
    assert set(await watch.stop()) == {0}

    # once the server has it, its flags rule again: unread in another client shows here
    with dovecot.client() as conn:
        conn.uid("STORE", "1", "-FLAGS", "(\\Seen)")
    await wait_for_async(lambda: _unread(console, cid, 1), timeout=5)


async def _nothing_pending(console: Console) -> bool:
    return await console.store.seen_pending() == []


async def _copy_flags(console: Console, uid: int, folder: str = "INBOX") -> str:
    def read(conn: Connection) -> str:
        found = conn.exec_driver_sql(
            "SELECT flags FROM mail_copy WHERE folder = ? AND uid = ?", (folder, uid)
        ).fetchone()
        return str(found[0]) if found else ""

    return await console.cache.run_in_transaction(read)


async def _has_copy_flags(console: Console, uid: int, flags: str) -> bool:
    return await _copy_flags(console, uid) == flags
