"""The bot bridge against the machine's real RabbitMQ: protocol, modes, takeover, faults."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import fastjsonschema
import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, insert

from relay.bot.protocol import (
    REASON_HEADER,
    BadBotMessage,
    _fast_validator,
    _parse_with_jsonschema,
    parse_outbound,
    validator,
)
from relay.store.database import Database
from relay.store.tables import bot_outbox, utcnow
from relay.testing.graph_standin import GraphStandIn
from tests.helpers.amqp import BotPeer, QueueNames
from tests.helpers.services import require_rabbitmq
from tests.helpers.waiting import wait_in_thread
from tests.relay.conftest import RelayHarness, sample
from tests.relay.test_events import read_events

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def names() -> QueueNames:
    return QueueNames.unique()


@pytest.fixture
async def bot(names: QueueNames) -> AsyncIterator[BotPeer]:
    async with BotPeer(require_rabbitmq(), names) as peer:
        yield peer


def start_bot_relay(bot: BotPeer, relay_factory: Callable[..., RelayHarness]) -> RelayHarness:
    return relay_factory(
        amqp_url=bot.url,
        bot_inbound_queue=bot.names.bot_inbound_queue,
        bot_outbound_queue=bot.names.bot_outbound_queue,
    )


@pytest.fixture
def bot_relay(bot: BotPeer, relay_factory: Callable[..., RelayHarness]) -> RelayHarness:
    return start_bot_relay(bot, relay_factory)


def text_webhook(text: str, wamid: str, wa_id: str = "16505550142") -> dict[str, Any]:
    body = json.loads(sample("wa_webhook_text.json"))
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = wa_id
    value["messages"][0].update({"from": wa_id, "id": wamid, "text": {"body": text}})
    return body  # type: ignore[no-any-return]


async def post(relay: RelayHarness, body: dict[str, Any]) -> None:
    response = await asyncio.to_thread(relay.post_webhook, body)
    assert response.status_code == 200


async def customer_writes(
    relay: RelayHarness, bot: BotPeer, webhook: dict[str, Any]
) -> dict[str, Any]:
    """Post a customer's message as a webhook; the body the bot receives for it."""
    await post(relay, webhook)
    _, inbound = await bot.inbound()
    return inbound


def reply(
    conversation_id: int, text: str, in_reply_to: int | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "version": 1,
        "type": "reply",
        "conversation_id": conversation_id,
        "in_reply_to": in_reply_to,
        "text": text,
        **extra,
    }


async def test_customer_message_reaches_the_bot_as_documented(
    bot_relay: RelayHarness, bot: BotPeer
) -> None:
    await post(bot_relay, text_webhook("where is my order?", "wamid.bot-1"))
    message, body = await bot.inbound()
    validator("bot-inbound").validate(body)
    conversation = bot_relay.conversations()[0]
    assert conversation["mode"] == "bot"
    assert body["type"] == "message" and body["text"] == "where is my order?"
    assert body["conversation_id"] == conversation["id"] and body["channel"] == "whatsapp"
    assert body["contact"]["handle"] == "+16505550142"
    assert message.message_id == str(body["message_id"])
    assert message.correlation_id == str(conversation["id"])
    assert message.content_type == "application/json"
    assert message.delivery_mode == 2  # persistent


async def test_media_messages_carry_type_caption_and_a_relay_url(
    bot_relay: RelayHarness, bot: BotPeer
) -> None:
    await asyncio.to_thread(bot_relay.post_sample, "wa_webhook_image_caption.json")
    _, body = await bot.inbound()
    validator("bot-inbound").validate(body)
    assert body["media"]["type"] == "image" and body["media"]["mime_type"] == "image/jpeg"
    assert body["media"]["caption"] == body["text"]
    assert body["media"]["url"].endswith(f"/v1/messages/{body['message_id']}/media")


