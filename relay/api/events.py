"""`/v1/events`: the live stream every console follows (Server-Sent Events)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from relay.api.deps import AgentDep, RelayDep
from relay.events import stream_events
from relay.store.events import latest_event_id

HEAD_HEADER = "X-Event-Head"
"""The newest event id when the stream opened: a client that resumes from an older cursor
can show how far its catch-up has come, and knows it is live once it has applied this id."""

router = APIRouter(prefix="/v1", tags=["agent API"])


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-Sent Events",
            "headers": {
                HEAD_HEADER: {
                    "description": "the newest event id when the stream opened (0: no events)",
                    "schema": {"type": "integer"},
                }
            },
        }
    },
)
async def events(
    request: Request,
    relay: RelayDep,
    agent: AgentDep,
    after: Annotated[int | None, Query(ge=0, description="resume after this event id")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Every change after the cursor, in order, then live. Resume with `Last-Event-ID`."""
    cursor = after or 0
    if last_event_id and last_event_id.strip().isdigit():
        cursor = max(cursor, int(last_event_id))
    stop = relay.stopping
    head = await relay.db.read(latest_event_id)

    async def body() -> AsyncIterator[str]:
        relay.metrics.event_stream_clients.inc()
        try:
            async for chunk in stream_events(
                relay.db, relay.hub, cursor, poll_s=relay.settings.event_poll_s, stop=stop
            ):
                yield chunk
        except asyncio.CancelledError:
            raise
        finally:
            relay.metrics.event_stream_clients.dec()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", HEAD_HEADER: str(head)}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
