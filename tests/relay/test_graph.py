"""The Graph API client against the local Graph stand-in, over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx
import pytest

from relay.channels.graph import GraphClient, SendError, SendOk, SendUnknown
from relay.testing.graph_standin import DEFAULT_TOKEN, GraphStandIn, graph_error
from tests.helpers.meta_samples import SAMPLES

PNID = "109876543210987"  # Tenant A phone_number_id (meta-samples/INDEX.md)
CUSTOMER = "16505550142"
IG_ACCOUNT = "17841456789012345"
IGSID = "8412736459012345"
TLS = ssl.create_default_context()  # built once: each client would load the CA bundle again
INBOUND_WAMID = "wamid.HBgLMTY1MDU1NTAxNDIVAgASGBQzQTdFMjBENEMxQjk4RjZBMEUyMgA="


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def shape(value: Any) -> Any:
    """Keys and value types, recursively: what must match between our body and a fixture."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


@pytest.fixture(scope="module")
def server() -> Iterator[GraphStandIn]:
    with GraphStandIn.running(tokens=[DEFAULT_TOKEN, "second-token"]) as standin:
        yield standin


@pytest.fixture
def graph(server: GraphStandIn) -> GraphStandIn:
    server.reset()
    server.wait_idle()
    return server


def graph_session(read_timeout: float = 2.0) -> aiohttp.ClientSession:
    """The kind of session the relay gives GraphClient, with test-sized timeouts."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=1.0, sock_read=read_timeout)
    return aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(ssl=TLS))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with graph_session() as session:
        yield session


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """Talks to the stand-in directly, not through GraphClient."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0, connect=1.0), verify=TLS) as client:
        yield client


@pytest.fixture
def client(graph: GraphStandIn, session: aiohttp.ClientSession) -> GraphClient:
    return GraphClient(
        session, graph_base_url=graph.base_url, instagram_base_url=graph.instagram_base_url
    )


async def send_text(client: GraphClient, **overrides: Any) -> Any:
    args: dict[str, Any] = dict(
        token=DEFAULT_TOKEN,
        phone_number_id=PNID,
        to=CUSTOMER,
        body="Yes, we have it in size M. Want me to reserve one?",
        reply_to=None,
        callback_data="msg-0001",
    )
    return await client.send_whatsapp_text(**{**args, **overrides})


# ---- WhatsApp text ----


async def test_text_send_has_the_documented_body_and_returns_the_wamid(
    client: GraphClient, graph: GraphStandIn
) -> None:
    result = await send_text(client)

    (request,) = graph.requests
    assert request.method == "POST"
    assert request.path == f"/v25.0/{PNID}/messages"
    assert request.headers["authorization"] == f"Bearer {DEFAULT_TOKEN}"
    assert request.headers["content-type"] == "application/json"
    body = request.json
    assert body["to"] == f"+{CUSTOMER}"  # contract 5.1: always the +
    assert body["biz_opaque_callback_data"] == "msg-0001"
    expected = sample("graph_request_send_text.json") | {"biz_opaque_callback_data": "x"}
    assert shape(body) == shape(expected)
    assert body["text"] == sample("graph_request_send_text.json")["text"]

    assert isinstance(result, SendOk)
    assert result.external_id == request.message_id
    assert result.external_id.startswith("wamid.")
    assert result.wa_id == CUSTOMER
    decoded = base64.b64decode(result.external_id.removeprefix("wamid."))
    assert CUSTOMER.encode() in decoded  # the documented byte layout, as in the fixtures
    assert shape(sample("graph_response_send_success.json"))["contacts"] == [
        {"input": "str", "wa_id": "str"}
    ]


async def test_reply_quotes_the_inbound_message_through_context(
    client: GraphClient, graph: GraphStandIn
) -> None:
    result = await send_text(client, reply_to=INBOUND_WAMID, body="Done! It's on hold for you.")

    assert isinstance(result, SendOk)
    body = graph.requests[0].json
    fixture = sample("graph_request_send_text_reply_context.json")
    assert body["context"] == {"message_id": INBOUND_WAMID}
    fixture["text"]["preview_url"] = False  # we always say it; the fixture leaves it out
    assert shape(body) == shape(fixture | {"biz_opaque_callback_data": "x"})


async def test_a_number_that_has_its_plus_is_sent_as_is(
    client: GraphClient, graph: GraphStandIn
) -> None:
    result = await send_text(client, to="+447700900456")

    assert isinstance(result, SendOk)
    assert graph.requests[0].json["to"] == "+447700900456"
    assert result.wa_id == "447700900456"