async def test_a_bot_reply_reaches_the_customer_with_reply_context(
    bot_relay: RelayHarness, bot: BotPeer, graph: GraphStandIn
) -> None:
    inbound = await customer_writes(bot_relay, bot, text_webhook("hello", "wamid.bot-2"))
    await bot.publish(
        reply(inbound["conversation_id"], "Hi! How can I help?", inbound["message_id"])
    )
    (send,) = await graph.await_requests(1)
    assert send.json["text"]["body"] == "Hi! How can I help?"
    assert send.json["context"] == {"message_id": "wamid.bot-2"}
    stored = await wait_in_thread(
        lambda: [m for m in bot_relay.messages(inbound["conversation_id"]) if m["author"] == "bot"]
    )
    assert stored[0]["reply_to"] == inbound["message_id"]


async def test_handoff_switches_to_a_human_and_the_bot_hears_no_more(
    bot_relay: RelayHarness, bot: BotPeer
) -> None:
    inbound = await customer_writes(bot_relay, bot, text_webhook("I want a human", "wamid.bot-3"))
    cid = inbound["conversation_id"]
    await bot.publish(
        {"version": 1, "type": "handoff", "conversation_id": cid, "reason": "asked for a human"}
    )
    conversation = await wait_in_thread(
        lambda: (c := bot_relay.conversations()[0])["mode"] == "human" and c
    )
    assert (
        conversation["status"] == "pending"
        and conversation["handoff_reason"] == "asked for a human"
    )
    activity = [m for m in bot_relay.messages(cid) if m["type"] == "activity"]
    assert "asked for a human" in activity[-1]["text"] and activity[-1]["author"] == "bot"
    await post(bot_relay, text_webhook("hello?", "wamid.bot-4"))
    assert await bot.nothing_inbound()


async def test_reply_with_handoff_does_both(
    bot_relay: RelayHarness, bot: BotPeer, graph: GraphStandIn
) -> None:
    inbound = await customer_writes(bot_relay, bot, text_webhook("complicated", "wamid.bot-5"))
    await bot.publish(
        reply(inbound["conversation_id"], "Passing you to a colleague", handoff=True, reason="hard")
    )
    await graph.await_requests(1)
    conversation = await wait_in_thread(
        lambda: (c := bot_relay.conversations()[0])["mode"] == "human" and c
    )
    assert conversation["handoff_reason"] == "hard"


