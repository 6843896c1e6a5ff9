from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from omnidesk.changes import Changes
from omnidesk.domain import ConversationFilter, ConversationStatus, Draft, OutboxState, RelayEvent
from omnidesk.storage import (
    SCHEMA_VERSION,
    Cache,
    CacheDiskFull,
    CacheNewerVersion,
    fts_query,
)
from tests.helpers.console_factories import conversation, message


async def test_fresh_cache_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cache.sqlite3"
    c = await Cache.open(path)
    await c.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


async def test_conversations_round_trip_order_and_filters(cache: Cache) -> None:
    await cache.upsert_conversations(
        [
            conversation(1, "Ana", minute=1),
            conversation(2, "Bruno", minute=3, channel="instagram", mode="human", assignee="joao"),
            conversation(3, "Carla", minute=2, status="pending"),
        ]
    )
    assert [c.id for c in await cache.conversations()] == [2, 3, 1]
    pending = ConversationFilter(status=ConversationStatus.PENDING)
    assert [c.id for c in await cache.conversations(pending)] == [3]
    mine = ConversationFilter(mine=True, me="joao")
    assert [c.id for c in await cache.conversations(mine)] == [2]
    assert [c.id for c in await cache.conversations(ConversationFilter(bot=True))] == [3, 1]
    insta = ConversationFilter(channel_id="instagram:17841400")
    assert [c.id for c in await cache.conversations(insta)] == [2]
    assert [c.id for c in await cache.conversations(offset=1, limit=1)] == [3]
    got = await cache.conversation(2)
    assert got is not None and got.contact.name == "Bruno" and got.assignee == "joao"


async def test_messages_page_ascending_and_update_preview(cache: Cache) -> None:
    await cache.upsert_conversations([conversation(1, minute=0)])
    changes = await cache.upsert_messages([message(i, 1, f"m{i}") for i in range(1, 8)])
    assert changes.threads == {1} and changes.conversations == {1}
    assert [m.id for m in await cache.messages(1, limit=3)] == [5, 6, 7]
    assert [m.id for m in await cache.messages(1, before=5, limit=3)] == [2, 3, 4]
    conv = await cache.conversation(1)
    assert conv is not None and conv.last_message is not None and conv.last_message.id == 7


async def test_fts_search_returns_conversation_and_message(cache: Cache) -> None:
    await cache.upsert_conversations([conversation(1, "Ana"), conversation(2, "Bruno")])
    await cache.upsert_messages(
        [
            message(10, 1, "Quero trocar o tamanho do tênis"),
            message(11, 2, "Onde está meu pedido?"),
            message(
                12,
                2,
                None,
                type="document",
                payload={
                    "media": {
                        "id": "x",
                        "mime_type": "application/pdf",
                        "filename": "nota-fiscal.pdf",
                    }
                },
            ),
        ]
    )
    hits = await cache.search("tenis")  # diacritics folded, prefix
    assert [(h.conversation_id, h.message_id) for h in hits] == [(1, 10)]
    assert hits[0].contact_name == "Ana"
    assert [h.message_id for h in await cache.search("ped")] == [11]
    assert [h.message_id for h in await cache.search("nota fisc")] == [12]
    # an edit is re-indexed
    await cache.upsert_messages([message(11, 2, "Já chegou, obrigado")])
    assert await cache.search("pedido") == []
    assert [h.message_id for h in await cache.search("chegou")] == [11]
    assert await cache.search('"; DROP') == []
    assert fts_query('a"b c') == '"a"* "b"* "c"*'


async def test_apply_event_is_idempotent_with_cursor(cache: Cache) -> None:
    await cache.upsert_conversations([conversation(1)])
    ev = RelayEvent(
        id=5,
        type="message.created",
        conversation_id=1,
        message_id=9,
        messages=(message(9, 1, "oi"),),
    )
    first = await cache.apply_event(ev)
    assert first.messages == {9}
    assert await cache.event_cursor() == 5
    assert await cache.apply_event(ev) == Changes()
    await cache.skip_event(7)
    assert await cache.event_cursor() == 7
    await cache.skip_event(6)
    assert await cache.event_cursor() == 7


