"""Two relays on one PostgreSQL, taking Meta's webhooks at the same time: every message is
stored once, and each relay's event stream tells the same story, in the same order."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.helpers.meta_samples import text_webhook
from tests.relay.conftest import RelayHarness
from tests.relay.test_events import read_events

CUSTOMERS = ["16505550101", "16505550102", "16505550103"]
ROUNDS = 20


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_relays_share_one_store_and_one_event_log(
    relay_factory: Callable[..., RelayHarness],
) -> None:
    first, second = relay_factory(), relay_factory()

    def write(n: int) -> list[int]:
        """Round n: each customer writes once to each relay; Meta retries one of them on the
        other relay at the same moment."""
        statuses = []
        for index, wa_id in enumerate(CUSTOMERS):
            relay = (first, second)[(n + index) % 2]
            body = text_webhook(f"message {n}", wa_id=wa_id, wamid=f"w.{wa_id}.{n}")
            statuses.append(relay.post_webhook(body).status_code)
            if index == 0:  # the retry
                statuses.append((second, first)[(n + index) % 2].post_webhook(body).status_code)
        return statuses

    with ThreadPoolExecutor(4) as pool:
        answers = [code for codes in pool.map(write, range(ROUNDS)) for code in codes]
    assert set(answers) == {200}

    total = len(CUSTOMERS) * ROUNDS
    conversations = first.conversations()
    assert len(conversations) == len(CUSTOMERS)  # one per customer, whichever relay saw it
    for conversation in conversations:
        texts = [m["text"] for m in first.messages(conversation["id"], limit=100)]
        assert sorted(texts) == sorted(f"message {n}" for n in range(ROUNDS))  # each once

    def all_created(events: list[dict[str, Any]]) -> bool:
        # A batch's events end with its conversations' updates: read up to the last one.
        created = sum(e["type"] == "message.created" for e in events)
        return created >= total and events[-1]["type"] == "conversation.updated"

    logs = [read_events(relay, after=0, until=all_created) for relay in (first, second)]
    assert logs[0] == logs[1]
    ids = [event["id"] for event in logs[0]]
    assert ids == sorted(set(ids))
    created = [e["message_id"] for e in logs[0] if e["type"] == "message.created"]
    assert len(created) == len(set(created)) == total
    final: dict[int, dict[str, Any]] = {}
    for event in logs[0]:
        if event["type"] == "conversation.updated":
            final[event["conversation_id"]] = event["data"]["conversation"]
    # The last word on each conversation counts every message of both relays.
    assert sorted(view["unread_count"] for view in final.values()) == [ROUNDS] * len(CUSTOMERS)
