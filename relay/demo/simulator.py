"""Customers for the demo: signed WhatsApp and Instagram webhooks every few seconds, and
Meta's delivery statuses for every reply the relay sends to the Graph API stand-in."""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from relay.testing.graph_standin import GraphStandIn
from relay.webhooks.signature import signature_for

log = logging.getLogger(__name__)

PHONE_NUMBER_ID = "109876543210987"
DISPLAY_NUMBER = "15550123456"
IG_ACCOUNT = "17841456789012345"


@dataclass(frozen=True)
class Customer:
    name: str
    handle: str  # wa_id, or Instagram-scoped id
    channel: str  # whatsapp | instagram
    lines: tuple[str, ...]


CUSTOMERS = (
    Customer(
        "Maria Garcia",
        "16505550142",
        "whatsapp",
        (
            "Hi! Do you have the blue jacket in size M?",
            "And how long does shipping to Austin take?",
            "Great, thanks. Can I pay on delivery?",
            "I'd like to talk to a human agent please",
        ),
    ),
    Customer(
        "João Silva",
        "5521955550188",
        "whatsapp",
        (
            "Olá! Qual o horário de atendimento?",
            "Vocês entregam no Rio de Janeiro?",
            "Qual o preço do frete?",
            "Obrigado!",
        ),
    ),
    Customer(
        "Zoë Álvarez",
        "8412736459012345",
        "instagram",
        (
            "Hey 👋 saw your post about the summer sale",
            "Is the discount also valid online?",
            "<b>bold?</b> just testing your app 😄",
        ),
    ),
    Customer(
        "Oliver Smith",
        "447700900456",
        "whatsapp",
        (
            "My order #4411 hasn't arrived yet",
            "It was supposed to come on Monday",
            "agent",
        ),
    ),
)


class CustomerSimulator:
    """Runs in its own thread until `stop()`."""

    def __init__(
        self, relay_url: str, app_secret: bytes, graph: GraphStandIn, *, every_s: float = 4.0
    ) -> None:
        self._relay_url = relay_url.rstrip("/")
        self._secret = app_secret
        self._graph = graph
        self._every_s = every_s
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._progress = {c.handle: 0 for c in CUSTOMERS}
        self._statused: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="customer-simulator", daemon=True)

    def start(self) -> CustomerSimulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            next_message = time.monotonic() + 1.0
            while not self._stop.wait(0.5):
                try:
                    self._send_statuses(client)
                    if time.monotonic() >= next_message:
                        self._send_customer_message(client)
                        next_message = time.monotonic() + self._every_s * random.uniform(0.6, 1.4)
                except httpx.HTTPError as exc:
                    log.info("simulator could not reach the relay: %s", exc)

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> None:
        raw = json.dumps(body, separators=(",", ":")).encode()
        client.post(
            f"{self._relay_url}/webhooks/meta",
            content=raw,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature_for(self._secret, raw),
            },
        )

    def _send_customer_message(self, client: httpx.Client) -> None:
        pending = [c for c in CUSTOMERS if self._progress[c.handle] < len(c.lines)]
        if not pending:  # everyone said everything: start the conversations over
            self._progress = dict.fromkeys(self._progress, 0)
            pending = list(CUSTOMERS)
        customer = random.choice(pending)
        step = self._progress[customer.handle]
        self._progress[customer.handle] = step + 1
        text = customer.lines[step]
        n = next(self._ids)
        if customer.channel == "instagram":
            self._post(client, _instagram_text(customer, f"demo-ig-{time.time_ns()}-{n}", text))
        elif n % 5 == 0:
            self._post(
                client,
                _whatsapp(
                    customer,
                    n,
                    "image",
                    {
                        "image": {
                            "id": f"{9000000 + n}",
                            "mime_type": "image/jpeg",
                            "sha256": "ZGVtbw==",
                            "caption": "This is the one I mean",
                        }
                    },
                    self._last_reply_to(customer),
                ),
            )
        else:
            self._post(
                client,
                _whatsapp(
                    customer, n, "text", {"text": {"body": text}}, self._last_reply_to(customer)
                ),
            )

    def _last_reply_to(self, customer: Customer) -> str | None:
        """Sometimes quote the business's last message, as customers do."""
        if random.random() > 0.3:
            return None
        ours = [
            r for r in self._graph.sends() if r.json.get("to", "").lstrip("+") == customer.handle
        ]
        return ours[-1].message_id if ours else None

    def _send_statuses(self, client: httpx.Client) -> None:
        """sent at once, delivered after a second, read a few seconds later."""
        now = time.time()
        for request in self._graph.sends():
            if request.channel != "whatsapp" or not request.message_id:
                continue
            age = now - request.received_at
            for status, after in (("sent", 0.2), ("delivered", 1.0), ("read", 4.0)):
                key = f"{request.message_id}:{status}"
                if age >= after and key not in self._statused:
                    self._statused.add(key)
                    self._post(
                        client,
                        _status(
                            request.message_id,
                            status,
                            request.json["to"],
                            request.json.get("biz_opaque_callback_data"),
                        ),
                    )


def _envelope(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "210987654321098",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": DISPLAY_NUMBER,
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def _whatsapp(
    customer: Customer, n: int, kind: str, content: dict[str, Any], reply_to: str | None
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": customer.handle,
        "id": f"wamid.demo-{time.time_ns()}-{n}",
        "timestamp": str(int(time.time())),
        "type": kind,
        **content,
    }
    if reply_to:
        message["context"] = {"from": DISPLAY_NUMBER, "id": reply_to}
    return _envelope(
        {
            "contacts": [{"profile": {"name": customer.name}, "wa_id": customer.handle}],
            "messages": [message],
        }
    )


def _status(wamid: str, status: str, to: str, callback: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": to.lstrip("+"),
    }
    if callback:
        item["biz_opaque_callback_data"] = callback
    return _envelope({"statuses": [item]})


def _instagram_text(customer: Customer, mid: str, text: str) -> dict[str, Any]:
    stamp = int(datetime.now(UTC).timestamp() * 1000)
    return {
        "object": "instagram",
        "entry": [
            {
                "time": stamp,
                "id": IG_ACCOUNT,
                "messaging": [
                    {
                        "sender": {"id": customer.handle},
                        "recipient": {"id": IG_ACCOUNT},
                        "timestamp": stamp,
                        "message": {"mid": mid, "text": text},
                    }
                ],
            }
        ],
    }