async def test_a_bsuid_is_sent_as_recipient_instead_of_to(
    client: GraphClient, graph: GraphStandIn
) -> None:
    result = await send_text(client, to="US.13491208655302741918")

    assert isinstance(result, SendOk)
    sent = graph.requests[0].json
    assert sent["recipient"] == "US.13491208655302741918"
    assert "to" not in sent


async def test_every_send_gets_its_own_wamid(client: GraphClient, graph: GraphStandIn) -> None:
    results = await asyncio.gather(*(send_text(client, callback_data=f"m{i}") for i in range(5)))

    ids = {r.external_id for r in results if isinstance(r, SendOk)}
    assert len(ids) == 5
    assert len(graph.sent_texts()) == 5


async def test_text_over_the_limit_is_refused_before_calling_meta(
    client: GraphClient, graph: GraphStandIn
) -> None:
    result = await send_text(client, body="x" * 4097)

    assert isinstance(result, SendError)
    assert not result.retryable
    assert "4096" in result.title
    assert graph.requests == []


# ---- Instagram and mark-as-read ----


async def test_instagram_send(client: GraphClient, graph: GraphStandIn) -> None:
    result = await client.send_instagram_text(
        token=DEFAULT_TOKEN, ig_account_id=IG_ACCOUNT, recipient_id=IGSID, body="It is! Size?"
    )

    (request,) = graph.requests
    assert request.path == f"/ig/v25.0/{IG_ACCOUNT}/messages"
    assert request.channel == "instagram"
    assert shape(request.json) == shape(sample("ig_graph_request_send_text.json"))
    assert request.json["recipient"] == {"id": IGSID}
    assert isinstance(result, SendOk)
    assert result == SendOk(external_id=request.message_id or "?", wa_id=None)
    assert graph.sent_texts() == ["It is! Size?"]


async def test_instagram_text_is_limited_in_utf8_bytes(
    client: GraphClient, graph: GraphStandIn
) -> None:
    result = await client.send_instagram_text(
        token=DEFAULT_TOKEN, ig_account_id=IG_ACCOUNT, recipient_id=IGSID, body="é" * 501
    )

    assert isinstance(result, SendError)
    assert not result.retryable
    assert graph.requests == []


async def test_instagram_outside_window_is_permanent(
    client: GraphClient, graph: GraphStandIn
) -> None:
    graph.fail_next(code=10)

    result = await client.send_instagram_text(
        token=DEFAULT_TOKEN, ig_account_id=IG_ACCOUNT, recipient_id=IGSID, body="Hello?"
    )

    assert isinstance(result, SendError)
    assert (result.code, result.http_status, result.retryable) == (10, 400, False)
    assert "Instagram" in result.title
    assert "outside of allowed window" in result.detail


async def test_mark_read(client: GraphClient, graph: GraphStandIn) -> None:
    result = await client.mark_whatsapp_read(
        token=DEFAULT_TOKEN, phone_number_id=PNID, message_id=INBOUND_WAMID
    )

    assert result == SendOk(external_id=INBOUND_WAMID, wa_id=None)
    fixture = sample("graph_request_mark_read.json")
    assert graph.requests[0].json == fixture | {"message_id": INBOUND_WAMID}
    assert graph.requests[0].kind == "read"
    assert graph.sent_texts() == []


# ---- Meta's errors ----

READABLE = {
    131047: "24 hours",
    131026: "undeliverable",
    190: "channels set-token",
    100: "invalid",
    130429: "rate limit",
    131056: "Too many messages",
    131000: "internal error",
}


@pytest.mark.parametrize(
    ("code", "http_status", "retryable"),
    [
        (130429, 400, True),
        (130429, 429, True),
        (131056, 400, True),
        (131000, 500, True),
        (131047, 400, False),
        (131026, 400, False),
        (100, 400, False),
        (190, 401, False),
    ],
)
async def test_scripted_fault_maps_to_send_error(
    client: GraphClient, graph: GraphStandIn, code: int, http_status: int, retryable: bool
) -> None:
    graph.fail_next(code=code, http_status=http_status if http_status == 429 else None)

    result = await send_text(client)

    assert isinstance(result, SendError)
    assert (result.code, result.http_status, result.retryable) == (code, http_status, retryable)
    assert READABLE[code].lower() in result.title.lower()
    assert result.detail
    assert (result.retry_after_s is not None) == (code in (130429, 131056))
    assert graph.sent_texts() == []


async def test_invalid_parameter_shows_metas_details(
    client: GraphClient, graph: GraphStandIn
) -> None:
    graph.fail_next(code=100)

    result = await send_text(client)

    assert isinstance(result, SendError)
    assert result.detail == "Parameter 'text' is required for text message type."


