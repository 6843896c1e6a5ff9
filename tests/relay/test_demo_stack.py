"""The relay side of `omnidesk demo`: customers write in, and the agent's replies get read."""

from __future__ import annotations

import time
from typing import Any

import httpx

from relay.demo.stack import DemoStack


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "demo did not get there in time"
        time.sleep(0.1)
    return result


def test_demo_customers_write_and_replies_are_delivered_then_read() -> None:
    with DemoStack(with_bot=False, every_s=0.3) as stack:
        api = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {stack.token}"})
        with api:
            items = wait_for(
                lambda: len(c := api.get("/v1/conversations").json()["items"]) >= 3 and c
            )
            assert {c["channel"]["kind"] for c in items} <= {"whatsapp", "instagram"}
            target = next(c for c in items if c["channel"]["kind"] == "whatsapp")
            reply = api.post(
                f"/v1/conversations/{target['id']}/messages", json={"text": "Hello from the demo"}
            )
            assert reply.status_code == 202

            def read_status() -> str:
                found = api.get(
                    f"/v1/conversations/{target['id']}/messages", params={"limit": 200}
                ).json()["items"]
                return next(m["status"] for m in found if m["id"] == reply.json()["id"])

            wait_for(lambda: read_status() == "read")
    assert not stack.folder.exists()
