"""MailSender against real servers: aiosmtpd (records what it receives, delivers into Dovecot)
and Dovecot (Sent folder), over a real cache file."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from omnidesk.changes import Changes
from omnidesk.domain import Direction, OutboxState
from omnidesk.mail.compose import build_reply
from omnidesk.mail.types import MailAccount
from omnidesk.services.backoff import Backoff
from omnidesk.services.mail.imap_sync import FolderSync
from omnidesk.services.mail.sender import INTERRUPTED, MailSender
from omnidesk.storage import Cache
from omnidesk.storage.mail_store import MailEnvelope, MailStore
from tests.helpers.dovecot import DovecotServer
from tests.helpers.smtp_server import SmtpServer
from tests.helpers.waiting import wait_for_async
from tests.services.mail.factory import make_raw

ANA = "Ana Lima <ana@c.example>"


class RestartableSmtp(SmtpServer):
    """The shared aiosmtpd helper, able to come back on the same port after a stop (an
    aiosmtpd ``Controller`` cannot start twice: a new one takes over the same handler)."""

    def restart(self) -> None:
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
            ready_timeout=5,
        )
        self.start()


@pytest.fixture
def smtp_server(dovecot: DovecotServer) -> Iterator[RestartableSmtp]:
    server = RestartableSmtp(user=dovecot.user, password=dovecot.password, deliver=dovecot.deliver)
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(AssertionError, RuntimeError):  # already stopped
            server.stop()


@pytest.fixture
def smtp_account(account: MailAccount, smtp_server: SmtpServer) -> MailAccount:
    return replace(account, smtp_port=smtp_server.port)


@pytest.fixture
def store(cache: Cache, account: MailAccount) -> MailStore:
    return MailStore(cache, {account.id: [account.address]})


@contextlib.asynccontextmanager
async def running(
    store: MailStore, account: MailAccount, password: str, published: list[Changes]
) -> AsyncIterator[MailSender]:
    sender = MailSender(
        store,
        lambda account_id: account if account_id == account.id else None,
        lambda _account_id: lambda: password,
        published.append,
        backoff=lambda: Backoff(initial=0.1, maximum=0.3),
        timeout=5,
    )
    task = asyncio.create_task(sender.run())
    try:
        yield sender
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(10):
                await task


async def customer_thread(
    dovecot: DovecotServer, account: MailAccount, store: MailStore, cache: Cache
) -> int:
    """Ana's mail and her answer to the agent, synced: the conversation's id."""
    dovecot.deliver(make_raw(1, subject="Broken lamp", sender=ANA, message_id="<a1@c.example>"))
    dovecot.deliver(make_raw(2, subject="Re: Re: Broken lamp", sender=ANA,
                             message_id="<a2@c.example>", in_reply_to="<r0@shop.test>",
                             references=["<a1@c.example>", "<r0@shop.test>"]))  # fmt: skip
    sync = FolderSync(account, lambda: dovecot.password, store)
    try:
        await sync.sync("INBOX")
    finally:
        await sync.aclose()
    (conv,) = await cache.conversations()
    return conv.id


async def queue_reply(
    store: MailStore, account: MailAccount, conversation_id: int, text: str
) -> tuple[str, str]:
    """What MailService.send_reply does: build the reply to the newest mail, queue it."""
    parent_id = await store.newest_in_conversation(conversation_id)
    assert parent_id is not None
    parent = await store.parent_for_reply(parent_id)
    assert parent is not None
    mail = build_reply(account, parent, text=text)
    client_id = str(uuid.uuid4())
    envelope = MailEnvelope(account.id, mail.message_id, mail.sender, tuple(mail.recipients))
    await store.queue_mail(conversation_id, client_id, text, parent_id, mail.raw, envelope)
    return client_id, mail.message_id


async def test_a_reply_queued_while_smtp_is_down_is_sent_once_when_it_is_back(
    dovecot: DovecotServer,
    smtp_server: RestartableSmtp,
    smtp_account: MailAccount,
    store: MailStore,
    cache: Cache,
) -> None:
    account = smtp_account
    conv = await customer_thread(dovecot, account, store, cache)
    smtp_server.stop()
    _client_id, message_id = await queue_reply(store, account, conv, "A new lamp is on its way.")
    assert [o.state for o in await cache.outbox(conv)] == [OutboxState.QUEUED]
    published: list[Changes] = []

    async with running(store, account, dovecot.password, published):

        async def retried() -> bool:
            return len(published) >= 4  # claimed, requeued, claimed, requeued

        await wait_for_async(retried)
        assert smtp_server.received == []
        assert [o.state for o in await cache.outbox(conv)] in (
            [OutboxState.QUEUED], [OutboxState.SENDING])  # fmt: skip

        smtp_server.restart()

        async def outbox_empty() -> bool:
            return await cache.outbox(conv) == []

        await wait_for_async(outbox_empty)
        await asyncio.sleep(0.8)  # several backoff periods: nothing goes out again
    assert len(smtp_server.received) == 1
    received = smtp_server.received[0]
    assert received.mail_from == account.address and received.rcpt_tos == ["ana@c.example"]
    msg = message_from_bytes(received.data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["Message-ID"] == message_id
    assert msg["In-Reply-To"] == "<a2@c.example>"
    assert msg["References"] == "<a1@c.example> <r0@shop.test> <a2@c.example>"
    assert msg["Subject"] == "Re: Broken lamp"

    # shown in the thread as sent, at once
    *_, sent = await cache.messages(conv)
    assert sent.external_id == message_id and sent.direction is Direction.OUT
    assert sent.status.value == "sent" and sent.text and "new lamp" in sent.text
    assert any(conv in c.threads and c.outbox for c in published)

    # appended to Sent; syncing Sent (and INBOX, where aiosmtpd delivered it) finds the same row
    sync = FolderSync(account, lambda: dovecot.password, store)
    try:
        assert (await sync.sync("Sent")).new == 1
        await sync.sync("INBOX")
    finally:
        await sync.aclose()
    assert [m.external_id for m in await cache.messages(conv)].count(message_id) == 1
    assert len(await cache.conversations()) == 1
    assert {folder for _a, folder, _u in await store.locate(sent.id)} == {"INBOX", "Sent"}


async def test_a_refused_login_fails_the_reply_with_a_plain_reason(
    dovecot: DovecotServer,
    smtp_server: SmtpServer,
    smtp_account: MailAccount,
    store: MailStore,
    cache: Cache,
) -> None:
    conv = await customer_thread(dovecot, smtp_account, store, cache)
    await queue_reply(store, smtp_account, conv, "Hello")
    async with running(store, smtp_account, "wrong password", []):

        async def failed() -> bool:
            return [o.state for o in await cache.outbox(conv)] == [OutboxState.FAILED]

        await wait_for_async(failed)
    (item,) = await cache.outbox(conv)
    assert item.error is not None and "refused the login for agent" in item.error
    assert smtp_server.received == []


async def test_a_refused_recipient_fails_the_reply_with_the_servers_reason(
    dovecot: DovecotServer,
    smtp_server: SmtpServer,
    smtp_account: MailAccount,
    store: MailStore,
    cache: Cache,
) -> None:
    async def refuse(server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 mailbox unavailable"

    smtp_server.handler.handle_RCPT = refuse  # type: ignore[attr-defined]
    conv = await customer_thread(dovecot, smtp_account, store, cache)
    await queue_reply(store, smtp_account, conv, "Hello")
    async with running(store, smtp_account, dovecot.password, []):

        async def failed() -> bool:
            return [o.state for o in await cache.outbox(conv)] == [OutboxState.FAILED]

        await wait_for_async(failed)
    (item,) = await cache.outbox(conv)
    assert item.error is not None and "mailbox unavailable" in item.error


async def test_mail_left_sending_by_a_crash_is_settled_not_resent(
    dovecot: DovecotServer,
    smtp_server: SmtpServer,
    smtp_account: MailAccount,
    store: MailStore,
    cache: Cache,
) -> None:
    account = smtp_account
    conv = await customer_thread(dovecot, account, store, cache)
    _went, went_id = await queue_reply(store, account, conv, "This one reached Sent")
    lost, _lost_id = await queue_reply(store, account, conv, "This one did not")
    first = await store.claim_next_mail()
    second = await store.claim_next_mail()
    assert first is not None and second is not None
    dovecot.deliver(first.raw, "Sent", seen=True)  # the crash came after SMTP and APPEND

    async with running(store, account, dovecot.password, []):

        async def settled() -> bool:
            return [o.state for o in await cache.outbox(conv)] == [OutboxState.FAILED]

        await wait_for_async(settled)
    (item,) = await cache.outbox(conv)
    assert item.client_id == lost and item.error == INTERRUPTED
    assert [m.external_id for m in await cache.messages(conv)][-1] == went_id
    assert smtp_server.received == []  # neither was sent again
