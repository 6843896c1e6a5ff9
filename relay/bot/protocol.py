"""The relay/bot wire protocol (docs/bot-protocol.md): message bodies and their validation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

VERSION = 1
SCHEMAS = Path(__file__).resolve().parent / "schemas"
HISTORY_LENGTH = 20
REASON_HEADER = "x-omnidesk-reason"


def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())  # type: ignore[no-any-return]


@cache
def validator(name: str) -> Draft202012Validator:
    schema = _schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


class _Offline(Mapping[str, Callable[[str], Any]]):
    """fastjsonschema's $ref handler for every URI scheme: refuse, so it never fetches a schema."""

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return _refuse

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _refuse(uri: str) -> Any:
    raise fastjsonschema.JsonSchemaDefinitionException(f"$ref outside the schema file: {uri}")


@cache
def _fast_validator(name: str) -> Callable[[Any], Any]:
    """validator(name) compiled to Python: raises JsonSchemaException for an invalid instance.

    Only a quick yes: fastjsonschema's errors are not ours, and parse_outbound asks jsonschema
    about anything it rejects. It has no 2020-12 generator and uses its 2019-09 one, the same for
    the keywords these schemas use (tests/relay/test_bot_bridge.py checks they agree). It gets its
    own copy of the schema, which it rewrites ($ref made absolute), and never fills in defaults.
    """
    validator(name)  # the schema is checked as 2020-12 first
    return fastjsonschema.compile(_schema(name), handlers=_Offline(), use_default=False)


class BadBotMessage(Exception):
    """A message from the bot that the relay cannot act on; the text says why."""


def parse_outbound(body: bytes) -> dict[str, Any]:
    """The bot's message as a dict, or BadBotMessage with a reason the bot team can act on."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadBotMessage(f"not valid JSON: {exc}") from None
    try:
        _fast_validator("bot-outbound")(message)
    except fastjsonschema.JsonSchemaException:
        return _parse_with_jsonschema(message)  # jsonschema's verdict wins, and words the reason
    return message  # type: ignore[no-any-return]


def _parse_with_jsonschema(message: Any) -> dict[str, Any]:
    """parse_outbound's check with jsonschema alone: the reference for the fast path."""
    errors = sorted(validator("bot-outbound").iter_errors(message), key=lambda e: e.path)
    if errors:
        raise BadBotMessage(
            f"not valid against bot-outbound.schema.json: {_describe(message, errors)}"
        )
    return message  # type: ignore[no-any-return]


def _describe(message: Any, errors: list[ValidationError]) -> str:
    """The most useful error: for a oneOf on `type`, the error of the branch the bot meant."""
    kind = message.get("type") if isinstance(message, dict) else None
    for error in errors:
        for sub in error.context or []:
            branch = sub.relative_schema_path[0] if sub.relative_schema_path else None
            if (kind == "reply" and branch == 0) or (kind == "handoff" and branch == 1):
                where = "/".join(str(p) for p in sub.absolute_path) or "body"
                return f"{where}: {sub.message}"
    error = errors[0]
    where = "/".join(str(p) for p in error.absolute_path) or "body"
    if kind not in ("reply", "handoff"):
        return f"{where}: type must be 'reply' or 'handoff'"
    return f"{where}: {error.message}"


def message_body(
    message: dict[str, Any],
    conversation: dict[str, Any],
    *,
    public_url: str,
) -> dict[str, Any]:
    """What the bot receives for one customer message (views from relay.store.views)."""
    body: dict[str, Any] = {
        "version": VERSION,
        "type": "message",
        "conversation_id": conversation["id"],
        "message_id": message["id"],
        "channel": conversation["channel"]["kind"],
        "channel_id": conversation["channel"]["id"],
        "contact": conversation["contact"],
        "text": message["text"],
        "message_type": message["type"],
        "reply_to": message["reply_to"],
        "sent_at": message["created_at"],
        "payload": message["payload"],
    }
    media = message["payload"].get("media")
    attachments = message["payload"].get("attachments")
    if isinstance(media, dict) or attachments:
        first = media if isinstance(media, dict) else attachments[0]
        body["media"] = {
            "type": message["type"],
            "mime_type": first.get("mime_type"),
            "caption": first.get("caption"),
            "filename": first.get("filename"),
            "url": f"{public_url.rstrip('/')}/v1/messages/{message['id']}/media",
        }
    return body


def handback_body(
    conversation: dict[str, Any], by: str, history: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "version": VERSION,
        "type": "handback",
        "conversation_id": conversation["id"],
        "channel": conversation["channel"]["kind"],
        "contact": conversation["contact"],
        "by": by,
        "history": [
            {
                "message_id": m["id"],
                "author": m["author"],
                "text": m["text"],
                "message_type": m["type"],
                "sent_at": m["created_at"],
            }
            for m in history
        ],
    }
