"""The bot/human switch and the bot's queues, as the store keeps them.

Who answers a conversation is decided here, in the same transactions that store messages:
a customer message enters the bot's outbox only while the conversation is in bot mode, and a
bot reply is queued for sending only while it still is; otherwise it is kept as a suppressed
draft the agent can read. Every switch leaves an activity line in the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, update

from relay.bot.protocol import HISTORY_LENGTH, handback_body, message_body
from relay.store.conversations import Owned, add_message, require_conversation
from relay.store.database import StoreFn
from relay.store.events import savepoint
from relay.store.ingest import AfterMessage, emit_conversation
from relay.store.outgoing import SendJob
from relay.store.replies import conversation_to_answer, queue_text, quoted_message, sent_with_key
from relay.store.sql import prepared
from relay.store.tables import bot_outbox, bot_replies, conversations, messages, utcnow
from relay.store.views import (
    load_conversation,
    message_view,
)


def enqueue_for_bot(public_url: str) -> AfterMessage:
    """The ingest hook: put a new customer message in the bot's outbox if the bot answers.

    The row is also returned, so that once its webhook is committed the bridge can publish
    it without reading the outbox back (see `pending_publications` for the other ways).
    """

    def hook(
        conn: Connection, message: dict[str, Any], conversation: dict[str, Any]
    ) -> dict[str, Any] | None:
        if conversation["mode"] != "bot":
            return None
        row = {
            "conversation_id": conversation["id"],
            "amqp_message_id": str(message["id"]),
            "body": message_body(message, conversation, public_url=public_url),
        }
        inserted = _outbox_insert.run(conn, {**row, "created_at": utcnow()}).one()
        return {"id": inserted.id, **row}

    return hook


PUBLISH_BATCH = 200


def pending_publications(limit: int = PUBLISH_BATCH) -> StoreFn[list[dict[str, Any]]]:
    def run(conn: Connection) -> list[dict[str, Any]]:
        return [dict(row) for row in _pending.run(conn, {"limit": limit})]

    return run


@prepared
def _pending(_d: ModuleType) -> Any:
    return (
        select(
            bot_outbox.c.id,
            bot_outbox.c.conversation_id,
            bot_outbox.c.amqp_message_id,
            bot_outbox.c.body,
        )
        .where(bot_outbox.c.published_at.is_(None))
        .order_by(bot_outbox.c.id)
        .limit(bindparam("limit"))
    )


def mark_published(confirmed: list[tuple[int, datetime]]) -> StoreFn[None]:
    """Mark outbox rows published, each at the time RabbitMQ confirmed it."""

    def run(conn: Connection) -> None:
        _mark_published.run_many(conn, [{"outbox_id": i, "now": at} for i, at in confirmed])

    return run


@prepared
def _mark_published(_d: ModuleType) -> Any:
    return (
        update(bot_outbox)
        .where(bot_outbox.c.id == bindparam("outbox_id"))
        .values(published_at=bindparam("now"))
    )


def _activity(
    conn: Connection, conversation_id: int, author: str, text: str, action: str, **extra: Any
) -> None:
    """A line in the conversation's history: who switched what, when, and why."""
    row = conn.execute(
        select(conversations.c.channel_id).where(conversations.c.id == conversation_id)
    ).one()
    add_message(
        conn,
        conversation_id=conversation_id,
        channel_id=row.channel_id,
        direction="internal",
        author=author,
        type="activity",
        text=text,
        payload={"action": action, **extra},
        status="received",
    )


