"""Small always-visible widgets: the connection badge, the catch-up progress, the notice bar."""

from __future__ import annotations

from PySide6.QtCore import QLocale, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from omnidesk.domain import ConnectionState
from omnidesk.ui import texts
from omnidesk.ui.texts import PLAIN

_COLORS = {
    ConnectionState.LIVE: "#16A34A",
    ConnectionState.CONNECTING: "#D97706",
    ConnectionState.RECONNECTING: "#D97706",
    ConnectionState.OFFLINE: "#6B7280",
    ConnectionState.NEEDS_TOKEN: "#DC2626",
}


class _Dot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.color = QColor("#6B7280")
        self.setFixedSize(12, 12)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.color)
        p.drawEllipse(QRectF(1, 1, 10, 10))


class ConnectionBadge(QWidget):
    """A coloured dot and the relay connection state in words."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionBadge")
        self.dot = _Dot(self)
        self.label = QLabel(self)
        self.label.setTextFormat(PLAIN)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 0, 6, 0)
        row.setSpacing(6)
        row.addWidget(self.dot)
        row.addWidget(self.label)
        self.state = ConnectionState.OFFLINE
        self.set_state(ConnectionState.OFFLINE)

    def set_state(self, state: ConnectionState) -> None:
        self.state = state
        self.dot.color = QColor(_COLORS[state])
        self.dot.update()
        self.label.setText(self.tr("Relay: {state}").format(state=texts.connection_label(state)))


class NoticeBar(QFrame):
    """A dismissable line at the top of the window for errors and warnings (never modal)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.label = QLabel(self)
        self.label.setObjectName("noticeText")
        self.label.setTextFormat(PLAIN)
        self.label.setWordWrap(True)
        close = QToolButton(self)
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip(self.tr("Dismiss"))
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 6, 6)
        row.addWidget(self.label, 1)
        row.addWidget(close)
        self.hide()

    def show_notice(self, text: str) -> None:
        self.label.setText(text)
        self.show()


class CatchUpIndicator(QWidget):
    """How far the catch-up with the relay has come, in the status bar.

    The first start replays the relay's whole event log; without this the window would look
    frozen while the list fills. Hidden whenever no catch-up runs.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("catchUpIndicator")
        self.label = QLabel(self)
        self.label.setTextFormat(PLAIN)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(120)
        self.bar.setMaximumHeight(10)
        self.bar.setTextVisible(False)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 0, 6, 0)
        row.setSpacing(6)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        self.hide()

    def set_progress(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` events; a total of 0 means the catch-up ended."""
        if total <= 0:
            self.hide()
            return
        done = min(max(done, 0), total)
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        locale = QLocale()
        self.label.setText(
            self.tr("Catching up with the relay… {done} of {total} events").format(
                done=locale.toString(done), total=locale.toString(total)
            )
        )
        self.show()
