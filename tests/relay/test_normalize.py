"""relay.webhooks.normalize: Meta webhook bodies → records.

The fixtures are the Meta samples (a copy of shared/meta-samples in tests/fixtures; override with
OMNIDESK_META_SAMPLES). Each `*_webhook_*.json` has a test asserting the outcome its INDEX.md
row describes; the rest covers bad input and, with hypothesis, "never raises".
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.webhooks.normalize import normalize
from relay.webhooks.records import (
    ChannelRef,
    InboundMessage,
    Record,
    StatusUpdate,
    Unsupported,
)
from tests.helpers.meta_samples import SAMPLES

# --------------------------------------------------------------------------- fixtures


WA_SAMPLES = [
    "wa_webhook_audio_voice.json",
    "wa_webhook_batch_message_and_statuses.json",
    "wa_webhook_batch_two_messages.json",
    "wa_webhook_button_template_quick_reply.json",
    "wa_webhook_contacts.json",
    "wa_webhook_document.json",
    "wa_webhook_image_caption.json",
    "wa_webhook_interactive_button_reply.json",
    "wa_webhook_interactive_list_reply.json",
    "wa_webhook_location.json",
    "wa_webhook_reaction.json",
    "wa_webhook_status_delivered.json",
    "wa_webhook_status_failed_131026.json",
    "wa_webhook_status_failed_131047.json",
    "wa_webhook_status_read.json",
    "wa_webhook_status_sent.json",
    "wa_webhook_sticker.json",
    "wa_webhook_text.json",
    "wa_webhook_text_reply_context.json",
    "wa_webhook_unsupported.json",
]
IG_SAMPLES = [
    "ig_webhook_image.json",
    "ig_webhook_reaction.json",
    "ig_webhook_text.json",
    "ig_webhook_text_reply_to.json",
]
ALL_SAMPLES = WA_SAMPLES + IG_SAMPLES

# Shared identities (INDEX.md).
PNID = "109876543210987"
WA_CHANNEL = ChannelRef("whatsapp", PNID, "15550123456")
MARIA = "16505550142"
OLIVER = "447700900456"
OUR_WAMID = "wamid.HBgLMTY1MDU1NTAxNDIVAgARGBI4QzNENEU1RjYwNzE4MjkzMEQA"
IG_ACCOUNT = "17841456789012345"
IG_CHANNEL = ChannelRef("instagram", IG_ACCOUNT)
IGSID = "8412736459012345"


@cache
def _raw_sample(name: str) -> str:
    path = SAMPLES / name
    if not path.is_file():
        pytest.fail(f"Meta sample {path} is missing (set OMNIDESK_META_SAMPLES?)")
    return path.read_text(encoding="utf-8")


def load(name: str) -> Any:
    """A fresh parsed copy of a sample (tests may mutate it)."""
    return json.loads(_raw_sample(name))


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def one_message(records: list[Record]) -> InboundMessage:
    assert len(records) == 1, records
    assert isinstance(records[0], InboundMessage), records[0]
    return records[0]


def messages_only(records: list[Record]) -> list[InboundMessage]:
    assert all(isinstance(r, InboundMessage) for r in records), records
    return [r for r in records if isinstance(r, InboundMessage)]


def one_status(records: list[Record]) -> StatusUpdate:
    assert len(records) == 1, records
    assert isinstance(records[0], StatusUpdate), records[0]
    return records[0]


def one_unsupported(records: list[Record]) -> Unsupported:
    assert len(records) == 1, records
    assert isinstance(records[0], Unsupported), records[0]
    return records[0]


def first_wa_message(body: Any) -> dict[str, Any]:
    message: dict[str, Any] = body["entry"][0]["changes"][0]["value"]["messages"][0]
    return message


def wa_body(**value: Any) -> dict[str, Any]:
    """A WhatsApp body with one `messages` change holding `value` (plus metadata)."""
    metadata = {"display_phone_number": "15550123456", "phone_number_id": PNID}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "210987654321098",
                "changes": [
                    {
                        "field": "messages",
                        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
                    }
                ],
            }
        ],
    }


def wa_message(**fields: Any) -> dict[str, Any]:
    """A text message from Maria; a field given as None is removed."""
    message: dict[str, Any] = {
        "from": MARIA,
        "id": "wamid.test-1",
        "timestamp": "1789207200",
        "type": "text",
        "text": {"body": "hi"},
    }
    message.update(fields)
    return {k: v for k, v in message.items() if v is not None}


MARIA_CONTACT = {"profile": {"name": "Maria Garcia"}, "wa_id": MARIA}


def ig_body(*events: Any, key: str = "messaging") -> dict[str, Any]:
    entry = {"time": 1789207260997, "id": IG_ACCOUNT, key: list(events)}
    return {"object": "instagram", "entry": [entry]}


def ig_event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "sender": {"id": IGSID},
        "recipient": {"id": IG_ACCOUNT},
        "timestamp": 1789207260123,
        "message": {"mid": "mid.1", "text": "hi"},
    }
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


# --------------------------------------------------------------------------- record invariants


def assert_well_formed(records: object) -> None:
    """What every normalize() result must satisfy, whatever the input."""
    assert isinstance(records, list)
    for record in records:
        assert isinstance(record, InboundMessage | StatusUpdate | Unsupported), record
        if isinstance(record, Unsupported):
            assert not record.reason.startswith("could not normalize"), record
            assert 0 < len(record.reason) <= 200
            json.loads(record.raw)
            _assert_storable(record.reason, record.raw)
            continue
        assert isinstance(record.timestamp, datetime) and record.timestamp.tzinfo is None
        for ident in (record.external_id, record.channel.external_id):
            assert ident and len(ident.encode()) <= 512
        assert record.channel.kind in ("whatsapp", "instagram")
        if isinstance(record, InboundMessage):
            assert record.customer_id and len(record.customer_id.encode()) <= 512
            assert record.direction in ("in", "out")
            assert isinstance(record.type, str) and record.type
            assert isinstance(record.payload, dict)
            text = json.dumps(record.payload, allow_nan=False, ensure_ascii=False)
            assert json.loads(text) == record.payload  # plain JSON values only
            assert "\\u0000" not in text
            _assert_storable(
                text,
                record.external_id,
                record.customer_id,
                record.customer_name,
                record.customer_handle,
                record.text,
                record.reply_to_external,
            )
        else:
            _assert_storable(record.external_id, record.status, record.error_title)


def _assert_storable(*texts: str | None) -> None:
    for text in texts:
        if text is not None:
            assert isinstance(text, str)
            text.encode("utf-8")  # no lone surrogates
            assert "\x00" not in text


def count_items(body: Any) -> int:
    """How many message/status/event items a (valid) sample holds."""
    total = 0
    for entry in body["entry"]:
        for change in entry.get("changes", []):
            value = change["value"]
            total += len(value.get("messages", [])) + len(value.get("statuses", []))
        total += len(entry.get("messaging", [])) + len(entry.get("standby", []))
    return total


# --------------------------------------------------------------------------- the sample set


def test_every_webhook_sample_has_a_test() -> None:
    on_disk = {p.name for p in SAMPLES.glob("*_webhook_*.json")}
    assert on_disk, f"no Meta samples found in {SAMPLES} (set OMNIDESK_META_SAMPLES?)"
    assert on_disk == set(ALL_SAMPLES)


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_every_item_of_a_sample_gives_exactly_one_understood_record(name: str) -> None:
    body = load(name)
    records = normalize(body)
    assert_well_formed(records)
    assert len(records) == count_items(body)
    assert not [r for r in records if isinstance(r, Unsupported)]


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_normalize_is_deterministic_so_retries_dedupe(name: str) -> None:
    assert normalize(load(name)) == normalize(load(name))


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_normalize_does_not_mutate_the_body(name: str) -> None:
    body = load(name)
    normalize(body)
    assert body == load(name)


# --------------------------------------------------------------------------- WhatsApp samples


def test_wa_text() -> None:
    message = one_message(normalize(load("wa_webhook_text.json")))
    assert message == InboundMessage(
        channel=WA_CHANNEL,
        external_id="wamid.HBgLMTY1MDU1NTAxNDIVAgASGBQzQTVGMUMyQjlEMEU0N0E4QjZDMQA=",
        customer_id=MARIA,
        customer_name="Maria Garcia",
        customer_handle=MARIA,
        type="text",
        text="Hi! Do you have the blue jacket in size M?",
        timestamp=datetime(2026, 9, 12, 10, 0, 0),
        payload={},
        reply_to_external=None,
        direction="in",
    )
    assert message.timestamp == utc(1789207200)
    assert message.channel.id == f"whatsapp:{PNID}"


def test_wa_text_reply_context() -> None:
    message = one_message(normalize(load("wa_webhook_text_reply_context.json")))
    assert message.type == "text"
    assert message.text == "Great, can you hold one for me until Friday?"
    assert message.reply_to_external == OUR_WAMID


def test_wa_image_with_caption_and_url() -> None:
    message = one_message(normalize(load("wa_webhook_image_caption.json")))
    assert message.type == "image"
    assert message.text == "This is the one I mean"
    media = message.payload["media"]
    assert media["id"] == "1284756093847561"
    assert media["mime_type"] == "image/jpeg"
    assert media["caption"] == "This is the one I mean"
    assert media["sha256"] == "S18QE3DucpVzdmhCUwWGUj40ZzX9N0mYS9ta2c102aY="
    assert media["url"].startswith("https://lookaside.fbsbx.com/whatsapp_business/attachments/")
    assert set(media) == {"id", "mime_type", "sha256", "caption", "url"}


def test_wa_document_with_filename_and_no_url() -> None:
    message = one_message(normalize(load("wa_webhook_document.json")))
    assert message.type == "document"
    assert message.text == "my receipt"
    assert message.payload == {
        "media": {
            "id": "987612345098765",
            "mime_type": "application/pdf",
            "sha256": "cyMxoHtlJXW2xEWXMz653wTlzvocKuN7UaCd2ZC+S3I=",
            "caption": "my receipt",
            "filename": "receipt-2026-09-10.pdf",
        }
    }


def test_wa_location() -> None:
    message = one_message(normalize(load("wa_webhook_location.json")))
    assert message.type == "location"
    assert message.payload == {
        "location": {
            "latitude": 37.7943524,
            "longitude": -122.3950941,
            "name": "Ferry Building Pickup Point",
            "address": "1 Market St, San Francisco, CA 94105",
            "url": "https://example.com/stores/ferry-building",
        }
    }
    assert message.text is not None
    assert "Ferry Building Pickup Point" in message.text
    assert "1 Market St, San Francisco, CA 94105" in message.text


def test_wa_interactive_button_reply() -> None:
    message = one_message(normalize(load("wa_webhook_interactive_button_reply.json")))
    assert message.type == "interactive"
    assert message.text == "Order status"
    assert message.payload["interactive"]["type"] == "button_reply"
    assert message.payload["interactive"]["button_reply"] == {
        "id": "order-status",
        "title": "Order status",
    }
    assert message.reply_to_external == "wamid.HBgLMTY1MDU1NTAxNDIVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"


def test_wa_interactive_list_reply() -> None:
    message = one_message(normalize(load("wa_webhook_interactive_list_reply.json")))
    assert message.type == "interactive"
    assert message.text == "Priority Express"
    assert message.payload["interactive"]["list_reply"] == {
        "id": "priority_express",
        "title": "Priority Express",
        "description": "Next day to 2 days",
    }
    assert message.reply_to_external == "wamid.HBgLMTY1MDU1NTAxNDIVAgARGBI2QTFCMkMzRDRFNUY2MDcxOEIA"


def test_wa_template_quick_reply_is_a_button_not_interactive() -> None:
    message = one_message(normalize(load("wa_webhook_button_template_quick_reply.json")))
    assert message.type == "button"
    assert message.text == "Confirm"
    assert message.payload == {"button": {"payload": "CONFIRM_APPOINTMENT", "text": "Confirm"}}
    assert message.reply_to_external == "wamid.HBgLMTY1MDU1NTAxNDIVAgARGBI3QjJDM0Q0RTVGNjA3MTgyOUMA"


def test_wa_reaction() -> None:
    message = one_message(normalize(load("wa_webhook_reaction.json")))
    assert message.type == "reaction"
    assert message.external_id == "wamid.HBgLMTY1MDU1NTAxNDIVAgASGBQzQTE0QzdENkU1RjlBMkIxQzBEMwA="
    assert message.reply_to_external == OUR_WAMID
    assert message.payload == {"reaction": {"emoji": "\U0001f44d"}}
    assert message.text == "\U0001f44d"


@pytest.mark.parametrize("removed", [{"emoji": ""}, {}], ids=["empty-emoji", "no-emoji"])
def test_wa_reaction_removed(removed: dict[str, str]) -> None:
    body = load("wa_webhook_reaction.json")
    first_wa_message(body)["reaction"] = {"message_id": OUR_WAMID, **removed}
    message = one_message(normalize(body))
    assert message.type == "reaction"
    assert message.reply_to_external == OUR_WAMID
    assert message.payload == {"reaction": {"emoji": ""}}
    assert message.text is None


def test_wa_contacts() -> None:
    body = load("wa_webhook_contacts.json")
    message = one_message(normalize(body))
    assert message.type == "contacts"
    assert message.payload == {"contacts": first_wa_message(body)["contacts"]}
    card = message.payload["contacts"][0]
    assert card["name"]["formatted_name"] == "Daniel Kim"
    assert card["phones"][0]["phone"] == "+1 650-555-0177"
    assert card["emails"][0]["email"] == "daniel.kim@example.com"
    assert message.text == "Contact: Daniel Kim +1 650-555-0177"


def test_wa_audio_voice_note() -> None:
    message = one_message(normalize(load("wa_webhook_audio_voice.json")))
    assert message.type == "audio"
    assert message.text is None
    media = message.payload["media"]
    assert media["id"] == "1555023498765123"
    assert media["mime_type"] == "audio/ogg; codecs=opus"
    assert media["voice"] is True


def test_wa_sticker() -> None:
    message = one_message(normalize(load("wa_webhook_sticker.json")))
    assert message.type == "sticker"
    assert message.text is None
    assert message.payload["media"] == {
        "id": "2049583716234987",
        "mime_type": "image/webp",
        "sha256": "W6MrvJwA2dp27BxCXNVIr9+XUHOuXIiDamyNPqZMdSw=",
        "animated": False,
    }


def test_wa_unsupported_keeps_raw_and_errors() -> None:
    body = load("wa_webhook_unsupported.json")
    message = one_message(normalize(body))
    assert message.type == "unsupported"
    assert message.text is None
    assert message.external_id == "wamid.HBgLMTY1MDU1NTAxNDIVAgASGBQzQTY5QjJDMUQwRTRGN0E2QjVDOAA="
    assert message.customer_name == "Maria Garcia"
    assert message.payload["raw"] == first_wa_message(body)
    assert message.payload["errors"][0]["code"] == 131051
    assert message.payload["unsupported_type"] == "poll_creation"


@pytest.mark.parametrize(
    ("name", "status", "seconds", "has_pricing"),
    [
        ("wa_webhook_status_sent.json", "sent", 1789207261, True),
        ("wa_webhook_status_delivered.json", "delivered", 1789207262, True),
        ("wa_webhook_status_read.json", "read", 1789207290, False),
    ],
)
def test_wa_statuses(name: str, status: str, seconds: int, has_pricing: bool) -> None:
    update = one_status(normalize(load(name)))
    assert update == StatusUpdate(
        channel=WA_CHANNEL,
        external_id=OUR_WAMID,
        status=status,
        timestamp=utc(seconds),
        recipient_id=MARIA,
    )


def test_wa_status_failed_131047_window_closed() -> None:
    update = one_status(normalize(load("wa_webhook_status_failed_131047.json")))
    assert update.status == "failed"
    assert update.external_id == "wamid.HBgLMTY1MDU1NTAxNDIVAgARGBI5RDRFNUY2MDcxODI5M0E0MUUA"
    assert update.error_code == 131047
    assert update.error_title == "Re-engagement message"
    assert update.error_detail is not None and "24 hours" in update.error_detail
    assert update.recipient_id == MARIA


def test_wa_status_failed_131026_undeliverable() -> None:
    update = one_status(normalize(load("wa_webhook_status_failed_131026.json")))
    assert update.status == "failed"
    assert update.error_code == 131026
    assert update.error_title == "Message undeliverable"
    assert update.error_detail == "Message Undeliverable."
    assert update.recipient_id == OLIVER


def test_wa_status_callback_data_and_string_error_code() -> None:
    status = {
        "id": OUR_WAMID,
        "status": "failed",
        "timestamp": "1789207261",
        "biz_opaque_callback_data": "omnidesk-msg-42",
        "errors": [{"code": "131049", "message": "Not delivered", "error_data": []}],
    }
    update = one_status(normalize(wa_body(statuses=[status])))
    assert update.callback_data == "omnidesk-msg-42"
    assert update.error_code == 131049
    assert update.error_title == "Not delivered"  # `message` when there is no `title`
    assert update.error_detail is None


def test_wa_batch_two_messages_pairs_each_with_its_own_contact() -> None:
    records = messages_only(normalize(load("wa_webhook_batch_two_messages.json")))
    assert [(r.customer_id, r.customer_name, r.text) for r in records] == [
        (MARIA, "Maria Garcia", "Is the store open on Sunday?"),
        (OLIVER, "Oliver Smith", "Hello, I'd like to return an item."),
    ]


def test_wa_batch_contacts_are_paired_by_wa_id_not_by_index() -> None:
    body = load("wa_webhook_batch_two_messages.json")
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"].reverse()
    records = messages_only(normalize(body))
    assert [(r.customer_id, r.customer_name) for r in records] == [
        (MARIA, "Maria Garcia"),
        (OLIVER, "Oliver Smith"),
    ]


def test_wa_batch_message_and_statuses_reads_every_change() -> None:
    records = normalize(load("wa_webhook_batch_message_and_statuses.json"))
    assert [type(r) for r in records] == [InboundMessage, StatusUpdate, StatusUpdate]
    message, delivered, read = records
    assert isinstance(message, InboundMessage) and message.text == "Thanks!"
    assert isinstance(delivered, StatusUpdate) and isinstance(read, StatusUpdate)
    assert (delivered.external_id, delivered.status) == (OUR_WAMID, "delivered")
    assert (read.external_id, read.status) == (OUR_WAMID, "read")
    assert delivered.timestamp == utc(1789208158)


def test_wa_every_entry_is_read() -> None:
    body = load("wa_webhook_text.json")
    other = load("wa_webhook_status_read.json")["entry"][0]
    other["changes"][0]["value"]["metadata"]["phone_number_id"] = "118877665544332"
    body["entry"].append(other)
    message, update = normalize(body)
    assert isinstance(message, InboundMessage) and message.channel.external_id == PNID
    assert isinstance(update, StatusUpdate) and update.channel.external_id == "118877665544332"


# --------------------------------------------------------------------------- WhatsApp, built


def test_wa_contact_without_match_gives_no_name_even_if_alone() -> None:
    contact = {"profile": {"name": "Someone Else"}, "wa_id": "15550000000"}
    message = one_message(normalize(wa_body(contacts=[contact], messages=[wa_message()])))
    assert message.customer_id == MARIA
    assert message.customer_name == ""


def test_wa_bsuid_only_sender() -> None:
    bsuid = "US.13491208655302741918"
    contact = {"profile": {"name": "Maria Garcia"}, "user_id": bsuid}
    item = wa_message(**{"from": None, "from_user_id": bsuid})
    message = one_message(normalize(wa_body(contacts=[contact], messages=[item])))
    assert message.customer_id == bsuid
    assert message.customer_handle == bsuid  # what the agent sees, and what replies go to
    assert message.customer_name == "Maria Garcia"


def test_wa_phone_and_bsuid_keeps_both() -> None:
    bsuid = "US.13491208655302741918"
    item = wa_message(from_user_id=bsuid)
    message = one_message(normalize(wa_body(contacts=[MARIA_CONTACT], messages=[item])))
    assert (message.customer_id, message.customer_handle) == (MARIA, MARIA)
    assert message.payload["from_user_id"] == bsuid


def test_wa_numbers_where_strings_are_expected() -> None:
    body = wa_body(messages=[wa_message(**{"from": 16505550142, "timestamp": 1789207200})])
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = 109876543210987
    message = one_message(normalize(body))
    assert message.channel.external_id == PNID
    assert message.customer_id == MARIA
    assert message.timestamp == utc(1789207200)


def test_wa_forwarded_and_referral_kept() -> None:
    referral = {"source_url": "https://fb.me/x", "source_type": "ad", "ctwa_clid": "abc"}
    item = wa_message(context={"forwarded": True, "frequently_forwarded": True}, referral=referral)
    message = one_message(normalize(wa_body(messages=[item])))
    assert message.payload == {
        "forwarded": True,
        "frequently_forwarded": True,
        "referral": referral,
    }
    assert message.reply_to_external is None


@pytest.mark.parametrize(
    ("fields", "type_", "text", "payload_key"),
    [
        (
            {"type": "video", "video": {"id": "77", "mime_type": "video/mp4"}},
            "video",
            None,
            "media",
        ),
        (
            {
                "type": "order",
                "order": {"catalog_id": "c1", "text": "2 shirts", "product_items": []},
            },
            "order",
            "2 shirts",
            "order",
        ),
        (
            {"type": "system", "system": {"body": "Maria changed number", "type": "x"}},
            "system",
            "Maria changed number",
            "system",
        ),
        (
            {
                "type": "interactive",
                "interactive": {
                    "type": "nfm_reply",
                    "nfm_reply": {"name": "flow", "body": "Sent", "response_json": "{}"},
                },
            },
            "interactive",
            "Sent",
            "interactive",
        ),
    ],
)
def test_wa_other_families(
    fields: dict[str, Any], type_: str, text: str | None, payload_key: str
) -> None:
    message = one_message(normalize(wa_body(messages=[wa_message(**{"text": None, **fields})])))
    assert (message.type, message.text) == (type_, text)
    assert payload_key in message.payload


@pytest.mark.parametrize(
    ("fields", "unsupported_type"),
    [
        ({"type": "poll", "poll": {"q": "?"}}, "poll"),  # a type we do not know
        ({"type": "unknown", "errors": [{"code": 131051}]}, "unknown"),  # the older shape
        ({"type": "text", "text": ["not", "a", "dict"]}, "text"),  # garbled content
        ({"type": "text", "text": {"body": None}}, "text"),
        ({"type": "image", "image": {"mime_type": "image/png"}}, "image"),  # no media id
        ({"type": "location", "location": {"latitude": "north"}}, "location"),
        ({"type": "location", "location": {"latitude": float("nan"), "longitude": 1}}, "location"),
        ({"type": "contacts", "contacts": []}, "contacts"),
        ({"type": "reaction", "reaction": {"emoji": "x"}}, "reaction"),  # no target
        ({"type": "interactive", "interactive": {"type": "call_reply"}}, "interactive"),
        ({"type": "button", "button": "CONFIRM"}, "button"),
        ({"type": None}, None),
        ({"type": ["text"]}, None),
    ],
)
def test_wa_unknown_or_garbled_content_is_an_unsupported_message(
    fields: dict[str, Any], unsupported_type: str | None
) -> None:
    item = wa_message(**{"text": None, **fields})
    message = one_message(normalize(wa_body(contacts=[MARIA_CONTACT], messages=[item])))
    assert message.type == "unsupported"
    assert message.text is None
    assert message.external_id == "wamid.test-1"
    assert message.customer_name == "Maria Garcia"
    assert message.payload["raw"] == _nan_to_none(item)
    assert message.payload["unsupported_type"] == unsupported_type
    assert_well_formed([message])


def _nan_to_none(value: Any) -> Any:
    """What the payload keeps of a value: NaN is not JSON, so it is stored as null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value


