"""FolderSync from a real Dovecot into MailStore over a real cache file: what the agent sees."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from omnidesk.domain import ChannelKind, Conversation, Direction
from omnidesk.mail.types import MailAccount
from omnidesk.services.mail.imap_sync import FolderSync
from omnidesk.storage import Cache
from omnidesk.storage.mail_store import MailStore
from tests.helpers.dovecot import DovecotServer
from tests.services.mail.factory import make_raw

ANA = "Ana Lima <ana@c.example>"
AGENT = "agent@shop.test"


@pytest.fixture
async def sync(
    dovecot: DovecotServer, account: MailAccount, cache: Cache
) -> AsyncIterator[FolderSync]:
    store = MailStore(cache, {account.id: [account.address]})
    folder_sync = FolderSync(account, lambda: dovecot.password, store, batch_size=3)
    yield folder_sync
    await folder_sync.aclose()


def customer_thread(dovecot: DovecotServer) -> None:
    """Ana writes, the agent answers from another mail program (Sent, and Cc to INBOX),
    Ana answers; Bob writes about something else; one broken mail arrives."""
    dovecot.deliver(make_raw(1, subject="Broken lamp", sender=ANA, message_id="<a1@c.example>",
                             body="The zebra lamp arrived broken."))  # fmt: skip
    reply = make_raw(2, subject="Re: Broken lamp", sender=AGENT, to=ANA,
                     message_id="<r1@shop.test>", in_reply_to="<a1@c.example>",
                     references=["<a1@c.example>"])  # fmt: skip
    dovecot.deliver(reply, "Sent", seen=True)
    dovecot.deliver(reply)  # the same mail in INBOX (the agent was in Cc)
    dovecot.deliver(make_raw(3, subject="Re: Broken lamp", sender=ANA, message_id="<a2@c.example>",
                             in_reply_to="<r1@shop.test>",
                             references=["<a1@c.example>", "<r1@shop.test>"]))  # fmt: skip
    dovecot.deliver(make_raw(4, subject="Invoice", sender="bob@b.example"))
    dovecot.deliver(b"\xff\xfeno headers at all\r\n\r\n\x00\x01 \xe9t\xe9 =?bad?= <<<")


def by_subject(conversations: list[Conversation]) -> dict[str, Conversation]:
    out = {}
    for c in conversations:
        assert c.last_message is not None
        out[c.last_message.payload["email"]["subject"]] = c
    return out


async def test_threads_show_as_email_conversations(
    dovecot: DovecotServer, sync: FolderSync, cache: Cache
) -> None:
    customer_thread(dovecot)
    await sync.sync("INBOX")
    await sync.sync("Sent")

    conversations = await cache.conversations()
    assert len(conversations) == 3  # the lamp, the invoice, the broken mail: nothing stopped
    lamp = by_subject(conversations)["Re: Broken lamp"]
    assert lamp.id < 0 and lamp.channel.kind is ChannelKind.EMAIL
    assert lamp.channel.id == "email:acct" and lamp.channel.name == AGENT
    assert (lamp.contact.handle, lamp.contact.name) == ("ana@c.example", "Ana Lima")
    assert lamp.unread_count == 2
    thread = await cache.messages(lamp.id)
    assert [m.external_id for m in thread] == ["<a1@c.example>", "<r1@shop.test>",
                                               "<a2@c.example>"]  # fmt: skip
    assert [m.direction for m in thread] == [Direction.IN, Direction.OUT, Direction.IN]
    assert await cache.unread_total() == 4  # lamp 2, invoice 1, the broken mail 1

    (hit,) = await cache.search("zebra")
    assert (hit.conversation_id, hit.message_id) == (lamp.id, thread[0].id)
    assert {h.conversation_id for h in await cache.search("invoice")} == {
        by_subject(conversations)["Invoice"].id
    }

    # nothing new: nothing changes
    await sync.sync("INBOX")
    assert [c.id for c in await cache.conversations()] == [c.id for c in conversations]


async def test_a_reply_from_another_client_joins_the_thread(
    dovecot: DovecotServer, sync: FolderSync, cache: Cache
) -> None:
    customer_thread(dovecot)
    await sync.sync("INBOX")
    with dovecot.client(None) as conn:  # a colleague answers from Thunderbird
        colleague = make_raw(9, subject="AW: Re: Broken lamp", sender="kim@shop.test", to=ANA,
                             message_id="<kim@shop.test>", in_reply_to="<a2@c.example>")  # fmt: skip
        conn.append("Sent", "(\\Seen)", None, colleague)
    await sync.sync("Sent")
    lamp = by_subject(await cache.conversations())["AW: Re: Broken lamp"]
    assert [m.external_id for m in await cache.messages(lamp.id)][-1] == "<kim@shop.test>"
    assert len(await cache.conversations()) == 3


async def test_reading_in_another_client_clears_the_unread_count(
    dovecot: DovecotServer, sync: FolderSync, cache: Cache
) -> None:
    customer_thread(dovecot)
    await sync.sync("INBOX")
    lamp = by_subject(await cache.conversations())["Re: Broken lamp"]
    assert lamp.unread_count == 2
    with dovecot.client() as conn:
        _typ, data = conn.uid("SEARCH", "HEADER", "From", "ana@c.example")
        for uid in data[0].split():
            conn.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    await sync.sync("INBOX")
    after = await cache.conversation(lamp.id)
    assert after is not None and after.unread_count == 0
    assert await cache.unread_total() == 2


async def test_expunged_mail_and_its_empty_thread_disappear(
    dovecot: DovecotServer, sync: FolderSync, cache: Cache
) -> None:
    customer_thread(dovecot)
    await sync.sync("INBOX")
    invoice = by_subject(await cache.conversations())["Invoice"]
    with dovecot.client() as conn:
        _typ, data = conn.uid("SEARCH", "HEADER", "From", "bob@b.example")
        conn.uid("STORE", data[0].decode(), "+FLAGS", "(\\Deleted)")
        conn.expunge()
    result = await sync.sync("INBOX")
    assert result.removed == 1
    assert await cache.conversation(invoice.id) is None
    assert await cache.search("invoice") == []
    assert len(await cache.conversations()) == 2


async def test_uidvalidity_reset_refetches_the_folder(
    dovecot: DovecotServer, sync: FolderSync, cache: Cache
) -> None:
    with dovecot.client(None) as conn:
        conn.create("Work")
        conn.append("Work", None, None, make_raw(1, subject="Stays"))
        conn.append("Work", None, None, make_raw(2, subject="Goes"))
    await sync.sync("Work")
    stays = by_subject(await cache.conversations())["Stays"]

    with dovecot.client(None) as conn:  # the folder is recreated: new UIDVALIDITY
        conn.delete("Work")
        conn.create("Work")
        conn.append("Work", None, None, make_raw(3, subject="New"))
        conn.append("Work", None, None, make_raw(1, subject="Stays"))
    result = await sync.sync("Work")

    assert result.full_resync and result.new == 2
    now = by_subject(await cache.conversations())
    assert set(now) == {"Stays", "New"}
    assert now["Stays"].id == stays.id  # the same conversation, kept through the refetch
