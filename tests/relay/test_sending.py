"""Agents' replies reach the customer through the Graph API exactly once, with Meta's verdict."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Connection, select, update

from relay.store.database import Database
from relay.store.ingest import ingest
from relay.store.migrate import migrate
from relay.store.outgoing import _due, _in_line, claim_due, record_sent
from relay.store.replies import queue_reply
from relay.store.tables import contacts, conversations, messages, utcnow
from relay.testing.graph_standin import GraphStandIn
from relay.webhooks.normalize import normalize
from tests.helpers.meta_samples import text_webhook
from tests.relay.conftest import RelayHarness, sample

PNID = "109876543210987"


def attempts(graph: GraphStandIn) -> list[Any]:
    """Every send request, answered or not (`graph.sends()` only has those Meta acted on)."""
    return [r for r in graph.requests if r.kind == "send"]


def open_conversation(relay: RelayHarness, name: str = "wa_webhook_text.json") -> dict[str, Any]:
    assert relay.post_sample(name).status_code == 200
    return relay.conversations()[0]


def reply(
    relay: RelayHarness, conversation_id: int, text: str, key: str, **extra: Any
) -> dict[str, Any]:
    response = relay.api.post(
        f"/v1/conversations/{conversation_id}/messages",
        json={"text": text, **extra},
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def message(relay: RelayHarness, conversation_id: int, message_id: int) -> dict[str, Any]:
    return next(m for m in relay.messages(conversation_id) if m["id"] == message_id)


def wait_status(
    relay: RelayHarness, conversation_id: int, message_id: int, *statuses: str
) -> dict[str, Any]:
    return relay.wait_until(  # type: ignore[no-any-return]
        lambda: (m := message(relay, conversation_id, message_id))["status"] in statuses and m
    )


def test_a_reply_is_queued_then_sent_with_metas_id(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    conversation = open_conversation(relay)
    queued = reply(relay, conversation["id"], "Olá Maria 👋", "k1")
    assert queued["status"] in ("queued", "sending", "sent")
    assert queued["author"] == "agent:ana" and queued["direction"] == "out"
    sent = wait_status(relay, conversation["id"], queued["id"], "sent")
    (request,) = graph.sends()
    assert request.path == f"/v25.0/{PNID}/messages"
    assert request.json["to"] == "+16505550142"
    assert request.json["text"]["body"] == "Olá Maria 👋"
    assert request.json["biz_opaque_callback_data"] == str(queued["id"])
    assert sent["external_id"].startswith("wamid.")


BSUID = "US.13491208655302741918"


def bsuid_only_webhook() -> dict[str, Any]:
    """A customer whose number Meta withholds (2026): named by business-scoped user id."""
    body = text_webhook("Where is my parcel?", wamid="wamid.bsuid")
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Maria Garcia"}, "user_id": BSUID}]
    del value["messages"][0]["from"]
    value["messages"][0]["from_user_id"] = BSUID
    return body


def test_a_customer_known_only_by_bsuid_is_answered_by_recipient(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    """A reply to a customer known only by BSUID goes to `recipient`, not `to`."""
    assert relay.post_webhook(bsuid_only_webhook()).status_code == 200
    (conversation,) = relay.conversations()
    assert conversation["contact"]["handle"] == BSUID
    assert conversation["contact"]["name"] == "Maria Garcia"
    out = reply(relay, conversation["id"], "It left the depot this morning.", "k-bsuid")
    wait_status(relay, conversation["id"], out["id"], "sent")
    (request,) = graph.sends()
    assert request.json["recipient"] == BSUID
    assert "to" not in request.json


def test_a_bsuid_customer_stored_without_a_handle_is_still_answered(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    """Relays before this one kept such a customer's handle empty: the reply goes to the
    BSUID the contact was stored under."""
    assert relay.post_webhook(bsuid_only_webhook()).status_code == 200
    db = Database(relay.settings.relay_database_url)
    try:
        db.write_sync(lambda conn: conn.execute(update(contacts).values(handle="")))
    finally:
        db.close()
    (conversation,) = relay.conversations()
    out = reply(relay, conversation["id"], "Still on its way.", "k-bsuid-old")
    wait_status(relay, conversation["id"], out["id"], "sent")
    assert graph.sends()[0].json["recipient"] == BSUID


def test_same_idempotency_key_gives_the_same_message_and_one_send(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    conversation = open_conversation(relay)
    first = reply(relay, conversation["id"], "once", "same-key")
    second = reply(relay, conversation["id"], "once", "same-key")
    assert first["id"] == second["id"]
    wait_status(relay, conversation["id"], first["id"], "sent")
    assert graph.sent_texts() == ["once"]


def test_reply_to_carries_whatsapp_context(relay: RelayHarness, graph: GraphStandIn) -> None:
    conversation = open_conversation(relay)
    inbound = relay.messages(conversation["id"])[0]
    out = reply(relay, conversation["id"], "answering you", "k2", reply_to=inbound["id"])
    wait_status(relay, conversation["id"], out["id"], "sent")
    assert graph.sends()[0].json["context"] == {"message_id": inbound["external_id"]}
    assert out["reply_to"] == inbound["id"]


def test_instagram_reply_goes_to_the_instagram_endpoint(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    conversation = open_conversation(relay, "ig_webhook_text.json")
    out = reply(relay, conversation["id"], "hi from IG", "k3")
    wait_status(relay, conversation["id"], out["id"], "sent")
    (request,) = graph.sends()
    assert request.path == "/ig/v25.0/17841456789012345/messages"
    assert request.json == {
        "recipient": {"id": "8412736459012345"},
        "message": {"text": "hi from IG"},
    }


@pytest.mark.parametrize("code", [130429, 131056])
def test_rate_limits_are_retried_until_sent(
    relay: RelayHarness, graph: GraphStandIn, code: int
) -> None:
    conversation = open_conversation(relay)
    graph.fail_next(code=code, times=2)
    out = reply(relay, conversation["id"], "eventually", "k4")
    wait_status(relay, conversation["id"], out["id"], "sent")
    assert len(attempts(graph)) == 3
    assert graph.sent_texts()[-1] == "eventually"


def test_server_errors_are_retried(relay: RelayHarness, graph: GraphStandIn) -> None:
    conversation = open_conversation(relay)
    graph.fail_next(http_status=503)
    out = reply(relay, conversation["id"], "after a 503", "k5")
    wait_status(relay, conversation["id"], out["id"], "sent")
    assert len(attempts(graph)) == 2


@pytest.mark.parametrize(
    ("code", "words"),
    [(131047, "24 hours"), (131026, "undeliverable"), (100, "invalid"), (190, "token")],
)
def test_permanent_errors_fail_with_a_readable_reason(
    relay: RelayHarness, graph: GraphStandIn, code: int, words: str
) -> None:
    conversation = open_conversation(relay)
    graph.fail_next(code=code)
    out = reply(relay, conversation["id"], "doomed", f"k-{code}")
    failed = wait_status(relay, conversation["id"], out["id"], "failed")
    assert failed["error"]["code"] == code
    assert words in failed["error"]["title"].lower()
    assert len(attempts(graph)) == 1  # never retried


def test_a_send_cut_off_mid_flight_is_held_unconfirmed_not_resent(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    conversation = open_conversation(relay)
    graph.fail_next(drop=True)
    out = reply(relay, conversation["id"], "did it arrive?", "k6")
    held = wait_status(relay, conversation["id"], out["id"], "unconfirmed")
    assert held["error"]["title"]
    assert len(graph.sends()) == 1
    # ... and the agent can choose to send it again.
    assert relay.api.post(f"/v1/messages/{out['id']}/resend").status_code == 202
    wait_status(relay, conversation["id"], out["id"], "sent")
    assert len(graph.sends()) == 2


def test_an_unconfirmed_send_is_confirmed_by_a_status_carrying_our_id(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    conversation = open_conversation(relay)
    graph.fail_next(drop=True)
    out = reply(relay, conversation["id"], "maybe", "k7")
    wait_status(relay, conversation["id"], out["id"], "unconfirmed")
    status = json.loads(sample("wa_webhook_status_delivered.json"))
    item = status["entry"][0]["changes"][0]["value"]["statuses"][0]
    item["id"] = "wamid.recovered"
    item["biz_opaque_callback_data"] = str(out["id"])
    assert relay.post_webhook(status).status_code == 200
    delivered = wait_status(relay, conversation["id"], out["id"], "delivered")
    assert delivered["external_id"] == "wamid.recovered"


def status_body(external_id: str, status: str, **extra: Any) -> dict[str, Any]:
    body = json.loads(sample("wa_webhook_status_sent.json"))
    item = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    item.update(id=external_id, status=status, **extra)
    return body  # type: ignore[no-any-return]


def test_statuses_only_move_forward_whatever_their_order(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    conversation = open_conversation(relay)
    out = reply(relay, conversation["id"], "track me", "k8")
    wamid = wait_status(relay, conversation["id"], out["id"], "sent")["external_id"]
    for status in ("read", "delivered", "sent", "read"):
        assert relay.post_webhook(status_body(wamid, status)).status_code == 200
    assert message(relay, conversation["id"], out["id"])["status"] == "read"


def test_failed_status_keeps_metas_error_and_is_terminal(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    conversation = open_conversation(relay)
    out = reply(relay, conversation["id"], "too late", "k9")
    wamid = wait_status(relay, conversation["id"], out["id"], "sent")["external_id"]
    failed = json.loads(sample("wa_webhook_status_failed_131047.json"))
    failed["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = wamid
    relay.post_webhook(failed)
    relay.post_webhook(status_body(wamid, "delivered"))
    final = message(relay, conversation["id"], out["id"])
    assert final["status"] == "failed"
    assert final["error"]["code"] == 131047


def test_a_status_before_the_send_answer_is_applied_later(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    conversation = open_conversation(relay)
    graph.set_delay(0.5)
    out = reply(relay, conversation["id"], "slow graph", "k10")
    relay.wait_until(lambda: len(graph.requests) >= 1)
    # Meta's "delivered" overtakes the send's own answer (ids are the stand-in's next one).
    graph.set_delay(0)
    sent = wait_status(relay, conversation["id"], out["id"], "sent")
    assert relay.post_webhook(status_body(sent["external_id"], "delivered")).status_code == 200
    assert message(relay, conversation["id"], out["id"])["status"] == "delivered"


def test_mark_read_clears_unread_and_sends_a_read_receipt(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    conversation = open_conversation(relay)
    assert conversation["unread_count"] == 1
    response = relay.api.post(f"/v1/conversations/{conversation['id']}/read")
    assert response.status_code == 200 and response.json()["unread_count"] == 0
    receipt = relay.wait_until(
        lambda: [r for r in graph.requests if r.json.get("status") == "read"]
    )
    assert receipt[0].json["message_id"] == relay.messages(conversation["id"])[0]["external_id"]


def test_a_reply_waiting_to_be_retried_keeps_the_next_one_behind_it(
    relay_factory: Any, graph: GraphStandIn
) -> None:
    relay = relay_factory(send_retry_scale=0.5)  # the rate-limited send waits about half a second
    conversation = open_conversation(relay)
    graph.fail_next(code=130429)
    reply(relay, conversation["id"], "first", "order-1")
    relay.wait_until(lambda: len(attempts(graph)) == 1)
    second = reply(relay, conversation["id"], "second", "order-2")
    wait_status(relay, conversation["id"], second["id"], "sent")
    assert graph.sent_texts() == ["first", "second"]


def test_a_conversation_with_a_send_in_flight_has_nothing_else_claimed(store: Database) -> None:
    """Whoever claimed it (another relay process, or a bot reply claimed as it was stored),
    a message being sent holds back its conversation's queue, and only its conversation's."""
    for wa_id, wamid in (("16505550142", "maria"), ("16505550199", "bob")):
        store.write_sync(
            ingest(normalize(text_webhook("hi", wa_id=wa_id, wamid=wamid)), default_mode="human")
        )
    maria, bob = store.read_sync(  # the conversations, in the order they were opened
        lambda conn: (
            conn.execute(select(conversations.c.id).order_by(conversations.c.id)).scalars().all()
        )
    )

    def queued(conversation_id: int, text: str) -> int:
        fn = queue_reply(
            conversation_id, author="agent:ana", text=text, reply_to=None, idempotency_key=None
        )
        view, _ = store.write_sync(fn)
        return int(view["id"])

    in_flight = queued(maria, "being sent by the other relay")

    def claimed_elsewhere(conn: Connection) -> None:
        conn.execute(
            update(messages)
            .where(messages.c.id == in_flight)
            .values(status="sending", send_attempts=1)
        )

    store.write_sync(claimed_elsewhere)
    maria_next, bob_first = queued(maria, "next for maria"), queued(bob, "first for bob")

    def claim() -> list[tuple[int, str]]:
        jobs = store.write_sync(claim_due(utcnow(), frozenset()))
        return [(job.message_id, job.text) for job in jobs]

    assert claim() == [(bob_first, "first for bob")]
    assert claim() == []  # maria's next still waits; bob's is in flight now
    store.write_sync(record_sent(in_flight, "wamid.sent-by-the-other-relay"))
    assert claim() == [(maria_next, "next for maria")]


def test_the_send_queue_is_found_through_its_indexes_not_by_reading_every_message(
    tmp_path: Any,
) -> None:
    """The sender asks twice a second what is due: with millions of received messages, a
    statement that reads them all would stall every send. The statuses are written into the
    statements so that the partial indexes on them apply (a bound status would not)."""
    db = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate(db.engine)

    def plans(conn: Connection) -> dict[str, list[str]]:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        found = {}
        for statement, params in (
            (_due, {"now": None, "limit": 1}),
            (_in_line, {"conversation_id": 1}),
        ):
            compiled = statement._compiled_for(conn, params)
            rows = raw.execute(f"EXPLAIN QUERY PLAN {compiled.sql}", [None] * len(compiled.slots))
            found[statement.name] = [row[3] for row in rows.fetchall()]
        return found

    try:
        for name, steps in db.read_sync(plans).items():
            reads = [step for step in steps if "message" in step]
            assert reads, name
            for step in reads:
                assert "USING INDEX ix_message_queued" in step or "ix_message_sending" in step, (
                    f"{name}: {step}"
                )
    finally:
        db.close()
