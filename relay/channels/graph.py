"""The relay's Graph API client: the only code that talks to Meta (shared/meta-contract.md 4.2, 5).

Every call returns one of three results and never raises for HTTP or network trouble:

- `SendOk`: Meta accepted the request (accepted, not delivered: delivery comes by webhook).
- `SendError`: Meta refused it, or it never left this machine. `retryable` says whether the
  same request may be sent again (Meta rejects 130429/131056 before processing them, and a
  connection that was never made carried nothing); `title` is for people, `code` for code.
- `SendUnknown`: the request may have reached Meta but no answer came back (read timeout,
  connection cut). Meta has no idempotency key, so resending could deliver the message twice:
  the caller holds the message as unconfirmed and lets the status webhooks settle it.

Mark-as-read is idempotent, so its unknown outcomes are reported as retryable `SendError`s.
Neither the access token nor the message text is ever logged or put into a result.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

log = logging.getLogger(__name__)

WHATSAPP_MAX_TEXT_CHARS = 4096
INSTAGRAM_MAX_TEXT_BYTES = 1000


@dataclass(frozen=True, slots=True)
class SendOk:
    external_id: str  # wamid / Instagram mid (for mark-as-read: the message marked)
    wa_id: str | None  # WhatsApp's id for the recipient; key contacts on it, not on `to`


@dataclass(frozen=True, slots=True)
class SendError:
    code: int | None  # Meta's error `code`; None when Meta did not answer with one
    http_status: int | None  # None when no HTTP answer came (or the request was refused locally)
    title: str  # one line for the console
    detail: str  # Meta's own words (error_data.details or message), or what went wrong locally
    retryable: bool
    retry_after_s: float | None  # a hint for the first wait; the caller owns the backoff


@dataclass(frozen=True, slots=True)
class SendUnknown:
    reason: str


SendResult = SendOk | SendError | SendUnknown

RESET_TOKEN = "set a new token with `omnidesk-relay channels set-token`"
# Human-readable titles, by Meta error code (contract 5.4), or by (code, subcode).
ERROR_TITLES: dict[int | tuple[int, int], str] = {
    131047: "More than 24 hours have passed since the customer last wrote: "
    "only a template can be sent now",
    131026: "Message undeliverable: the number may not be on WhatsApp or uses an old app version",
    190: f"The access token has expired or is invalid: {RESET_TOKEN}",
    0: f"Meta refused the access token: {RESET_TOKEN}",
    100: "Meta rejected the request as invalid",
    130429: "Meta's sending rate limit for this number was reached: retrying shortly",
    131056: "Too many messages to this customer in a short time: retrying shortly",
    131048: "Sending is limited because customers marked messages from this number as spam",
    131049: "Meta did not deliver this marketing message to keep engagement healthy: "
    "do not resend for 24 hours",
    131050: "The customer has turned off marketing messages from this business",
    130403: "The business has blocked this customer",
    131000: "Meta had an internal error: retrying",
    131016: "WhatsApp is temporarily unavailable: retrying",
    2: "Meta's service is temporarily unavailable: retrying",
    133004: "WhatsApp's servers are temporarily unavailable: retrying",
    131057: "The business account is in maintenance (usually under a minute): retrying",
    80007: "The WhatsApp Business Account reached its rate limit: retrying later",
    4: "The app reached its API call limit: retrying later",
    10: "Permission denied: the token lacks a permission for this number or account",
    131005: "Access denied: the token lacks a permission for this number",
    3: "The app lacks the capability or permission for this call",
    131008: "A required parameter is missing",
    131009: "A parameter value is invalid",
    131030: "The recipient is not in the allowed list of this test number",
    131051: "Unsupported message type",
    131052: "Meta could not download the media",
    131053: "Meta could not upload the media (a wrong MIME type is a common cause)",
    132000: "The template's parameters do not match its definition",
    132001: "The template does not exist in this language or is not approved",
    132012: "A template parameter has the wrong format",
    132015: "The template is paused because of low quality",
    132016: "The template is disabled because of low quality",
    368: "The business account is temporarily restricted for policy violations",
    131031: "The business account is locked",
    130497: "The business account may not message customers in this country",
    (10, 2534022): "More than 24 hours have passed since the customer last wrote on Instagram: "
    "the conversation window is closed",
}
_RETRYABLE_CODES = frozenset({130429, 131056, 131000, 131016, 2, 133004, 131057, 80007, 4})
# First-wait hints in seconds. 131056: Meta's schedule is 4^X s, X = 0, 1, 2...; the caller
# raises it per attempt. 80007 / 4 are hourly budgets, so waiting a moment does not help.
_RETRY_HINT_S = {130429: 1.0, 131056: 4.0, 131057: 10.0, 80007: 60.0, 4: 60.0}
_CODE_PREFIX = re.compile(r"^\(#\d+\)\s*")
# A business-scoped user id (2026): country code, a dot, alphanumerics ("US.1349...").
BSUID = re.compile(r"^[A-Z]{2}(\.ENT)?\.[A-Za-z0-9]{1,128}$")
# Raised before any byte of the request went out: safe to send again. ClientConnectorError
# covers refused connections, DNS, proxies and TLS handshakes (certificate errors included);
# ConnectionTimeoutError is `sock_connect` (and `connect`, which includes waiting for the pool).
_NOT_SENT = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.ClientHttpProxyError,
)
# Our own configuration or bug: the request never left, and sending again will not help.
# ValueError: aiohttp's other checks (a control character in a header); caught after _NOT_SENT
# because a certificate error is a ValueError too.
_REFUSED_LOCALLY = (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError, ValueError)
# Anything else: the request (or part of it) went out and no answer came. TimeoutError is the
# session's `total` timeout, and aiohttp's `sock_read` one (SocketTimeoutError) is both.
_NO_ANSWER = (aiohttp.ClientError, TimeoutError)
# Descriptions are stored with the message: keep the names these failures had under httpx.
_PLAIN_NAMES: dict[type[BaseException], str] = {
    aiohttp.ConnectionTimeoutError: "ConnectTimeout",
    aiohttp.SocketTimeoutError: "ReadTimeout",
}

Parse = Callable[[dict[str, Any]], SendOk | None]


class GraphClient:
    """Sends through Meta's Graph API over one shared `aiohttp.ClientSession` (its timeouts apply).

    Meta answers in 100-300 ms, so keeping up with a busy relay takes many requests in flight;
    `max_in_flight` bounds them so a Meta slowdown queues sends here instead of opening ever
    more connections (keep the session's connector limit at least as high).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        graph_base_url: str,
        instagram_base_url: str,
        max_in_flight: int = 64,
    ) -> None:
        self._session = session
        self._graph = graph_base_url.rstrip("/")
        self._instagram = instagram_base_url.rstrip("/")
        self._slots = asyncio.Semaphore(max_in_flight)

    async def send_whatsapp_text(
        self,
        *,
        token: str,
        phone_number_id: str,
        to: str,
        body: str,
        reply_to: str | None,
        callback_data: str,
        preview_url: bool = False,
    ) -> SendResult:
        """Send a text to `to`, a phone number or a BSUID (a customer whose number Meta
        withholds goes by `recipient`); `reply_to` quotes a message (its wamid),
        `callback_data` comes back in the status webhooks as `biz_opaque_callback_data`
        (the relay's own message id)."""
        if problem := _check_text(body, len(body), WHATSAPP_MAX_TEXT_CHARS, "characters"):
            return problem
        to = to.strip()
        address = (
            {"recipient": to}
            if BSUID.match(to)
            else {"to": to if to.startswith("+") else f"+{to}"}  # contract 5.1: always the +
        )
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            **address,
            "type": "text",
            "text": {"preview_url": preview_url, "body": body},
            "biz_opaque_callback_data": callback_data,
        }
        if reply_to:
            payload["context"] = {"message_id": reply_to}
        url = f"{self._graph}/{quote(phone_number_id, safe='')}/messages"
        return await self._post("whatsapp send", url, token, payload, _parse_whatsapp_send)

    async def send_instagram_text(
        self, *, token: str, ig_account_id: str, recipient_id: str, body: str
    ) -> SendResult:
        """Send an Instagram DM text to an Instagram-scoped id (IGSID)."""
        size = len(body.encode("utf-8"))
        if problem := _check_text(body, size, INSTAGRAM_MAX_TEXT_BYTES, "bytes of UTF-8"):
            return problem
        payload = {"recipient": {"id": recipient_id}, "message": {"text": body}}
        url = f"{self._instagram}/{quote(ig_account_id, safe='')}/messages"
        return await self._post("instagram send", url, token, payload, _parse_instagram_send)

    async def mark_whatsapp_read(
        self, *, token: str, phone_number_id: str, message_id: str
    ) -> SendOk | SendError:
        """Mark an inbound message (and the ones before it) as read; idempotent."""
        payload = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
        url = f"{self._graph}/{quote(phone_number_id, safe='')}/messages"

        def parse(data: dict[str, Any]) -> SendOk | None:
            return SendOk(external_id=message_id, wa_id=None) if data.get("success") else None

        result = await self._post("whatsapp read", url, token, payload, parse)
        if isinstance(result, SendUnknown):  # harmless to repeat
            return SendError(None, None, "No answer from Meta", result.reason, True, None)
        return result

    async def _post(
        self, what: str, url: str, token: str, payload: dict[str, Any], parse: Parse
    ) -> SendResult:
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {token}"}
        async with self._slots:
            try:
                # A redirect is an answer: following a 307 would post the message again.
                async with self._session.post(
                    url, json=payload, headers=headers, allow_redirects=False
                ) as response:
                    status, answer_headers = response.status, response.headers
                    body = await response.read()
            except _NOT_SENT as exc:
                result: SendResult = SendError(
                    None, None, "Could not reach Meta: retrying", _describe(exc), True, None
                )
            except _REFUSED_LOCALLY as exc:
                title = "The request could not be sent (relay configuration)"
                result = SendError(None, None, title, _describe(exc), False, None)
            except _NO_ANSWER as exc:
                reason = (
                    f"no answer from Meta, which may have received the request: {_describe(exc)}"
                )
                result = SendUnknown(reason)
            else:
                result = _interpret(status, answer_headers, body, parse)
        _log(what, url, result, time.monotonic() - started)
        return result