async def test_takeover_race_has_one_winner_and_the_loser_learns_who(
    bot_relay: RelayHarness, bot: BotPeer
) -> None:
    await post(bot_relay, text_webhook("hi", "wamid.bot-6"))
    cid = (await bot.inbound())[1]["conversation_id"]
    results: dict[str, httpx.Response] = {}
    start = threading.Barrier(2)

    def take(name: str, token: str) -> None:
        with httpx.Client(
            base_url=bot_relay.url, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            start.wait()
            results[name] = client.post(f"/v1/conversations/{cid}/takeover")

    threads = [
        threading.Thread(target=take, args=a)
        for a in (("ana", bot_relay.token), ("bruno", bot_relay.other_token))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409]
    winner = next(n for n, r in results.items() if r.status_code == 200)
    loser = next(r for r in results.values() if r.status_code == 409)
    assert loser.json()["detail"]["owner"] == winner
    conversation = results[winner].json()
    assert conversation["mode"] == "human" and conversation["assignee"] == winner


async def test_late_bot_reply_after_takeover_is_kept_as_a_draft_not_sent(
    bot_relay: RelayHarness, bot: BotPeer, graph: GraphStandIn
) -> None:
    inbound = await customer_writes(bot_relay, bot, text_webhook("hi", "wamid.bot-7"))
    cid = inbound["conversation_id"]
    taken = await asyncio.to_thread(bot_relay.api.post, f"/v1/conversations/{cid}/takeover")
    assert taken.status_code == 200
    await bot.publish(reply(cid, "too late, bot", inbound["message_id"]))
    draft = await wait_in_thread(
        lambda: [m for m in bot_relay.messages(cid) if m["author"] == "bot"]
    )
    assert draft[0]["status"] == "suppressed" and draft[0]["text"] == "too late, bot"
    await post(bot_relay, text_webhook("are you a person?", "wamid.bot-8"))
    assert await bot.nothing_inbound()
    assert graph.sends() == []
    lines = [m["text"] for m in bot_relay.messages(cid) if m["type"] == "activity"]
    assert lines == ["ana took over from the bot"]


async def test_handback_gives_the_bot_the_recent_history(
    bot_relay: RelayHarness, bot: BotPeer
) -> None:
    await post(bot_relay, text_webhook("first", "wamid.bot-9"))
    cid = (await bot.inbound())[1]["conversation_id"]
    await asyncio.to_thread(bot_relay.api.post, f"/v1/conversations/{cid}/takeover")
    await asyncio.to_thread(
        bot_relay.api.post, f"/v1/conversations/{cid}/messages", json={"text": "agent here"}
    )
    await bot.publish(reply(cid, "a draft the customer never saw"))
    await wait_in_thread(
        lambda: [m for m in bot_relay.messages(cid) if m["status"] == "suppressed"]
    )
    back = await asyncio.to_thread(bot_relay.api.post, f"/v1/conversations/{cid}/handback")
    assert (
        back.status_code == 200 and back.json()["mode"] == "bot" and back.json()["assignee"] is None
    )
    message, body = await bot.inbound()
    validator("bot-inbound").validate(body)
    assert body["type"] == "handback" and body["by"] == "ana"
    assert [h["text"] for h in body["history"]] == ["first", "agent here"]
    assert message.message_id and message.message_id.startswith("handback-")
    await post(bot_relay, text_webhook("bot again?", "wamid.bot-10"))
    assert (await bot.inbound())[1]["text"] == "bot again?"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (json.dumps({"version": 1, "type": "reply", "conversation_id": 1}).encode(), "text"),
        (
            json.dumps(
                {
                    "version": 2,
                    "type": "reply",
                    "conversation_id": 1,
                    "in_reply_to": None,
                    "text": "x",
                }
            ).encode(),
            "version",
        ),
        (json.dumps({"version": 1, "type": "dance", "conversation_id": 1}).encode(), "type"),
        (
            json.dumps(
                {
                    "version": 1,
                    "type": "reply",
                    "conversation_id": 999999,
                    "in_reply_to": None,
                    "text": "x",
                }
            ).encode(),
            "does not exist",
        ),
    ],
    ids=["not-json", "missing-text", "wrong-version", "unknown-type", "unknown-conversation"],
)
async def test_bad_bot_messages_are_dead_lettered_and_the_next_one_flows(
    bot_relay: RelayHarness, bot: BotPeer, graph: GraphStandIn, raw: bytes, reason: str
) -> None:
    inbound = await customer_writes(bot_relay, bot, text_webhook("hi", "wamid.bot-11"))
    await bot.publish(raw, message_id="bad-1")
    await bot.publish(reply(inbound["conversation_id"], "good one"))
    dead = await bot.dead_letter()
    assert dead.body == raw and dead.message_id == "bad-1"
    assert reason in str(dead.headers[REASON_HEADER])
    await graph.await_requests(1)
    assert graph.sent_texts() == ["good one"]
    metrics = await asyncio.to_thread(bot_relay.http.get, "/metrics")
    assert "omnidesk_bot_dead_lettered_total 1.0" in metrics.text


async def test_a_redelivered_reply_is_sent_once(
    bot_relay: RelayHarness, bot: BotPeer, graph: GraphStandIn
) -> None:
    inbound = await customer_writes(bot_relay, bot, text_webhook("hi", "wamid.bot-12"))
    body = reply(inbound["conversation_id"], "exactly once")
    await bot.publish(body, message_id="same-id")
    await bot.publish(body, message_id="same-id")
    await bot.publish({**body, "id": "body-id", "text": "by body id"})
    await bot.publish({**body, "id": "body-id", "text": "by body id"}, message_id="another-amqp-id")
    await wait_in_thread(lambda: len(graph.sends()) >= 2)
    await asyncio.sleep(0.5)
    assert sorted(graph.sent_texts()) == ["by body id", "exactly once"]


