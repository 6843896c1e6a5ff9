"""`/v1/conversations`: what an agent's console reads and does. Thin: validate, call the store."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response

from relay.api.deps import AgentDep, RelayDep
from relay.api.schemas import (
    AgentOut,
    ConversationOut,
    ConversationPage,
    ConversationPatch,
    ConversationStatus,
    MessageOut,
    MessagePage,
    ReplyIn,
)
from relay.store import bot as bot_store
from relay.store import conversations as store
from relay.store.outgoing import resend
from relay.store.replies import queue_reply

router = APIRouter(prefix="/v1", tags=["agent API"])
_background: set[asyncio.Task[None]] = set()


async def _call(relay: RelayDep, fn: Any, *, write: bool = False) -> Any:
    """Run a store function, turning the store's refusals into HTTP answers."""
    try:
        result = await (relay.db.write(fn) if write else relay.db.read(fn))
    except store.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except store.Invalid as exc:
        raise HTTPException(422, str(exc)) from None
    except store.Owned as exc:
        raise HTTPException(
            409, {"detail": f"{exc.owner} already owns this conversation", "owner": exc.owner}
        ) from None
    if write:
        relay.committed()
    return result


@router.get("/me", response_model=AgentOut)
async def me(agent: AgentDep) -> dict[str, str]:
    return {"name": agent}


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    relay: RelayDep,
    agent: AgentDep,
    channel: str | None = None,
    status: ConversationStatus | None = None,
    mode: Annotated[str | None, Query(pattern="^(bot|human)$")] = None,
    assignee: Annotated[str | None, Query(description="an agent name, `me`, or `none`")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    who = {"me": agent, "none": ""}.get(assignee, assignee) if assignee is not None else None
    filters = store.ConversationFilter(channel=channel, status=status, mode=mode, assignee=who)
    return await _call(relay, store.list_conversations(filters, cursor, limit))


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
async def get_conversation(relay: RelayDep, agent: AgentDep, conversation_id: int) -> Any:
    return await _call(relay, store.get_conversation(conversation_id))


@router.patch("/conversations/{conversation_id}", response_model=ConversationOut)
async def patch_conversation(
    relay: RelayDep, agent: AgentDep, conversation_id: int, patch: ConversationPatch
) -> Any:
    return await _call(relay, store.set_status(conversation_id, patch.status), write=True)


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    relay: RelayDep,
    agent: AgentDep,
    conversation_id: int,
    before: int | None = None,
    after: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    if before is not None and after is not None:
        raise HTTPException(422, "give before or after, not both")
    return await _call(relay, store.list_messages(conversation_id, before, after, limit))


@router.post(
    "/conversations/{conversation_id}/messages", response_model=MessageOut, status_code=202
)
async def post_message(
    relay: RelayDep,
    agent: AgentDep,
    conversation_id: int,
    reply: ReplyIn,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    if not reply.text.strip():
        raise HTTPException(422, "text is empty")
    key = f"{agent}:{idempotency_key}" if idempotency_key else None
    fn = queue_reply(
        conversation_id,
        author=f"agent:{agent}",
        text=reply.text,
        reply_to=reply.reply_to,
        idempotency_key=key,
    )
    view, _created = await _call(relay, fn, write=True)
    return view


@router.post("/conversations/{conversation_id}/read", response_model=ConversationOut)
async def mark_read(relay: RelayDep, agent: AgentDep, conversation_id: int) -> Any:
    view, newest_inbound = await _call(relay, store.mark_read(conversation_id), write=True)
    if newest_inbound:
        task = asyncio.create_task(
            relay.sender.send_read_receipt(view["channel"]["id"], None, newest_inbound)
        )
        _background.add(task)
        task.add_done_callback(_background.discard)
    return view


@router.post("/messages/{message_id}/resend", response_model=MessageOut, status_code=202)
async def resend_message(
    relay: RelayDep, agent: AgentDep, message_id: int, response: Response
) -> Any:
    return await _call(relay, resend(message_id), write=True)


@router.post(
    "/conversations/{conversation_id}/takeover",
    response_model=ConversationOut,
    responses={409: {"description": "Another agent owns it: `owner` names them"}},
)
async def take_over(relay: RelayDep, agent: AgentDep, conversation_id: int) -> Any:
    """Human mode, assigned to the caller: nothing more goes to the bot, late bot replies are held."""
    return await _call(relay, bot_store.take_over(conversation_id, agent), write=True)


@router.post(
    "/conversations/{conversation_id}/handback",
    response_model=ConversationOut,
    responses={409: {"description": "Another agent owns it, or no bot is configured"}},
)
async def hand_back(relay: RelayDep, agent: AgentDep, conversation_id: int) -> Any:
    """Bot mode again; the bot gets a handback notice with the recent history."""
    if not relay.settings.bot_enabled:
        raise HTTPException(409, "no bot is configured on this relay (OMNIDESK_AMQP_URL is unset)")
    return await _call(relay, bot_store.hand_back(conversation_id, agent), write=True)


@router.get("/messages/{message_id}/media", responses={501: {"description": "Not available yet"}})
async def media(relay: RelayDep, agent: AgentDep, message_id: int) -> Any:
    """The file of a media message (the bot's `media.url`). Downloading from Meta comes later."""
    raise HTTPException(
        501, "media download is not available yet; the message keeps Meta's media id"
    )
