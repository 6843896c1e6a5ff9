"""Where the Meta fixtures live: a copy of shared/meta-samples kept with the tests, so a clone
runs anywhere (OMNIDESK_META_SAMPLES points elsewhere, e.g. at a newer shared/ copy); and
webhook bodies built from them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SAMPLES = Path(
    os.environ.get(
        "OMNIDESK_META_SAMPLES", Path(__file__).resolve().parents[1] / "fixtures" / "meta-samples"
    )
)


def text_webhook(
    *texts: str, wa_id: str = "16505550142", name: str = "Maria Garcia", wamid: str = "wamid.t"
) -> dict[str, Any]:
    """A WhatsApp webhook (wa_webhook_text.json) carrying ``texts`` from one customer, in order.

    Message ids are ``{wamid}.{n}``: give each call its own ``wamid`` (Meta's ids are unique,
    and the relay drops a message id it has already stored).
    """
    body: dict[str, Any] = json.loads((SAMPLES / "wa_webhook_text.json").read_bytes())
    value = body["entry"][0]["changes"][0]["value"]
    template = value["messages"][0]
    value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
    value["messages"] = [
        {**template, "from": wa_id, "id": f"{wamid}.{n}", "text": {"body": text}}
        for n, text in enumerate(texts)
    ]
    return body