def test_wa_system_level_errors_are_unsupported_with_code() -> None:
    error = {"code": 131000, "title": "Something went wrong", "message": "Something went wrong"}
    record = one_unsupported(normalize(wa_body(errors=[error])))
    assert "131000" in record.reason and "Something went wrong" in record.reason
    assert PNID in record.reason
    assert json.loads(record.raw) == error


def test_wa_garbled_timestamp_falls_back_to_now() -> None:
    before = datetime.now(UTC).replace(tzinfo=None)
    records = normalize(
        wa_body(
            messages=[wa_message(timestamp="yesterday")],
            statuses=[{"id": OUR_WAMID, "status": "read", "timestamp": "9" * 40}],
        )
    )
    after = datetime.now(UTC).replace(tzinfo=None)
    assert len(records) == 2
    for record in records:
        assert isinstance(record, InboundMessage | StatusUpdate)
        assert before <= record.timestamp <= after


def test_wa_one_bad_item_does_not_cost_the_batch() -> None:
    records = normalize(wa_body(messages=[wa_message(id=None), "junk", wa_message(id="wamid.ok")]))
    assert [type(r) for r in records] == [Unsupported, Unsupported, InboundMessage]
    reasons = [r.reason for r in records if isinstance(r, Unsupported)]
    assert reasons == ["message without id", "message is not an object"]


