"""The mail exception hierarchy. Everything the mail services raise on purpose is a ``MailError``.

::

    MailError
    ├── MailAuthError        wrong login or password (do not retry; ask the user)
    ├── MailUnreachable      connection refused / DNS / TLS handshake / timeout while connecting
    ├── MailConnectionLost   an established connection dropped or stopped answering
    ├── MailProtocolError    the server answered NO/BAD or something unparseable
    │   └── MailFolderMissing  the folder does not exist on the server
    └── MailSendError        SMTP refused the message (recipients or data)
"""

from __future__ import annotations


class MailError(Exception):
    """Base of every error the mail services raise deliberately."""


class MailAuthError(MailError):
    """The server rejected the credentials."""


class MailUnreachable(MailError):
    """The server could not be reached (refused, unknown host, TLS failure, connect timeout)."""


class MailConnectionLost(MailError):
    """An established connection dropped or a command timed out."""


class MailProtocolError(MailError):
    """The server refused a command or answered something we cannot use."""


class MailFolderMissing(MailProtocolError):
    """The folder does not exist."""


class MailSendError(MailError):
    """SMTP did not accept the message."""