def _check_text(body: str, size: int, limit: int, unit: str) -> SendError | None:
    if not body.strip():
        return SendError(None, None, "The message is empty", "nothing to send", False, None)
    if size > limit:
        title = f"The message is too long ({size} {unit}; the limit is {limit})"
        return SendError(None, None, title, "shorten it or split it", False, None)
    return None


def _parse_whatsapp_send(data: dict[str, Any]) -> SendOk | None:
    messages, contacts = data.get("messages"), data.get("contacts")
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    if not isinstance(wamid, str) or not wamid:
        return None
    contact = contacts[0] if isinstance(contacts, list) and contacts else None
    wa_id = contact.get("wa_id") if isinstance(contact, dict) else None
    return SendOk(external_id=wamid, wa_id=wa_id if isinstance(wa_id, str) else None)


def _parse_instagram_send(data: dict[str, Any]) -> SendOk | None:
    mid = data.get("message_id")
    return SendOk(external_id=mid, wa_id=None) if isinstance(mid, str) and mid else None


def _interpret(status: int, headers: Mapping[str, str], body: bytes, parse: Parse) -> SendResult:
    """Meta's answer to a result; `headers` must look names up case-insensitively."""
    try:
        data: Any = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        data = None
    if 200 <= status < 300:
        ok = parse(data) if isinstance(data, dict) else None
        if ok is None:  # accepted, but we cannot tell which message it became: never resend
            return SendUnknown(f"Meta answered HTTP {status} without a message id")
        return ok
    err = data.get("error") if isinstance(data, dict) else None
    return _error(status, headers, body, err if isinstance(err, dict) else {})