# --------------------------------------------------------------------------- Instagram samples


def test_ig_text_with_ms_timestamp() -> None:
    message = one_message(normalize(load("ig_webhook_text.json")))
    assert message == InboundMessage(
        channel=IG_CHANNEL,
        external_id=(
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjMTc4NDE0NTY3ODkwMTIzNDU6MzQwMjgyMzY2ODQx"
            "NzEwMzAwOTQ5MTI4MTIzNDU2NzgwMTozMjAxMjM0NTY3ODkwMTIzNDU2MDEZDZD"
        ),
        customer_id=IGSID,
        customer_name="",
        customer_handle=IGSID,
        type="text",
        text="Hi! Is the linen shirt still available?",
        timestamp=datetime(2026, 9, 12, 10, 1, 0, 123000),
        payload={},
        direction="in",
    )
    assert message.channel.id == f"instagram:{IG_ACCOUNT}"


def test_ig_image_attachment() -> None:
    message = one_message(normalize(load("ig_webhook_image.json")))
    assert message.type == "image"
    assert message.text is None
    [attachment] = message.payload["attachments"]
    assert attachment["type"] == "image"
    assert attachment["url"].startswith("https://lookaside.fbsbx.com/ig_messaging_cdn/")
    assert message.timestamp == datetime(2026, 9, 12, 10, 2, 0, 123000)


