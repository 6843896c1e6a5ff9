"""The relay's agent API over an injected ``httpx.AsyncClient`` (tests pass a MockTransport).

The client given must carry the relay's base URL; the token is set with :meth:`set_token`.
httpx is imported where it is used, not with this module: the console imports the services
before its first paint, which needs no network, and importing httpx takes tens of ms.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from omnidesk.domain import Conversation, ConversationStatus, Message
from omnidesk.services.errors import (
    RelayAuthError,
    RelayProtocolError,
    RelayRequestError,
    RelayUnavailable,
    TakeoverConflict,
)
from omnidesk.services.wire import parse_conversation, parse_message

if TYPE_CHECKING:
    import httpx
    import httpx_sse

HttpFactory = Callable[[], "httpx.AsyncClient"]


class RelayClient:
    """The relay's agent API over ``http``: an ``httpx.AsyncClient``, or a function that
    builds one on the first request. The console passes a function: building a client
    (its transport, its SSL context) takes tens of milliseconds, which would otherwise
    delay the first paint of the cached conversations.
    """

    def __init__(self, http: httpx.AsyncClient | HttpFactory, token: str | None = None) -> None:
        self._http: httpx.AsyncClient | None = None if callable(http) else http
        self._factory: HttpFactory | None = http if callable(http) else None
        self._token: str | None = None
        if token:
            self.set_token(token)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            assert self._factory is not None
            self._http = self._factory()
            self._apply_token()
        return self._http

    def set_token(self, token: str | None) -> None:
        self._token = token or None
        if self._http is not None:
            self._apply_token()

    def _apply_token(self) -> None:
        assert self._http is not None
        if self._token:
            self._http.headers["Authorization"] = f"Bearer {self._token}"
        else:
            self._http.headers.pop("Authorization", None)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    # -- plumbing -----------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        import httpx

        try:
            response = await self.http.request(
                method, url, json=json_body, params=params, headers=headers
            )
        except httpx.TransportError as exc:
            raise RelayUnavailable(f"{type(exc).__name__}: {exc}") from exc
        check(response)
        try:
            return response.json()
        except ValueError as exc:
            raise RelayProtocolError(f"{method} {url}: answer is not JSON") from exc

    # -- API ----------------------------------------------------------------------------------

    async def me(self) -> str:
        data = await self._request("GET", "/v1/me")
        return str(_field(data, "name"))

    async def conversations(
        self,
        *,
        channel: str | None = None,
        status: ConversationStatus | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[list[Conversation], str | None]:
        params: dict[str, Any] = {"limit": limit}
        if channel:
            params["channel"] = channel
        if status:
            params["status"] = status.value
        if cursor:
            params["cursor"] = cursor
        data = await self._request("GET", "/v1/conversations", params=params)
        items = _field(data, "items")
        return [parse_conversation(c) for c in items], data.get("next_cursor")

    async def conversation(self, conversation_id: int) -> Conversation:
        return parse_conversation(
            await self._request("GET", f"/v1/conversations/{conversation_id}")
        )

    async def messages(
        self,
        conversation_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> tuple[list[Message], bool]:
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        if after is not None:
            params["after"] = after
        data = await self._request(
            "GET", f"/v1/conversations/{conversation_id}/messages", params=params
        )
        items = _field(data, "items")
        return [parse_message(m) for m in items], bool(data.get("has_more"))

    async def send_message(
        self, conversation_id: int, text: str, reply_to: int | None, idempotency_key: str
    ) -> Message:
        data = await self._request(
            "POST",
            f"/v1/conversations/{conversation_id}/messages",
            json_body={"text": text, "reply_to": reply_to},
            headers={"Idempotency-Key": idempotency_key},
        )
        return parse_message(data)

    async def set_status(self, conversation_id: int, status: ConversationStatus) -> Conversation:
        data = await self._request(
            "PATCH", f"/v1/conversations/{conversation_id}", json_body={"status": status.value}
        )
        return parse_conversation(data)

    async def mark_read(self, conversation_id: int) -> Conversation:
        return parse_conversation(
            await self._request("POST", f"/v1/conversations/{conversation_id}/read")
        )

    async def takeover(self, conversation_id: int) -> Conversation:
        return parse_conversation(
            await self._request("POST", f"/v1/conversations/{conversation_id}/takeover")
        )

    async def handback(self, conversation_id: int) -> Conversation:
        return parse_conversation(
            await self._request("POST", f"/v1/conversations/{conversation_id}/handback")
        )

    @asynccontextmanager
    async def events(self, after: int | None) -> AsyncIterator[httpx_sse.EventSource]:
        """Open ``GET /v1/events`` resuming after ``after``; raises like the other calls."""
        import httpx
        import httpx_sse

        headers = {"Accept": "text/event-stream"}
        if after is not None:
            headers["Last-Event-ID"] = str(after)
        timeout = httpx.Timeout(10.0, read=60.0)
        try:
            async with httpx_sse.aconnect_sse(
                self.http, "GET", "/v1/events", headers=headers, timeout=timeout
            ) as source:
                if source.response.status_code >= 400:
                    await source.response.aread()
                check(source.response)
                yield source
        except httpx.TransportError as exc:
            raise RelayUnavailable(f"{type(exc).__name__}: {exc}") from exc


def _field(data: Any, key: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise RelayProtocolError(f"the relay's answer has no {key!r}")
    return data[key]


def check(response: httpx.Response) -> None:
    """Raise the typed error for a non-2xx answer."""
    status = response.status_code
    if status < 400:
        return
    import httpx

    detail = ""
    body: Any = None
    try:
        body = json.loads(response.content)
    except (ValueError, httpx.ResponseNotRead):
        body = None
    owner = None
    if isinstance(body, dict):
        inner = body.get("detail")
        # FastAPI nests a structured detail: {"detail": {"detail": ..., "owner": ...}}
        if isinstance(inner, dict):
            owner = inner.get("owner")
            detail = str(inner.get("detail", ""))
        else:
            owner = body.get("owner")
            detail = str(inner or "")
    if status == 401:
        raise RelayAuthError(detail or "the relay refused the token")
    if status == 409 and owner:
        raise TakeoverConflict(str(owner), detail)
    if status >= 500 or status in (408, 429):
        raise RelayUnavailable(f"HTTP {status} {detail}".strip())
    raise RelayRequestError(status, detail)
