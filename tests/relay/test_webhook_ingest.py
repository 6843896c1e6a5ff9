"""Meta's webhooks reach the store: handshake, signatures, every sample, idempotency, batches."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay.testing.graph_standin import GraphStandIn
from tests.helpers.meta_samples import text_webhook
from tests.relay.conftest import VERIFY_TOKEN, RelayHarness, sample

OUR_WAMID = "wamid.HBgLMTY1MDU1NTAxNDIVAgARGBI4QzNENEU1RjYwNzE4MjkzMEQA"
PNID = "109876543210987"


def only_conversation(relay: RelayHarness) -> dict[str, Any]:
    items = relay.conversations()
    assert len(items) == 1, items
    return items[0]


class TestHandshake:
    def test_matching_token_echoes_the_challenge_verbatim(self, relay: RelayHarness) -> None:
        for challenge in ("1158201444", "A1b2-C3d4_e5"):
            response = relay.http.get(
                "/webhooks/meta",
                params={
                    "hub.mode": "subscribe",
                    "hub.verify_token": VERIFY_TOKEN,
                    "hub.challenge": challenge,
                },
            )
            assert response.status_code == 200
            assert response.text == challenge
            assert response.headers["content-type"].startswith("text/plain")

    @pytest.mark.parametrize(
        "params",
        [
            {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "123"},
            {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "123"},
            {"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "123"},
        ],
    )
    def test_anything_else_is_refused_without_the_challenge(
        self, relay: RelayHarness, params: dict[str, str]
    ) -> None:
        response = relay.http.get("/webhooks/meta", params=params)
        assert response.status_code == 403
        assert "123" not in response.text

    def test_missing_challenge_is_a_bad_request(self, relay: RelayHarness) -> None:
        response = relay.http.get(
            "/webhooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN}
        )
        assert response.status_code == 400


class TestSignature:
    @pytest.mark.parametrize(
        "signature",
        ["", "sha256=" + "0" * 64, "sha1=abc", "garbage"],
        ids=["missing", "zeros", "sha1", "garbage"],
    )
    def test_bad_signatures_are_refused_and_nothing_is_stored(
        self, relay: RelayHarness, signature: str
    ) -> None:
        response = relay.post_webhook(sample("wa_webhook_text.json"), signature=signature)
        assert response.status_code in (401, 403)
        assert relay.conversations() == []

    def test_one_changed_byte_breaks_the_signature(self, relay: RelayHarness) -> None:
        body = sample("wa_webhook_text.json")
        good = relay.post_webhook(body).request.headers["X-Hub-Signature-256"]
        tampered = body.replace(b"Maria", b"Mario")
        assert relay.post_webhook(tampered, signature=good).status_code in (401, 403)

    def test_signature_is_over_the_raw_bytes_with_escaped_unicode(
        self, relay: RelayHarness
    ) -> None:
        # Meta escapes non-ASCII (\u00e4) in the body it signs; re-serialising would break it.
        raw = sample("wa_webhook_text.json").replace(
            b'"Maria Garcia"', b'"Zo\\u00eb \\ud83d\\ude00"'
        )
        assert relay.post_webhook(raw).status_code == 200
        assert only_conversation(relay)["contact"]["name"] == "Zoë 😀"

    def test_instagram_login_secret_is_accepted(self, relay: RelayHarness) -> None:
        assert relay.post_sample("ig_webhook_text.json").status_code == 200
        assert only_conversation(relay)["channel"]["kind"] == "instagram"

    def test_metrics_count_rejections(self, relay: RelayHarness) -> None:
        relay.post_webhook(b"{}", signature="sha256=" + "1" * 64)
        text = relay.http.get("/metrics").text
        assert 'omnidesk_webhooks_rejected_total{reason="bad_signature"} 1.0' in text


WA_SAMPLES = {
    "wa_webhook_text.json": ("text", None),
    "wa_webhook_image_caption.json": ("image", "media"),
    "wa_webhook_document.json": ("document", "media"),
    "wa_webhook_audio_voice.json": ("audio", "media"),
    "wa_webhook_sticker.json": ("sticker", "media"),
    "wa_webhook_location.json": ("location", "location"),
    "wa_webhook_contacts.json": ("contacts", "contacts"),
    "wa_webhook_interactive_button_reply.json": ("interactive", "interactive"),
    "wa_webhook_interactive_list_reply.json": ("interactive", "interactive"),
    "wa_webhook_button_template_quick_reply.json": ("button", "button"),
    "wa_webhook_reaction.json": ("reaction", "reaction"),
    "wa_webhook_unsupported.json": ("unsupported", "raw"),
    "wa_webhook_text_reply_context.json": ("text", None),
}


@pytest.mark.parametrize("name", sorted(WA_SAMPLES))
def test_every_whatsapp_sample_is_stored_once_even_when_retried(
    relay: RelayHarness, name: str
) -> None:
    msg_type, payload_key = WA_SAMPLES[name]
    assert relay.post_sample(name).status_code == 200
    assert relay.post_sample(name).status_code == 200  # Meta's retry
    conversation = only_conversation(relay)
    assert conversation["channel"]["id"] == f"whatsapp:{PNID}"
    assert conversation["mode"] == "human"
    messages = relay.messages(conversation["id"])
    assert len(messages) == 1
    message = messages[0]
    wa_message = json.loads(sample(name))["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["external_id"] == wa_message["id"]
    assert message["type"] == msg_type
    assert message["direction"] == "in" and message["author"] == "customer"
    if payload_key:
        assert payload_key in message["payload"]


def test_media_keeps_id_mime_caption_and_filename(relay: RelayHarness) -> None:
    relay.post_sample("wa_webhook_document.json")
    relay.post_sample("wa_webhook_image_caption.json")
    by_type = {m["type"]: m for m in relay.messages(relay.conversations()[0]["id"])}
    image = by_type["image"]["payload"]["media"]
    assert image["id"] == "1284756093847561" and image["mime_type"] == "image/jpeg"
    assert by_type["image"]["text"] == image["caption"]
    assert by_type["document"]["payload"]["media"]["filename"].endswith(".pdf")


def test_contact_gets_name_and_e164_handle(relay: RelayHarness) -> None:
    relay.post_sample("wa_webhook_text.json")
    contact = only_conversation(relay)["contact"]
    assert contact == {"id": contact["id"], "name": "Maria Garcia", "handle": "+16505550142"}


def test_a_reply_links_to_the_message_it_quotes(relay: RelayHarness) -> None:
    relay.post_sample("wa_webhook_text.json")
    first = relay.messages(only_conversation(relay)["id"])[0]
    quoting = json.loads(sample("wa_webhook_text.json"))
    msg = quoting["entry"][0]["changes"][0]["value"]["messages"][0]
    msg["id"] = "wamid.quoting-reply"
    msg["context"] = {"from": "15550123456", "id": first["external_id"]}
    relay.post_webhook(quoting)
    second = relay.messages(first["conversation_id"])[-1]
    assert second["reply_to"] == first["id"]


def test_a_batch_of_two_senders_makes_two_conversations(relay: RelayHarness) -> None:
    relay.post_sample("wa_webhook_batch_two_messages.json")
    names = sorted(c["contact"]["name"] for c in relay.conversations())
    body = json.loads(sample("wa_webhook_batch_two_messages.json"))
    expected = sorted(
        c["profile"]["name"] for c in body["entry"][0]["changes"][0]["value"]["contacts"]
    )
    assert names == expected


def test_message_and_statuses_in_one_batch_are_all_handled(relay: RelayHarness) -> None:
    relay.post_sample("wa_webhook_batch_message_and_statuses.json")
    assert len(relay.conversations()) == 1
    receipts = relay.http.get("/metrics").text
    assert "omnidesk_webhooks_received_total 1.0" in receipts


def test_instagram_samples(relay: RelayHarness) -> None:
    for name in ("ig_webhook_text.json", "ig_webhook_image.json", "ig_webhook_text_reply_to.json"):
        assert relay.post_sample(name).status_code == 200
        assert relay.post_sample(name).status_code == 200
    conversation = only_conversation(relay)
    assert conversation["contact"]["handle"] == "8412736459012345"
    types = [m["type"] for m in relay.messages(conversation["id"])]
    assert types.count("text") == 2 and "image" in types
    assert relay.post_sample("ig_webhook_reaction.json").status_code == 200


def number_change(old: str, new: str, wamid: str) -> dict[str, Any]:
    """WhatsApp's `user_changed_number` system message (contract 3.3): no contacts."""
    body = text_webhook("unused", wa_id=old, wamid=wamid)
    value = body["entry"][0]["changes"][0]["value"]
    del value["contacts"]
    item = value["messages"][0]
    del item["text"]
    item |= {
        "type": "system",
        "system": {
            "body": f"Maria Garcia changed their phone number to a new number {new}",
            "wa_id": new,
            "type": "user_changed_number",
        },
    }
    return body