def test_ig_text_reply_to() -> None:
    body = load("ig_webhook_text_reply_to.json")
    message = one_message(normalize(body))
    assert message.type == "text"
    assert message.text == "Yes, size L please"
    assert (
        message.reply_to_external == body["entry"][0]["messaging"][0]["message"]["reply_to"]["mid"]
    )


def test_ig_reaction() -> None:
    body = load("ig_webhook_reaction.json")
    target = body["entry"][0]["messaging"][0]["reaction"]["mid"]
    message = one_message(normalize(body))
    assert message.type == "reaction"
    assert message.reply_to_external == target
    assert message.payload == {"reaction": {"emoji": "\u2764\ufe0f", "action": "react"}}
    assert message.text == "\u2764\ufe0f"
    assert message.customer_id == IGSID
    assert message.direction == "in"
    assert message.external_id.startswith(f"reaction:{target}:{IGSID}:react:")
    assert (
        message.external_id == one_message(normalize(load("ig_webhook_reaction.json"))).external_id
    )


def test_ig_unreact_is_a_distinct_reaction_with_empty_emoji() -> None:
    body = load("ig_webhook_reaction.json")
    event = body["entry"][0]["messaging"][0]
    react = one_message(normalize(body))
    event["reaction"] = {"mid": event["reaction"]["mid"], "action": "unreact"}
    event["timestamp"] += 5000
    unreact = one_message(normalize(body))
    assert unreact.payload == {"reaction": {"emoji": "", "action": "unreact"}}
    assert unreact.text is None
    assert unreact.reply_to_external == react.reply_to_external
    assert unreact.external_id != react.external_id


