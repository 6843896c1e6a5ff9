"""Everything one relay process holds while it runs, built once by the app's lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

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
    # Woken after every commit that may concern the bot bridge.
    on_commit_hooks: list[Callable[[], None]] = field(default_factory=list)
    broker_state: Callable[[], str] = lambda: "disabled"
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def default_mode(self) -> str:
        return "bot" if self.settings.bot_enabled else "human"

    def committed(self, *, may_send: bool = True) -> None:
        """Something was committed: wake the event streams, the bridge, and the sender unless
        the commit cannot have queued a message (webhooks only bring messages in)."""
        self.hub.notify()
        if may_send:
            self.sender.wake()
        for hook in self.on_commit_hooks:
            hook()
