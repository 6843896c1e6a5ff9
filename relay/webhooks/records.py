"""What a Meta webhook means, independent of its JSON shape.

`relay.webhooks.normalize` turns a parsed body into these records; the store keeps them.
Nothing here knows about HTTP or SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

ChannelKind = Literal["whatsapp", "instagram"]


@dataclass(frozen=True, slots=True)
class ChannelRef:
    kind: ChannelKind
    external_id: str  # WhatsApp phone_number_id, or Instagram professional account id
    display_number: str | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.external_id}"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message in a conversation: from the customer, or an echo of the business's own."""

    channel: ChannelRef
    external_id: str  # wamid / Instagram mid
    customer_id: str  # wa_id (or BSUID) / Instagram-scoped id
    customer_name: str
    customer_handle: str  # the customer's phone number as Meta wrote it, or IGSID
    type: str  # text, image, video, audio, document, sticker, location, contacts,
    #            interactive, button, reaction, order, system, unsupported
    text: str | None
    timestamp: datetime  # naive UTC, Meta's own timestamp
    payload: dict[str, Any] = field(default_factory=dict)
    reply_to_external: str | None = None  # Meta id of the message this one quotes/reacts to
    direction: Literal["in", "out"] = "in"  # "out": an Instagram echo of our own message


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """Meta's word on a message the business sent: sent, delivered, read, played or failed."""

    channel: ChannelRef
    external_id: str
    status: str
    timestamp: datetime
    recipient_id: str | None = None
    callback_data: str | None = None  # biz_opaque_callback_data, our own message id
    error_code: int | None = None
    error_title: str | None = None
    error_detail: str | None = None


@dataclass(frozen=True, slots=True)
class Unsupported:
    """Part of a signed webhook that the relay could not understand, kept verbatim."""

    reason: str
    raw: str  # JSON text of the part


Record = InboundMessage | StatusUpdate | Unsupported