def test_ig_same_reaction_again_later_is_not_a_duplicate() -> None:
    body = load("ig_webhook_reaction.json")
    first = one_message(normalize(body))
    body["entry"][0]["messaging"][0]["timestamp"] += 60_000
    assert one_message(normalize(body)).external_id != first.external_id


def test_ig_long_reaction_key_is_hashed_to_fit_an_index() -> None:
    event = ig_event(
        message=None, reaction={"mid": "m" * 500, "action": "react", "emoji": "\u2764"}
    )
    message = one_message(normalize(ig_body(event)))
    assert message.external_id.startswith("reaction:sha256:")
    assert message.reply_to_external == "m" * 500


# --------------------------------------------------------------------------- Instagram, built


def test_ig_echo_is_outbound_to_the_customer() -> None:
    event = ig_event(
        sender={"id": IG_ACCOUNT},
        recipient={"id": IGSID},
        message={"mid": "mid.echo", "text": "Yes it is!", "is_echo": True},
    )
    message = one_message(normalize(ig_body(event)))
    assert message.direction == "out"
    assert message.customer_id == IGSID
    assert message.channel == IG_CHANNEL
    assert message.text == "Yes it is!"


def test_ig_standby_events_are_read_and_marked() -> None:
    message = one_message(normalize(ig_body(ig_event(), key="standby")))
    assert message.type == "text"
    assert message.payload == {"standby": True}


