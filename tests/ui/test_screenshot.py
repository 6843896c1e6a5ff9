"""Renders the main window with a populated cache to test-artifacts/main_window.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from tests.ui.conftest import UI

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_main_window_screenshot(ui: UI, qtbot: Any) -> None:
    w = ui.window
    row = w.list_model.row_of(2)
    assert row is not None
    with qtbot.waitSignal(w.conversationOpened, timeout=3000):
        w.list.setCurrentIndex(w.list_model.index(row))
    qtbot.waitUntil(lambda: w.ops.pending == 0)
    w.composer.edit.setPlainText("Vou acompanhar a entrega e te aviso assim que sair.")
    w._reply_to_index(w.thread_model.index(0))
    w.connection.set_state(__import__("omnidesk.domain").domain.ConnectionState.LIVE)
    w.resize(1360, 820)
    qtbot.wait(50)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "main_window.png"
    image = w.grab().toImage()
    assert image.save(str(path))
    assert path.stat().st_size > 20_000
    # the thread is not blank: the bubbles paint something besides the background
    thread = w.thread_view.viewport().grab().toImage()
    background = thread.pixelColor(2, 2)
    colours = {
        thread.pixelColor(x, y).rgb()
        for x in range(0, thread.width(), 7)
        for y in range(0, thread.height(), 7)
    }
    assert len(colours) > 20 and background.isValid()
    qtbot.waitUntil(lambda: w.ops.pending == 0)
    assert Qt.TextFormat.PlainText == w.header.name.textFormat()
