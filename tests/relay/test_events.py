"""The live event stream: every change, in order, once, resumable across reconnects and restarts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.relay.conftest import RelayHarness


def read_events(
    relay: RelayHarness,
    *,
    after: int | None = None,
    last_event_id: int | None = None,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 5.0,
) -> list[dict[str, Any]]:
    """Follow /v1/events until `until(events)` holds, then hang up."""
    headers = {"Authorization": f"Bearer {relay.token}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    params = {"after": after} if after is not None else {}
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    with (
        httpx.Client(base_url=relay.url, timeout=timeout) as client,
        client.stream("GET", "/v1/events", params=params, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, str] = {}
        for line in response.iter_lines():
            if line.startswith(("id:", "event:", "data:")):
                key, _, value = line.partition(":")
                current[key] = value.strip()
            elif line == "" and "data" in current:
                event = json.loads(current["data"])
                assert int(current["id"]) == event["id"] and current["event"] == event["type"]
                events.append(event)
                current = {}
                if until(events):
                    return events
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"stream ended with {len(events)} events")


def test_stream_replays_history_then_follows_live(relay: RelayHarness) -> None:
    relay.post_sample("wa_webhook_text.json")
    seen = read_events(relay, until=lambda ev: any(e["type"] == "message.created" for e in ev))
    first = seen[0]
    assert first["type"] == "message.created"
    assert first["data"]["message"]["text"] == "Hi! Do you have the blue jacket in size M?"

    live: list[dict[str, Any]] = []

    def follow() -> None:
        live.extend(
            read_events(
                relay,
                after=seen[-1]["id"],
                until=lambda ev: any(e["type"] == "message.created" for e in ev),
            )
        )

    thread = threading.Thread(target=follow)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    relay.post_sample("wa_webhook_location.json")
    thread.join(5)
    assert time.monotonic() - started < 1.0, "a new message reaches agents within a second"
    assert live[0]["id"] == seen[-1]["id"] + 1
    created = [e for e in live if e["type"] == "message.created"]
    assert created[0]["data"]["message"]["type"] == "location"


def test_resume_with_last_event_id_gives_each_later_event_once_in_order(
    relay: RelayHarness,
) -> None:
    for name in ("wa_webhook_text.json", "wa_webhook_location.json", "wa_webhook_sticker.json"):
        relay.post_sample(name)
    everything = read_events(relay, until=lambda ev: len(ev) >= 6)
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    cut = ids[2]
    resumed = read_events(relay, last_event_id=cut, until=lambda ev: ev[-1]["id"] == ids[-1])
    assert [e["id"] for e in resumed] == ids[3:]
    by_query = read_events(relay, after=cut, until=lambda ev: ev[-1]["id"] == ids[-1])
    assert [e["id"] for e in by_query] == ids[3:]


def test_events_survive_a_relay_restart(relay_factory: Callable[..., RelayHarness]) -> None:
    first = relay_factory()
    first.post_sample("wa_webhook_text.json")
    before = read_events(first, until=lambda ev: len(ev) >= 2)
    cursor = before[-1]["id"]
    first.close()
    second = relay_factory()
    second.post_sample("wa_webhook_location.json")
    after = read_events(second, after=cursor, until=lambda ev: len(ev) >= 2)
    assert after[0]["id"] == cursor + 1
    assert after[0]["data"]["message"]["type"] == "location"


def test_status_changes_are_events(relay: RelayHarness) -> None:
    relay.post_sample("wa_webhook_text.json")
    conversation = relay.conversations()[0]
    relay.api.patch(f"/v1/conversations/{conversation['id']}", json={"status": "pending"})
    events = read_events(
        relay,
        until=lambda ev: any(
            e["type"] == "conversation.updated" and e["data"]["conversation"]["status"] == "pending"
            for e in ev
        ),
    )
    assert events[-1]["conversation_id"] == conversation["id"]


def test_a_reply_is_announced_with_its_conversation_as_the_api_shows_it(
    relay: RelayHarness,
) -> None:
    relay.post_sample("wa_webhook_text.json")
    before = relay.conversations()[0]
    sent = relay.api.post(
        f"/v1/conversations/{before['id']}/messages",
        json={"text": "It is on its way."},
        headers={"Idempotency-Key": "announced-1"},
    ).json()

    def announced(e: dict[str, Any]) -> bool:
        last = e["data"]["conversation"]["last_message"] if "conversation" in e["data"] else None
        return last is not None and last["id"] == sent["id"]

    events = read_events(relay, until=lambda ev: any(announced(e) for e in ev))
    (created,) = [
        e for e in events if e["type"] == "message.created" and e["message_id"] == sent["id"]
    ]
    assert created["data"]["message"] == sent  # what the 202 answered
    conversation = events[-1]["data"]["conversation"]
    assert conversation["last_message"] == sent
    moving = ("last_message", "updated_at")
    assert {k: v for k, v in conversation.items() if k not in moving} == {
        k: v for k, v in before.items() if k not in moving
    }
    assert conversation["updated_at"] >= before["updated_at"]


def test_the_stream_needs_a_token(relay: RelayHarness) -> None:
    assert relay.http.get("/v1/events").status_code == 401