def test_ig_dashboard_test_event_in_changes_shape() -> None:
    body = {
        "object": "instagram",
        "entry": [
            {
                "id": "0",
                "time": 1789207260,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "sender": {"id": "12334"},
                            "recipient": {"id": "23245"},
                            "timestamp": "1527459824",
                            "message": {"mid": "random_mid", "text": "random_text"},
                        },
                    }
                ],
            }
        ],
    }
    message = one_message(normalize(body))
    assert (message.external_id, message.text, message.customer_id) == (
        "random_mid",
        "random_text",
        "12334",
    )
    assert message.timestamp == utc(1527459824)  # seconds, not ms


@pytest.mark.parametrize(
    ("attachment_type", "type_"),
    [("video", "video"), ("audio", "audio"), ("file", "document"), ("ig_reel", "ig_reel")],
)
def test_ig_attachment_types(attachment_type: str, type_: str) -> None:
    attachment = {"type": attachment_type, "payload": {"url": "https://cdn.example/x"}}
    event = ig_event(message={"mid": "m1", "text": "look", "attachments": [attachment]})
    message = one_message(normalize(ig_body(event)))
    assert (message.type, message.text) == (type_, "look")
    assert message.payload == {
        "attachments": [{"type": attachment_type, "url": "https://cdn.example/x"}]
    }


def test_ig_story_reply() -> None:
    reply_to = {"story": {"url": "https://cdn.example/story", "id": "story-1"}}
    event = ig_event(message={"mid": "m1", "text": "nice", "reply_to": reply_to})
    message = one_message(normalize(ig_body(event)))
    assert message.payload["story"] == {"id": "story-1", "url": "https://cdn.example/story"}
    assert message.reply_to_external is None


