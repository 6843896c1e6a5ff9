"""The settings dialog: relay URL, agent token (kept by ``SecretStore``), language, and the
way to the mail accounts dialog.

Open it with ``open()`` (never ``exec()`` inside a coroutine); it emits ``saved``. It never
edits the mail accounts itself (their dialog applies its changes at once).
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from omnidesk.settings import Settings, TokenStorage
from omnidesk.ui.texts import PLAIN

LANGUAGES = [("", "System"), ("en", "English"), ("pt_BR", "Português (Brasil)")]


def storage_sentence(storage: TokenStorage) -> str:
    """Where the agent token is kept, in the agent's language."""

    return {
        TokenStorage.KEYRING: QCoreApplication.translate(
            "SettingsDialog", "The token is kept in the system keyring."
        ),
        TokenStorage.ENCRYPTED_FILE: QCoreApplication.translate(
            "SettingsDialog",
            "No system keyring: the token is kept in an encrypted file, "
            "unlocked with your master password.",
        ),
        TokenStorage.SESSION: QCoreApplication.translate(
            "SettingsDialog",
            "No system keyring: the token is kept only until you quit, "
            "and asked again at the next start. It is never written to a plain file.",
        ),
    }[storage]


class SettingsDialog(QDialog):
    """Signals:
    saved(Settings, object): the new settings and the new token (or None).
    mailAccountsRequested(): the agent wants the mail accounts dialog.
    """

    saved = Signal(object, object)
    mailAccountsRequested = Signal()

    def __init__(
        self,
        settings: Settings,
        storage: TokenStorage,
        problem: str | None,
        *,
        reason: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle(self.tr("Settings"))
        self._settings = settings
        self.url = QLineEdit(settings.relay_url, self)
        self.url.setObjectName("relayUrl")
        self.token = QLineEdit(self)
        self.token.setObjectName("token")
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(self.tr("Leave empty to keep the current token"))
        self.language = QComboBox(self)
        for code, name in LANGUAGES:
            self.language.addItem(self.tr("System language") if not code else name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(settings.language)))
        where = storage_sentence(storage)
        note = QLabel(((problem + " ") if problem else "") + where, self)
        note.setTextFormat(PLAIN)
        note.setWordWrap(True)
        note.setObjectName("tokenNote")
        form = QFormLayout()
        form.addRow(self.tr("Relay URL"), self.url)
        form.addRow(self.tr("Agent token"), self.token)
        form.addRow("", note)
        form.addRow(self.tr("Language"), self.language)
        lang_note = QLabel(self.tr("A new language applies at the next start."), self)
        lang_note.setTextFormat(PLAIN)
        form.addRow("", lang_note)
        self.mail_button = QPushButton(self.tr("Mail accounts…"), self)
        self.mail_button.setObjectName("mailAccountsButton")
        self.mail_button.setAutoDefault(False)
        self.mail_button.clicked.connect(self.mailAccountsRequested)
        mail_note = QLabel(
            self.tr(
                "Mail accounts set up: {count}. The console reads and answers their email "
                "itself, with or without the relay."
            ).format(count=len(settings.mail_accounts)),
            self,
        )
        mail_note.setTextFormat(PLAIN)
        mail_note.setWordWrap(True)
        form.addRow(self.tr("Email"), self.mail_button)
        form.addRow("", mail_note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if reason:
            why = QLabel(reason, self)
            why.setTextFormat(PLAIN)
            why.setWordWrap(True)
            why.setObjectName("settingsReason")
            layout.addWidget(why)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(480, self.sizeHint().height())

    def accept(self) -> None:
        new = dataclasses.replace(
            self._settings,
            relay_url=self.url.text().strip() or self._settings.relay_url,
            language=str(self.language.currentData()),
        )
        token = self.token.text().strip() or None
        self.saved.emit(new, token)
        super().accept()
