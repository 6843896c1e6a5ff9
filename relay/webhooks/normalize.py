"""Turn a parsed Meta webhook body into records (`relay.webhooks.records`).

The contract is `shared/meta-contract.md` §3 (WhatsApp) and §4 (Instagram). Three rules shape
everything here:

* **Never raise.** A raise means a 5xx, and Meta then retries the same body for up to 7 days.
  Every field is read through the small `_str` / `_id` / `_dict` / `_list` helpers, which
  return a neutral value for a missing or wrongly typed field. As a last resort, each batch
  item is normalised under `_guarded`, which turns an unexpected exception into an
  `Unsupported` record for that item only; the tests assert that this net never catches.
* **Lose nothing.** What cannot be understood becomes `Unsupported(reason, raw)` with the JSON
  text of the part. A message item with a usable id and sender but unknown or garbled content
  becomes an `InboundMessage` of type ``"unsupported"`` that keeps the item, so the agent sees
  that the customer sent something.
* **Be deterministic.** The same body gives the same records (so Meta's retries dedupe on
  `external_id`). The one exception: a missing or unreadable timestamp falls back to the time
  of normalisation, because a record needs one and the message is still worth keeping.

Every string that leaves this module is storable: lone UTF-16 surrogates (valid in JSON text,
invalid in UTF-8) and NUL characters (refused by PostgreSQL text) become U+FFFD. Ids longer than
`_ID_MAX_BYTES` are treated as unusable, because they end up in unique indexes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple, ParamSpec

from relay.webhooks.records import (
    ChannelRef,
    InboundMessage,
    Record,
    StatusUpdate,
    Unsupported,
)

__all__ = ["normalize"]

P = ParamSpec("P")
Direction = Literal["in", "out"]

_ID_MAX_BYTES = 512  # ids go into unique indexes; PostgreSQL's btree entries max out near 2.7 kB
_STATUS_MAX = 64
_REASON_MAX = 200
_QUOTE_MAX = 60
_EPOCH = datetime(1970, 1, 1)
# Below this a timestamp is in seconds (this many seconds is the year 5138), at or above it is
# in milliseconds (this many ms is 1973). WhatsApp sends seconds, Instagram milliseconds, and
# Instagram's dashboard test events have been seen with seconds.
_MS_THRESHOLD = 100_000_000_000
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")

# WhatsApp message types whose sub-object is a downloadable media item.
_WA_MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
_WA_MEDIA_STRINGS = ("id", "mime_type", "sha256", "caption", "filename", "url")
_WA_MEDIA_FLAGS = ("voice", "animated")

# Instagram attachment types that map onto our media types; others keep their own name.
_IG_ATTACHMENT_TYPES = {"image": "image", "video": "video", "audio": "audio", "file": "document"}


class _Content(NamedTuple):
    """What a message family handler extracts from a message's type-specific sub-object."""

    type: str
    text: str | None
    payload: dict[str, Any]
    reply_to: str | None = None  # overrides context.id (reactions point at their target)


# --------------------------------------------------------------------------- entry point


def normalize(body: object) -> list[Record]:
    """Turn a parsed Meta webhook body (any JSON value) into records. Never raises."""
    return _guarded("webhook body", body, _body, body)


def _body(body: object) -> Iterable[Record]:
    if not isinstance(body, dict):
        return [_unsupported("body is not a JSON object", body)]
    obj = body.get("object")
    if obj == "whatsapp_business_account":
        return _whatsapp(body)
    if obj == "instagram":
        return _instagram(body)
    if obj is None:
        return [_unsupported("body without object", body)]
    return [_unsupported(f"unknown object {_quote(obj)}", body)]


