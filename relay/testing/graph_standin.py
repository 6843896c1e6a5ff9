"""A local stand-in for Meta's Graph API send side, for tests, benchmarks and the demo.

Real HTTP (uvicorn + Starlette) in a background thread (`with GraphStandIn.running() as g:`, or
`async with`), or in its own process: `python -m relay.testing.graph_standin [PORT] [TOKEN...]`.
Bases: WhatsApp `g.base_url` = `http://HOST:PORT/v25.0`, Instagram `g.instagram_base_url` =
`http://HOST:PORT/ig/v25.0`. Any `v<N>.0` works; `/me/messages`, and a body shaped like an
Instagram send on a non-`/ig` path, are taken as Instagram.

What it checks (shared/meta-contract.md 4.2 and 5), answering like meta-samples/:
- `POST /[ig/]v<N>.0/{node}/messages`, else 400 code 100;
- `Authorization: Bearer <token>` with a token from `tokens`, else 401 with the code 190 body;
- a JSON object with no unknown top-level keys, else 400 code 100 (as for every check below);
- WhatsApp send: `messaging_product` "whatsapp"; `recipient_type` individual|group if given; `to`
  a phone number (optional `+`, digits, spaces, `-`, `()`) or, instead, `recipient` a BSUID
  (2026: `US.1349...`); `type` in text, image, document,
  audio, video, sticker, template, with its object and no other type's object; text: `body`
  1..4096 chars, `preview_url` bool; media: one of `id`|`link` (http/https), `caption` <= 1024
  (image, document, video), `filename` (document); template: `name`, `language.code`,
  `components` list; `context` exactly `{"message_id": str}`; `biz_opaque_callback_data` a str
  <= 512 chars. Answer: a fresh `wamid.`, `contacts[0].input` = `to` as sent, `wa_id` = digits
  (for a `recipient`: `input` and `user_id` = the BSUID);
- WhatsApp mark-as-read: `status` "read", `message_id`, optional `typing_indicator`
  `{"type": "text"}`; answer `{"success": true}`;
- Instagram: `recipient.id`; `message` = `{"text": 1..1000 UTF-8 bytes}` or `{"attachment":
  {"type": image|audio|video|file, "payload": {"url"}}}`; optional `messaging_type`, `tag`.
  Answer `{"recipient_id", "message_id"}`.

Scripted behaviour: `fail_next(...)` queues faults consumed in order by the next matching
requests (sends by default); `set_delay(s)` answers late; `fail_next(drop=True)` processes the
request and then cuts the connection without answering. A delayed or dropped request still
counts as processed (`RecordedRequest.processed`), as it would at Meta.
"""

from __future__ import annotations

import asyncio
import base64
import http
import itertools
import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from relay.testing.server import ThreadedServer

DEFAULT_TOKEN = "standin-token"
Kind = Literal["send", "read", "any"]

_PATH = re.compile(r"^/(?P<ig>ig/)?v\d+\.0/(?P<node>[^/]+)/messages$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]*$")
# The contract's BSUID (3.1), checked here on its own terms, not with the client's pattern.
_BSUID = re.compile(r"^[A-Z]{2}(\.ENT)?\.[A-Za-z0-9]{1,128}$")
_MEDIA = {"image": {"caption"}, "document": {"caption", "filename"}, "video": {"caption"}}
_WA_TYPES = {"text", "template", "image", "document", "audio", "video", "sticker"}
_WA_KEYS = {"messaging_product", "recipient_type", "to", "recipient", "type", "context"}
_WA_KEYS.update(_WA_TYPES)
_WA_KEYS.add("biz_opaque_callback_data")
# Bodies of the meta-samples error fixtures (title, details), and Meta's HTTP status per code.
_FIXTURES = {
    131047: ("Re-engagement message", "Message failed to send because more than 24 hours have "
             "passed since the customer last replied to this number."),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached."),
    131056: ("(Business Account, Consumer Account) pair rate limit hit", "Message failed to send "
             "because there were too many messages sent from this phone number to the same "
             "phone number in a short period of time."),
    131026: ("Message undeliverable", "Message Undeliverable."),
    100: ("Invalid parameter", "Parameter 'text' is required for text message type."),
}  # fmt: skip
_STATUS = {131000: 500, 131016: 500, 131057: 500, 3: 500, 2: 503, 133004: 503, 190: 401, 0: 401}
_STATUS.update({10: 403, 131005: 403, 368: 403, 131031: 403, 130497: 403, 132001: 404})
_TOKEN_EXPIRED = (
    "Error validating access token: Session has expired on Friday, 11-Sep-26 09:00:00 PDT. "
    "The current time is Saturday, 12-Sep-26 03:00:41 PDT."
)