async def test_health_shows_the_broker(bot_relay: RelayHarness, bot: BotPeer) -> None:
    health = await wait_in_thread(
        lambda: (h := bot_relay.http.get("/healthz").json())["broker"] == "connected" and h
    )
    assert health["status"] == "ok"


# Sends in line: a conversation has one message in flight at a time, bot or agent. ----------

HOLD_S = 5.0  # the stand-in holds each send this long, until the test lets it answer


def outgoing(relay: RelayHarness, cid: int) -> list[dict[str, Any]]:
    return [m for m in relay.messages(cid) if m["direction"] == "out"]


def statuses(relay: RelayHarness, cid: int) -> list[tuple[str, str]]:
    return [(m["text"], m["status"]) for m in outgoing(relay, cid)]


async def all_sent(relay: RelayHarness, cid: int, count: int) -> None:
    await wait_in_thread(
        lambda: (
            len(out := outgoing(relay, cid)) == count and all(m["status"] == "sent" for m in out)
        )
    )


async def test_bot_replies_to_one_conversation_are_sent_one_at_a_time_in_order(
    bot_relay: RelayHarness, bot: BotPeer, graph: GraphStandIn
) -> None:
    await post(bot_relay, text_webhook("three questions", "wamid.line-1"))
    cid = (await bot.inbound())[1]["conversation_id"]
    graph.set_delay(HOLD_S)  # Meta is slow: the first send is still in flight
    for text in ("one", "two", "three"):
        await bot.publish(reply(cid, text))
    await graph.await_requests(1)
    await wait_in_thread(lambda: len(outgoing(bot_relay, cid)) == 3)
    # The first is in flight, the others wait their turn.
    assert statuses(bot_relay, cid) == [("one", "sending"), ("two", "queued"), ("three", "queued")]
    await asyncio.sleep(0.3)
    assert len(graph.requests) == 1, "a second reply went out while the first was in flight"
    graph.set_delay(0)
    await all_sent(bot_relay, cid, 3)
    await asyncio.sleep(0.2)
    assert graph.sent_texts() == ["one", "two", "three"]  # each once, in the bot's order
    assert graph.max_in_flight == 1


async def test_a_bot_reply_waits_for_the_agents_message_being_sent(
    bot_relay: RelayHarness, bot: BotPeer, graph: GraphStandIn
) -> None:
    await post(bot_relay, text_webhook("anyone there?", "wamid.line-2"))
    cid = (await bot.inbound())[1]["conversation_id"]
    graph.set_delay(HOLD_S)
    agent = await asyncio.to_thread(
        bot_relay.api.post, f"/v1/conversations/{cid}/messages", json={"text": "agent here"}
    )
    assert agent.status_code == 202
    await graph.await_requests(1)  # the agent's message is in flight
    await bot.publish(reply(cid, "bot here"))
    await wait_in_thread(lambda: len(outgoing(bot_relay, cid)) == 2)
    assert statuses(bot_relay, cid) == [("agent here", "sending"), ("bot here", "queued")]
    await asyncio.sleep(0.3)
    assert len(graph.requests) == 1, "the bot's reply overtook the agent's message in flight"
    graph.set_delay(0)
    await all_sent(bot_relay, cid, 2)
    await asyncio.sleep(0.2)
    assert graph.sent_texts() == ["agent here", "bot here"]
    assert graph.max_in_flight == 1