def _guarded(
    what: str,
    part: object,
    fn: Callable[P, Record | Iterable[Record]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> list[Record]:
    """Run one handler; if it raises anyway, keep `part` as an Unsupported record instead.

    The handlers are written not to raise; this is the net under them, so that one odd item
    cannot cost the rest of a batch (or a 5xx). The reason starts with "could not normalize".
    """
    try:
        result = fn(*args, **kwargs)
        if isinstance(result, InboundMessage | StatusUpdate | Unsupported):
            return [result]
        return list(result)
    except Exception as exc:
        return [_unsupported(f"could not normalize {what} ({type(exc).__name__})", part)]


# --------------------------------------------------------------------------- WhatsApp


def _whatsapp(body: dict[str, Any]) -> Iterator[Record]:
    """Every entry and every change: Meta batches up to 1000 updates in one POST."""
    entries = body.get("entry")
    if not isinstance(entries, list):
        yield _unsupported("whatsapp body without entry list", body)
        return
    for entry in entries:
        if not isinstance(entry, dict):
            yield _unsupported("whatsapp entry is not an object", entry)
            continue
        changes = entry.get("changes")
        if not isinstance(changes, list):
            yield _unsupported("whatsapp entry without changes list", entry)
            continue
        for change in changes:
            yield from _guarded("whatsapp change", change, _wa_change, change)


def _wa_change(change: object) -> Iterator[Record]:
    """One change: only `field == "messages"` is chat traffic; route by phone_number_id."""
    if not isinstance(change, dict):
        yield _unsupported("whatsapp change is not an object", change)
        return
    field = change.get("field")
    if field != "messages":
        reason = "change without field" if field is None else f"unknown field {_quote(field)}"
        yield _unsupported(reason, change)
        return
    value = change.get("value")
    if not isinstance(value, dict):
        yield _unsupported("change without value", change)
        return
    metadata = _dict(value, "metadata")
    phone_number_id = _id(metadata, "phone_number_id")
    if phone_number_id is None:
        yield _unsupported("change without phone_number_id", change)
        return
    channel = ChannelRef("whatsapp", phone_number_id, _str(metadata, "display_phone_number"))
    contacts = [c for c in _list(value, "contacts") if isinstance(c, dict)]

    found = False
    if "messages" in value:
        found = True
        for item in _items(value, "messages"):
            if isinstance(item, Unsupported):
                yield item
            else:
                yield from _guarded("message", item, _wa_message, item, channel, contacts)
    if "statuses" in value:
        found = True
        for item in _items(value, "statuses"):
            if isinstance(item, Unsupported):
                yield item
            else:
                yield from _guarded("status", item, _wa_status, item, channel)
    if "errors" in value:
        found = True
        for item in _items(value, "errors"):
            yield item if isinstance(item, Unsupported) else _wa_system_error(item, channel)
    if not found:
        yield _unsupported("change without messages, statuses or errors", change)


def _items(value: dict[str, Any], key: str) -> Iterator[object]:
    """The items of a list field, or one Unsupported when the field is not a list."""
    items = value.get(key)
    if isinstance(items, list):
        yield from items
    else:
        yield _unsupported(f"{key!r} is not a list", items)


def _wa_message(item: object, channel: ChannelRef, contacts: list[dict[str, Any]]) -> Record:
    """One `messages[]` item; the type-specific part is read by the `_WA_FAMILIES` handlers."""
    if not isinstance(item, dict):
        return _unsupported("message is not an object", item)
    message_id = _id(item, "id")
    if message_id is None:
        return _unsupported(_missing(item, "id", "message"), item)
    phone = _id(item, "from")
    user_id = _id(item, "from_user_id")  # business-scoped user id (BSUID), 2026
    customer_id = phone or user_id
    if customer_id is None:
        return _unsupported("message without sender", item)

    kind = _str(item, "type")
    handler = _WA_FAMILIES.get(kind or "")
    content = handler(kind, item.get(kind)) if handler and kind else None
    if content is None:
        content = _Content("unsupported", None, _unsupported_payload(item))

    context = _dict(item, "context")
    payload = content.payload
    for flag in ("forwarded", "frequently_forwarded"):
        if context.get(flag) is True:
            payload[flag] = True
    if "referred_product" in context:
        payload["referred_product"] = _plain(context["referred_product"])
    if "referral" in item:
        payload["referral"] = _plain(item["referral"])
    if content.type != "unsupported" and isinstance(item.get("errors"), list):
        payload["errors"] = _plain(item["errors"])
    if phone is not None and user_id is not None:
        payload["from_user_id"] = user_id

    profile = _dict(_wa_contact(contacts, phone, user_id), "profile")
    return InboundMessage(
        channel=channel,
        external_id=message_id,
        customer_id=customer_id,
        customer_name=_str(profile, "name") or "",
        customer_handle=phone or user_id or "",  # a BSUID when the phone is withheld
        type=content.type,
        text=content.text,
        timestamp=_timestamp(item.get("timestamp")) or _now(),
        payload=payload,
        reply_to_external=content.reply_to or _id(context, "id"),
    )


def _wa_contact(
    contacts: list[dict[str, Any]], phone: str | None, user_id: str | None
) -> dict[str, Any]:
    """The contact of a message's sender: by `wa_id == from`, else by BSUID; never by index."""
    if phone is not None:
        for contact in contacts:
            if _id(contact, "wa_id") == phone:
                return contact
    if user_id is not None:
        for contact in contacts:
            if _id(contact, "user_id") == user_id:
                return contact
    return {}


def _wa_text(kind: str, sub: object) -> _Content | None:
    body = _str(sub, "body")
    return None if body is None else _Content("text", body, {})


def _wa_media(kind: str, sub: object) -> _Content | None:
    """image / video / audio / document / sticker: the relay downloads them by media id later."""
    if not isinstance(sub, dict) or _id(sub, "id") is None:
        return None
    media: dict[str, Any] = {}
    for key in _WA_MEDIA_STRINGS:
        text = _str(sub, key)
        if text is not None:
            media[key] = text
    for key in _WA_MEDIA_FLAGS:
        if isinstance(sub.get(key), bool):
            media[key] = sub[key]
    return _Content(kind, media.get("caption"), {"media": media})


def _wa_location(kind: str, sub: object) -> _Content | None:
    latitude, longitude = _number(sub, "latitude"), _number(sub, "longitude")
    if latitude is None or longitude is None:
        return None
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    for key in ("name", "address", "url"):
        text = _str(sub, key)
        if text is not None:
            location[key] = text
    label = ", ".join(t for t in (location.get("name"), location.get("address")) if t)
    return _Content("location", label or None, {"location": location})


def _wa_contacts(kind: str, sub: object) -> _Content | None:
    """Shared contact cards: kept as given; the text is a one-line summary for the inbox."""
    if not isinstance(sub, list) or not sub:
        return None
    summaries = [_contact_summary(card) for card in sub]
    label = "Contact: " if len(summaries) == 1 else "Contacts: "
    return _Content("contacts", label + "; ".join(summaries), {"contacts": _plain(sub)})


def _contact_summary(card: object) -> str:
    name = _dict(card, "name")
    full = _str(name, "formatted_name") or " ".join(
        part for part in (_str(name, "first_name"), _str(name, "last_name")) if part
    )
    phones = [p for p in _list(card, "phones") if isinstance(p, dict)]
    phone = (_str(phones[0], "phone") or _str(phones[0], "wa_id")) if phones else None
    return " ".join(part for part in (full, phone) if part) or "(no name)"


def _wa_interactive(kind: str, sub: object) -> _Content | None:
    """Replies to our interactive messages: reply buttons, list rows, Flows (nfm_reply)."""
    subtype = _str(sub, "type")
    if subtype in ("button_reply", "list_reply"):
        reply = _dict(sub, subtype)
        if _str(reply, "id") is None and _str(reply, "title") is None:
            return None
        return _Content("interactive", _str(reply, "title"), {"interactive": _plain(sub)})
    if subtype == "nfm_reply" and _dict(sub, subtype):
        text = _str(_dict(sub, subtype), "body")
        return _Content("interactive", text, {"interactive": _plain(sub)})
    return None  # an interactive reply we do not know: kept as "unsupported"


def _wa_button(kind: str, sub: object) -> _Content | None:
    """A quick-reply tap on a *template* (not an interactive message)."""
    button = {k: v for k in ("payload", "text") if (v := _str(sub, k)) is not None}
    if not button:
        return None
    return _Content("button", button.get("text"), {"button": button})


def _wa_reaction(kind: str, sub: object) -> _Content | None:
    """A reaction, or its removal: Meta then sends `"emoji": ""` or no emoji at all."""
    target = _id(sub, "message_id")
    if target is None:
        return None
    emoji = _str(sub, "emoji") or ""
    return _Content("reaction", emoji or None, {"reaction": {"emoji": emoji}}, reply_to=target)


def _wa_order(kind: str, sub: object) -> _Content | None:
    if not isinstance(sub, dict):
        return None
    return _Content("order", _str(sub, "text"), {"order": _plain(sub)})


def _wa_system(kind: str, sub: object) -> _Content | None:
    """Identity changes (number, user id); these come without contacts."""
    if not isinstance(sub, dict):
        return None
    return _Content("system", _str(sub, "body"), {"system": _plain(sub)})


_WA_FAMILIES: dict[str, Callable[[str, object], _Content | None]] = {
    "text": _wa_text,
    **{media_type: _wa_media for media_type in _WA_MEDIA_TYPES},
    "location": _wa_location,
    "contacts": _wa_contacts,
    "interactive": _wa_interactive,
    "button": _wa_button,
    "reaction": _wa_reaction,
    "order": _wa_order,
    "system": _wa_system,
}


def _unsupported_payload(item: dict[str, Any]) -> dict[str, Any]:
    """The payload of an "unsupported" message: the item as given, so nothing is lost."""
    kind = _str(item, "type")
    if kind == "unsupported":
        kind = _str(_dict(item, "unsupported"), "type") or kind
    errors = item.get("errors")
    return {
        "raw": _plain(item),
        "errors": _plain(errors) if isinstance(errors, list) else [],
        "unsupported_type": kind,
    }


def _wa_status(item: object, channel: ChannelRef) -> Record:
    """Meta's word on a message we sent; `failed` carries the error in `errors[0]`."""
    if not isinstance(item, dict):
        return _unsupported("status is not an object", item)
    message_id = _id(item, "id")
    if message_id is None:
        return _unsupported(_missing(item, "id", "status"), item)
    status = _str(item, "status")
    if not status or len(status) > _STATUS_MAX:
        return _unsupported(_missing(item, "status", "status"), item)
    errors = _list(item, "errors")
    error = errors[0] if errors and isinstance(errors[0], dict) else {}
    return StatusUpdate(
        channel=channel,
        external_id=message_id,
        status=status,
        timestamp=_timestamp(item.get("timestamp")) or _now(),
        recipient_id=_str(item, "recipient_id"),
        callback_data=_str(item, "biz_opaque_callback_data"),
        error_code=_int(error, "code"),
        error_title=_str(error, "title") or _str(error, "message"),
        error_detail=_str(_dict(error, "error_data"), "details"),
    )


def _wa_system_error(item: object, channel: ChannelRef) -> Unsupported:
    """`value.errors[]`: a problem with the number or app, not with one message."""
    code = _int(item, "code")
    title = _str(item, "title") or _str(item, "message") or "no title"
    reason = f"whatsapp error {code if code is not None else '?'} on {channel.external_id}"
    return _unsupported(f"{reason}: {title}", item)


# --------------------------------------------------------------------------- Instagram


def _instagram(body: dict[str, Any]) -> Iterator[Record]:
    entries = body.get("entry")
    if not isinstance(entries, list):
        yield _unsupported("instagram body without entry list", body)
        return
    for entry in entries:
        yield from _guarded("instagram entry", entry, _ig_entry, entry)


def _ig_entry(entry: object) -> Iterator[Record]:
    """`messaging[]` (ours), `standby[]` (threads another app owns, handover protocol), and
    `changes[]` with `field: messages`, the shape of the dashboard's test events."""
    if not isinstance(entry, dict):
        yield _unsupported("instagram entry is not an object", entry)
        return
    account = _id(entry, "id")
    entry_time = entry.get("time")
    found = False
    for key in ("messaging", "standby"):
        if key not in entry:
            continue
        found = True
        for item in _items(entry, key):
            if isinstance(item, Unsupported):
                yield item
            else:
                standby = key == "standby"
                yield from _guarded(
                    "instagram event", item, _ig_event, item, account, entry_time, standby
                )
    if "changes" in entry:
        found = True
        for change in _items(entry, "changes"):
            if isinstance(change, Unsupported):
                yield change
            elif _dict_get(change, "field") == "messages":
                value = _dict_get(change, "value")
                yield from _guarded(
                    "instagram event", change, _ig_event, value, account, entry_time, False
                )
            else:
                field = _dict_get(change, "field")
                yield _unsupported(f"unknown instagram field {_quote(field)}", change)
    if not found:
        yield _unsupported("instagram entry without messaging", entry)


class _Parties(NamedTuple):
    channel: ChannelRef
    customer_id: str
    direction: Direction


def _ig_parties(item: dict[str, Any], account: str | None, echo: bool) -> _Parties | None:
    """Who is who. Inbound: the sender is the customer. Echo (our own message, or anything
    whose sender is our account): the recipient is. The channel is `entry.id`."""
    sender = _id(_dict(item, "sender"), "id")
    recipient = _id(_dict(item, "recipient"), "id")
    outbound = echo or (account is not None and sender == account)
    customer, ours = (recipient, sender) if outbound else (sender, recipient)
    channel_id = account or ours
    if customer is None or channel_id is None:
        return None
    return _Parties(ChannelRef("instagram", channel_id), customer, "out" if outbound else "in")


def _ig_event(item: object, account: str | None, entry_time: object, standby: bool) -> Record:
    """One `messaging[]` item: a message, a reaction or a postback; other kinds (read,
    message_edit, referral, ...) are kept as Unsupported."""
    if not isinstance(item, dict):
        return _unsupported("instagram event is not an object", item)
    timestamp = _timestamp(item.get("timestamp")) or _timestamp(entry_time) or _now()
    if "message" in item:
        return _ig_message(item, account, timestamp, standby)
    if "reaction" in item:
        return _ig_reaction(item, account, timestamp)
    if "postback" in item:
        return _ig_postback(item, account, timestamp)
    kinds = [k for k in item if k not in ("sender", "recipient", "timestamp")]
    if not kinds:
        return _unsupported("instagram event without content", item)
    return _unsupported(f"instagram {_quote(kinds[0])} event", item)


def _ig_message(
    item: dict[str, Any], account: str | None, timestamp: datetime, standby: bool
) -> Record:
    message = item.get("message")
    if not isinstance(message, dict):
        return _unsupported("instagram message is not an object", item)
    mid = _id(message, "mid")
    if mid is None:
        return _unsupported(_missing(message, "mid", "message"), item)
    parties = _ig_parties(item, account, message.get("is_echo") is True)
    if parties is None:
        return _unsupported("message without sender", item)

    external_id = mid
    reply_to = _dict(message, "reply_to")
    reply_to_external = _id(reply_to, "mid")
    text = _str(message, "text")
    attachments = [a for a in _list(message, "attachments") if isinstance(a, dict)]
    payload: dict[str, Any]
    if message.get("is_deleted") is True:
        # The event carries the mid of the message it deletes; a key of its own keeps it
        # from being dropped as a duplicate of that message.
        external_id = _capped(f"{mid}:deleted", "deleted")
        reply_to_external = mid
        kind, text, payload = "unsupported", None, _ig_unsupported_payload(item, "deleted")
    elif message.get("is_unsupported") is True:
        kind, text, payload = "unsupported", None, _ig_unsupported_payload(item, "unsupported")
    elif attachments:
        first = _str(attachments[0], "type")
        kind = _IG_ATTACHMENT_TYPES.get(first or "", first or "share")
        payload = {"attachments": [_ig_attachment(a) for a in attachments]}
    elif text is not None:
        kind, payload = "text", {}
    else:
        kind, text, payload = "unsupported", None, _ig_unsupported_payload(item, None)

    story = _dict(reply_to, "story")
    if story:
        payload["story"] = {k: v for k in ("id", "url") if (v := _str(story, k)) is not None}
    for key in ("quick_reply", "referral"):
        if key in message:
            payload[key] = _plain(message[key])
    if standby:
        payload["standby"] = True
    return InboundMessage(
        channel=parties.channel,
        external_id=external_id,
        customer_id=parties.customer_id,
        customer_name="",
        customer_handle=parties.customer_id,
        type=kind,
        text=text,
        timestamp=timestamp,
        payload=payload,
        reply_to_external=reply_to_external,
        direction=parties.direction,
    )


def _ig_attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _str(attachment, "type") or "share"}
    attachment_payload = _dict(attachment, "payload")
    for key in ("url", "title"):
        text = _str(attachment_payload, key)
        if text is not None:
            out[key] = text
    return out


def _ig_unsupported_payload(item: dict[str, Any], kind: str | None) -> dict[str, Any]:
    return {"raw": _plain(item), "errors": [], "unsupported_type": kind}


def _ig_reaction(item: dict[str, Any], account: str | None, timestamp: datetime) -> Record:
    """A reaction event has no id of its own, so we make one from what Meta sends:

    ``reaction:<target mid>:<reactor id>:<action>:<emoji>:<timestamp as sent>``

    A retry (or a second delivery to another subscribed app) repeats the body, so it repeats
    the key and dedupes. The timestamp keeps react → unreact → react-again three records.
    """
    reaction = item.get("reaction")
    if not isinstance(reaction, dict):
        return _unsupported("instagram reaction is not an object", item)
    target = _id(reaction, "mid")
    if target is None:
        return _unsupported(_missing(reaction, "mid", "reaction"), item)
    parties = _ig_parties(item, account, echo=False)
    reactor = _id(_dict(item, "sender"), "id")
    if parties is None or reactor is None:
        return _unsupported("reaction without sender", item)
    action = _str(reaction, "action") or "react"
    emoji = "" if action == "unreact" else (_str(reaction, "emoji") or "")
    sent_at = _str(item, "timestamp") or ""
    key = f"reaction:{target}:{reactor}:{action}:{emoji}:{sent_at}"
    return InboundMessage(
        channel=parties.channel,
        external_id=_capped(key, "reaction"),
        customer_id=parties.customer_id,
        customer_name="",
        customer_handle=parties.customer_id,
        type="reaction",
        text=emoji or None,
        timestamp=timestamp,
        payload={"reaction": {"emoji": emoji, "action": action}},
        reply_to_external=target,
        direction=parties.direction,
    )


def _ig_postback(item: dict[str, Any], account: str | None, timestamp: datetime) -> Record:
    """A tap on an ice breaker or a template button: customer input, like WhatsApp's
    template quick reply, so it becomes a "button" message with the title as text."""
    postback = item.get("postback")
    mid = _id(postback, "mid")
    if not isinstance(postback, dict) or mid is None:
        return _unsupported("instagram postback without mid", item)
    parties = _ig_parties(item, account, echo=False)
    if parties is None:
        return _unsupported("postback without sender", item)
    title = _str(postback, "title")
    button = {"payload": _str(postback, "payload"), "text": title}
    return InboundMessage(
        channel=parties.channel,
        external_id=mid,
        customer_id=parties.customer_id,
        customer_name="",
        customer_handle=parties.customer_id,
        type="button",
        text=title,
        timestamp=timestamp,
        payload={"button": {k: v for k, v in button.items() if v is not None}},
        direction=parties.direction,
    )


# --------------------------------------------------------------------------- helpers


def _unsupported(reason: str, part: object) -> Unsupported:
    return Unsupported(reason=_clean(reason)[:_REASON_MAX], raw=_dump(part))


def _missing(obj: dict[str, Any], key: str, what: str) -> str:
    """'message without id' when absent, 'message with unusable id' when garbled."""
    return f"{what} without {key}" if obj.get(key) is None else f"{what} with unusable {key}"


def _quote(value: object) -> str:
    """A value for a reason: short, quoted for strings, the type name for anything else."""
    if isinstance(value, str):
        return repr(value if len(value) <= _QUOTE_MAX else value[:_QUOTE_MAX] + "…")
    if value is None:
        return "<missing>"
    return f"<{type(value).__name__}>"


def _dict_get(obj: object, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _dict(obj: object, key: str) -> dict[str, Any]:
    """`obj[key]` when both are objects, else {}."""
    value = _dict_get(obj, key)
    return value if isinstance(value, dict) else {}


def _list(obj: object, key: str) -> list[Any]:
    """`obj[key]` when `obj` is an object and the value a list, else []."""
    value = _dict_get(obj, key)
    return value if isinstance(value, list) else []


def _str(obj: object, key: str) -> str | None:
    """`obj[key]` as a storable string; integers are accepted (ids sometimes come as numbers)."""
    value = _dict_get(obj, key)
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # more digits than int->str allows
            return None
    return None


def _id(obj: object, key: str) -> str | None:
    """`obj[key]` as an id: a non-empty string that fits in a unique index, else None."""
    value = _str(obj, key)
    if not value or len(value) > _ID_MAX_BYTES or len(value.encode()) > _ID_MAX_BYTES:
        return None
    return value


def _capped(key: str, prefix: str) -> str:
    """A made-up id, hashed when its parts make it too long for an index."""
    if len(key.encode()) <= _ID_MAX_BYTES:
        return key
    return f"{prefix}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _int(obj: object, key: str) -> int | None:
    """`obj[key]` as an int: an int, or a string of digits (error codes)."""
    value = _dict_get(obj, key)
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and 0 < len(value) <= 18 and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return value
    return None


def _number(obj: object, key: str) -> float | None:
    """`obj[key]` as a finite float: a number, or a numeric string."""
    value = _dict_get(obj, key)
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and len(value) <= 64:
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int):
        value = float(value) if abs(value) < 2**53 else None
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def _timestamp(value: object) -> datetime | None:
    """Unix seconds (WhatsApp, as a string) or milliseconds (Instagram, an int) → naive UTC."""
    number = _number({"t": value}, "t")
    if number is None or number < 0:
        return None
    try:
        if number >= _MS_THRESHOLD:
            return _EPOCH + timedelta(milliseconds=number)
        return _EPOCH + timedelta(seconds=number)
    except OverflowError:  # past the year 9999
        return None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _clean(text: str) -> str:
    """Replace what UTF-8 or PostgreSQL cannot store (lone surrogates, NUL) with U+FFFD."""
    if _UNSTORABLE.search(text) is None:
        return text
    text = text.replace("\x00", "\ufffd")
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _plain(obj: object) -> Any:
    """A copy of `obj` made only of storable JSON values (for payloads and raw text).

    Parsed JSON already is, except for lone surrogates and NUL in strings and NaN/Infinity
    (which `json.loads` accepts); other Python objects become their repr.
    """
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, str):
        return _clean(obj)
    if isinstance(obj, int):
        if -(2**63) <= obj < 2**64:
            return obj
        return _str({"n": obj}, "n") or "<integer too large>"
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {_plain_key(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    try:
        return _clean(repr(obj))
    except Exception:
        return f"<{type(obj).__name__}>"


def _plain_key(key: object) -> str:
    plain = _plain(key)
    return plain if isinstance(plain, str) else json.dumps(plain)


def _dump(part: object) -> str:
    """The JSON text of `part`, for Unsupported.raw; something even for the unserialisable."""
    try:
        return json.dumps(_plain(part), ensure_ascii=False)
    except Exception:  # too deep, or not JSON at all; `_guarded` relies on this not raising
        return json.dumps(f"<unserialisable {type(part).__name__}>")
