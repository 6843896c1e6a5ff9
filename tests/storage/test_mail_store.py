"""MailStore over a real cache file: ids, threads and merges, copies, flags, outbox, migration."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from omnidesk.changes import Changes
from omnidesk.domain import ChannelKind, ConversationStatus, Direction, OutboxState
from omnidesk.mail.parse import parse_message
from omnidesk.mail.types import FlagUpdate, FolderState, ParsedMail
from omnidesk.storage import SCHEMA_VERSION, Cache
from omnidesk.storage.mail_store import MailEnvelope, MailStore
from omnidesk.storage.schema import MIGRATIONS
from tests.helpers.console_factories import conversation, message
from tests.services.mail.factory import make_raw

ACCOUNT = "acct"
AGENT = "agent@shop.test"
SEEN = frozenset({"\\Seen"})


def mail(
    n: int,
    uid: int | None = None,
    *,
    folder: str = "INBOX",
    flags: frozenset[str] = frozenset(),
    **kwargs: object,
) -> ParsedMail:
    return parse_message(make_raw(n, **kwargs), uid=uid or n, folder=folder, flags=flags)  # type: ignore[arg-type]


@pytest.fixture
def published() -> list[Changes]:
    return []


@pytest.fixture
def store(cache: Cache, published: list[Changes]) -> MailStore:
    return MailStore(cache, {ACCOUNT: [AGENT]}, on_changes=published.append)


async def test_mail_is_conversations_and_messages_under_negative_ids(
    cache: Cache, store: MailStore
) -> None:
    await store.store_messages(
        ACCOUNT,
        "INBOX",
        [
            mail(3, subject="Re: Broken lamp", sender="Ana <ana@c.example>",
                 in_reply_to="<msg1@c.example>", references=["<msg1@c.example>"]),
            mail(2, subject="Refund", sender="Ana <ana@c.example>"),
            mail(1, subject="Broken lamp", sender="Ana <ana@c.example>"),
        ],
    )  # fmt: skip
    await store.store_messages(
        ACCOUNT, "Sent",
        [mail(4, uid=1, folder="Sent", sender=AGENT, to="Ana <ana@c.example>",
              subject="Re: Broken lamp", in_reply_to="<msg3@c.example>",
              references=["<msg1@c.example>", "<msg3@c.example>"], flags=SEEN)],
    )  # fmt: skip
    lamp, refund = await cache.conversations()  # newest mail first: the agent's reply (4)
    assert lamp.id < 0 and refund.id < 0
    assert lamp.channel.id == "email:acct" and lamp.channel.kind is ChannelKind.EMAIL
    assert lamp.channel.name == AGENT
    assert lamp.contact.handle == "ana@c.example" and lamp.contact.name == "Ana"
    assert lamp.contact.id < 0 and lamp.contact.id == refund.contact.id
    assert lamp.unread_count == 2 and refund.unread_count == 1
    thread = await cache.messages(lamp.id)
    assert [m.external_id for m in thread] == ["<msg1@c.example>", "<msg3@c.example>",
                                                "<msg4@c.example>"]  # fmt: skip
    assert all(m.id < 0 and m.type == "email" for m in thread)
    first, _, reply = thread
    assert first.direction is Direction.IN and first.author == "customer"
    assert reply.direction is Direction.OUT and reply.author == f"agent:{AGENT}"
    assert reply.status.value == "sent" and first.status.value == "received"
    email = first.payload["email"]
    assert email["subject"] == "Broken lamp" and email["from"] == "Ana <ana@c.example>"
    assert email["account_id"] == ACCOUNT and email["message_id"] == "<msg1@c.example>"
    assert lamp.last_message is not None and lamp.last_message.id == reply.id
    assert lamp.updated_at == reply.created_at
    assert await store.newest_in_conversation(lamp.id) == reply.id
    assert [c.id for c in await store.contact_conversations(lamp.contact.id)] == [
        lamp.id, refund.id]  # fmt: skip
    assert await store.account_of(lamp.id) == ACCOUNT


async def test_sink_writes_publish_changes(store: MailStore, published: list[Changes]) -> None:
    await store.store_messages(ACCOUNT, "INBOX", [mail(1)])
    (changes,) = published
    (conv,) = changes.conversations
    assert conv < 0 and changes.threads == {conv} and all(m < 0 for m in changes.messages)


async def test_a_mail_linking_two_threads_merges_them(
    cache: Cache, store: MailStore, published: list[Changes]
) -> None:
    await store.store_messages(ACCOUNT, "INBOX", [mail(1, subject="Lamp")])
    await store.store_messages(
        ACCOUNT, "INBOX",
        [mail(3, subject="Re: Still broken", in_reply_to="<msg2@c.example>",
              references=["<msg2@c.example>"])],
    )  # fmt: skip
    first, second = sorted(c.id for c in await cache.conversations())
    await cache.outbox_add(first, "queued on one", None)
    await cache.outbox_add(second, "queued on the other", None)
    await store.set_status(second, ConversationStatus.RESOLVED)
    published.clear()

    # msg2 answers msg1 and is answered by msg3: one thread
    await store.store_messages(
        ACCOUNT, "INBOX",
        [mail(2, subject="Re: Lamp", in_reply_to="<msg1@c.example>",
              references=["<msg1@c.example>"])],
    )  # fmt: skip
    (merged,) = await cache.conversations()
    gone = first if merged.id == second else second
    assert await cache.conversation(gone) is None
    assert [m.external_id for m in await cache.messages(merged.id)] == [
        "<msg1@c.example>", "<msg2@c.example>", "<msg3@c.example>"]  # fmt: skip
    assert await cache.messages(gone) == []
    assert [o.text for o in await cache.outbox(merged.id)] == [
        "queued on one",
        "queued on the other",
    ]
    assert merged.status is ConversationStatus.OPEN  # the most active status wins
    assert merged.unread_count == 3
    (changes,) = published
    assert {merged.id, gone} <= changes.conversations and changes.outbox


async def test_threads_are_rebuilt_from_the_cache_when_it_opens_again(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    cache = await Cache.open(path)
    await MailStore(cache, {ACCOUNT: [AGENT]}).store_messages(ACCOUNT, "INBOX", [mail(1)])
    await cache.close()

    cache = await Cache.open(path)
    try:
        store = MailStore(cache, {ACCOUNT: [AGENT]})
        assert await store.load() == Changes()
        reply = mail(2, in_reply_to="<msg1@c.example>", references=["<msg1@c.example>"])
        await store.store_messages(ACCOUNT, "INBOX", [reply])
        (conv,) = await cache.conversations()
        assert len(await cache.messages(conv.id)) == 2
    finally:
        await cache.close()


async def test_same_message_id_in_two_folders_is_one_row_until_both_copies_go(
    cache: Cache, store: MailStore
) -> None:
    await store.store_messages(ACCOUNT, "INBOX", [mail(1, uid=10)])
    await store.store_messages(ACCOUNT, "Sent", [mail(1, uid=3, folder="Sent", flags=SEEN)])
    (conv,) = await cache.conversations()
    (only,) = await cache.messages(conv.id)
    assert await store.locate(only.id) == [(ACCOUNT, "INBOX", 10), (ACCOUNT, "Sent", 3)]
    assert conv.unread_count == 0  # read in one folder is read

    await store.remove_uids(ACCOUNT, "INBOX", [10])
    assert [m.id for m in await cache.messages(conv.id)] == [only.id]
    await store.remove_uids(ACCOUNT, "Sent", [3])
    assert await cache.messages(conv.id) == []
    assert await cache.conversations() == []
    assert await cache.search("message") == []


async def test_unread_follows_flags_and_local_reading(
    cache: Cache, store: MailStore, published: list[Changes]
) -> None:
    await store.store_messages(
        ACCOUNT, "INBOX",
        [mail(1), mail(2, in_reply_to="<msg1@c.example>"),
         mail(3, sender=AGENT, to="customer@c.example", in_reply_to="<msg2@c.example>")],
    )  # fmt: skip
    (conv,) = await cache.conversations()
    assert conv.unread_count == 2  # our own mail is never unread
    published.clear()
    await store.apply_flags(ACCOUNT, "INBOX", [FlagUpdate(1, SEEN), FlagUpdate(3, frozenset())])
    assert published and conv.id in published[-1].conversations
    assert (await cache.conversation(conv.id)).unread_count == 1  # type: ignore[union-attr]
    assert await store.unseen_in_conversation(conv.id) == [(ACCOUNT, "INBOX", 2)]

    published.clear()
    await store.apply_flags(ACCOUNT, "INBOX", [FlagUpdate(1, SEEN)])  # nothing new
    assert published == []

    changes = await store.mark_seen_local(conv.id)
    assert conv.id in changes.conversations
    assert (await cache.conversation(conv.id)).unread_count == 0  # type: ignore[union-attr]
    assert await store.unseen_in_conversation(conv.id) == []
    assert await store.seen_pending() == [(ACCOUNT, "INBOX", 2)]  # the server lacks \\Seen
    await store.apply_flags(ACCOUNT, "INBOX", [FlagUpdate(2, frozenset({"\\Flagged"}))])
    assert (await cache.conversation(conv.id)).unread_count == 0  # type: ignore[union-attr]
    assert await store.seen_pending() == [(ACCOUNT, "INBOX", 2)]

    await store.seen_confirmed([(ACCOUNT, "INBOX", 2)])  # the server took \\Seen
    assert await store.seen_pending() == []
    await store.apply_flags(ACCOUNT, "INBOX", [FlagUpdate(2, frozenset())])  # unread elsewhere
    assert (await cache.conversation(conv.id)).unread_count == 1  # type: ignore[union-attr]


async def test_a_mail_read_here_stays_read_until_every_copy_has_seen(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    cache = await Cache.open(path)
    store = MailStore(cache, {ACCOUNT: [AGENT]})
    await store.store_messages(ACCOUNT, "INBOX", [mail(1, uid=10), mail(2, subject="Other")])
    await store.store_messages(ACCOUNT, "Archive", [mail(1, uid=4, folder="Archive")])
    other, first = await cache.conversations()  # newest first
    await store.mark_seen_local(first.id)
    await store.mark_seen_local(first.id)  # nothing new
    await cache.close()

    cache = await Cache.open(path)  # a restart: what waits is in the file
    try:
        store = MailStore(cache, {ACCOUNT: [AGENT]})
        both = [(ACCOUNT, "Archive", 4), (ACCOUNT, "INBOX", 10)]
        assert await store.seen_pending() == both
        assert await store.seen_pending("other account") == []
        # flag syncs (full ones, without CONDSTORE) and a refetch of a copy keep it read
        await store.apply_flags(ACCOUNT, "INBOX", [FlagUpdate(10, frozenset())])
        await store.store_messages(ACCOUNT, "Archive", [mail(1, uid=4, folder="Archive")])
        assert await _unread(cache, first.id) == 0
        await store.seen_confirmed([(ACCOUNT, "INBOX", 10)])  # one copy so far
        assert await store.seen_pending() == [(ACCOUNT, "Archive", 4)]
        await store.apply_flags(ACCOUNT, "INBOX", [FlagUpdate(10, frozenset())])  # unread there
        assert await _unread(cache, first.id) == 0  # the Archive copy still waits
        # the server's own flags confirm the last copy: nothing waits, flags rule again
        await store.apply_flags(ACCOUNT, "INBOX", [FlagUpdate(10, SEEN)])
        await store.apply_flags(ACCOUNT, "Archive", [FlagUpdate(4, SEEN)])
        assert await store.seen_pending() == []
        await store.apply_flags(ACCOUNT, "INBOX", [FlagUpdate(10, frozenset())])
        await store.apply_flags(ACCOUNT, "Archive", [FlagUpdate(4, frozenset())])
        assert await _unread(cache, first.id) == 1
        assert await _unread(cache, other.id) == 1  # never opened
    finally:
        await cache.close()


async def test_a_waiting_mark_goes_with_its_mail(cache: Cache, store: MailStore) -> None:
    await store.store_messages(ACCOUNT, "INBOX", [mail(1)])
    (conv,) = await cache.conversations()
    await store.mark_seen_local(conv.id)
    await store.forget_folder(ACCOUNT, "INBOX")  # UIDVALIDITY changed: no copy for now
    assert await store.seen_pending() == [] and await _unread(cache, conv.id) == 0
    await store.store_messages(ACCOUNT, "INBOX", [mail(1, uid=7)])  # the refetch finds it
    assert await store.seen_pending() == [(ACCOUNT, "INBOX", 7)]
    assert await _unread(cache, conv.id) == 0
    await store.remove_uids(ACCOUNT, "INBOX", [7])  # expunged: the mail and its mark go
    assert await cache.conversations() == []
    await store.store_messages(ACCOUNT, "INBOX", [mail(1, uid=8)])  # same id, a new mail
    (again,) = await cache.conversations()
    assert await store.seen_pending() == [] and again.unread_count == 1


async def _unread(cache: Cache, conversation_id: int) -> int | None:
    conv = await cache.conversation(conversation_id)
    return conv.unread_count if conv is not None else None


async def test_a_uid_stored_again_is_replaced(cache: Cache, store: MailStore) -> None:
    await store.store_messages(ACCOUNT, "INBOX", [mail(1, uid=5)])
    await store.store_messages(ACCOUNT, "INBOX", [mail(1, uid=5, flags=SEEN)])
    (conv,) = await cache.conversations()
    assert len(await cache.messages(conv.id)) == 1 and conv.unread_count == 0
    await store.store_messages(ACCOUNT, "INBOX", [mail(7, uid=5, subject="Other")])
    assert [c.last_message.external_id for c in await cache.conversations()] == [  # type: ignore[union-attr]
        "<msg7@c.example>"
    ]
    assert await store.known_uids(ACCOUNT, "INBOX") == {5}


async def test_uidvalidity_reset_keeps_conversations_the_refetch_finds(
    cache: Cache, store: MailStore
) -> None:
    await store.store_messages(ACCOUNT, "INBOX", [mail(1, uid=1), mail(2, uid=2, subject="X")])
    await store.save_folder_state(ACCOUNT, "INBOX", FolderState(7, 3, None, 2))
    keep = next(c for c in await cache.conversations() if c.last_message and
                c.last_message.external_id == "<msg1@c.example>")  # fmt: skip
    await store.set_status(keep.id, ConversationStatus.PENDING)

    await store.forget_folder(ACCOUNT, "INBOX")
    assert await store.folder_state(ACCOUNT, "INBOX") is None
    assert await store.known_uids(ACCOUNT, "INBOX") == set()
    assert len(await cache.conversations()) == 2  # still shown while the refetch runs
    await store.store_messages(ACCOUNT, "INBOX", [mail(1, uid=1)])
    await store.save_folder_state(ACCOUNT, "INBOX", FolderState(8, 2, None, 1))
    (left,) = await cache.conversations()
    assert left.id == keep.id and left.status is ConversationStatus.PENDING
    assert await store.folder_state(ACCOUNT, "INBOX") == FolderState(8, 2, None, 1)


async def test_search_finds_subject_and_text_but_not_quotes(cache: Cache, store: MailStore) -> None:
    await store.store_messages(
        ACCOUNT, "INBOX",
        [mail(1, subject="Parcel zebra", body="The tracking number never updates."),
         mail(2, subject="Re: Parcel zebra", in_reply_to="<msg1@c.example>",
              body="Thanks!\n> The tracking number never updates.\n")],
    )  # fmt: skip
    by_subject = await cache.search("zebra")
    assert len(by_subject) == 2 and all(h.conversation_id < 0 for h in by_subject)
    (hit,) = await cache.search("tracking")
    assert hit.contact_name == "customer@c.example"
    (thread,) = await cache.conversations()
    assert hit.message_id == (await cache.messages(thread.id))[0].id


async def test_detail_and_the_parent_of_a_reply(store: MailStore, cache: Cache) -> None:
    raw = make_raw(1, subject="Invoice", sender="Ana <ana@c.example>", attachment=b"%PDF-1")
    raw = raw.replace(
        b"<p>Hello", b'<script>alert(1)</script><img src="https://t.example/x.png"><p>Hello'
    )
    await store.store_messages(ACCOUNT, "INBOX", [parse_message(raw, uid=1, folder="INBOX")])
    (conv,) = await cache.conversations()
    message_id = await store.newest_in_conversation(conv.id)
    assert message_id is not None
    detail = await store.detail(message_id)
    assert detail is not None
    assert detail.subject == "Invoice" and detail.from_ == "Ana <ana@c.example>"
    assert detail.to == ("agent@shop.test",) and detail.account_id == ACCOUNT
    assert "<b>message 1</b>" in detail.html and "script" not in detail.html
    assert "t.example" not in detail.html and detail.has_remote_images
    assert "t.example" in (await store.detail(message_id, allow_remote=True)).html  # type: ignore[union-attr]
    assert detail.text.startswith("Hello, this is message 1.")
    (pdf,) = detail.attachments
    assert (pdf.index, pdf.filename, pdf.size) == (0, "invoice1.pdf", 6)
    assert (await store.attachments(message_id))[0].part_path == "2"
    await store.save_inline_images(message_id, {"logo@x": ("image/png", b"\x89PNG")})
    assert (await store.detail(message_id)).inline_images == {"logo@x": b"\x89PNG"}  # type: ignore[union-attr]

    parent = await store.parent_for_reply(message_id)
    assert parent is not None
    assert parent.message_id == "<msg1@c.example>" and parent.subject == "Invoice"
    assert parent.from_[0].email == "ana@c.example" and parent.text.startswith("Hello")
    assert await store.detail(-1) is None and await store.parent_for_reply(-1) is None


async def test_malformed_mail_is_stored_as_best_it_can(cache: Cache, store: MailStore) -> None:
    broken = parse_message(b"\xff\xfe garbage without headers\r\n\r\nbody \xe9", uid=1)
    await store.store_messages(ACCOUNT, "INBOX", [broken, mail(2, uid=2)])
    assert len(await cache.conversations()) == 2


async def test_a_resolved_thread_reopens_when_newer_unread_mail_arrives(
    cache: Cache, store: MailStore
) -> None:
    await store.store_messages(ACCOUNT, "INBOX", [mail(1)])
    (conv,) = await cache.conversations()
    assert (await store.set_status(conv.id, ConversationStatus.RESOLVED)).conversations == {conv.id}
    await store.store_messages(ACCOUNT, "INBOX", [mail(0, uid=9, in_reply_to="<msg1@c.example>",
                                                       flags=SEEN)])  # fmt: skip
    assert (await cache.conversation(conv.id)).status is ConversationStatus.RESOLVED  # type: ignore[union-attr]
    await store.store_messages(ACCOUNT, "INBOX", [mail(2, in_reply_to="<msg1@c.example>")])
    assert (await cache.conversation(conv.id)).status is ConversationStatus.OPEN  # type: ignore[union-attr]


# -- the outbox ---------------------------------------------------------------------------------


def envelope(message_id: str = "<reply@shop.test>") -> MailEnvelope:
    return MailEnvelope(ACCOUNT, message_id, AGENT, ("customer@c.example",))


async def mail_thread(store: MailStore, cache: Cache) -> int:
    await store.store_messages(ACCOUNT, "INBOX", [mail(1)])
    (conv,) = await cache.conversations()
    return conv.id


async def test_relay_and_mail_senders_claim_only_their_own_rows(
    cache: Cache, store: MailStore
) -> None:
    thread = await mail_thread(store, cache)
    changes = await store.queue_mail(thread, "mail-1", "Hello", None, b"raw", envelope())
    assert changes.threads == {thread} and changes.outbox
    await cache.upsert_conversations([conversation(7)])
    await cache.outbox_add(7, "relay reply", None, client_id="relay-1")

    relay = await cache.outbox_claim_next()
    assert relay is not None and relay.client_id == "relay-1"
    assert await cache.outbox_claim_next() is None
    queued = await store.claim_next_mail()
    assert queued is not None and queued.item.client_id == "mail-1"
    assert queued.item.state is OutboxState.SENDING and queued.raw == b"raw"
    assert queued.envelope == envelope()
    assert await store.claim_next_mail() is None
    with pytest.raises(ValueError):
        await store.queue_mail(7, "mail-2", "x", None, b"raw", envelope())


async def test_claims_skip_accounts_waiting_for_a_retry(cache: Cache, store: MailStore) -> None:
    thread = await mail_thread(store, cache)
    await store.queue_mail(thread, "a", "x", None, b"1", envelope())
    await store.queue_mail(thread, "b", "y", None, b"2", replace(envelope(), account_id="other"))
    queued = await store.claim_next_mail(skip_accounts={ACCOUNT})
    assert queued is not None and queued.item.client_id == "b"


async def test_cancel_a_queued_mail_reply(cache: Cache, store: MailStore) -> None:
    thread = await mail_thread(store, cache)
    await store.queue_mail(thread, "mail-1", "Hello", None, b"raw", envelope())
    assert [o.client_id for o in await cache.outbox(thread)] == ["mail-1"]
    changes = await cache.outbox_cancel("mail-1")
    assert changes.outbox and thread in changes.threads
    assert await cache.outbox(thread) == [] and await store.claim_next_mail() is None
    rows = await cache.run_in_transaction(
        lambda conn: conn.exec_driver_sql("SELECT count(*) FROM mail_outbox").scalar_one()
    )
    assert rows == 0  # the MIME went with its row

    # cancelled while being sent: dropped if the attempt fails...
    await store.queue_mail(thread, "mail-2", "Hello", None, b"raw", envelope())
    await store.claim_next_mail()
    await cache.outbox_cancel("mail-2")
    await store.mail_requeue("mail-2")
    assert await cache.outbox(thread) == []
    # ... kept as sent if SMTP had already taken it
    await store.queue_mail(thread, "mail-3", "Hello", None, b"raw", envelope("<r3@shop.test>"))
    await store.claim_next_mail()
    await cache.outbox_cancel("mail-3")
    sent = mail(50, sender=AGENT, to="customer@c.example", message_id="<r3@shop.test>",
                in_reply_to="<msg1@c.example>")  # fmt: skip
    await store.mail_sent("mail-3", replace(sent, uid=None, folder=None))
    assert [m.external_id for m in await cache.messages(thread)][-1] == "<r3@shop.test>"


async def test_sent_mail_joins_its_thread_and_the_sent_sync_finds_the_same_row(
    cache: Cache, store: MailStore
) -> None:
    thread = await mail_thread(store, cache)
    raw = make_raw(60, sender=AGENT, to="customer@c.example", subject="Re: Order problem 1",
                   message_id="<r@shop.test>", in_reply_to="<msg1@c.example>",
                   references=["<msg1@c.example>"])  # fmt: skip
    await store.queue_mail(thread, "c1", "Sorry!", None, raw, envelope("<r@shop.test>"))
    assert await store.claim_next_mail() is not None
    parsed = parse_message(raw, uid=4, folder="Sent", flags=SEEN)
    changes = await store.mail_sent("c1", parsed)
    assert thread in changes.threads and changes.outbox
    assert await cache.outbox(thread) == []
    *_, sent = await cache.messages(thread)
    assert sent.external_id == "<r@shop.test>" and sent.direction is Direction.OUT
    assert sent.status.value == "sent"
    await store.store_messages(ACCOUNT, "Sent", [parsed])  # the Sent sync, by UID
    await store.store_messages(ACCOUNT, "INBOX", [replace(parsed, uid=99, folder="INBOX")])
    assert [m.external_id for m in await cache.messages(thread)] == [
        "<msg1@c.example>", "<r@shop.test>"]  # fmt: skip
    assert await store.locate(sent.id) == [(ACCOUNT, "INBOX", 99), (ACCOUNT, "Sent", 4)]


async def test_a_sent_mail_without_references_still_lands_in_its_conversation(
    cache: Cache, store: MailStore
) -> None:
    thread = await mail_thread(store, cache)
    raw = make_raw(70, sender=AGENT, to="someone@else.example", subject="Unrelated",
                   message_id="<lone@shop.test>")  # fmt: skip
    await store.queue_mail(thread, "c1", "x", None, raw, envelope("<lone@shop.test>"))
    await store.claim_next_mail()
    await store.mail_sent("c1", parse_message(raw))
    assert [m.external_id for m in await cache.messages(thread)][-1] == "<lone@shop.test>"
    assert len(await cache.conversations()) == 1


async def test_a_mail_left_sending_is_not_resent_blindly_after_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache.sqlite3"
    cache = await Cache.open(path)
    store = MailStore(cache, {ACCOUNT: [AGENT]})
    thread = await mail_thread(store, cache)
    await store.queue_mail(thread, "m", "x", None, b"raw", envelope())
    await cache.upsert_conversations([conversation(7)])
    await cache.outbox_add(7, "relay reply", None, client_id="r")
    await store.claim_next_mail()
    await cache.outbox_claim_next()
    await cache.close()

    cache = await Cache.open(path)
    try:
        store = MailStore(cache, {ACCOUNT: [AGENT]})
        states = {o.client_id: o.state for o in await cache.outbox()}
        assert states == {"m": OutboxState.SENDING, "r": OutboxState.QUEUED}
        assert [q.item.client_id for q in await store.interrupted_mail()] == ["m"]
        assert await store.claim_next_mail() is None
    finally:
        await cache.close()


async def test_forget_account(cache: Cache, store: MailStore) -> None:
    thread = await mail_thread(store, cache)
    await store.queue_mail(thread, "m", "x", None, b"raw", envelope())
    changes = await store.forget_account(ACCOUNT)
    assert thread in changes.conversations
    assert await cache.conversations() == [] and await cache.outbox() == []


# -- schema -------------------------------------------------------------------------------------


async def test_a_version_1_cache_is_upgraded_without_losing_rows(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        MIGRATIONS[1](conn)
        conn.exec_driver_sql("PRAGMA user_version = 1")
    engine.dispose()
    assert _v1_cache_with_rows(path) == 1
    cache = await Cache.open(path)
    try:
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        conn.close()
        (conv,) = await cache.conversations()
        assert conv.id == 1 and [m.text for m in await cache.messages(1)] == ["olá mundo"]
        assert [o.text for o in await cache.outbox()] == ["queued before the upgrade"]
        assert (await cache.search("mundo"))[0].message_id == 10
        assert await cache.event_cursor() == 42
        store = MailStore(cache, {ACCOUNT: [AGENT]})
        await store.store_messages(ACCOUNT, "INBOX", [mail(1)])
        assert len(await cache.conversations()) == 2
    finally:
        await cache.close()


async def test_a_version_2_cache_is_upgraded_keeping_its_mail(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    cache = await Cache.open(path)
    store = MailStore(cache, {ACCOUNT: [AGENT]})
    await store.store_messages(ACCOUNT, "INBOX", [mail(1), mail(2, subject="Other", flags=SEEN)])
    await store.save_folder_state(ACCOUNT, "INBOX", FolderState(7, 3, None, 2))
    await cache.close()
    _downgrade_to_v2(path)
    assert _schema(path) == _schema_of_migrations(tmp_path / "v2.sqlite3", 2)

    cache = await Cache.open(path)
    try:
        assert _schema(path) == _schema_of_migrations(tmp_path / "v3.sqlite3", 3)
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        conn.close()
        store = MailStore(cache, {ACCOUNT: [AGENT]})
        other, first = await cache.conversations()
        assert (first.unread_count, other.unread_count) == (1, 0)
        assert await store.folder_state(ACCOUNT, "INBOX") == FolderState(7, 3, None, 2)
        assert (await cache.search("message"))[0].message_id < 0
        await store.mark_seen_local(first.id)
        assert await store.seen_pending() == [(ACCOUNT, "INBOX", 1)]
        assert (await cache.conversation(first.id)).unread_count == 0  # type: ignore[union-attr]
    finally:
        await cache.close()


def _downgrade_to_v2(path: Path) -> None:
    """Turn a current file into what the version 2 console wrote (v3 only added these)."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER mail_message_seen_ad")
    conn.execute("DROP TABLE mail_seen_pending")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()