def take_over(conversation_id: int, agent: str) -> StoreFn[dict[str, Any]]:
    """Make `agent` the owner, in human mode. One atomic UPDATE: of two racing agents, one wins."""

    def run(conn: Connection) -> dict[str, Any]:
        before = require_conversation(conn, conversation_id)
        won = conn.execute(
            update(conversations)
            .where(
                conversations.c.id == conversation_id,
                or_(conversations.c.assignee.is_(None), conversations.c.assignee == agent),
            )
            .values(mode="human", assignee=agent, updated_at=utcnow())
        ).rowcount
        if not won:
            owner = conn.execute(
                select(conversations.c.assignee).where(conversations.c.id == conversation_id)
            ).scalar()
            raise Owned(str(owner))
        if before["assignee"] != agent or before["mode"] != "human":
            was = "the bot" if before["mode"] == "bot" else "the queue"
            _activity(
                conn,
                conversation_id,
                f"agent:{agent}",
                f"{agent} took over from {was}",
                "takeover",
                by=agent,
            )
            emit_conversation(conn, conversation_id)
        found = load_conversation(conn, conversation_id)
        assert found is not None
        return found

    return run


def hand_back(conversation_id: int, agent: str) -> StoreFn[dict[str, Any]]:
    """Return the conversation to the bot, which gets its recent history to pick up from."""

    def run(conn: Connection) -> dict[str, Any]:
        before = require_conversation(conn, conversation_id)
        if before["assignee"] not in (None, agent):
            raise Owned(str(before["assignee"]))
        if before["mode"] != "bot":
            conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(
                    mode="bot",
                    assignee=None,
                    handoff_reason=None,
                    status="open",
                    updated_at=utcnow(),
                )
            )
            _activity(
                conn,
                conversation_id,
                f"agent:{agent}",
                f"{agent} handed the conversation back to the bot",
                "handback",
                by=agent,
            )
            emit_conversation(conn, conversation_id)
            conversation = load_conversation(conn, conversation_id)
            assert conversation is not None
            history = conn.execute(
                select(messages)
                .where(
                    messages.c.conversation_id == conversation_id,
                    messages.c.direction != "internal",
                    messages.c.status != "suppressed",  # the customer never saw those,
                )
                .order_by(messages.c.id.desc())
                .limit(HISTORY_LENGTH)
            ).mappings()
            body = handback_body(
                conversation, agent, [message_view(m) for m in reversed(list(history))]
            )
            next_id = conn.execute(
                insert(bot_outbox)
                .values(
                    conversation_id=conversation_id,
                    amqp_message_id="",
                    body=body,
                    created_at=utcnow(),
                )
                .returning(bot_outbox.c.id)
            ).scalar_one()
            conn.execute(
                update(bot_outbox)
                .where(bot_outbox.c.id == next_id)
                .values(amqp_message_id=f"handback-{next_id}")
            )
        found = load_conversation(conn, conversation_id)
        assert found is not None
        return found

    return run


class RejectedBotMessage(Exception):
    """A valid-looking bot message the relay cannot act on (unknown conversation, text the
    channel refuses): it goes to the dead-letter queue with this reason."""


INSTAGRAM_MAX_TEXT_BYTES = 1000


@dataclass
class BotActs:
    """Each bot message's outcome (queued, suppressed, handoff, duplicate), or the exception
    that stopped it (RejectedBotMessage: dead-letter it; others: retry it); and the replies
    claimed for sending as they were stored, for the sender to send now."""

    outcomes: list[str | Exception] = field(default_factory=list)
    sends: list[SendJob] = field(default_factory=list)


def act_on_bot_messages(items: list[tuple[str, dict[str, Any]]]) -> StoreFn[BotActs]:
    """Act on a batch of validated bot messages in order, each once per key, each in its own
    savepoint."""

    def run(conn: Connection) -> BotActs:
        acts = BotActs()
        for key, message in items:
            try:
                with savepoint(conn):
                    outcome, send = _act(conn, key, message)
            except Exception as exc:
                acts.outcomes.append(exc)
            else:
                acts.outcomes.append(outcome)
                if send is not None:
                    acts.sends.append(send)
        return acts

    return run


