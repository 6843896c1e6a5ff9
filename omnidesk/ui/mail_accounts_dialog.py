"""The mail accounts dialog: the accounts with their live status; add, edit, check, remove.

Every change is applied at once through ``saved`` (accounts without passwords, and the
passwords the agent typed, by account id): the composition root stores the passwords in the
keyring, writes the settings and restarts what changed. "Check" logs in to IMAP and SMTP once
through the op runner and says in plain words what is wrong. Open it with ``open()``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from omnidesk.domain import MailAccountState, MailAccountStatus
from omnidesk.mail.types import MailAccount, Security
from omnidesk.settings import MailAccountSettings, TokenStorage, new_account_id
from omnidesk.ui.conversation_panes import plain_label
from omnidesk.ui.mail_texts import account_state, describe_mail_error, problem_text
from omnidesk.ui.ops import OpRunner

CheckAccount = Callable[[MailAccount, str], Coroutine[Any, Any, str | None]]
SavedPassword = Callable[[str], str | None]

IMAP_PORTS: dict[str, int] = {"tls": 993, "starttls": 143, "none": 143}
SMTP_PORTS: dict[str, int] = {"tls": 465, "starttls": 587, "none": 25}


def password_sentence(storage: TokenStorage) -> str:
    """Where mail passwords are kept, in the agent's language."""
    return {
        TokenStorage.KEYRING: QCoreApplication.translate(
            "MailAccountsDialog",
            "Passwords are kept in the system keyring, never in the settings file.",
        ),
        TokenStorage.ENCRYPTED_FILE: QCoreApplication.translate(
            "MailAccountsDialog",
            "No system keyring: passwords are kept in an encrypted file, unlocked with your "
            "master password.",
        ),
        TokenStorage.SESSION: QCoreApplication.translate(
            "MailAccountsDialog",
            "No system keyring: passwords are kept only until you quit and asked again at the "
            "next start. They are never written to a plain file.",
        ),
    }[storage]


