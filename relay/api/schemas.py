"""The agent API's request bodies and documented response shapes (see /openapi.json)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ConversationStatus = Literal["open", "pending", "resolved"]


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4096, description="The reply, as plain text")
    reply_to: int | None = Field(default=None, description="Our id of the message it answers")


class ConversationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ConversationStatus


class ErrorOut(BaseModel):
    code: int | None
    title: str
    detail: str


class MessageOut(BaseModel):
    id: int
    conversation_id: int
    direction: Literal["in", "out", "internal"]
    author: str = Field(description="customer, agent:<name>, bot or system")
    type: str
    text: str | None
    payload: dict[str, object]
    reply_to: int | None
    status: str
    error: ErrorOut | None
    created_at: str
    updated_at: str
    external_id: str | None


class ChannelOut(BaseModel):
    id: str
    kind: str
    name: str


class ContactOut(BaseModel):
    id: int
    name: str
    handle: str


class ConversationOut(BaseModel):
    id: int
    channel: ChannelOut
    contact: ContactOut
    status: ConversationStatus
    mode: Literal["bot", "human"]
    assignee: str | None
    handoff_reason: str | None
    last_message: MessageOut | None
    unread_count: int
    updated_at: str


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


class MessagePage(BaseModel):
    items: list[MessageOut]
    has_more: bool


class AgentOut(BaseModel):
    name: str