def graph_error(code: int, *, channel: str = "whatsapp", details: str = "") -> tuple[int, Any]:
    """The HTTP status and body Meta answers for error `code` (a fixture's body where one exists;
    otherwise the contract's envelope). `details` replaces the fixture's details text."""
    err: dict[str, Any] = dict(message="", type="OAuthException", code=code)
    status = _STATUS.get(code, 400)
    if code == 190:
        err.update(message=_TOKEN_EXPIRED, error_subcode=463)
    elif code == 10 and channel == "instagram":
        msg = "(#10) This message is sent outside of allowed window."
        err.update(message=msg, error_subcode=2534022)
        status = 400
    else:
        title, fixture_details = _FIXTURES.get(code, ("Error", ""))
        err["message"] = f"(#{code}) {details if channel == 'instagram' and details else title}"
        if channel == "whatsapp":
            info = details or fixture_details or title
            err["error_data"] = dict(messaging_product="whatsapp", details=info)
    err["fbtrace_id"] = secrets.token_urlsafe(18)[:23]
    return status, {"error": err}


@dataclass(frozen=True, slots=True)
class Fault:
    code: int | None = None  # Graph error code; None (with http_status): a non-JSON error body
    http_status: int | None = None  # overrides the code's documented status (e.g. 429)
    drop: bool = False  # process the request, then cut the connection without an answer
    on: Kind = "send"  # which requests consume it


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any  # None when the body was empty or not JSON
    received_at: float  # time.time()
    channel: str | None = None  # "whatsapp" | "instagram", once path and body were understood
    kind: str | None = None  # "send" | "read"
    status: int | None = None  # the HTTP status answered; None while pending or when dropped
    processed: bool = False  # Meta would have acted on it (sent the message, marked it read)
    dropped: bool = False
    message_id: str | None = None  # the wamid / Instagram mid it issued

    @property
    def text(self) -> str | None:
        """The text of a text send (WhatsApp `text.body`, Instagram `message.text`)."""
        body = self.json if isinstance(self.json, dict) else {}
        holder, key = (
            (body.get("text"), "body")
            if self.channel == "whatsapp"
            else (body.get("message"), "text")
        )
        value = holder.get(key) if isinstance(holder, dict) else None
        return value if isinstance(value, str) else None