async def test_non_json_server_error_is_retryable(client: GraphClient, graph: GraphStandIn) -> None:
    graph.fail_next(http_status=502)

    result = await send_text(client)

    assert isinstance(result, SendError)
    assert (result.code, result.http_status, result.retryable) == (None, 502, True)
    assert result.detail == "Bad Gateway"


async def test_faults_are_consumed_in_order_then_sends_succeed(
    client: GraphClient, graph: GraphStandIn
) -> None:
    graph.fail_next(code=130429, times=2)
    graph.fail_next(code=131056)

    codes = [getattr(await send_text(client), "code", "ok") for _ in range(4)]

    assert codes == [130429, 130429, 131056, "ok"]
    assert len(graph.sent_texts()) == 1


async def test_wrong_token_is_190_and_not_retryable(
    client: GraphClient, graph: GraphStandIn
) -> None:
    result = await send_text(client, token="not-a-token")

    assert isinstance(result, SendError)
    assert (result.code, result.http_status, result.retryable) == (190, 401, False)
    assert "set-token" in result.title
    assert "not-a-token" not in result.title + result.detail


# ---- unknown outcomes: never send twice ----


async def test_connection_dropped_mid_flight_is_unknown(
    client: GraphClient, graph: GraphStandIn
) -> None:
    graph.fail_next(drop=True)

    result = await send_text(client)

    assert isinstance(result, SendUnknown)
    (request,) = graph.requests
    assert request.dropped and request.processed  # Meta got it: resending would duplicate
    assert len(graph.sent_texts()) == 1


async def test_answer_slower_than_the_client_timeout_is_unknown(graph: GraphStandIn) -> None:
    graph.set_delay(1.0)
    async with graph_session(read_timeout=0.2) as session:
        client = GraphClient(
            session, graph_base_url=graph.base_url, instagram_base_url=graph.instagram_base_url
        )
        result = await send_text(client)

    assert isinstance(result, SendUnknown)
    assert "ReadTimeout" in result.reason


async def test_mark_read_without_an_answer_is_a_retryable_error(
    client: GraphClient, graph: GraphStandIn
) -> None:
    graph.fail_next(drop=True, on="read")

    result = await client.mark_whatsapp_read(
        token=DEFAULT_TOKEN, phone_number_id=PNID, message_id=INBOUND_WAMID
    )

    assert isinstance(result, SendError)
    assert result.retryable


async def test_nothing_listening_is_a_retryable_error(session: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}/v25.0"
    client = GraphClient(session, graph_base_url=base, instagram_base_url=base)

    result = await send_text(client)

    assert isinstance(result, SendError)
    assert result.retryable
    assert (result.code, result.http_status) == (None, None)


async def test_a_tls_handshake_that_never_ends_is_a_retryable_error(
    session: aiohttp.ClientSession,
) -> None:
    with socket.socket() as sock:  # accepts the connection, never answers the TLS hello
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        base = f"https://127.0.0.1:{sock.getsockname()[1]}/v25.0"
        client = GraphClient(session, graph_base_url=base, instagram_base_url=base)

        result = await send_text(client)

    assert isinstance(result, SendError)
    assert result.retryable
    assert "ConnectTimeout" in result.detail


@pytest.mark.parametrize("base", ["ftp://127.0.0.1/v25.0", "http://[::1/v25.0"])
async def test_a_base_url_that_cannot_work_is_refused_for_good(
    session: aiohttp.ClientSession, base: str
) -> None:
    client = GraphClient(session, graph_base_url=base, instagram_base_url=base)

    result = await send_text(client)

    assert isinstance(result, SendError)
    assert not result.retryable
    assert "relay configuration" in result.title


async def test_concurrency_is_limited_per_client(
    graph: GraphStandIn, session: aiohttp.ClientSession
) -> None:
    graph.set_delay(0.1)
    client = GraphClient(
        session,
        graph_base_url=graph.base_url,
        instagram_base_url=graph.instagram_base_url,
        max_in_flight=2,
    )
    started = time.monotonic()

    results = await asyncio.gather(*(send_text(client) for _ in range(6)))

    assert all(isinstance(r, SendOk) for r in results)
    assert graph.max_in_flight == 2
    assert time.monotonic() - started >= 0.3


# ---- the stand-in itself ----