class AccountForm(QWidget):
    """The fields of one account. Nothing is checked until :meth:`problems` is called."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._id = ""
        self.address = self._line("address", "support@yourcompany.com")
        self.display_name = self._line("displayName", self.tr("Acme Support"))
        self.login = self._line("login", self.tr("the same as the address"))
        self.password = self._line("password", "")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.imap_host = self._line("imapHost", "imap.yourcompany.com")
        self.imap_port = self._port("imapPort", 993)
        self.imap_security = self._security("imapSecurity", self.imap_port, IMAP_PORTS)
        self.smtp_host = self._line("smtpHost", "smtp.yourcompany.com")
        self.smtp_port = self._port("smtpPort", 465)
        self.smtp_security = self._security("smtpSecurity", self.smtp_port, SMTP_PORTS)
        self.folders = self._line("folders", "INBOX")
        self.folders.setToolTip(self.tr("Separate several folders with commas."))
        self.sent_folder = self._line("sentFolder", "Sent")
        self.ca_file = self._line("caFile", self.tr("optional: a PEM file"))
        self.ca_file.setToolTip(
            self.tr("Trust this certificate too (a company CA or a self-signed server).")
        )
        self.signature = QPlainTextEdit(self)
        self.signature.setObjectName("signature")
        self.signature.setPlaceholderText(self.tr("<p>Acme Support<br>+55 11 5555-0000</p>"))
        self.signature.setToolTip(
            self.tr(
                'A logo on this computer, as <img src="file:///home/me/logo.png">, '
                "is sent inside each reply."
            )
        )
        self.signature.setFixedHeight(70)
        imap_row, smtp_row = QHBoxLayout(), QHBoxLayout()
        for row, host, port, security in (
            (imap_row, self.imap_host, self.imap_port, self.imap_security),
            (smtp_row, self.smtp_host, self.smtp_port, self.smtp_security),
        ):
            row.addWidget(host, 1)
            row.addWidget(port)
            row.addWidget(security)
        security_note = plain_label(self, "securityNote")
        security_note.setWordWrap(True)
        security_note.setText(
            self.tr(
                "Security “None” sends the password unencrypted, so it is allowed only for a "
                "server on this computer (localhost, 127.0.0.1)."
            )
        )
        form = QFormLayout(self)
        form.addRow(self.tr("Email address"), self.address)
        form.addRow(self.tr("Your name in replies"), self.display_name)
        form.addRow(self.tr("User name"), self.login)
        form.addRow(self.tr("Password"), self.password)
        form.addRow(self.tr("Incoming (IMAP)"), imap_row)
        form.addRow(self.tr("Outgoing (SMTP)"), smtp_row)
        form.addRow("", security_note)
        form.addRow(self.tr("Folders to watch"), self.folders)
        form.addRow(self.tr("Sent folder"), self.sent_folder)
        form.addRow(self.tr("Extra certificate"), self.ca_file)
        form.addRow(self.tr("Signature (HTML)"), self.signature)

    def _line(self, name: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit(self)
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        return edit

    def _port(self, name: str, value: int) -> QSpinBox:
        spin = QSpinBox(self)
        spin.setObjectName(name)
        spin.setRange(1, 65535)
        spin.setValue(value)
        return spin

    def _security(self, name: str, port: QSpinBox, defaults: dict[str, int]) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(name)
        combo.addItem(self.tr("TLS"), "tls")
        combo.addItem(self.tr("STARTTLS"), "starttls")
        combo.addItem(self.tr("None (this computer only)"), "none")
        previous = ["tls"]

        def changed(_row: int) -> None:
            new = str(combo.currentData())
            if port.value() == defaults[previous[0]]:  # still the usual port: follow along
                port.setValue(defaults[new])
            previous[0] = new

        combo.currentIndexChanged.connect(changed)
        return combo

    @staticmethod
    def _set_security(combo: QComboBox, value: str) -> None:
        combo.blockSignals(True)
        combo.setCurrentIndex(max(0, combo.findData(value)))
        combo.blockSignals(False)

    def load(self, account: MailAccountSettings | None, *, has_password: bool) -> None:
        a = account or MailAccountSettings(id=new_account_id(), address="")
        self._id = a.id
        self.address.setText(a.address)
        self.display_name.setText(a.display_name)
        self.login.setText(a.login)
        self.password.clear()
        self.password.setPlaceholderText(
            self.tr("leave empty to keep the saved password") if has_password else ""
        )
        self.imap_host.setText(a.imap_host)
        self._set_security(self.imap_security, a.imap_security)
        self.imap_port.setValue(a.imap_port)
        self.smtp_host.setText(a.smtp_host)
        self._set_security(self.smtp_security, a.smtp_security)
        self.smtp_port.setValue(a.smtp_port)
        self.folders.setText(", ".join(a.folders))
        self.sent_folder.setText(a.sent_folder)
        self.ca_file.setText(a.tls_ca_file)
        self.signature.setPlainText(a.signature_html)
        self.address.setFocus()

    def value(self) -> MailAccountSettings:
        folders = tuple(f.strip() for f in self.folders.text().split(",") if f.strip())
        return MailAccountSettings(
            id=self._id,
            address=self.address.text().strip(),
            display_name=self.display_name.text().strip(),
            login=self.login.text().strip(),
            imap_host=self.imap_host.text().strip(),
            imap_port=self.imap_port.value(),
            imap_security=_security(self.imap_security),
            smtp_host=self.smtp_host.text().strip(),
            smtp_port=self.smtp_port.value(),
            smtp_security=_security(self.smtp_security),
            folders=folders,
            sent_folder=self.sent_folder.text().strip(),
            signature_html=self.signature.toPlainText().strip(),
            tls_ca_file=self.ca_file.text().strip(),
        )

    def problems(self, others: tuple[MailAccountSettings, ...], *, has_password: bool) -> list[str]:
        """Everything that keeps the account from working, one sentence each."""
        account = self.value()
        out = []
        for problem in account.problems(others):
            host = account.smtp_host if "smtp" in problem.value else account.imap_host
            out.append(problem_text(problem, address=account.address, host=host))
        if not self.password.text() and not has_password:
            out.append(self.tr("Enter the password of this mailbox."))
        return out


def _security(combo: QComboBox) -> Security:
    value = str(combo.currentData())
    return "starttls" if value == "starttls" else "none" if value == "none" else "tls"


class MailAccountsDialog(QDialog):
    """Signals: saved(object, object): every account (a tuple of ``MailAccountSettings``) and
    the passwords typed in this edit (``{account id: password}``), after each add/edit/remove.
    """

    saved = Signal(object, object)

    def __init__(
        self,
        accounts: tuple[MailAccountSettings, ...],
        statuses: dict[str, MailAccountStatus],
        ops: OpRunner,
        *,
        check: CheckAccount | None,
        saved_password: SavedPassword,
        storage: TokenStorage = TokenStorage.KEYRING,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mailAccountsDialog")
        self.setWindowTitle(self.tr("Mail accounts"))
        self._accounts = tuple(accounts)
        self._statuses = dict(statuses)
        self._ops = ops
        self._check = check
        self._saved_password = saved_password
        self._editing: str | None = None
        """Id of the account in the form, or None for a new one."""
        self._check_generation = 0
        self.confirm: QMessageBox | None = None

        self.pages = QStackedWidget(self)
        self.pages.addWidget(self._build_list_page(storage))
        self.pages.addWidget(self._build_form_page())
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self._fill_list()
        self.resize(620, 560)

    # -- list page -----------------------------------------------------------------------------

    def _build_list_page(self, storage: TokenStorage) -> QWidget:
        page = QWidget(self)
        self.list = QListWidget(page)
        self.list.setObjectName("mailAccountList")
        self.list.setWordWrap(True)
        self.list.setSpacing(4)
        self.list.currentRowChanged.connect(self._update_buttons)
        self.list.itemDoubleClicked.connect(lambda _item: self.edit_selected())
        note = plain_label(page, "passwordNote")
        note.setWordWrap(True)
        note.setText(password_sentence(storage))
        self.add_button = QPushButton(self.tr("Add…"), page)
        self.add_button.setObjectName("addAccount")
        self.add_button.clicked.connect(self.add_account)
        self.edit_button = QPushButton(self.tr("Edit…"), page)
        self.edit_button.setObjectName("editAccount")
        self.edit_button.clicked.connect(self.edit_selected)
        self.remove_button = QPushButton(self.tr("Remove"), page)
        self.remove_button.setObjectName("removeAccount")
        self.remove_button.clicked.connect(self.remove_selected)
        close = QPushButton(self.tr("Close"), page)
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        for b in (self.add_button, self.edit_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.list, 1)
        v.addWidget(note)
        v.addLayout(buttons)
        return page

    def _fill_list(self) -> None:
        row = self.list.currentRow()
        self.list.clear()
        if not self._accounts:
            item = QListWidgetItem(self.tr("No mail account yet. Add one to answer email here."))
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(item)
        for account in self._accounts:
            self.list.addItem(QListWidgetItem(self._item_text(account)))
        if self._accounts:
            self.list.setCurrentRow(min(max(row, 0), len(self._accounts) - 1))
        self._update_buttons()

    def _item_text(self, account: MailAccountSettings) -> str:
        status = self._statuses.get(account.id)
        state = account_state(status) if status is not None else self.tr("Not started")
        return f"{account.address}\n{state}"

    def _selected(self) -> MailAccountSettings | None:
        row = self.list.currentRow()
        return self._accounts[row] if self._accounts and 0 <= row < len(self._accounts) else None

    def _update_buttons(self) -> None:
        chosen = self._selected() is not None
        self.edit_button.setEnabled(chosen)
        self.remove_button.setEnabled(chosen)

    def set_status(self, status: MailAccountStatus) -> None:
        """A live status from the mail service; the list follows it."""
        self._statuses[status.account_id] = status
        for row, account in enumerate(self._accounts):
            if account.id == status.account_id:
                item = self.list.item(row)
                if item is not None:
                    item.setText(self._item_text(account))
                    problem = status.state in (
                        MailAccountState.AUTH_FAILED,
                        MailAccountState.RETRYING,
                    )
                    item.setToolTip(status.detail if problem else "")

    def status_text(self, account_id: str) -> str:
        for row, account in enumerate(self._accounts):
            item = self.list.item(row)
            if account.id == account_id and item is not None:
                return item.text()
        return ""

    # -- form page -----------------------------------------------------------------------------

    def _build_form_page(self) -> QWidget:
        page = QWidget(self)
        self.form = AccountForm(page)
        self.form_problems = plain_label(page, "formProblems")
        self.form_problems.setWordWrap(True)
        self.form_problems.setStyleSheet("color: #DC2626;")
        self.form_problems.hide()
        self.check_result = plain_label(page, "checkResult")
        self.check_result.setWordWrap(True)
        self.check_button = QPushButton(self.tr("Check"), page)
        self.check_button.setObjectName("checkAccount")
        self.check_button.setToolTip(self.tr("Log in to the IMAP and SMTP servers once"))
        self.check_button.clicked.connect(self.check_form)
        save = QPushButton(self.tr("Save"), page)
        save.setObjectName("saveAccount")
        save.setDefault(True)
        save.clicked.connect(self.save_form)
        cancel = QPushButton(self.tr("Cancel"), page)
        cancel.clicked.connect(self._back_to_list)
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_button)
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(save)
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.form)
        v.addStretch(1)
        v.addWidget(self.form_problems)
        v.addWidget(self.check_result)
        v.addLayout(buttons)
        return page

    def _has_password(self, account_id: str | None) -> bool:
        return account_id is not None and bool(self._saved_password(account_id))

    def add_account(self) -> None:
        self._open_form(None)

    def edit_selected(self) -> None:
        account = self._selected()
        if account is not None:
            self._open_form(account)

    def _open_form(self, account: MailAccountSettings | None) -> None:
        self._editing = account.id if account is not None else None
        self.form.load(account, has_password=self._has_password(self._editing))
        self.form_problems.hide()
        self.check_result.clear()
        self.check_button.setEnabled(self._check is not None)
        self._check_generation += 1
        self.pages.setCurrentIndex(1)

    def _back_to_list(self) -> None:
        self._check_generation += 1
        self.check_button.setEnabled(self._check is not None)
        self.pages.setCurrentIndex(0)

    def _problems(self) -> list[str]:
        others = tuple(a for a in self._accounts if a.id != self._editing)
        problems = self.form.problems(others, has_password=self._has_password(self._editing))
        self.form_problems.setText("\n".join(f"• {p}" for p in problems))
        self.form_problems.setVisible(bool(problems))
        return problems

    def save_form(self) -> None:
        if self._problems():
            return
        account = self.form.value()
        if self._editing is None:
            accounts = (*self._accounts, account)
        else:
            accounts = tuple(account if a.id == self._editing else a for a in self._accounts)
        password = self.form.password.text()
        self._accounts = accounts
        self._fill_list()
        self.list.setCurrentRow(next(i for i, a in enumerate(accounts) if a.id == account.id))
        self._back_to_list()
        self.saved.emit(accounts, {account.id: password} if password else {})

    def check_form(self) -> None:
        check = self._check
        if check is None or self._problems():
            return
        account = self.form.value()
        password = self.form.password.text() or self._saved_password(account.id) or ""
        self._check_generation += 1
        generation = self._check_generation
        self.check_button.setEnabled(False)
        self.check_result.setText(self.tr("Checking… (logging in to IMAP and SMTP)"))

        def show(problem: str | None) -> None:
            if generation != self._check_generation:
                return
            self.check_button.setEnabled(True)
            self.check_result.setText(
                self.tr("Both servers accepted the login. This account is ready.")
                if problem is None
                else problem
            )

        def failed(exc: BaseException) -> bool:
            show(describe_mail_error(exc) or self.tr("The check failed: {error}").format(error=exc))
            return True

        self._ops.run(check(account.to_account(), password), on_done=show, on_error=failed)

    # -- removing ------------------------------------------------------------------------------

    def remove_selected(self) -> None:
        account = self._selected()
        if account is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            self.tr("Remove mail account"),
            self.tr(
                "Stop syncing {address} and forget its password? Its conversations stay in "
                "the list; nothing is deleted on the server."
            ).format(address=account.address),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)

        def finished(result: int) -> None:
            self.confirm = None
            if result == QMessageBox.StandardButton.Yes:
                self._remove(account.id)

        box.finished.connect(finished)
        box.finished.connect(box.deleteLater)
        self.confirm = box
        box.open()

    def _remove(self, account_id: str) -> None:
        self._accounts = tuple(a for a in self._accounts if a.id != account_id)
        self._statuses.pop(account_id, None)
        self._fill_list()
        self.saved.emit(self._accounts, {})

    @property
    def accounts(self) -> tuple[MailAccountSettings, ...]:
        return self._accounts
