"""The main window's mail half: what changes when the open conversation is an email thread.

:class:`MailPanel` keeps the mail wiring out of ``main_window``: it switches the composer to
mail mode (Reply all, Attach), shows the selected mail in the reader, marks the thread read
through the mail service, lists the contact's other threads in the details pane, sends
replies and status changes to the mail service instead of the relay, and owns the "Mail
accounts…" action, the accounts dialog and the status line that warns about accounts with a
problem. The mail service may come and go (none until the agent adds an account): every
call checks for it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QToolButton, QWidget

from omnidesk.changes import Changes
from omnidesk.domain import (
    Conversation,
    ConversationStatus,
    MailAccountState,
    MailAccountStatus,
    Message,
    is_mail_conversation,
)
from omnidesk.mail.types import MailAccount
from omnidesk.settings import TokenStorage
from omnidesk.ui.composer import MailOptions
from omnidesk.ui.conversation_panes import plain_label
from omnidesk.ui.mail_api import MailApi
from omnidesk.ui.mail_texts import PROBLEM_STATES, account_state, describe_mail_error

if TYPE_CHECKING:
    from omnidesk.ui.mail_accounts_dialog import CheckAccount, MailAccountsDialog, SavedPassword
    from omnidesk.ui.main_window import MainWindow

log = logging.getLogger(__name__)


class MailStatusLine(QWidget):
    """Status-bar line about mail accounts that need the agent, or a first sync's progress.

    Signals: openAccounts(): the agent wants the accounts dialog.
    """

    openAccounts = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mailStatusLine")
        self.label = plain_label(self, "mailStatusText")
        self.button = QToolButton(self)
        self.button.setObjectName("mailStatusButton")
        self.button.setText(self.tr("Mail accounts…"))
        self.button.clicked.connect(self.openAccounts)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 0, 6, 0)
        row.addWidget(self.label)
        row.addWidget(self.button)
        self.hide()

    def show_statuses(self, statuses: list[MailAccountStatus]) -> None:
        problems = [s for s in statuses if s.state in PROBLEM_STATES]
        syncing = [s for s in statuses if s.state is MailAccountState.SYNCING and s.progress]
        if problems:
            first = problems[0]
            text = f"⚠ {first.address}: {account_state(first)}"
            if len(problems) > 1:
                text += " " + self.tr("(and {count} more)").format(count=len(problems) - 1)
            self.label.setText(text)
            self.button.show()
            self.show()
        elif syncing:
            self.label.setText(f"{syncing[0].address}: {account_state(syncing[0])}")
            self.button.hide()
            self.show()
        else:
            self.hide()


class MailPanel(QObject):
    """Signals:
    accountsSaved(object, object): the window's new ``Settings`` (with the accounts) and the
        passwords typed (``{account id: password}``); the composition root stores both.
    """

    accountsSaved = Signal(object, object)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._service: MailApi | None = None
        self._check_without_service: CheckAccount | None = None
        self._saved_password: SavedPassword = lambda _account_id: None
        self._storage = TokenStorage.KEYRING
        self._statuses: dict[str, MailAccountStatus] = {}
        self._current: Conversation | None = None
        self._reading: int | None = None
        """The mail the agent chose in the thread, kept across the thread model's resets."""
        self.dialog: MailAccountsDialog | None = None

        self.accounts_action = QAction(self.tr("&Mail accounts…"), window)
        self.accounts_action.setObjectName("mailAccountsAction")
        self.accounts_action.triggered.connect(self.open_accounts)
        self.status_line = MailStatusLine(window)
        self.status_line.openAccounts.connect(self.open_accounts)
        window.statusBar().addWidget(self.status_line)

        window.details.conversationChosen.connect(window.open_conversation)
        window.thread_view.selectionModel().currentChanged.connect(self._thread_current_changed)
        window.thread_model.loaded.connect(self._thread_loaded)
        window.hub.changed.connect(self.on_changes)
        window.reader.hide()

    # -- set up by the composition root ---------------------------------------------------------

    @property
    def service(self) -> MailApi | None:
        return self._service

    def set_service(self, service: MailApi | None) -> None:
        """The mail service, or None while no account is set up."""
        self._service = service
        self._window.reader.set_service(service)
        if self._current is not None and is_mail_conversation(self._current.id):
            self._open(self._current)

    def set_passwords(
        self,
        saved_password: SavedPassword,
        storage: TokenStorage,
        check_without_service: CheckAccount | None = None,
    ) -> None:
        """Where saved passwords are read (for Check) and said to be kept."""
        self._saved_password = saved_password
        self._storage = storage
        self._check_without_service = check_without_service

    def account_status(self, status: MailAccountStatus) -> None:
        """A status from the mail service (its ``on_status`` callback)."""
        self._statuses[status.account_id] = status
        known = {a.id for a in self._window.settings.mail_accounts}
        self.status_line.show_statuses([s for k, s in self._statuses.items() if k in known])
        if self.dialog is not None:
            self.dialog.set_status(status)

    @property
    def statuses(self) -> dict[str, MailAccountStatus]:
        return dict(self._statuses)

    # -- the open conversation ------------------------------------------------------------------

    def conversation_shown(self, conversation: Conversation | None) -> None:
        """The window opened (or closed, None) a conversation."""
        previous, self._current = self._current, conversation
        mail = conversation is not None and is_mail_conversation(conversation.id)
        w = self._window
        if previous is None or conversation is None or previous.id != conversation.id:
            self._reading = None
            w.composer.set_mail_mode(mail)
            w.reader.clear()
            w.details.set_other_conversations([])
        w.reader.setVisible(mail)
        if mail and conversation is not None:
            self._open(conversation)

    def _open(self, conversation: Conversation) -> None:
        service = self._service
        if service is None:
            return
        self._run(service.open_conversation(conversation.id))
        self._load_others(conversation)

    def _load_others(self, conversation: Conversation) -> None:
        service = self._service
        if service is None:
            return

        def done(found: list[Conversation]) -> None:
            current = self._current
            if current is not None and current.id == conversation.id:
                others = [c for c in found if c.id != conversation.id]
                self._window.details.set_other_conversations(others)

        self._run(service.contact_conversations(conversation.contact.id), on_done=done)

    def on_changes(self, changes: Changes) -> None:
        current = self._current
        if current is None or not is_mail_conversation(current.id):
            return
        if any(is_mail_conversation(c) for c in changes.conversations):
            self._load_others(current)

    def _thread_loaded(self) -> None:
        """On a mail thread with nothing selected (just opened, or the model was reset),
        select the mail the agent was reading, else the newest one."""
        w = self._window
        if self._current is None or not is_mail_conversation(self._current.id):
            return
        if w.thread_view.currentIndex().isValid():
            return
        model = w.thread_model
        row = model.row_of_message(self._reading) if self._reading is not None else None
        if row is None:
            rows = (r for r in reversed(range(model.rowCount())))
            row = next((r for r in rows if isinstance(model.item_at(r), Message)), None)
        if row is not None:
            w.thread_view.setCurrentIndex(model.index(row))

    def _thread_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._current is None or not is_mail_conversation(self._current.id):
            return
        item = self._window.thread_model.item_at(current.row()) if current.isValid() else None
        if isinstance(item, Message) and is_mail_conversation(item.conversation_id):
            self._reading = item.id
            self._window.reader.show_message(item.id)

    # -- actions --------------------------------------------------------------------------------

    def send_reply(
        self, conversation_id: int, text: str, reply_to: int | None, options: MailOptions | None
    ) -> None:
        service = self._service
        if service is None:
            self._window.hub.notice.emit(self._no_account())
            return
        options = options or MailOptions()
        self._run(
            service.send_reply(
                conversation_id,
                text,
                reply_to,
                reply_all=options.reply_all,
                attachments=options.attachments,
            )
        )

    def cancel_reply(self, client_id: str) -> None:
        service = self._service
        if service is None:
            self._window.hub.notice.emit(self._no_account())
            return
        self._run(service.cancel_reply(client_id))

    def set_status(self, conversation_id: int, status: ConversationStatus) -> None:
        service = self._service
        if service is None:
            self._window.hub.notice.emit(self._no_account())
            return
        self._run(service.set_status(conversation_id, status))

    def _no_account(self) -> str:
        return self.tr("This email's account is not set up here: add it in Mail accounts.")

    def _run(self, coro: Coroutine[Any, Any, Any], **kw: Any) -> None:
        self._window.ops.run(coro, owner=self, on_error=self._mail_error, **kw)

    def _mail_error(self, exc: BaseException) -> bool:
        text = describe_mail_error(exc)
        if text is None:
            return False  # the op runner logs it and says so
        log.info("mail operation failed: %s", exc)
        self._window.hub.notice.emit(text)
        return True

    # -- accounts dialog ------------------------------------------------------------------------

    def open_accounts(self) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        from omnidesk.ui.mail_accounts_dialog import MailAccountsDialog  # not needed at start

        dialog = MailAccountsDialog(
            self._window.settings.mail_accounts,
            self._statuses,
            self._window.ops,
            check=self._check,
            saved_password=self._saved_password,
            storage=self._storage,
            parent=self._window,
        )
        dialog.saved.connect(self._accounts_saved)
        dialog.finished.connect(self._dialog_finished)
        self.dialog = dialog
        dialog.open()

    async def _check(self, account: MailAccount, password: str) -> str | None:
        """Through the running service, else the composition root's stand-alone check."""
        if self._service is not None:
            return await self._service.check_account(account, password)
        if self._check_without_service is not None:
            return await self._check_without_service(account, password)
        return self.tr("The account cannot be checked before the mail service has started.")

    def _dialog_finished(self, _result: int) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None

    def _accounts_saved(self, accounts: object, passwords: object) -> None:
        if not isinstance(accounts, tuple) or not isinstance(passwords, dict):
            return
        w = self._window
        w.settings = dataclasses.replace(w.settings, mail_accounts=accounts)
        for account_id in [k for k in self._statuses if k not in {a.id for a in accounts}]:
            del self._statuses[account_id]
        self.status_line.show_statuses(list(self._statuses.values()))
        self.accountsSaved.emit(w.settings, passwords)