class GraphStandIn:
    """The stand-in server; all scripting and inspection methods are thread-safe."""

    def __init__(
        self,
        *,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        host: str = "127.0.0.1",
        port: int = 0,
        version: str = "v25.0",
    ) -> None:
        self.tokens, self.host, self.version, self._port = set(tokens), host, version, port
        self.max_in_flight = 0  # the most requests it was handling at once since reset()
        self._cond = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._delay, self._in_flight, self._ids = 0.0, 0, itertools.count(1)
        self._stopping = threading.Event()
        self._server: ThreadedServer | None = None
        self.app = Starlette(routes=[Route("/{p:path}", self._handle, methods=["GET", "POST"])])

    @classmethod
    def running(cls, **kwargs: Any) -> GraphStandIn:
        """For `with GraphStandIn.running() as graph:` (or `async with`)."""
        return cls(**kwargs)

    def fail_next(
        self,
        code: int | None = None,
        *,
        http_status: int | None = None,
        times: int = 1,
        drop: bool = False,
        on: Kind = "send",
    ) -> None:
        if code is None and http_status is None and not drop:
            raise ValueError("give a code, an http_status or drop=True")
        with self._cond:
            self._faults.extend([Fault(code, http_status, drop, on)] * times)

    def set_delay(self, seconds: float) -> None:
        self._delay = seconds

    def reset(self) -> None:
        with self._cond:
            self._requests.clear()
            self._faults.clear()
            self._delay, self.max_in_flight = 0.0, 0

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    def sends(self) -> list[RecordedRequest]:
        """Message sends (WhatsApp and Instagram) that Meta would have acted on."""
        return [r for r in self.requests if r.kind == "send" and r.processed]

    def sent_texts(self) -> list[str]:
        return [r.text for r in self.sends() if r.text is not None]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"{len(self._requests)} requests after {timeout}s, wanted {n}")
            return list(self._requests)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no request is being handled (e.g. a delayed one from an earlier test)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._in_flight == 0, timeout):
                raise TimeoutError(f"{self._in_flight} requests still in flight after {timeout}s")

    async def await_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        return await asyncio.to_thread(self.wait_for_requests, n, timeout)

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        # uvicorn's `send` is a method of its request cycle, which holds the connection.
        scope["standin.transport"] = getattr(getattr(send, "__self__", None), "transport", None)
        await self.app(scope, receive, send)

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = RecordedRequest(
            request.method, request.url.path, dict(request.headers), body, time.time()
        )
        with self._cond:
            self._requests.append(rec)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self._cond.notify_all()
        try:
            status, payload = self._answer(request, rec, body)
            started = time.monotonic()  # the delay is re-read: reset() ends pending ones
            while time.monotonic() < started + self._delay and not self._stopping.is_set():
                await asyncio.sleep(0.01)
            if rec.dropped and (transport := request.scope.get("standin.transport")):
                transport.abort()
                await asyncio.sleep(0.01)  # uvicorn sees the disconnect and discards any reply
                return Response(status_code=204)
            rec.status = status
            if isinstance(payload, str):
                return PlainTextResponse(payload, status_code=status)
            auth = {"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'}
            return JSONResponse(
                payload, status_code=status, headers=auth if status == 401 else None
            )
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def _answer(self, request: Request, rec: RecordedRequest, body: Any) -> tuple[int, Any]:
        match = _PATH.match(request.url.path)
        if request.method != "POST" or match is None:
            return graph_error(100, details=f"Unsupported {request.method.lower()} request.")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return graph_error(190)
        if not isinstance(body, dict):
            return graph_error(100, details="The request body must be a JSON object.")
        node = match["node"]
        ig_shape = "recipient" in body and "messaging_product" not in body
        ig = bool(match["ig"]) or node == "me" or ig_shape
        rec.channel = "instagram" if ig else "whatsapp"
        rec.kind = "read" if not ig and "status" in body else "send"
        try:
            _check_instagram(body) if ig else _check_whatsapp(body)
        except _Invalid as exc:
            return graph_error(100, channel=rec.channel, details=str(exc))
        with self._cond:
            fault = next((f for f in self._faults if f.on in ("any", rec.kind)), None)
            if fault is not None:
                self._faults.remove(fault)
        if fault is not None and not fault.drop:
            if fault.code is None:
                status = fault.http_status or 500
                return status, http.HTTPStatus(status).phrase
            status, payload = graph_error(fault.code, channel=rec.channel)
            return fault.http_status or status, payload
        rec.processed, rec.dropped = True, fault is not None
        if rec.kind == "read":
            return 200, {"success": True}
        n = next(self._ids)
        if ig:
            item = f"item:1:IGMessage:{node}:{n}:{secrets.token_hex(4)}".encode()
            rec.message_id = "aWdfZAG1" + base64.b64encode(item).decode().rstrip("=")
            return 200, {"recipient_id": body["recipient"]["id"], "message_id": rec.message_id}
        # Meta's layout: 1c 18 <len><phone> 15 02 00 11 (outbound) 18 <len><hex id> 00
        address = body.get("to") or body["recipient"]
        wa_id, hex_id = re.sub(r"\D", "", address), f"{n:08X}{secrets.token_hex(5).upper()}"
        raw = b"\x1c\x18%c%s\x15\x02\x00\x11\x18%c%s\x00" % (
            len(wa_id),
            wa_id.encode(),
            len(hex_id),
            hex_id.encode(),
        )
        rec.message_id = "wamid." + base64.b64encode(raw).decode()
        if "recipient" in body:
            contacts = [{"input": address, "user_id": address}]
        else:
            contacts = [{"input": address, "wa_id": wa_id}]
        return 200, dict(
            messaging_product="whatsapp", contacts=contacts, messages=[{"id": rec.message_id}]
        )

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/{self.version}"

    @property
    def instagram_base_url(self) -> str:
        return f"http://{self.host}:{self.port}/ig/{self.version}"

    def config(self, **kwargs: Any) -> uvicorn.Config:
        return uvicorn.Config(
            self._asgi,
            interface="asgi3",
            lifespan="off",
            ws="none",
            proxy_headers=False,
            timeout_graceful_shutdown=2,
            **kwargs,
        )

    def start(self) -> GraphStandIn:
        self._stopping.clear()
        self._server = ThreadedServer(
            self._asgi,
            host=self.host,
            port=self._port,
            lifespan="off",
            interface="asgi3",
            ws="none",
            proxy_headers=False,
        ).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases handlers still sleeping in set_delay()
        if self._server is not None:
            self._server.stop()
        self._server = None

    def __enter__(self) -> GraphStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> GraphStandIn:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)


class _Invalid(Exception):
    """A request Meta would answer with code 100; the message is the `details` text."""


def _need(ok: object, details: str) -> None:
    if not ok:
        raise _Invalid(details)


def _str(value: object, max_len: int = 1 << 20) -> bool:
    return isinstance(value, str) and 0 < len(value) <= max_len


def _only(obj: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(obj) - allowed)
    _need(not unknown, f"Unexpected parameter(s): {', '.join(unknown)}.")