def test_ig_postback_is_a_button_message() -> None:
    event = ig_event(
        message=None, postback={"mid": "m-pb", "title": "Track order", "payload": "TRACK"}
    )
    message = one_message(normalize(ig_body(event)))
    assert (message.type, message.text, message.external_id) == ("button", "Track order", "m-pb")
    assert message.payload == {"button": {"payload": "TRACK", "text": "Track order"}}


def test_ig_deleted_message_gets_a_key_of_its_own() -> None:
    event = ig_event(message={"mid": "mid.1", "is_deleted": True})
    message = one_message(normalize(ig_body(event)))
    assert message.type == "unsupported"
    assert message.external_id == "mid.1:deleted"
    assert message.reply_to_external == "mid.1"
    assert message.payload["unsupported_type"] == "deleted"
    assert message.payload["raw"] == event


@pytest.mark.parametrize(
    "message_body", [{"mid": "mid.1", "is_unsupported": True}, {"mid": "mid.1"}]
)
def test_ig_unsupported_or_empty_message_keeps_raw(message_body: dict[str, Any]) -> None:
    event = ig_event(message=message_body)
    message = one_message(normalize(ig_body(event)))
    assert (message.type, message.external_id, message.text) == ("unsupported", "mid.1", None)
    assert message.payload["raw"] == event


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"read": {"mid": "mid.1"}}, "instagram 'read' event"),
        ({"message_edit": {"mid": "mid.1", "text": "x"}}, "instagram 'message_edit' event"),
        ({"referral": {"ref": "x"}}, "instagram 'referral' event"),
        ({"message": {"text": "no mid"}}, "message without mid"),
        ({"message": "hello"}, "instagram message is not an object"),
        ({"reaction": {"action": "react"}}, "reaction without mid"),
        ({"postback": {"title": "x"}}, "instagram postback without mid"),
        ({}, "instagram event without content"),
    ],
)
def test_ig_events_we_do_not_turn_into_messages(event: dict[str, Any], reason: str) -> None:
    item = ig_event(**{"message": None, **event})
    record = one_unsupported(normalize(ig_body(item)))
    assert record.reason == reason
    assert json.loads(record.raw) == item


def test_ig_message_without_sender() -> None:
    event = ig_event(sender=None)
    assert one_unsupported(normalize(ig_body(event))).reason == "message without sender"


def test_ig_entry_without_id_routes_by_recipient() -> None:
    body = ig_body(ig_event())
    del body["entry"][0]["id"]
    assert one_message(normalize(body)).channel == IG_CHANNEL


def test_ig_missing_timestamp_uses_entry_time() -> None:
    message = one_message(normalize(ig_body(ig_event(timestamp=None))))
    assert message.timestamp == datetime(2026, 9, 12, 10, 1, 0, 997000)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("body", [None, [], [{"object": "instagram"}], "x", 3, 1.5, True])
def test_a_body_that_is_not_an_object(body: object) -> None:
    record = one_unsupported(normalize(body))
    assert record.reason == "body is not a JSON object"
    assert json.loads(record.raw) == body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "body without object"),
        ({"object": "page", "entry": []}, "unknown object 'page'"),
        ({"object": 5}, "unknown object <int>"),
        ({"object": "x" * 10_000}, f"unknown object '{'x' * 60}…'"),
        ({"object": "whatsapp_business_account"}, "whatsapp body without entry list"),
        (
            {"object": "whatsapp_business_account", "entry": ["x"]},
            "whatsapp entry is not an object",
        ),
        (
            {"object": "whatsapp_business_account", "entry": [{}]},
            "whatsapp entry without changes list",
        ),
        ({"object": "instagram", "entry": {}}, "instagram body without entry list"),
        ({"object": "instagram", "entry": [7]}, "instagram entry is not an object"),
        ({"object": "instagram", "entry": [{"id": "1"}]}, "instagram entry without messaging"),
        ({"object": "instagram", "entry": [{"messaging": {}}]}, "'messaging' is not a list"),
        (
            {"object": "instagram", "entry": [{"changes": [{"field": "comments", "value": {}}]}]},
            "unknown instagram field 'comments'",
        ),
    ],
)
def test_bodies_we_cannot_understand(body: object, reason: str) -> None:
    record = one_unsupported(normalize(body))
    assert record.reason == reason
    json.loads(record.raw)


def _wa_change(**change: Any) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"changes": [change]}]}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            _wa_change(field="account_update", value={"event": "X"}),
            "unknown field 'account_update'",
        ),
        (_wa_change(value={}), "change without field"),
        (_wa_change(field="messages"), "change without value"),
        (_wa_change(field="messages", value={"messages": []}), "change without phone_number_id"),
        (wa_body(), "change without messages, statuses or errors"),
        (wa_body(messages={"id": "x"}), "'messages' is not a list"),
        (wa_body(messages=[wa_message(id=None)]), "message without id"),
        (wa_body(messages=[wa_message(id=["wamid"])]), "message with unusable id"),
        (wa_body(messages=[wa_message(id="w" * 5000)]), "message with unusable id"),
        (wa_body(messages=[wa_message(id=10**5000)]), "message with unusable id"),
        (wa_body(messages=[wa_message(**{"from": None})]), "message without sender"),
        (wa_body(statuses=[{"status": "read", "timestamp": "1"}]), "status without id"),
        (wa_body(statuses=[{"id": OUR_WAMID}]), "status without status"),
        (wa_body(statuses=[{"id": OUR_WAMID, "status": "r" * 100}]), "status with unusable status"),
        (wa_body(errors=["boom"]), "whatsapp error ? on 109876543210987: no title"),
    ],
)
def test_whatsapp_parts_we_cannot_understand(body: object, reason: str) -> None:
    record = one_unsupported(normalize(body))
    assert record.reason == reason
    json.loads(record.raw)


