"""The agent API: tokens, listing and paging, filters, and clear answers to bad requests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay.store.agents import revoke_agent
from relay.store.database import Database
from tests.relay.conftest import RelayHarness, sample


def text_webhook(wa_id: str, wamid: str, text: str, name: str = "Customer") -> dict[str, Any]:
    body = json.loads(sample("wa_webhook_text.json"))
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
    value["messages"][0].update({"from": wa_id, "id": wamid, "text": {"body": text}})
    return body  # type: ignore[no-any-return]


class TestAuth:
    @pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer"])
    def test_every_v1_route_needs_a_valid_token(
        self, relay: RelayHarness, header: str | None
    ) -> None:
        headers = {"Authorization": header} if header else {}
        for path in ("/v1/me", "/v1/conversations", "/v1/conversations/1/messages", "/v1/events"):
            assert relay.http.get(path, headers=headers).status_code == 401, path
        assert (
            relay.http.post(
                "/v1/conversations/1/messages", json={"text": "x"}, headers=headers
            ).status_code
            == 401
        )

    def test_a_revoked_token_stops_working(self, relay: RelayHarness) -> None:
        assert relay.api.get("/v1/me").json() == {"name": "ana"}
        db = Database(relay.settings.relay_database_url)
        assert db.write_sync(revoke_agent("ana"))
        db.close()
        assert relay.api.get("/v1/me").status_code == 401


def test_conversations_newest_activity_first_with_cursor_pages(relay: RelayHarness) -> None:
    for n in range(7):
        relay.post_webhook(
            text_webhook(f"1650555{n:04d}", f"wamid.page-{n}", f"hello {n}", f"C{n}")
        )
    relay.post_webhook(text_webhook("16505550002", "wamid.page-again", "me again", "C2"))
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = relay.api.get("/v1/conversations", params=params).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [c["contact"]["name"] for c in seen] == ["C2", "C6", "C5", "C4", "C3", "C1", "C0"]
    first = seen[0]
    assert first["last_message"]["text"] == "me again"
    assert first["unread_count"] == 2
    assert {
        "id",
        "channel",
        "contact",
        "status",
        "mode",
        "last_message",
        "unread_count",
        "updated_at",
    } <= set(first)


def test_filters_by_channel_and_status(relay: RelayHarness) -> None:
    relay.post_sample("wa_webhook_text.json")
    relay.post_sample("ig_webhook_text.json")
    ig = relay.conversations(channel="instagram:17841456789012345")
    assert [c["channel"]["kind"] for c in ig] == ["instagram"]
    relay.api.patch(f"/v1/conversations/{ig[0]['id']}", json={"status": "pending"})
    assert [c["id"] for c in relay.conversations(status="pending")] == [ig[0]["id"]]
    assert len(relay.conversations(status="open")) == 1


def test_messages_in_order_and_paged_both_ways(relay: RelayHarness) -> None:
    for n in range(9):
        relay.post_webhook(text_webhook("16505550142", f"wamid.order-{n}", f"m{n}"))
    conversation_id = relay.conversations()[0]["id"]
    newest = relay.api.get(
        f"/v1/conversations/{conversation_id}/messages", params={"limit": 4}
    ).json()
    assert [m["text"] for m in newest["items"]] == ["m5", "m6", "m7", "m8"] and newest["has_more"]
    older = relay.messages(conversation_id, before=newest["items"][0]["id"], limit=4)
    assert [m["text"] for m in older] == ["m1", "m2", "m3", "m4"]
    after = relay.messages(conversation_id, after=older[0]["id"], limit=3)
    assert [m["text"] for m in after] == ["m2", "m3", "m4"]
    message = after[0]
    for key in (
        "id",
        "conversation_id",
        "direction",
        "author",
        "type",
        "text",
        "reply_to",
        "status",
        "created_at",
        "external_id",
    ):
        assert key in message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 5000}, "text"),
        ({"txt": "hello"}, "text"),
        ({"text": "hi", "reply_to": "abc"}, "reply_to"),
        ({"text": "hi", "reply_to": 999999}, "reply_to"),
    ],
)
def test_bad_replies_get_422_saying_what_is_wrong(
    relay: RelayHarness, body: dict[str, Any], words: str
) -> None:
    relay.post_sample("wa_webhook_text.json")
    conversation_id = relay.conversations()[0]["id"]
    response = relay.api.post(f"/v1/conversations/{conversation_id}/messages", json=body)
    assert response.status_code == 422
    assert words in response.json()["detail"]


def test_not_json_reply_and_unknown_conversation(relay: RelayHarness) -> None:
    bad = relay.api.post(
        "/v1/conversations/1/messages",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 422
    assert (
        relay.api.post("/v1/conversations/424242/messages", json={"text": "hi"}).status_code == 404
    )
    assert relay.api.patch("/v1/conversations/424242", json={"status": "open"}).status_code == 404
    assert relay.api.get("/v1/conversations", params={"cursor": "garbage!"}).status_code == 422
    assert relay.api.get("/v1/conversations", params={"status": "closed"}).status_code == 422


def test_ops_endpoints(relay: RelayHarness) -> None:
    health = relay.http.get("/healthz")
    assert health.status_code == 200 and health.json()["store"] == "ok"
    relay.post_sample("wa_webhook_text.json")
    metrics = relay.http.get("/metrics").text
    for name in (
        "omnidesk_webhooks_received_total 1.0",
        "omnidesk_webhooks_rejected",
        "omnidesk_messages_sent",
        "omnidesk_send_failures",
        "omnidesk_event_stream_clients",
    ):
        assert name in metrics
    spec = relay.http.get("/openapi.json").json()
    assert "/v1/conversations/{conversation_id}/messages" in spec["paths"]
