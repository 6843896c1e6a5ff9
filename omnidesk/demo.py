"""`omnidesk demo`: the whole product on one machine, in one command.

A composition root like `omnidesk.app`: it starts the relay side of the demo (relay on
SQLite in a temporary folder, the Graph API stand-in, the customer simulator, and the
reference bot when RabbitMQ is reachable) and opens the console signed in as a demo agent.
Closing the window stops everything it started.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from omnidesk.app import ReadyCallback, run_console
from omnidesk.settings import Settings
from relay.demo.stack import DemoStack

log = logging.getLogger(__name__)


def run_demo(*, every_s: float = 4.0, on_ready: ReadyCallback | None = None) -> int:
    cache_dir = Path(tempfile.mkdtemp(prefix="omnidesk-demo-cache-"))
    with DemoStack(every_s=every_s) as stack:
        if stack.with_bot:
            log.info("demo: the reference bot answers first; write 'agent' to be handed off")
        else:
            log.info("demo: RabbitMQ is not reachable at 127.0.0.1:5672, so the bot is off")
        settings = Settings(
            relay_url=stack.url, agent="demo", cache_path=str(cache_dir / "cache.sqlite3")
        )
        try:
            return run_console(settings, token=stack.token, on_ready=on_ready)
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