def test_unstorable_characters_are_replaced() -> None:
    item = wa_message(text={"body": "bad \ud83d surrogate and \x00 nul"})
    message = one_message(normalize(wa_body(contacts=[MARIA_CONTACT], messages=[item])))
    assert message.text == "bad \ufffd surrogate and \ufffd nul"
    assert_well_formed([message])


def test_huge_strings_are_kept_but_reasons_stay_short() -> None:
    huge = "x" * 3_000_000
    message = one_message(normalize(wa_body(messages=[wa_message(text={"body": huge})])))
    assert message.text == huge
    record = one_unsupported(normalize(_wa_change(field=huge)))
    assert len(record.reason) <= 200
    assert huge in record.raw


def test_non_json_python_values_never_raise() -> None:
    loop: list[Any] = []
    loop.append(loop)
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    odd = wa_body(messages=[wa_message(text={"body": {1, 2}}, extra=object())])
    for body in (loop, deep, odd, {"object": "instagram", "entry": [{(1, 2): "k"}]}):
        records = normalize(body)
        assert isinstance(records, list) and records
        for record in records:
            assert isinstance(record, InboundMessage | StatusUpdate | Unsupported)


# --------------------------------------------------------------------------- properties

META_KEYS = st.sampled_from(
    [
        "object",
        "entry",
        "id",
        "time",
        "changes",
        "field",
        "value",
        "metadata",
        "phone_number_id",
        "display_phone_number",
        "contacts",
        "wa_id",
        "user_id",
        "profile",
        "name",
        "messages",
        "statuses",
        "errors",
        "from",
        "from_user_id",
        "timestamp",
        "type",
        "text",
        "body",
        "context",
        "image",
        "reaction",
        "emoji",
        "message_id",
        "status",
        "code",
        "messaging",
        "standby",
        "sender",
        "recipient",
        "message",
        "mid",
        "is_echo",
        "attachments",
        "payload",
        "url",
        "reply_to",
    ]  # fmt: skip
)
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["whatsapp_business_account", "instagram", "messages", "text", "1789207200"])
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(META_KEYS | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value, the root included."""
    out = [path]
    if isinstance(node, dict):
        for key, child in node.items():
            out += _paths(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            out += _paths(child, (*path, index))
    return out


_DELETE = object()


def _replace(root: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    if new is _DELETE and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = None if new is _DELETE else new
    return root


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """`base` with one to three random subtrees replaced by random JSON, or deleted."""
    value = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(value)))
        new = draw(st.just(_DELETE) | JSON_VALUES)
        value = _replace(value, path, new)
    return value


@st.composite
def mutated_samples(draw: st.DrawFn) -> Any:
    return draw(mutated(load(draw(st.sampled_from(ALL_SAMPLES)))))


@FAST
@given(JSON_VALUES)
def test_never_raises_on_arbitrary_json(body: Any) -> None:
    assert_well_formed(normalize(body))


@FAST
@given(st.sampled_from(["whatsapp_business_account", "instagram"]), JSON_VALUES)
def test_never_raises_on_arbitrary_entries(obj: str, entry: Any) -> None:
    assert_well_formed(normalize({"object": obj, "entry": entry}))


@FAST
@given(mutated_samples())
def test_never_raises_on_mutated_samples(body: Any) -> None:
    assert_well_formed(normalize(body))


def _sample_items(key: str, names: list[str]) -> list[Any]:
    items: list[Any] = []
    for name in names:
        for entry in load(name)["entry"]:
            for change in entry.get("changes", []):
                items += change["value"].get(key, [])
            items += entry.get(key, [])
    return items


@st.composite
def item_lists(draw: st.DrawFn, key: str, names: list[str]) -> list[Any]:
    """A list of real items from the samples, mutated items, and random JSON values."""
    bases = _sample_items(key, names)
    item = st.sampled_from(bases) | st.sampled_from(bases).flatmap(mutated) | JSON_VALUES
    return draw(st.lists(item, max_size=5))


@FAST
@given(item_lists("messages", WA_SAMPLES), item_lists("statuses", WA_SAMPLES))
def test_every_whatsapp_item_gives_exactly_one_record(
    messages: list[Any], statuses: list[Any]
) -> None:
    records = normalize(wa_body(messages=messages, statuses=statuses))
    assert_well_formed(records)
    assert len(records) == len(messages) + len(statuses)


@FAST
@given(item_lists("messaging", IG_SAMPLES), st.sampled_from(["messaging", "standby"]))
def test_every_instagram_event_gives_exactly_one_record(events: list[Any], key: str) -> None:
    records = normalize(ig_body(*events, key=key))
    assert_well_formed(records)
    assert len(records) == len(events)
