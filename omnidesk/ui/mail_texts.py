"""Words for the mail parts of the UI: account states, form problems, mail errors, sizes.

Kept apart from ``texts`` so the relay-only words stay short; every sentence goes through
``QCoreApplication.translate`` (context ``MailTexts``) like the rest of the console.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QLocale

from omnidesk.domain import MailAccountState, MailAccountStatus
from omnidesk.services.mail.errors import (
    MailAuthError,
    MailConnectionLost,
    MailError,
    MailFolderMissing,
    MailSendError,
    MailUnreachable,
)
from omnidesk.settings import AccountProblem
from omnidesk.ui import texts

PROBLEM_STATES = frozenset({MailAccountState.RETRYING, MailAccountState.AUTH_FAILED})
"""The states the window's status line warns about."""


def _t(text: str) -> str:
    return QCoreApplication.translate("MailTexts", text)


def account_state(status: MailAccountStatus) -> str:
    """What the account is doing, in one short sentence (the accounts list, the status line)."""
    state = status.state
    if state is MailAccountState.SYNCING:
        if status.progress and status.progress[1]:
            fetched, total = status.progress
            locale = QLocale()
            return _t("Syncing: {fetched} of {total} messages").format(
                fetched=locale.toString(fetched), total=locale.toString(total)
            )
        return _t("Syncing…")
    if state is MailAccountState.LIVE:
        return _t("Up to date; new mail arrives at once")
    if state is MailAccountState.RETRYING:
        reason = status.detail or _t("the server cannot be reached")
        if status.retry_at is not None:
            return _t("Not connected ({reason}); trying again at {time}").format(
                reason=reason, time=texts.bubble_time(status.retry_at)
            )
        return _t("Not connected ({reason}); trying again soon").format(reason=reason)
    if state is MailAccountState.AUTH_FAILED:
        return _t(
            "The server refused the password (or none is saved). "
            "Enter it with Edit; nothing is tried until then."
        )
    if state is MailAccountState.STARTING:
        return _t("Starting…")
    return _t("Stopped")


def problem_text(problem: AccountProblem, address: str = "", host: str = "") -> str:
    """Why the account form cannot be saved, in plain words."""
    return {
        AccountProblem.NO_ADDRESS: _t("Enter the email address, like support@yourcompany.com."),
        AccountProblem.BAD_ADDRESS: _t(
            "“{address}” is not an email address (it should look like name@company.com)."
        ),
        AccountProblem.DUPLICATE_ADDRESS: _t("Another account already uses {address}."),
        AccountProblem.NO_IMAP_HOST: _t(
            "Enter the incoming (IMAP) server, like imap.yourcompany.com."
        ),
        AccountProblem.NO_SMTP_HOST: _t(
            "Enter the outgoing (SMTP) server, like smtp.yourcompany.com."
        ),
        AccountProblem.BAD_IMAP_PORT: _t("The IMAP port must be a number from 1 to 65535."),
        AccountProblem.BAD_SMTP_PORT: _t("The SMTP port must be a number from 1 to 65535."),
        AccountProblem.PLAIN_IMAP_NOT_LOCAL: _t(
            "Security “None” would send your password unencrypted: it is allowed only for a "
            "server on this computer. Choose TLS or STARTTLS for {host}."
        ),
        AccountProblem.PLAIN_SMTP_NOT_LOCAL: _t(
            "Security “None” would send your password unencrypted: it is allowed only for a "
            "server on this computer. Choose TLS or STARTTLS for {host}."
        ),
        AccountProblem.NO_FOLDERS: _t("Enter at least one folder to watch (usually INBOX)."),
        AccountProblem.NO_SENT_FOLDER: _t(
            "Enter the folder where sent mail is kept (usually Sent)."
        ),
    }[problem].format(address=address, host=host)


def describe_mail_error(exc: BaseException) -> str | None:
    """One sentence for a mail or file error; None when it is neither (the op runner's turn)."""
    if isinstance(exc, MailAuthError):
        return _t("The mail server refused the user name or password.")
    if isinstance(exc, MailUnreachable):
        return _t("The mail server cannot be reached right now ({detail}).").format(
            detail=str(exc) or type(exc).__name__
        )
    if isinstance(exc, MailConnectionLost):
        return _t("The connection to the mail server was lost. Try again in a moment.")
    if isinstance(exc, MailFolderMissing):
        return _t("A folder is missing on the mail server: {detail}").format(detail=str(exc))
    if isinstance(exc, MailSendError):
        return _t("The mail server did not accept the message: {detail}").format(detail=str(exc))
    if isinstance(exc, MailError):
        return _t("The mail server answered something unexpected: {detail}").format(detail=str(exc))
    if isinstance(exc, PermissionError):
        return _t("You may not write there: {path}").format(path=exc.filename or str(exc))
    if isinstance(exc, FileNotFoundError):
        return _t("That file or folder does not exist: {path}").format(
            path=exc.filename or str(exc)
        )
    if isinstance(exc, OSError):
        return _t("The file could not be written or read: {detail}").format(
            detail=exc.strerror or str(exc)
        )
    return None


def data_size(size: int) -> str:
    """``12.3 KB``, in the agent's locale."""
    return QLocale().formattedDataSize(size, 1, QLocale.DataSizeFormat.DataSizeTraditionalFormat)