async def test_a_bot_reply_with_nothing_before_it_is_sending_from_the_start(
    bot_relay: RelayHarness, bot: BotPeer, graph: GraphStandIn
) -> None:
    inbound = await customer_writes(bot_relay, bot, text_webhook("quick one", "wamid.line-3"))
    cid = inbound["conversation_id"]
    await bot.publish(reply(cid, "right away", inbound["message_id"]))
    await all_sent(bot_relay, cid, 1)
    (mine,) = outgoing(bot_relay, cid)
    assert mine["author"] == "bot" and mine["external_id"].startswith("wamid.")

    def settled(events: list[dict[str, Any]]) -> bool:
        return any(
            e["message_id"] == mine["id"] and e["data"]["message"]["status"] == "sent"
            for e in events
            if e["type"] == "message.updated"
        )

    events = await asyncio.to_thread(read_events, bot_relay, after=0, until=settled)
    told = [
        (e["type"], e["data"]["message"]["status"])
        for e in events
        if e["type"].startswith("message.") and e["message_id"] == mine["id"]
    ]
    # Agents see it go out as it is stored: no `queued` step, no separate claim.
    assert told == [("message.created", "sending"), ("message.updated", "sent")]
    await asyncio.sleep(0.3)
    assert graph.sent_texts() == ["right away"]  # sent once


# The bridge's publisher: every customer message reaches the bot once. --------------------


CUSTOMERS = ["16505550301", "16505550302", "16505550303", "16505550304", "16505550305"]


