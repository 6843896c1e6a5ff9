"""Push (IDLE), reconnects, and a reply through SMTP filed in Sent, against real servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage

from omnidesk.mail.compose import build_reply
from omnidesk.mail.types import MailAccount
from omnidesk.services.backoff import Backoff
from omnidesk.services.mail.imap_idle import FolderWatcher
from omnidesk.services.mail.imap_sync import FolderSync
from omnidesk.services.mail.smtp_send import send_and_file
from tests.helpers.dovecot import DovecotServer
from tests.helpers.smtp_server import SmtpServer
from tests.helpers.waiting import wait_until
from tests.services.mail.factory import make_raw
from tests.services.mail.memory_sink import MemorySink


@contextlib.asynccontextmanager
async def watching(watcher: FolderWatcher) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(watcher.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(10):  # a watcher that ignores its cancel fails here
                await task


async def test_idle_push_latency_and_reissue(dovecot: DovecotServer, account: MailAccount) -> None:
    sink = MemorySink()
    sync = FolderSync(account, lambda: dovecot.password, sink)

    async def on_change() -> None:
        await sync.sync("INBOX")

    watcher = FolderWatcher(account, lambda: dovecot.password, "INBOX", on_change,
                            reissue_after=0.4)  # fmt: skip
    try:
        async with watching(watcher):
            await asyncio.wait_for(watcher.idling.wait(), 10)
            await asyncio.sleep(1.0)
            assert watcher.idle_count >= 3  # re-issued every 0.4 s
            await asyncio.wait_for(watcher.idling.wait(), 10)
            dovecot.deliver(make_raw(1))
            latency = await wait_until(lambda: len(sink.box("acct")) == 1, timeout=5)
            assert latency < 2.0
            dovecot.deliver(make_raw(2))
            await wait_until(lambda: len(sink.box("acct")) == 2, timeout=5)
    finally:
        await sync.aclose()


async def test_watcher_reconnects_after_server_restart(
    dovecot: DovecotServer, account: MailAccount
) -> None:
    sink = MemorySink()
    sync = FolderSync(account, lambda: dovecot.password, sink)
    statuses: list[str] = []

    async def on_change() -> None:
        await sync.sync("INBOX")

    watcher = FolderWatcher(
        account, lambda: dovecot.password, "INBOX", on_change,
        backoff=Backoff(initial=0.1, maximum=0.5), timeout=5,
        on_status=lambda what, _err: statuses.append(what),
    )  # fmt: skip
    try:
        async with watching(watcher) as task:
            await asyncio.wait_for(watcher.idling.wait(), 10)
            await asyncio.to_thread(dovecot.stop)
            dovecot.deliver(make_raw(7))  # arrives while the server is down
            await wait_until(lambda: "disconnected" in statuses, timeout=5)
            await asyncio.to_thread(dovecot.start)
            await wait_until(lambda: len(sink.box("acct")) == 1, timeout=10)
            assert watcher.connect_count >= 2
            await asyncio.wait_for(watcher.idling.wait(), 10)
            dovecot.deliver(make_raw(8))
            await wait_until(lambda: len(sink.box("acct")) == 2, timeout=5)
            assert not task.done()
    finally:
        await sync.aclose()


async def test_reply_sent_filed_and_threaded(
    dovecot: DovecotServer, smtp_server: SmtpServer, account: MailAccount
) -> None:
    account = MailAccount(**{**account.__dict__, "smtp_port": smtp_server.port})
    dovecot.deliver(
        make_raw(
            1,
            subject="Order problem",
            sender="Anna <anna@c.example>",
            message_id="<root@c.example>",
        )  # fmt: skip
    )
    sink = MemorySink(own_addresses=(account.address,))
    sync = FolderSync(account, lambda: dovecot.password, sink)
    try:
        await sync.sync("INBOX")
        parent = sink.by_message_id("acct")["<root@c.example>"]
        reply = build_reply(account, parent, text="We will send a new one.")
        result = await send_and_file(account, lambda: dovecot.password, reply)
        assert result.append_error is None and result.sent_uid == 1

        # what the SMTP server received
        (received,) = smtp_server.received
        assert received.mail_from == "agent@shop.test"
        assert received.rcpt_tos == ["anna@c.example"]
        msg = message_from_bytes(received.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        assert msg["Message-ID"] == reply.message_id
        assert msg["In-Reply-To"] == "<root@c.example>"
        assert msg["References"] == "<root@c.example>"
        assert msg["Subject"] == "Re: Order problem"
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]

        # filed in Sent with \Seen, and threaded with its parent
        await sync.sync("Sent")
        (sent,) = sink.box("acct", "Sent").values()
        assert sent.message_id == reply.message_id and sent.seen
        thread = sink.threader.thread_of("<root@c.example>")
        assert sink.threader.thread_of(reply.message_id) == thread

        # the SMTP server delivered the same message into INBOX: shown once, same thread
        await sync.sync("INBOX")
        assert reply.message_id in sink.by_message_id("acct")
        assert sink.threader.thread_of(reply.message_id) == thread

        # a colleague answers from another mail program (APPEND with In-Reply-To)
        colleague = make_raw(
            5, subject="AW: Re: Order problem", sender="kim@shop.test",
            message_id="<colleague@shop.test>", in_reply_to=reply.message_id,
        )  # fmt: skip
        with dovecot.client(None) as conn:
            conn.append("Sent", "(\\Seen)", None, colleague)
        await sync.sync("Sent")
        assert sink.threader.thread_of("<colleague@shop.test>") == thread
    finally:
        await sync.aclose()
