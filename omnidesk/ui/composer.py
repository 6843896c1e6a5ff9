"""The composer: Enter sends, Shift+Enter adds a line, Ctrl+Enter sends; optional reply quote.

On a mail conversation it also offers "Reply all" and "Attach…" (files shown as removable
chips); what the agent chose travels with the text as :class:`MailOptions`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
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

ChooseFiles = Callable[[QWidget, Callable[[list[str]], None]], None]
"""Ask for files to attach; call back with the chosen paths (never if cancelled)."""


@dataclass(frozen=True)
class MailOptions:
    """What a mail reply carries besides its text."""

    reply_all: bool = False
    attachments: tuple[Path, ...] = ()


def choose_files(parent: QWidget, chosen: Callable[[list[str]], None]) -> None:
    """A non-modal file dialog (``open()``, no nested event loop)."""
    dialog = QFileDialog(parent, QObject.tr(parent, "Attach files"))
    dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
    dialog.filesSelected.connect(chosen)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()


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


class AttachmentChip(QFrame):
    """One attached file: its name and a × that removes it. Signals: removed(object) (Path)."""

    removed = Signal(object)

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentChip")
        self.path = path
        name = QLabel(path.name, self)
        name.setTextFormat(PLAIN)
        name.setToolTip(str(path))
        close = QToolButton(self)
        close.setObjectName("removeAttachment")
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip(self.tr("Remove this attachment"))
        close.clicked.connect(lambda: self.removed.emit(self.path))
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 1, 1, 1)
        row.setSpacing(2)
        row.addWidget(name)
        row.addWidget(close)


class Composer(QWidget):
    """Signals:
    send(str, object, object): text, the message id replied to (or None), and
        :class:`MailOptions` on a mail conversation (else None).
    edited(): the text or the quote changed (for saving the draft).
    """

    send = Signal(str, object, object)
    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self._reply_to: int | None = None
        self._mail = False
        self._attachments: list[Path] = []
        self.choose_files: ChooseFiles = choose_files
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
        layout.addWidget(self._build_mail_bar())
        layout.addLayout(row)

    def _build_mail_bar(self) -> QWidget:
        self.mail_bar = QFrame(self)
        self.mail_bar.setObjectName("mailBar")
        self.reply_all_box = QCheckBox(self.tr("Reply all"), self.mail_bar)
        self.reply_all_box.setObjectName("replyAll")
        self.reply_all_box.setToolTip(self.tr("Also send the answer to everyone in To and Cc"))
        self.attach_button = QPushButton(self.tr("Attach…"), self.mail_bar)
        self.attach_button.setObjectName("attachButton")
        self.attach_button.setAutoDefault(False)
        self.attach_button.clicked.connect(lambda: self.choose_files(self, self.add_attachments))
        self.chips = QHBoxLayout()
        self.chips.setContentsMargins(0, 0, 0, 0)
        self.chips.setSpacing(4)
        bar = QHBoxLayout(self.mail_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.reply_all_box)
        bar.addWidget(self.attach_button)
        bar.addLayout(self.chips)
        bar.addStretch(1)
        self.mail_bar.hide()
        return self.mail_bar

    # -- mail ------------------------------------------------------------------------------

    @property
    def mail_mode(self) -> bool:
        return self._mail

    @property
    def attachments(self) -> tuple[Path, ...]:
        return tuple(self._attachments)

    def set_mail_mode(self, on: bool) -> None:
        """Show Reply all and Attach (a mail conversation) or hide them; options start empty."""
        self._mail = on
        self.mail_bar.setVisible(on)
        self._reset_mail_options()

    def add_attachments(self, paths: list[str]) -> None:
        for raw in paths:
            path = Path(raw)
            if path in self._attachments:
                continue
            self._attachments.append(path)
            chip = AttachmentChip(path, self.mail_bar)
            chip.removed.connect(self.remove_attachment)
            self.chips.addWidget(chip)

    def remove_attachment(self, path: object) -> None:
        if not isinstance(path, Path):
            return
        if path in self._attachments:
            self._attachments.remove(path)
        for i in reversed(range(self.chips.count())):
            item = self.chips.itemAt(i)
            chip = item.widget() if item is not None else None
            if isinstance(chip, AttachmentChip) and chip.path == path:
                self.chips.takeAt(i)
                chip.deleteLater()

    def _reset_mail_options(self) -> None:
        self.reply_all_box.setChecked(False)
        for path in list(self._attachments):
            self.remove_attachment(path)

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
        if not text and not (self._mail and self._attachments):
            return
        reply_to = self._reply_to
        options = (
            MailOptions(self.reply_all_box.isChecked(), tuple(self._attachments))
            if self._mail
            else None
        )
        self.blockSignals(True)
        self.edit.clear()
        self.clear_reply()
        if self._mail:
            self._reset_mail_options()
        self.blockSignals(False)
        self.send.emit(text, reply_to, options)