def _check_whatsapp(body: dict[str, Any]) -> None:
    _need(body.get("messaging_product") == "whatsapp", "Param messaging_product must be whatsapp.")
    if "status" in body:
        _only(body, {"messaging_product", "status", "message_id", "typing_indicator"})
        _need(body["status"] == "read", "Param status must be 'read'.")
        _need(_str(body.get("message_id")), "Param message_id is required.")
        typing = body.get("typing_indicator", {"type": "text"})
        return _need(typing == {"type": "text"}, "Param typing_indicator must be {'type':'text'}.")
    _only(body, _WA_KEYS)
    _need(body.get("recipient_type", "individual") in ("individual", "group"), "recipient_type.")
    to, recipient = body.get("to"), body.get("recipient")
    _need((to is None) != (recipient is None), "Param to or recipient is required, not both.")
    if recipient is not None:
        ok = isinstance(recipient, str) and _BSUID.match(recipient)
        _need(ok, "Param recipient must be a business-scoped user id.")
    else:
        _need(isinstance(to, str) and _PHONE.match(to), "Param to must be a phone number.")
    kind: Any = body.get("type")
    _need(kind in _WA_TYPES, f"Param type must be one of {', '.join(sorted(_WA_TYPES))}.")
    _only(body, _WA_KEYS - _WA_TYPES | {kind})
    obj: Any = body.get(kind)
    _need(isinstance(obj, dict), f"Parameter '{kind}' is required for {kind} message type.")
    ctx = body.get("context", {"message_id": "x"})
    ok_ctx = isinstance(ctx, dict) and set(ctx) == {"message_id"} and _str(ctx["message_id"])
    _need(ok_ctx, "Param context must be {'message_id': <wamid>}.")
    callback = body.get("biz_opaque_callback_data", "x")
    _need(_str(callback, 512), "Param biz_opaque_callback_data must be 1 to 512 characters.")
    if kind == "text":
        _only(obj, {"body", "preview_url"})
        _need(_str(obj.get("body")), "Param text['body'] is required.")
        _need(len(obj["body"]) <= 4096, "Param text['body'] must be at most 4096 characters long.")
        _need(isinstance(obj.get("preview_url", False), bool), "Param preview_url must be a bool.")
    elif kind == "template":
        lang = obj.get("language")
        _need(_str(obj.get("name")), "Param template['name'] is required.")
        _need(isinstance(lang, dict) and _str(lang.get("code")), "Param language.code required.")
        _need(isinstance(obj.get("components", []), list), "Param components must be a list.")
    else:
        _only(obj, {"id", "link", *_MEDIA.get(kind, ())})
        _need(("id" in obj) != ("link" in obj), f"Param {kind} needs one of 'id' or 'link'.")
        ref = obj.get("id", obj.get("link"))
        _need(_str(ref) and ("id" in obj or ref.startswith(("http://", "https://"))), "id/link.")
        _need(_str(obj.get("caption", "x"), 1024), "Param caption must be 1 to 1024 characters.")
        _need(_str(obj.get("filename", "x"), 240), "Param filename must be 1 to 240 characters.")


def _check_instagram(body: dict[str, Any]) -> None:
    _only(body, {"recipient", "message", "messaging_type", "tag"})
    recipient: Any = body.get("recipient")
    message: Any = body.get("message")
    _need(isinstance(recipient, dict) and _str(recipient.get("id")), "recipient[id] is required.")
    _need(isinstance(message, dict) and len(message) == 1, "message needs text or attachment.")
    if "text" in message:
        _need(_str(message["text"]), "Param message[text] must be a non-empty string.")
        too_long = len(message["text"].encode()) > 1000
        return _need(not too_long, "Length of param message[text] must be <= 1000 bytes.")
    att: Any = message.get("attachment")
    _need(
        isinstance(att, dict) and att.get("type") in ("image", "audio", "video", "file"),
        "Param message[attachment][type] must be image, audio, video or file.",
    )
    payload = att.get("payload")
    _need(isinstance(payload, dict) and _str(payload.get("url")), "payload[url] is required.")


def serve(
    host: str = "127.0.0.1", port: int = 8090, *, tokens: Iterable[str] = (DEFAULT_TOKEN,)
) -> None:
    """Run the stand-in in the foreground (its own process) until interrupted."""
    standin = GraphStandIn(tokens=tokens, host=host, port=port)
    uvicorn.Server(standin.config(host=host, port=port)).run()


if __name__ == "__main__":
    serve(
        port=int(sys.argv[1]) if len(sys.argv) > 1 else 8090, tokens=sys.argv[2:] or [DEFAULT_TOKEN]
    )
