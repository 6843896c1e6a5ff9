"""`omnidesk demo`, the README's run command: the console fills with the simulator's customers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from relay.testing.server import free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Runs the real demo in its own process (it owns a QApplication and its event loop), waits for
# the conversation list to fill, saves a screenshot, then closes the window as a user would.
SCRIPT = """
import sys
from PySide6.QtCore import QTimer
from omnidesk.demo import run_demo

def ready(window):
    waited = [0]
    def check():
        rows = window.list_model.rowCount()
        waited[0] += 1
        if rows >= 3 or waited[0] > 160:
            window.grab().save(sys.argv[1])
            print("ROWS", rows, flush=True)
            window.close()
        else:
            QTimer.singleShot(250, check)
    QTimer.singleShot(250, check)

sys.exit(run_demo(every_s=0.3, on_ready=ready))
"""


def test_demo_opens_the_console_and_conversations_flow_in(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "demo_window.png"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(shot)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = int(result.stdout.split("ROWS", 1)[1].split()[0])
    assert rows >= 3, result.stdout
    assert shot.stat().st_size > 10_000


# The same demo with RabbitMQ nowhere to be found: the window itself must say the bot is off.
BOT_OFF_SCRIPT = """
import sys
from PySide6.QtWidgets import QLabel
from omnidesk.demo import run_demo

def ready(window):
    note = window.findChild(QLabel, "botOffNote")
    shown = note is not None and note.isVisible() and not note.visibleRegion().isEmpty()
    print("NOTE", shown, "|", note.text() if note is not None else "", flush=True)
    window.close()

sys.exit(run_demo(every_s=60, on_ready=ready, amqp_url=sys.argv[1]))
"""


def test_demo_without_rabbitmq_says_in_the_window_that_the_bot_is_off(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", BOT_OFF_SCRIPT, f"amqp://guest:secret@127.0.0.1:{port}/"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shown, _, text = result.stdout.split("NOTE ", 1)[1].strip().partition(" | ")
    assert shown == "True"
    assert text == (
        f"The bot is off: RabbitMQ is not reachable at 127.0.0.1:{port}; "
        "conversations stay with agents."
    )