async def test_a_stream_of_customer_messages_reaches_the_bot_once_each(
    bot: BotPeer,
    relay_factory: Callable[..., RelayHarness],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The outbox is read all the time, so reads overlap the rows commits hand over.
    monkeypatch.setattr("relay.bot.bridge.READ_EVERY_S", 0.02)
    relay = start_bot_relay(bot, relay_factory)

    async def customer(wa_id: str) -> None:
        for n in range(10):
            await post(relay, text_webhook(f"{wa_id} #{n}", f"wamid.{wa_id}.{n}", wa_id=wa_id))

    await asyncio.gather(*(customer(wa_id) for wa_id in CUSTOMERS))
    bodies = await bot.inbound_bodies(50)
    assert await bot.nothing_inbound(), "published more than once"
    assert {b["text"] for b in bodies} == {f"{w} #{n}" for w in CUSTOMERS for n in range(10)}
    assert len({b["message_id"] for b in bodies}) == 50  # none of the 50 twice
    assert all(c["mode"] == "bot" for c in relay.conversations())


async def test_a_handback_reaches_the_bot_without_waiting_for_a_periodic_read(
    bot: BotPeer,
    relay_factory: Callable[..., RelayHarness],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("relay.bot.bridge.READ_EVERY_S", 60.0)  # no periodic read to help
    relay = start_bot_relay(bot, relay_factory)
    await post(relay, text_webhook("first", "wamid.back-1"))
    cid = (await bot.inbound())[1]["conversation_id"]
    await asyncio.to_thread(relay.api.post, f"/v1/conversations/{cid}/takeover")
    back = await asyncio.to_thread(relay.api.post, f"/v1/conversations/{cid}/handback")
    assert back.status_code == 200
    _, body = await bot.inbound(timeout=5.0)
    assert body["type"] == "handback" and body["conversation_id"] == cid


async def test_outbox_rows_another_relay_wrote_are_published(
    bot: BotPeer,
    relay_factory: Callable[..., RelayHarness],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("relay.bot.bridge.READ_EVERY_S", 0.1)
    relay = start_bot_relay(bot, relay_factory)
    await post(relay, text_webhook("hello", "wamid.other-1"))
    _, first = await bot.inbound()
    # Another relay process on the same store: its rows are committed without this one
    # hearing of the commit.
    body = {**first, "message_id": 999_001, "text": "via the other relay"}

    def put(conn: Connection) -> None:
        conn.execute(
            insert(bot_outbox).values(
                conversation_id=first["conversation_id"],
                amqp_message_id="999001",
                body=body,
                created_at=utcnow(),
            )
        )

    store = Database(database_url)
    try:
        await asyncio.to_thread(store.write_sync, put)
    finally:
        store.close()
    message, received = await bot.inbound(timeout=5.0)
    assert received == body and message.message_id == "999001"
    assert await bot.nothing_inbound()


def _strings(*lengths: int) -> st.SearchStrategy[str]:
    """Strings of the given lengths (in code points, as JSON Schema counts), not all ASCII."""
    return st.builds(
        lambda n, c: c * n, st.sampled_from(lengths), st.sampled_from(["x", "é", "\U0001d11e"])
    )


_JUNK: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
# Values a bot might get wrong, for any field: 1.0 is a JSON Schema integer, True is not.
_NEAR_MISSES = st.one_of(
    st.sampled_from([1, 1.0, 2.0, -0.0, 1.5, 1e300, 0, 2, True, False, None, "1", "", []]),
    st.sampled_from(["reply", "handoff", "message", "handback", "Reply"]),
    _strings(0, 1, 200, 201, 1000, 1001, 4096, 4097),
    _JUNK,
)
_ID = st.integers(-(2**70), 2**70) | st.sampled_from([0, 1.0, 7.0])
_OPTIONAL = {
    "id": _strings(1, 200) | st.text(min_size=1, max_size=8),
    "in_reply_to": st.none() | _ID,
    "reason": _strings(0, 1000) | st.text(max_size=8),
}
_REPLY = st.fixed_dictionaries(
    {
        "version": st.sampled_from([1, 1.0]),
        "type": st.just("reply"),
        "conversation_id": _ID,
        "text": _strings(1, 4096) | st.text(min_size=1, max_size=8),
    },
    optional=_OPTIONAL | {"handoff": st.booleans()},
)
_HANDOFF = st.fixed_dictionaries(
    {
        "version": st.just(1),
        "type": st.just("handoff"),
        "conversation_id": _ID,
        "reason": _OPTIONAL["reason"],
    },
    optional={"id": _OPTIONAL["id"]},
)
_KEYS = ["version", "type", "id", "conversation_id", "in_reply_to", "text", "handoff", "reason"]
_MISSING = object()


def _mutated(body: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    body = dict(body)
    if value is _MISSING:
        body.pop(key, None)
    else:
        body[key] = value
    return body


def _mutations(body: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid body with one key dropped, added or set to a near miss (some are still valid)."""
    keys = st.sampled_from([*_KEYS, "", "Text", "payload"])
    return st.builds(_mutated, body, keys, _NEAR_MISSES | st.just(_MISSING))


_BODIES = st.one_of(
    _REPLY,
    _HANDOFF,
    _mutations(_REPLY | _HANDOFF),
    _mutations(_mutations(_REPLY | _HANDOFF)),
    st.dictionaries(st.sampled_from(_KEYS), _NEAR_MISSES, max_size=6),
    _JUNK,
)


def _verdict(parse: Callable[[bytes], dict[str, Any]], raw: bytes) -> dict[str, Any] | str:
    try:
        return parse(raw)
    except BadBotMessage as exc:
        return str(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_BODIES)
@example({"version": 1.0, "type": "reply", "conversation_id": 1.0, "in_reply_to": 2.0, "text": "x"})
@example({"version": True, "type": "reply", "conversation_id": 1, "text": "x"})
@example({"version": 1, "type": "handoff", "conversation_id": True, "reason": ""})
@example({"version": 1, "type": "reply", "conversation_id": 1, "text": "x" * 4097})
def test_the_fast_check_of_bot_messages_agrees_with_jsonschema(body: Any) -> None:
    """parse_outbound, fast path and all, says what jsonschema alone says; so do the validators."""
    raw = json.dumps(body).encode()
    expected = _verdict(lambda r: _parse_with_jsonschema(json.loads(r)), raw)
    event("accepted" if isinstance(expected, dict) else "rejected")
    assert _verdict(parse_outbound, raw) == expected
    try:
        _fast_validator("bot-outbound")(json.loads(raw))
    except fastjsonschema.JsonSchemaException:
        assert isinstance(expected, str), "fastjsonschema rejects what jsonschema accepts"
    else:
        assert isinstance(expected, dict), "fastjsonschema accepts what jsonschema rejects"
