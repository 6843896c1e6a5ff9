"""`/webhooks/meta`: Meta's verification handshake and its signed event deliveries.

The POST path is the relay's hot path and its promise to Meta: the signature is checked
on the raw bytes before anything else, everything the body says is committed before the
200, and no input, however malformed, gets a 500 (a 4xx or 5xx makes Meta retry for days).

It is served by `WebhookIntake`, a bare ASGI layer in front of the FastAPI app: the
framework's middleware, routing and request objects cost more CPU than everything the relay
does with a webhook, and this path has no use for them. The handshake and every other
route go through FastAPI.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

import orjson
from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from relay.services import Relay
from relay.store.ingest import ingest, keep_raw
from relay.webhooks.normalize import normalize
from relay.webhooks.signature import is_signed_by_meta

log = logging.getLogger(__name__)

PATH = "/webhooks/meta"


async def verify(request: Request) -> Response:
    relay: Relay = request.app.state.relay
    params = request.query_params
    challenge = params.get("hub.challenge")
    token = params.get("hub.verify_token", "")
    expected = relay.settings.meta_verify_token
    if params.get("hub.mode") != "subscribe" or not hmac.compare_digest(
        token.encode(), expected.encode()
    ):
        return PlainTextResponse("verification refused", status_code=403)
    if challenge is None:
        return PlainTextResponse("hub.challenge is missing", status_code=400)
    return PlainTextResponse(challenge)


class WebhookIntake:
    """ASGI: `POST /webhooks/meta` handled here; everything else (lifespan too) goes to `app`.

    `relay_of()` gives the running relay (built by the app's lifespan, so only known once the
    first request can arrive).
    """

    def __init__(self, app: ASGIApp, relay_of: Callable[[], Relay]) -> None:
        self.app = app
        self._relay_of = relay_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        try:
            status, text = await take_webhook(self._relay_of(), scope, receive)
        except ConnectionResetError:
            return  # Meta hung up before the body was in: it will send it again
        except Exception:  # a bug of ours: Meta retries a 503, and a 500 says "broken"
            log.exception("webhook not taken; Meta will retry it")
            status, text = 503, "webhook not taken"
        body = text.encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the sender went away")
        chunks += message.get("body", b"")
        if len(chunks) > limit:
            raise _TooLarge
        if not message.get("more_body", False):
            return bytes(chunks)


def _signature_header(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"x-hub-signature-256":
            return str(value.decode("latin-1"))
    return None


def _parse_json(body: bytes) -> object:
    """orjson, three times faster than `json`; what it refuses (NaN, lone surrogates, a
    byte order mark), `json` may still read, and the normaliser keeps as best it can.
    (orjson reads an integer beyond 64 bits as a float: Meta's numbers are small.)"""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


async def take_webhook(relay: Relay, scope: Scope, receive: Receive) -> tuple[int, str]:
    """Meta's delivery, checked and committed: the status and text to answer with."""
    metrics = relay.metrics
    try:
        body = await _read_body(scope, receive, relay.settings.max_webhook_bytes)
    except _TooLarge:
        metrics.webhooks_rejected.labels(reason="too_large").inc()
        return 413, "body too large"
    signature = _signature_header(scope)
    if not is_signed_by_meta(signature, body, relay.settings.webhook_secrets):
        reason = "unsigned" if not signature else "bad_signature"
        metrics.webhooks_rejected.labels(reason=reason).inc()
        log.warning("webhook refused (%s), %d bytes", reason, len(body))
        return 401, "invalid signature"
    try:
        parsed = _parse_json(body)
    except (ValueError, RecursionError):
        metrics.webhooks_rejected.labels(reason="not_json").inc()
        return 400, "body is not JSON"
    try:
        records = normalize(parsed)
        store_fn = ingest(
            records, default_mode=relay.default_mode, after_message=relay.after_inbound
        )
    except Exception:  # a bug in normalising must not cost Meta's message: keep it raw
        log.exception("could not normalise a signed webhook; kept raw")
        store_fn = keep_raw("normaliser error", body)
    try:
        try:
            result = await relay.db.write(store_fn)
        except OperationalError:
            raise
        except Exception:  # input the store could not take (a bug of ours): keep it raw
            log.exception("could not store a signed webhook; kept raw")
            result = await relay.db.write(keep_raw("store error", body))
    except Exception:
        log.exception("store unavailable: Meta will retry this webhook")
        return 503, "store unavailable"
    metrics.webhooks_received.inc()
    if result.events:  # only a new message can have entered the bot's outbox
        relay.committed(
            may_send=False, may_publish=bool(result.new_messages), outbox=result.after_commit
        )
    return 200, ""