async def test_drafts(cache: Cache) -> None:
    await cache.save_draft(Draft(1, "half a thought", reply_to=4))
    assert await cache.draft(1) == Draft(1, "half a thought", 4)
    await cache.save_draft(Draft(1, ""))
    assert await cache.draft(1) is None


async def test_outbox_order_claim_cancel_deliver(cache: Cache) -> None:
    a, _ = await cache.outbox_add(1, "first", None)
    b, _ = await cache.outbox_add(1, "second", None)
    c, _ = await cache.outbox_add(2, "third", None)
    claimed = await cache.outbox_claim_next()
    assert claimed is not None and claimed.client_id == a.client_id
    assert claimed.state is OutboxState.SENDING
    assert (await cache.outbox_cancel(c.client_id)).outbox
    delivered = await cache.outbox_delivered(a.client_id, message(50, 1, "first", direction="out"))
    assert delivered.messages == {50}
    assert [i.client_id for i in await cache.outbox()] == [b.client_id]


async def test_cancel_while_sending(cache: Cache) -> None:
    a, _ = await cache.outbox_add(1, "in flight, relay down", None)
    b, _ = await cache.outbox_add(1, "in flight, relay took it", None)
    assert (await cache.outbox_claim_next()) is not None
    assert (await cache.outbox_cancel(a.client_id)).outbox
    assert [i.client_id for i in await cache.outbox()] == [b.client_id]  # hidden at once
    await cache.outbox_requeue(a.client_id)  # the attempt failed: dropped, not requeued
    claimed = await cache.outbox_claim_next()
    assert claimed is not None and claimed.client_id == b.client_id
    await cache.outbox_cancel(b.client_id)
    await cache.outbox_delivered(b.client_id, message(51, 1, "in flight", direction="out"))
    assert await cache.outbox() == []  # too late to cancel: it was sent
    assert await cache.outbox_claim_next() is None


async def test_corrupt_cache_is_moved_aside_and_outbox_recovered(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    c = await Cache.open(path)
    await c.upsert_conversations([conversation(1)])
    item, _ = await c.outbox_add(1, "written on the train", None)
    await c.close()
    # Damage a page that is not the outbox's: the conversation table's data.
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'conversation'"
    ).fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff" * 64)

    reopened = await Cache.open(path)
    try:
        report = reopened.report
        assert report.rebuilt and report.reason == "corrupt"
        assert report.moved_to is not None and Path(report.moved_to).exists()
        assert report.recovered_outbox == 1
        items = await reopened.outbox()
        assert [(i.client_id, i.text, i.state) for i in items] == [
            (item.client_id, "written on the train", OutboxState.QUEUED)
        ]
        assert await reopened.conversations() == []
    finally:
        await reopened.close()


async def test_not_a_database_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"this is not sqlite at all" * 100)
    c = await Cache.open(path)
    assert c.report.rebuilt and c.report.reason == "corrupt" and c.report.recovered_outbox == 0
    await c.close()


async def test_newer_cache_is_refused_then_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    c = await Cache.open(path)
    await c.outbox_add(3, "keep me", None)
    await c.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(CacheNewerVersion):
        await Cache.open(path, rebuild_on_problem=False)
    c = await Cache.open(path)
    try:
        assert c.report.reason == "newer" and c.report.recovered_outbox == 1
        assert [i.text for i in await c.outbox()] == ["keep me"]
    finally:
        await c.close()


async def test_sending_items_are_requeued_on_open(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    c = await Cache.open(path)
    await c.outbox_add(1, "x", None)
    assert await c.outbox_claim_next() is not None
    await c.close()
    c = await Cache.open(path)
    assert [i.state for i in await c.outbox()] == [OutboxState.QUEUED]
    await c.close()


async def test_disk_full_raises_typed_error(cache: Cache) -> None:
    def fill(conn: object) -> None:
        from sqlalchemy import Connection

        assert isinstance(conn, Connection)
        count = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        conn.exec_driver_sql(f"PRAGMA max_page_count = {count}")

    await cache._run(fill)
    with pytest.raises(CacheDiskFull, match="disk is full"):
        await cache.upsert_messages([message(i, 1, "x" * 2000) for i in range(1, 200)])
    # still usable afterwards
    assert await cache.messages(1) == []
