"""An in-memory stand-in for the relay's agent API, served through ``httpx.MockTransport``.

Enough of the real contract for the console's tests: bearer token, conversations, messages
with ``Idempotency-Key``, takeover (409 with ``owner``), and a resumable SSE stream that
follows live and can be dropped mid-way.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.helpers.console_factories import event_json, iso, message_json


class FakeRelay:
    def __init__(self, token: str = "tok", agent: str = "joao") -> None:
        self.token = token
        self.agent = agent
        self.conversations: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.raw_events: dict[int, str] = {}
        """Event id -> raw data line to send instead of the JSON (to test bad events)."""
        self.fail_status: list[int] = []
        """Statuses to answer (one per request, any route) before behaving."""
        self.down = False
        """When True every request fails to connect."""
        self.requests: list[httpx.Request] = []
        self.sent: list[dict[str, Any]] = []
        """Replies the relay accepted, once each (what the Graph stand-in would see)."""
        self.idempotency: dict[str, int] = {}
        self.event_connects: list[str | None] = []
        self._new_event = asyncio.Event()
        self._drop = asyncio.Event()
        self.next_message_id = 1000

    # -- test controls ------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(lambda request: self.handle(request))

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport(), base_url="http://relay.test")

    def add_conversation(self, conv: dict[str, Any], *, event: bool = False) -> None:
        self.conversations[conv["id"]] = conv
        if event:
            self.publish(conversation=conv)

    def add_message(self, msg: dict[str, Any], *, event: bool = True) -> None:
        self.messages[msg["id"]] = msg
        conv = self.conversations.get(msg["conversation_id"])
        if conv is not None:
            conv["last_message"] = msg
            conv["updated_at"] = msg["created_at"]
        if event:
            self.publish(message=msg)

    def publish(self, **kw: Any) -> int:
        ev = event_json(len(self.events) + 1, **kw)
        self.events.append(ev)
        self._new_event.set()
        return int(ev["id"])

    def publish_raw(self, data: str) -> int:
        ev_id = len(self.events) + 1
        self.events.append({"id": ev_id, "type": "message.created"})
        self.raw_events[ev_id] = data
        self._new_event.set()
        return ev_id

    def drop_stream(self) -> None:
        self._drop.set()

    # -- the API ------------------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.fail_status:
            return httpx.Response(self.fail_status.pop(0), json={"detail": "boom"})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"detail": "bad token"})
        path = request.url.path
        method = request.method
        if path == "/v1/me":
            return httpx.Response(200, json={"name": self.agent})
        if path == "/v1/events":
            return self._events(request)
        if path == "/v1/conversations" and method == "GET":
            items = sorted(self.conversations.values(), key=lambda c: c["updated_at"], reverse=True)
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        m = re.fullmatch(r"/v1/conversations/(\d+)(/\w+)?", path)
        if not m:
            return httpx.Response(404, json={"detail": "not found"})
        conv = self.conversations.get(int(m.group(1)))
        if conv is None:
            return httpx.Response(404, json={"detail": "no such conversation"})
        action = m.group(2)
        if action is None and method == "GET":
            return httpx.Response(200, json=conv)
        if action is None and method == "PATCH":
            conv["status"] = json.loads(request.content)["status"]
            return httpx.Response(200, json=conv)
        if action == "/read":
            conv["unread_count"] = 0
            return httpx.Response(200, json=conv)
        if action == "/takeover":
            if conv["assignee"] not in (None, self.agent):
                return httpx.Response(409, json={"detail": "taken", "owner": conv["assignee"]})
            conv.update(mode="human", assignee=self.agent)
            return httpx.Response(200, json=conv)
        if action == "/handback":
            conv.update(mode="bot", assignee=None)
            return httpx.Response(200, json=conv)
        if action == "/messages" and method == "GET":
            mine = sorted(
                (x for x in self.messages.values() if x["conversation_id"] == conv["id"]),
                key=lambda x: x["id"],
            )
            return httpx.Response(200, json={"items": mine[-50:], "has_more": len(mine) > 50})
        if action == "/messages" and method == "POST":
            key = request.headers["Idempotency-Key"]
            if key in self.idempotency:
                return httpx.Response(202, json=self.messages[self.idempotency[key]])
            body = json.loads(request.content)
            self.next_message_id += 1
            msg = message_json(
                self.next_message_id,
                conv["id"],
                body["text"],
                direction="out",
                author=f"agent:{self.agent}",
                status="queued",
                reply_to=body.get("reply_to"),
            )
            msg["created_at"] = msg["updated_at"] = iso(10_000 + self.next_message_id)
            self.idempotency[key] = msg["id"]
            self.sent.append(msg)
            self.add_message(msg)
            return httpx.Response(202, json=msg)
        return httpx.Response(405, json={"detail": "method not allowed"})

    def _events(self, request: httpx.Request) -> httpx.Response:
        last = request.headers.get("Last-Event-ID") or request.url.params.get("after")
        self.event_connects.append(last)
        after = int(last) if last else 0
        self._drop.clear()
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=self._stream(after, request),
        )

    async def _stream(self, after: int, request: httpx.Request) -> AsyncIterator[bytes]:
        sent = after
        yield b": ping\n\n"
        while True:
            while sent < len(self.events):
                ev = self.events[sent]
                sent += 1
                data = self.raw_events.get(ev["id"]) or json.dumps(ev)
                yield f"id: {ev['id']}\nevent: {ev['type']}\ndata: {data}\n\n".encode()
                await asyncio.sleep(0)
                if self._drop.is_set():
                    raise httpx.ReadError("stream dropped", request=request)
            self._new_event.clear()
            waiter = asyncio.ensure_future(self._new_event.wait())
            dropper = asyncio.ensure_future(self._drop.wait())
            try:
                await asyncio.wait([waiter, dropper], return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                dropper.cancel()
            if self._drop.is_set():
                raise httpx.ReadError("stream dropped", request=request)
