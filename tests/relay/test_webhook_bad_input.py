"""Bad input at the webhook: a clear answer, nothing lost, never a 500, and the relay keeps serving."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from relay.store.database import Database
from relay.store.tables import messages, unsupported_payloads
from tests.relay.conftest import RelayHarness, sample


def count(relay: RelayHarness, table: Any) -> int:
    db = Database(relay.settings.relay_database_url)
    try:
        return int(
            db.read_sync(
                lambda conn: conn.execute(select(func.count()).select_from(table)).scalar_one()
            )
        )
    finally:
        db.close()


def test_signed_non_json_gets_400(relay: RelayHarness) -> None:
    assert relay.post_webhook(b"\xff\xfenot json").status_code == 400
    assert relay.post_webhook(b"[" * 100_000).status_code == 400  # too deep to parse


def test_unsigned_non_json_gets_401_before_any_parsing(relay: RelayHarness) -> None:
    assert relay.post_webhook(b"not json", signature="").status_code == 401


def test_bodies_over_4_mib_get_413(relay: RelayHarness) -> None:
    big = b'{"object":"whatsapp_business_account","pad":"' + b"x" * (4 * 1024 * 1024) + b'"}'
    assert relay.post_webhook(big).status_code == 413
    near_limit = (
        b'{"object":"whatsapp_business_account","entry":[],"pad":"'
        + b"x" * (3 * 1024 * 1024)
        + b'"}'
    )
    assert relay.post_webhook(near_limit).status_code == 200  # Meta sends up to 3 MB


@pytest.mark.parametrize(
    "body",
    [
        {"object": "page", "entry": [{"id": "1", "messaging": []}]},
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {}}]}],
        },
        {"object": "whatsapp_business_account", "entry": "not a list"},
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "metadata": {"phone_number_id": "1"},
                                "messages": [{"type": "text"}],
                            },
                        }
                    ]
                }
            ],
        },
        [1, 2, 3],
        "just a string",
    ],
    ids=["unknown-object", "unknown-field", "wrong-type", "message-without-id", "list", "string"],
)
def test_signed_but_not_understood_is_kept_raw_with_200(relay: RelayHarness, body: Any) -> None:
    assert relay.post_webhook(body).status_code == 200
    assert count(relay, unsupported_payloads) >= 1


def test_unknown_message_type_is_stored_as_unsupported_with_its_raw_json(
    relay: RelayHarness,
) -> None:
    body = json.loads(sample("wa_webhook_text.json"))
    item = body["entry"][0]["changes"][0]["value"]["messages"][0]
    item["type"] = "hologram"
    item["hologram"] = {"frames": 3}
    del item["text"]
    assert relay.post_webhook(body).status_code == 200
    (message,) = relay.messages(relay.conversations()[0]["id"])
    assert message["type"] == "unsupported"
    assert message["payload"]["raw"]["hologram"] == {"frames": 3}


def test_json_only_python_reads_is_still_stored(relay: RelayHarness) -> None:
    """NaN, a lone surrogate and a byte order mark are not strict JSON, but a signed body
    holding them is Meta's all the same: stored as best it can be, never refused."""
    text = sample("wa_webhook_text.json").decode()
    body = json.loads(text)
    body["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "half \ud83d"
    raw = json.dumps(body).replace('"body": "half', '"extra": NaN, "body": "half', 1)
    assert relay.post_webhook(("\ufeff" + raw).encode()).status_code == 200
    (message,) = relay.messages(relay.conversations()[0]["id"])
    assert message["text"] == "half \ufffd"


def test_huge_strings_are_kept_and_the_relay_goes_on(relay: RelayHarness) -> None:
    body = json.loads(sample("wa_webhook_text.json"))
    body["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "€" * 500_000
    assert relay.post_webhook(body).status_code == 200
    assert relay.post_sample("wa_webhook_location.json").status_code == 200
    assert count(relay, messages) == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
SAMPLE_NAMES = [
    "wa_webhook_text.json",
    "wa_webhook_batch_message_and_statuses.json",
    "ig_webhook_image.json",
]


def mutate(body: Any, path: list[int], replacement: Any) -> Any:
    """Replace the subtree reached by following `path` (indexes into keys/items) with `replacement`."""
    if not path or not isinstance(body, dict | list) or not body:
        return replacement
    keys = list(body) if isinstance(body, dict) else list(range(len(body)))
    key = keys[path[0] % len(keys)]
    body[key] = mutate(body[key], path[1:], replacement)  # type: ignore[index]
    return body


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(SAMPLE_NAMES),
    path=st.lists(st.integers(min_value=0, max_value=20), max_size=8),
    replacement=json_values,
    signed=st.booleans(),
)
def test_generated_payloads_never_cause_a_500(
    relay: RelayHarness, name: str, path: list[int], replacement: Any, signed: bool
) -> None:
    body = mutate(json.loads(sample(name)), path, replacement)
    raw = json.dumps(body).encode()
    response = (
        relay.post_webhook(raw)
        if signed
        else relay.post_webhook(raw, signature="sha256=" + "ab" * 32)
    )
    assert response.status_code == (200 if signed else 401)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=300), signed=st.booleans())
def test_generated_bytes_never_cause_a_500(relay: RelayHarness, raw: bytes, signed: bool) -> None:
    response = relay.post_webhook(raw) if signed else relay.post_webhook(raw, signature="")
    assert response.status_code in ((200, 400) if signed else (401,))
    assert relay.http.get("/healthz").status_code == 200