TEXT_SEND = sample("graph_request_send_text.json")


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({k: v for k, v in TEXT_SEND.items() if k != "messaging_product"}, "messaging_product"),
        (TEXT_SEND | {"text": {"body": "x" * 4097}}, "4096"),
        (TEXT_SEND | {"context": {"id": INBOUND_WAMID}}, "context"),
        (TEXT_SEND | {"context": {"message_id": 42}}, "context"),
        (TEXT_SEND | {"type": "image"}, "text"),
        (TEXT_SEND | {"to": "maria"}, "to"),
        (TEXT_SEND | {"recipient": "US.13491208655302741918"}, "not both"),
        (
            {k: v for k, v in TEXT_SEND.items() if k != "to"} | {"recipient": "+16505551234"},
            "business-scoped",
        ),
        (TEXT_SEND | {"text": {"body": "hi", "preview": True}}, "preview"),
        (
            sample("graph_request_send_image_id.json")
            | {"image": {"id": "1", "link": "https://x"}},
            "id",
        ),
        ({"messaging_product": "whatsapp", "status": "sent", "message_id": "w"}, "read"),
    ],
)
async def test_standin_rejects_malformed_whatsapp_requests(
    graph: GraphStandIn, http: httpx.AsyncClient, body: dict[str, Any], details: str
) -> None:
    response = await http.post(
        f"{graph.base_url}/{PNID}/messages",
        json=body,
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100
    assert details in error["error_data"]["details"]
    assert graph.sends() == []


@pytest.mark.parametrize(
    "name",
    [
        "graph_request_send_text.json",
        "graph_request_send_text_preview_url.json",
        "graph_request_send_text_reply_context.json",
        "graph_request_send_image_link.json",
        "graph_request_send_image_id.json",
        "graph_request_send_document_link.json",
        "graph_request_send_template.json",
        "graph_request_mark_read.json",
        "graph_request_mark_read_typing.json",
        "ig_graph_request_send_text.json",
        "ig_graph_request_send_image.json",
    ],
)
async def test_standin_accepts_every_request_fixture(
    graph: GraphStandIn, http: httpx.AsyncClient, name: str
) -> None:
    base = graph.instagram_base_url if name.startswith("ig_") else graph.base_url
    response = await http.post(
        f"{base}/{PNID}/messages",
        json=sample(name),
        headers={"Authorization": "Bearer second-token"},
    )

    assert response.status_code == 200
    answer = response.json()
    if "mark_read" in name:
        assert answer == sample("graph_response_mark_read_success.json")
    elif name.startswith("ig_"):
        assert shape(answer) == shape(sample("ig_graph_response_send_success.json"))
        assert answer["recipient_id"] == IGSID
    else:
        assert shape(answer) == shape(sample("graph_response_send_success.json"))
        assert answer["contacts"][0]["input"] == sample(name)["to"]
        assert re.fullmatch(r"\d+", answer["contacts"][0]["wa_id"])


async def test_standin_rejects_a_long_instagram_text(
    graph: GraphStandIn, http: httpx.AsyncClient
) -> None:
    body = {"recipient": {"id": IGSID}, "message": {"text": "é" * 501}}  # 1002 bytes
    response = await http.post(
        f"{graph.instagram_base_url}/me/messages",
        json=body,
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100


async def test_standin_wants_a_bearer_token(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    response = await http.post(f"{graph.base_url}/{PNID}/messages", json=TEXT_SEND)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == 190


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (131047, "graph_response_error_131047.json"),
        (130429, "graph_response_error_130429.json"),
        (131056, "graph_response_error_131056.json"),
        (131026, "graph_response_error_131026.json"),
        (190, "graph_response_error_190_token_expired.json"),
        (100, "graph_response_error_100_invalid_parameter.json"),
    ],
)
def test_standin_error_bodies_are_the_fixtures(code: int, name: str) -> None:
    status, body = graph_error(code)
    fixture = sample(name)

    assert status == (401 if code == 190 else 400)
    assert {**body["error"], "fbtrace_id": "-"} == {**fixture["error"], "fbtrace_id": "-"}
    status, body = graph_error(10, channel="instagram")
    fixture = sample("ig_graph_response_error_outside_window.json")
    assert {**body["error"], "fbtrace_id": "-"} == {**fixture["error"], "fbtrace_id": "-"}


def test_standin_wait_for_requests(graph: GraphStandIn) -> None:
    with httpx.Client(verify=TLS) as sync_http:
        sync_http.post(f"{graph.base_url}/{PNID}/messages", json=TEXT_SEND)
    assert len(graph.wait_for_requests(1, timeout=1)) == 1
    with pytest.raises(TimeoutError):
        graph.wait_for_requests(2, timeout=0.05)


async def test_standin_starts_and_stops_under_async_with() -> None:
    async with (
        GraphStandIn(tokens=["only-token"]) as standin,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=TLS)) as session,
    ):
        client = GraphClient(
            session, graph_base_url=standin.base_url, instagram_base_url=standin.instagram_base_url
        )
        result = await send_text(client, token="only-token")
        assert isinstance(result, SendOk)
        assert standin.sent_texts() == [TEXT_SEND["text"]["body"]]
