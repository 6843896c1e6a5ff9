"""`/webhooks/meta`: Meta's verification handshake and its signed event deliveries.

The POST path is the relay's hot path and its promise to Meta: the signature is checked
on the raw bytes before anything else, everything the body says is committed before the
200, and no input, however malformed, gets a 500 (a 4xx or 5xx makes Meta retry for days).
"""

from __future__ import annotations

import hmac
import json
import logging

from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from relay.services import Relay
from relay.store.ingest import ingest, keep_raw
from relay.webhooks.normalize import normalize
from relay.webhooks.signature import is_signed_by_meta

log = logging.getLogger(__name__)


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise _TooLarge
    return bytes(chunks)


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


async def receive(request: Request) -> Response:
    relay: Relay = request.app.state.relay
    metrics = relay.metrics
    try:
        body = await _read_body(request, relay.settings.max_webhook_bytes)
    except _TooLarge:
        metrics.webhooks_rejected.labels(reason="too_large").inc()
        return PlainTextResponse("body too large", status_code=413)
    signature = request.headers.get("x-hub-signature-256")
    if not is_signed_by_meta(signature, body, relay.settings.webhook_secrets):
        reason = "unsigned" if not signature else "bad_signature"
        metrics.webhooks_rejected.labels(reason=reason).inc()
        log.warning("webhook refused (%s), %d bytes", reason, len(body))
        return PlainTextResponse("invalid signature", status_code=401)
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        metrics.webhooks_rejected.labels(reason="not_json").inc()
        return PlainTextResponse("body is not JSON", status_code=400)
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
        return PlainTextResponse("store unavailable", status_code=503)
    metrics.webhooks_received.inc()
    if result.events:  # only a new message can have entered the bot's outbox
        relay.committed(may_send=False, may_publish=bool(result.new_messages))
    return Response(status_code=200)
