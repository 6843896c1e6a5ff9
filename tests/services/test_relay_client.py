from __future__ import annotations

import json

import httpx
import pytest

from omnidesk.domain import ConversationStatus, Mode
from omnidesk.services.errors import (
    RelayAuthError,
    RelayProtocolError,
    RelayRequestError,
    RelayUnavailable,
    TakeoverConflict,
)
from omnidesk.services.relay_client import RelayClient
from tests.helpers.console_factories import conversation_json, message_json
from tests.helpers.fake_relay import FakeRelay


@pytest.fixture
def relay() -> FakeRelay:
    r = FakeRelay()
    r.add_conversation(conversation_json(1, "Ana", unread=2))
    r.add_message(message_json(1, 1, "oi"), event=False)
    return r


async def test_lists_and_parses(relay: FakeRelay) -> None:
    client = RelayClient(relay.client(), token="tok")
    assert await client.me() == "joao"
    convs, cursor = await client.conversations(status=ConversationStatus.OPEN)
    assert cursor is None and [c.contact.name for c in convs] == ["Ana"]
    assert convs[0].last_message is not None and convs[0].last_message.text == "oi"
    msgs, more = await client.messages(1)
    assert [m.id for m in msgs] == [1] and not more
    assert relay.requests[1].url.params["status"] == "open"
    await client.aclose()


async def test_send_uses_idempotency_key_and_relay_dedups(relay: FakeRelay) -> None:
    client = RelayClient(relay.client(), token="tok")
    a = await client.send_message(1, "Olá!", None, "key-1")
    b = await client.send_message(1, "Olá!", None, "key-1")
    assert a == b and len(relay.sent) == 1
    assert relay.requests[-1].headers["Idempotency-Key"] == "key-1"
    assert json.loads(relay.requests[-1].content) == {"text": "Olá!", "reply_to": None}
    await client.aclose()


async def test_takeover_and_conflict(relay: FakeRelay) -> None:
    client = RelayClient(relay.client(), token="tok")
    conv = await client.takeover(1)
    assert conv.mode is Mode.HUMAN and conv.assignee == "joao"
    relay.conversations[1]["assignee"] = "maria"
    with pytest.raises(TakeoverConflict) as info:
        await client.takeover(1)
    assert info.value.owner == "maria"
    await client.aclose()


async def test_error_mapping(relay: FakeRelay) -> None:
    client = RelayClient(relay.client(), token="wrong")
    with pytest.raises(RelayAuthError):
        await client.me()
    client.set_token("tok")
    relay.fail_status = [503, 404, 200]
    with pytest.raises(RelayUnavailable):
        await client.me()
    with pytest.raises(RelayRequestError) as info:
        await client.me()
    assert info.value.status == 404
    with pytest.raises(RelayProtocolError):
        await client.me()  # 200 with {"detail": ...}: no name
    relay.down = True
    with pytest.raises(RelayUnavailable):
        await client.me()
    await client.aclose()


async def test_timeout_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client = RelayClient(
        httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://r"), "t"
    )
    with pytest.raises(RelayUnavailable):
        await client.conversation(1)
    await client.aclose()


async def test_conflict_owner_in_a_nested_detail() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"detail": {"detail": "taken", "owner": "bruno"}})

    client = RelayClient(
        httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://r"), "t"
    )
    with pytest.raises(TakeoverConflict) as info:
        await client.takeover(1)
    assert info.value.owner == "bruno"
    await client.aclose()


def test_unknown_status_and_internal_notes_parse() -> None:
    from omnidesk.domain import Direction, MessageStatus
    from omnidesk.services.wire import parse_message
    from tests.helpers.console_factories import message_json

    m = parse_message(
        message_json(1, 1, "handed to a person", direction="internal", status="something-new")
    )
    assert m.direction is Direction.INTERNAL and m.is_note
    assert m.status is MessageStatus.UNKNOWN