def _error(status: int, headers: Mapping[str, str], body: bytes, err: dict[str, Any]) -> SendError:
    code, subcode = _int(err.get("code")), _int(err.get("error_subcode"))
    raw_message = err.get("message")
    message = raw_message if isinstance(raw_message, str) else ""
    error_data = err.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    user_msg = err.get("error_user_msg")
    meta_words = next((s for s in (details, user_msg, message) if isinstance(s, str) and s), "")
    if not meta_words and not err:  # not a Graph error body: a proxy or load balancer answered
        text = body.decode("utf-8", errors="replace")
        meta_words = " ".join(text.split())[:200] or _reason_phrase(status)
    known = _title_for(code, subcode)
    title = known or _CODE_PREFIX.sub("", message) or meta_words or f"Meta answered HTTP {status}"
    if code in _RETRYABLE_CODES:
        retryable = True
    elif known is not None:
        retryable = False
    else:  # unknown code: trust the transport and Meta's `is_transient` flag
        retryable = status == 429 or status >= 500 or err.get("is_transient") is True
    retry_after = _retry_after(headers.get("Retry-After"))
    if retry_after is None and retryable and code is not None:
        retry_after = _RETRY_HINT_S.get(code)
    return SendError(code, status, title, meta_words or title, retryable, retry_after)


def _title_for(code: int | None, subcode: int | None) -> str | None:
    if code is None:
        return None
    if subcode is not None and (code, subcode) in ERROR_TITLES:
        return ERROR_TITLES[(code, subcode)]
    if 200 <= code <= 299:  # Graph's permission range
        return ERROR_TITLES[10]
    return ERROR_TITLES.get(code)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: rare from Meta, not worth parsing
        return None


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a status outside the standard list (some proxies invent their own)
        return ""


def _describe(exc: Exception) -> str:
    name = _PLAIN_NAMES.get(type(exc), type(exc).__name__)
    text = str(exc).strip()
    return f"{name}: {text}" if text else name


def _log(what: str, url: str, result: SendResult, elapsed_s: float) -> None:
    # The path names the phone number id / account, never the customer, token or text.
    try:
        path = urlsplit(url).path
    except ValueError:  # a base URL too broken to split (the send was refused): show it all
        path = url
    if isinstance(result, SendOk):
        log.info("%s %s ok in %.0f ms", what, path, elapsed_s * 1000)
    elif isinstance(result, SendError):
        log.warning(
            "%s %s failed: code=%s http=%s retryable=%s: %s",
            what,
            path,
            result.code,
            result.http_status,
            result.retryable,
            result.title,
        )
    else:
        log.warning("%s %s outcome unknown: %s", what, path, result.reason)
