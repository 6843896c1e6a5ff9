"""Everything one relay process holds while it runs, built once by the app's lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from relay.channels.sender import Sender
from relay.events import EventHub
from relay.metrics import Metrics
from relay.settings import Settings
from relay.store.database import Database
from relay.store.ingest import AfterMessage


@dataclass
class Relay:
    settings: Settings
    db: Database
    hub: EventHub
    metrics: Metrics
    sender: Sender
    # Set by the bot bridge: runs in the transaction that stores each new inbound message.
    after_inbound: AfterMessage | None = None
    # Woken after every commit that may have put rows in the bot's outbox, with the rows
    # the commit is known to have put there (more may have come another way).
    on_commit_hooks: list[Callable[[Sequence[dict[str, Any]]], None]] = field(default_factory=list)
    broker_state: Callable[[], str] = lambda: "disabled"
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def default_mode(self) -> str:
        return "bot" if self.settings.bot_enabled else "human"

    def committed(
        self,
        *,
        may_send: bool = True,
        may_publish: bool = True,
        outbox: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Something was committed: wake the event streams, the sender unless the commit
        cannot have queued a message (webhooks only bring messages in), and the bridge's
        publisher unless it cannot have filled the bot's outbox (a bot reply or handoff).
        `outbox`: the outbox rows the commit is known to have added, published without a read.
        Waking is cheap and coalesced, but each wake costs the woken a read or a write."""
        self.hub.notify()
        if may_send:
            self.sender.wake()
        if may_publish:
            for hook in self.on_commit_hooks:
                hook(outbox)