def _schema(path: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return set(conn.execute("SELECT type, name FROM sqlite_master WHERE sql IS NOT NULL"))
    finally:
        conn.close()


def _schema_of_migrations(path: Path, upto: int) -> set[tuple[str, str]]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for version in range(1, upto + 1):
            MIGRATIONS[version](conn)
    engine.dispose()
    return _schema(path)


def _v1_cache_with_rows(path: Path) -> int:
    """Write rows into a version 1 file with plain SQL, as the v1 console's tables hold them."""
    conn = sqlite3.connect(path)
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        c = conversation(1)
        m = message(10, 1, "olá mundo")
        conn.execute(
            "INSERT INTO conversation (id, channel_id, channel_kind, channel_name, contact_id, "
            "contact_name, contact_handle, status, mode, unread_count, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'open', 'bot', 0, '2026-03-02T09:00:00.000000+00:00')",
            (c.id, c.channel.id, c.channel.kind.value, c.channel.name, c.contact.id,
             c.contact.name, c.contact.handle),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO message (id, conversation_id, direction, author, type, text, body, "
            "payload_json, status, created_at, updated_at) VALUES (?, 1, 'in', 'customer', "
            "'text', ?, ?, '{}', 'received', '2026-03-02T09:00:00.000000+00:00', "
            "'2026-03-02T09:00:00.000000+00:00')",
            (m.id, m.text, m.body),
        )
        conn.execute(
            "INSERT INTO outbox (client_id, conversation_id, text, state, created_at) "
            "VALUES ('c1', 1, 'queued before the upgrade', 'queued', "
            "'2026-03-02T09:00:00.000000+00:00')"
        )
        conn.execute("INSERT INTO meta (key, value) VALUES ('event_cursor', '42')")
        conn.commit()
        return version
    finally:
        conn.close()


async def test_a_failed_write_leaves_nothing_behind(
    cache: Cache, store: MailStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import omnidesk.storage.mail_store as mail_store

    def broken(*args: object) -> None:
        raise RuntimeError("disk trouble")

    with monkeypatch.context() as patch:
        patch.setattr(mail_store, "refresh", broken)
        with pytest.raises(RuntimeError):
            await store.store_messages(ACCOUNT, "INBOX", [mail(1)])
    assert await cache.conversations() == [] and await store.known_uids(ACCOUNT, "INBOX") == set()
    # The threader had put msg1 in a thread row that was rolled back; it is rebuilt from the
    # file, so that row id, now Bob's thread, is not mistaken for msg1's.
    await store.store_messages(ACCOUNT, "INBOX", [mail(5, subject="Other", sender="bob@b.example")])
    await store.store_messages(ACCOUNT, "INBOX", [mail(1), mail(2, in_reply_to="<msg1@c.example>")])
    sizes = [len(await cache.messages(c.id)) for c in await cache.conversations()]
    assert sorted(sizes) == [1, 2]
