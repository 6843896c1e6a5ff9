"""The composer: Enter sends, Shift+Enter adds a line, Ctrl+Enter sends; optional reply quote."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from omnidesk.ui.texts import PLAIN


class ComposerEdit(QPlainTextEdit):
    """Signals: submitted() when Enter or Ctrl+Enter is pressed (not Shift+Enter)."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            mods = event.modifiers()
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
                return
            if not mods & ~(
                Qt.KeyboardModifier.KeypadModifier | Qt.KeyboardModifier.ControlModifier
            ):
                self.submitted.emit()
                return
        super().keyPressEvent(event)


class Composer(QWidget):
    """Signals:
    send(str, object): text and the message id replied to (or None).
    edited(): the text or the quote changed (for saving the draft).
    """

    send = Signal(str, object)
    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self._reply_to: int | None = None
        self.quote = QFrame(self)
        self.quote.setObjectName("quoteBar")
        self.quote_author = QLabel(self.quote)
        self.quote_author.setTextFormat(PLAIN)
        self.quote_author.setObjectName("quoteAuthor")
        self.quote_text = QLabel(self.quote)
        self.quote_text.setTextFormat(PLAIN)
        self.quote_text.setObjectName("quoteText")
        self.quote_close = QToolButton(self.quote)
        self.quote_close.setText("×")
        self.quote_close.setToolTip(self.tr("Cancel the reply"))
        self.quote_close.setAutoRaise(True)
        self.quote_close.clicked.connect(self.clear_reply)
        q = QHBoxLayout(self.quote)
        q.setContentsMargins(10, 4, 4, 4)
        qv = QVBoxLayout()
        qv.setSpacing(0)
        qv.addWidget(self.quote_author)
        qv.addWidget(self.quote_text)
        q.addLayout(qv, 1)
        q.addWidget(self.quote_close, 0, Qt.AlignmentFlag.AlignTop)
        self.quote.hide()

        self.edit = ComposerEdit(self)
        self.edit.setObjectName("composerEdit")
        self.edit.setPlaceholderText(
            self.tr("Write a reply… (Enter sends, Shift+Enter for a new line)")
        )
        self.edit.setTabChangesFocus(True)
        self.edit.setFixedHeight(self.edit.fontMetrics().lineSpacing() * 3 + 16)
        self.edit.submitted.connect(self.submit)
        self.edit.textChanged.connect(self.edited)
        self.button = QPushButton(self.tr("Send"), self)
        self.button.setObjectName("sendButton")
        self.button.setDefault(False)
        self.button.setAutoDefault(False)
        self.button.clicked.connect(self.submit)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(6)
        layout.addWidget(self.quote)
        layout.addLayout(row)

    @property
    def reply_to(self) -> int | None:
        return self._reply_to

    def set_reply(self, message_id: int, author: str, text: str) -> None:
        self._reply_to = message_id
        self.quote_author.setText(self.tr("Replying to {author}").format(author=author))
        flat = " ".join(text.split())
        fm = QFontMetrics(self.quote_text.font())
        self.quote_text.setText(fm.elidedText(flat, Qt.TextElideMode.ElideRight, 520))
        self.quote.show()
        self.edit.setFocus()
        self.edited.emit()

    def clear_reply(self) -> None:
        if self._reply_to is not None:
            self._reply_to = None
            self.quote.hide()
            self.edited.emit()

    def set_draft(self, text: str, reply: tuple[int, str, str] | None) -> None:
        self.edit.blockSignals(True)
        self.edit.setPlainText(text)
        self.edit.blockSignals(False)
        cursor = self.edit.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.edit.setTextCursor(cursor)
        self._reply_to = None
        self.quote.hide()
        if reply is not None:
            self.blockSignals(True)
            self.set_reply(*reply)
            self.blockSignals(False)

    def text(self) -> str:
        return self.edit.toPlainText()

    def submit(self) -> None:
        text = self.edit.toPlainText().strip()
        if not text:
            return
        reply_to = self._reply_to
        self.blockSignals(True)
        self.edit.clear()
        self.clear_reply()
        self.blockSignals(False)
        self.send.emit(text, reply_to)
