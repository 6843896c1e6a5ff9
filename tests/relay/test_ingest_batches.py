"""Webhooks that reach the writer together are stored together: the result must be what
storing them one by one, in arrival order, gives (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from relay.store.database import Database
from relay.store.events import events_after
from relay.store.ingest import Ingest, IngestResult, ingest
from relay.store.tables import contacts, conversations, messages
from relay.webhooks.normalize import normalize
from tests.helpers.meta_samples import SAMPLES, text_webhook

MARIA, BOB = "16505550142", "16505550199"


def reaction(to_wamid: str, wamid: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SAMPLES / "wa_webhook_reaction.json").read_bytes())
    item = body["entry"][0]["changes"][0]["value"]["messages"][0]
    item["id"], item["reaction"]["message_id"] = wamid, to_wamid
    return body


def unsupported() -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": "nope"}]}


def as_one_batch(store: Database, bodies: list[dict[str, Any]]) -> list[IngestResult]:
    jobs = [ingest(normalize(body), default_mode="human") for body in bodies]
    return store.write_sync(lambda conn: Ingest.run_together(conn, jobs))


def stored(conn: Connection) -> dict[str, Any]:
    rows = conn.execute(select(messages).order_by(messages.c.id)).mappings().all()
    by_id = {row["id"]: row["external_id"] for row in rows}
    conversation_rows = conn.execute(select(conversations)).mappings().all()
    return {
        "messages": [(r["external_id"], r["type"], by_id.get(r["reply_to"])) for r in rows],
        "unread": sorted(r["unread_count"] for r in conversation_rows),
        "last": sorted(by_id[r["last_message_id"]] for r in conversation_rows),
    }


def test_a_batch_stores_what_one_by_one_would(store: Database) -> None:
    bodies = [
        text_webhook("hello", "are you there?", wa_id=MARIA, wamid="m"),
        text_webhook("hello", wa_id=MARIA, wamid="m"),  # Meta's retry of m.0, same batch
        text_webhook("hi from Bob", wa_id=BOB, name="Bob", wamid="b"),
        reaction("m.1", "r"),  # Maria reacts to her own message of this very batch
        unsupported(),
        text_webhook("one more", wa_id=MARIA, wamid="n"),
    ]
    results = as_one_batch(store, bodies)

    assert [len(r.new_messages) for r in results] == [2, 0, 1, 1, 0, 1]
    assert results[1].duplicates == 1 and results[4].unsupported == 1
    state = store.read_sync(stored)
    assert state["messages"] == [
        ("m.0", "text", None),
        ("m.1", "text", None),
        ("b.0", "text", None),
        ("r", "reaction", "m.1"),
        ("n.0", "text", None),
    ]
    assert state["unread"] == [1, 3]  # a reaction is not something new to read
    assert state["last"] == ["b.0", "n.0"]

    # The event log tells every message once, and each conversation's last state.
    log = store.read_sync(lambda conn: events_after(conn, 0))
    created = [e["data"]["message"]["external_id"] for e in log if e["type"] == "message.created"]
    assert created == ["m.0", "m.1", "b.0", "r", "n.0"]
    last_view: dict[int, dict[str, Any]] = {}
    for event in log:
        if event["type"] == "conversation.updated":
            last_view[event["conversation_id"]] = event["data"]["conversation"]
    assert sorted(v["unread_count"] for v in last_view.values()) == [1, 3]
    assert sorted(v["last_message"]["external_id"] for v in last_view.values()) == ["b.0", "n.0"]
    assert {v["contact"]["name"] for v in last_view.values()} == {"Maria Garcia", "Bob"}

    # The same webhooks again, one batch or one by one: nothing new.
    again = as_one_batch(store, bodies)
    assert sum(len(r.new_messages) for r in again) == 0
    for body in bodies:
        store.write_sync(ingest(normalize(body), default_mode="human"))
    assert store.read_sync(stored) == state


def test_new_customers_of_a_batch_get_one_contact_each_with_their_latest_name(
    store: Database,
) -> None:
    """First-time customers of one batch are written together: each gets one contact and
    one conversation, and a customer renamed within the batch shows the latest name."""
    bodies = [
        text_webhook("hi", wa_id=MARIA, name="Maria Garcia", wamid="m"),
        text_webhook("hello", wa_id=BOB, name="Bob", wamid="b"),
        text_webhook("it's me again", wa_id=MARIA, name="Maria G.", wamid="n"),
        text_webhook("and me", wa_id=BOB, name="Bob", wamid="c"),
    ]
    as_one_batch(store, bodies)

    def contacts_and_conversations(conn: Connection) -> Any:
        names = conn.execute(select(contacts.c.name).order_by(contacts.c.name)).scalars().all()
        count = len(conn.execute(select(conversations.c.id)).all())
        return names, count

    assert store.read_sync(contacts_and_conversations) == (["Bob", "Maria G."], 2)
    log = store.read_sync(lambda conn: events_after(conn, 0))
    last_view = {
        e["conversation_id"]: e["data"]["conversation"]
        for e in log
        if e["type"] == "conversation.updated"
    }
    assert {v["contact"]["name"] for v in last_view.values()} == {"Maria G.", "Bob"}
    assert sorted(v["unread_count"] for v in last_view.values()) == [2, 2]