def _act(conn: Connection, key: str, message: dict[str, Any]) -> tuple[str, SendJob | None]:
    done = _done.run(conn, {"key": key}).scalar()
    if done is not None:
        return "duplicate", None
    conversation_id = int(message["conversation_id"])
    row = conversation_to_answer(conn, conversation_id)
    if row is None:
        raise RejectedBotMessage(f"conversation {conversation_id} does not exist")
    outcome, message_id, send = "handoff", None, None
    if message["type"] == "reply":
        message = {**message, "text": _sendable_text(message["text"], row["channel_kind"])}
        outcome, message_id, send = _reply(conn, row, message, key)
    if message["type"] == "handoff" or message.get("handoff"):
        _handoff(conn, row, message.get("reason") or "The bot asked for a human")
    _acted_insert.run(
        conn,
        {
            "key": key,
            "conversation_id": conversation_id,
            "outcome": outcome,
            "message_id": message_id,
            "created_at": utcnow(),
        },
    )
    return outcome, send


# Bot replies are most of the writer's work under load: their statements are built once
# (see relay.store.sql.prepared), like the webhook path's.


@prepared
def _outbox_insert(_d: ModuleType) -> Any:
    return insert(bot_outbox).returning(bot_outbox.c.id)


@prepared
def _acted_insert(_d: ModuleType) -> Any:
    return insert(bot_replies)


@prepared
def _done(_d: ModuleType) -> Any:
    return select(bot_replies.c.outcome).where(bot_replies.c.key == bindparam("key"))


def _sendable_text(text: str, channel_kind: str) -> str:
    """The text as the channel will take it, or the reason it will not."""
    text = text.replace("\x00", "")
    if not text.strip():
        raise RejectedBotMessage("text is empty")
    if channel_kind == "instagram" and len(text.encode()) > INSTAGRAM_MAX_TEXT_BYTES:
        raise RejectedBotMessage(
            f"Instagram takes at most {INSTAGRAM_MAX_TEXT_BYTES} bytes of text"
        )
    return text


def _reply(
    conn: Connection, conversation: Any, message: dict[str, Any], key: str
) -> tuple[str, int, SendJob | None]:
    reply_to, reply_external = message.get("in_reply_to"), None
    if reply_to is not None:
        target = quoted_message(conn, reply_to)
        if target is None or target.conversation_id != conversation["id"]:
            reply_to = None  # a stale or wrong quote: still answer the customer, without it
        else:
            reply_external = target.external_id
    if conversation["mode"] == "bot":
        # An agent's key that looks like ours (agent "bot") made it already.
        existing = sent_with_key(conn, f"bot:{key}", conversation["id"])
        if existing is not None:
            return "queued", existing, None
        view, send = queue_text(
            conn,
            conversation,
            author="bot",
            text=message["text"],
            reply_to=reply_to,
            reply_external=reply_external,
            idempotency_key=f"bot:{key}",
            claim=True,
        )
        return "queued", int(view["id"]), send
    # Taken over meanwhile: the agent sees what the bot would have said; the customer does not.
    draft = add_message(
        conn,
        conversation_id=conversation["id"],
        channel_id=conversation["channel_id"],
        direction="out",
        author="bot",
        type="text",
        text=message["text"],
        payload={"suppressed": "the conversation was taken over before the bot answered"},
        reply_to=reply_to,
        status="suppressed",
        idempotency_key=f"bot:{key}",
    )
    return "suppressed", int(draft["id"]), None


def _handoff(conn: Connection, conversation: Any, reason: str) -> None:
    current = require_conversation(conn, conversation["id"])
    if current["mode"] != "bot":
        return  # already with a human: nothing to switch
    conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation["id"])
        .values(
            mode="human",
            status="pending",
            assignee=None,
            handoff_reason=reason,
            updated_at=utcnow(),
        )
    )
    _activity(
        conn,
        conversation["id"],
        "bot",
        f"The bot handed off to a human: {reason}",
        "handoff",
        reason=reason,
    )
    emit_conversation(conn, conversation["id"])
