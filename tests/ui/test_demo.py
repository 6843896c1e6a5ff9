"""`omnidesk demo`, the README's run command: the console fills with the simulator's customers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
