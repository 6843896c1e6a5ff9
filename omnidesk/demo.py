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

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QLabel, QMainWindow

from omnidesk.app import ReadyCallback, run_console
from omnidesk.settings import Settings
from relay.demo.stack import DEFAULT_AMQP_URL, DemoStack, amqp_address

log = logging.getLogger(__name__)


def run_demo(
    *,
    every_s: float = 4.0,
    on_ready: ReadyCallback | None = None,
    amqp_url: str = DEFAULT_AMQP_URL,
) -> int:
    cache_dir = Path(tempfile.mkdtemp(prefix="omnidesk-demo-cache-"))
    with DemoStack(every_s=every_s, amqp_url=amqp_url) as stack:
        address = amqp_address(stack.amqp_url)
        if stack.with_bot:
            log.info("demo: the reference bot answers first; write 'agent' to be handed off")
        else:
            log.info("demo: RabbitMQ is not reachable at %s, so the bot is off", address)

        def ready(window: object) -> None:
            if not stack.with_bot and isinstance(window, QMainWindow):
                show_bot_off(window, address)
            if on_ready is not None:
                on_ready(window)

        settings = Settings(
            relay_url=stack.url, agent="demo", cache_path=str(cache_dir / "cache.sqlite3")
        )
        try:
            return run_console(settings, token=stack.token, on_ready=ready)
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)


def show_bot_off(window: QMainWindow, address: str) -> QLabel:
    """Say in the status bar, for as long as the window is open, that the bot is off.

    A newcomer would otherwise wait for bot answers that never come. The status bar, not the
    notice bar: a later error notice would replace this sentence there.
    """
    text = QCoreApplication.translate(
        "Demo",
        "The bot is off: RabbitMQ is not reachable at {address}; conversations stay with agents.",
    ).format(address=address)
    label = QLabel(text, window)
    label.setObjectName("botOffNote")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setToolTip(text)
    window.statusBar().addWidget(label)
    return label