def test_a_customer_who_changes_number_stays_in_their_conversation(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    assert relay.post_webhook(text_webhook("Hi", wa_id="16505550142")).status_code == 200
    change = number_change("16505550142", "16505559876", "wamid.change")
    assert relay.post_webhook(change).status_code == 200
    conversation = only_conversation(relay)
    assert conversation["contact"]["handle"] == "+16505559876"
    assert relay.messages(conversation["id"])[-1]["type"] == "system"

    later = text_webhook("It's me, new phone", wa_id="16505559876", wamid="wamid.later")
    assert relay.post_webhook(later).status_code == 200
    conversation = only_conversation(relay)  # not a second conversation
    assert [m["text"] for m in relay.messages(conversation["id"])][-1] == "It's me, new phone"
    reply = relay.api.post(
        f"/v1/conversations/{conversation['id']}/messages",
        json={"text": "Noted, thanks"},
        headers={"Idempotency-Key": "after-change"},
    )
    assert reply.status_code == 202
    relay.wait_until(lambda: graph.sends())
    assert graph.sends()[0].json["to"] == "+16505559876"


def test_a_number_change_to_a_number_already_known_keeps_both(relay: RelayHarness) -> None:
    assert relay.post_webhook(text_webhook("old", wa_id="16505550142")).status_code == 200
    new = text_webhook("new", wa_id="16505559876", name="Maria (new)", wamid="wamid.n")
    assert relay.post_webhook(new).status_code == 200
    change = number_change("16505550142", "16505559876", "wamid.change")
    assert relay.post_webhook(change).status_code == 200
    handles = sorted(c["contact"]["handle"] for c in relay.conversations())
    assert handles == ["+16505550142", "+16505559876"]


def test_resolved_conversation_reopens_when_the_customer_writes(relay: RelayHarness) -> None:
    relay.post_sample("wa_webhook_text.json")
    conversation = only_conversation(relay)
    relay.api.patch(f"/v1/conversations/{conversation['id']}", json={"status": "resolved"})
    relay.post_sample("wa_webhook_location.json")
    assert only_conversation(relay)["status"] == "open"
