"""Sending composed mail over SMTP, then filing it in the Sent folder.

Security: ``tls`` (implicit, usually 465), ``starttls`` (required, usually 587) or ``none``,
which is refused unless the server is on loopback (tests, a local relay).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import aiosmtplib

from omnidesk.mail.compose import ComposedMail
from omnidesk.mail.types import MailAccount, PasswordProvider

from .errors import (
    MailAuthError,
    MailConnectionLost,
    MailError,
    MailSendError,
    MailUnreachable,
)
from .imap_blocking import BlockingImap, quote_mailbox
from .imap_connection import AsyncImap
from .tls import client_context, refuse_plaintext


@dataclass(frozen=True)
class SendResult:
    message_id: str
    sent_uid: int | None
    """UID of the copy in the Sent folder (UIDPLUS), or None if unknown / not appended."""
    append_error: MailError | None = None
    """The mail went out but could not be filed in Sent (do not send it again)."""


async def smtp_send(
    account: MailAccount,
    password_provider: PasswordProvider,
    mail: ComposedMail,
    *,
    timeout: float = 60.0,
    tls_context: ssl.SSLContext | None = None,
) -> None:
    security = account.smtp_security
    if security == "none":
        refuse_plaintext(account.smtp_host, account.smtp_port, "SMTP")
    if not mail.recipients:
        raise MailSendError("the message has no recipients")
    try:
        async with asyncio.timeout(timeout + 5):
            await aiosmtplib.send(
                mail.raw,
                sender=mail.sender,
                recipients=mail.recipients,
                hostname=account.smtp_host,
                port=account.smtp_port,
                username=account.login,
                password=password_provider(),
                use_tls=security == "tls",
                start_tls=True if security == "starttls" else False,
                tls_context=tls_context
                or (client_context(account.tls_ca_file) if security != "none" else None),
                timeout=timeout,
            )
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise MailAuthError(f"SMTP login refused for {account.login}: {exc}") from exc
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError) as exc:
        raise MailUnreachable(f"cannot reach SMTP server {account.smtp_host}: {exc}") from exc
    except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
        raise MailConnectionLost(f"SMTP timed out: {exc}") from exc
    except aiosmtplib.SMTPException as exc:
        raise MailSendError(f"SMTP refused the message: {exc}") from exc
    except OSError as exc:
        raise MailUnreachable(f"cannot reach SMTP server {account.smtp_host}: {exc}") from exc


async def append_to_sent(
    account: MailAccount,
    password_provider: PasswordProvider,
    mail: ComposedMail,
    *,
    timeout: float = 30.0,
) -> int | None:
    """APPEND the sent bytes to the Sent folder with ``\\Seen``; its UID with UIDPLUS."""
    if account.imap_security == "starttls":
        async with asyncio.timeout(timeout + 5):
            return await asyncio.to_thread(
                _append_blocking, account, password_provider(), mail, timeout
            )
    client = AsyncImap(account, password_provider, timeout=timeout)
    try:
        await client.connect()
        return await client.append(mail.raw, account.sent_folder, "(\\Seen)")
    finally:
        await client.close()


def _append_blocking(
    account: MailAccount, password: str, mail: ComposedMail, timeout: float
) -> int | None:
    session = BlockingImap.connect(account, password, timeout)
    try:
        typ, data = session.conn.append(
            quote_mailbox(account.sent_folder), "(\\Seen)", None, mail.raw
        )
        if typ != "OK":
            raise MailSendError(f"APPEND to Sent failed: {data!r}")
        code = session.conn.response("APPENDUID")[1]
        value = code[-1] if code else None
        if isinstance(value, bytes) and value.split()[-1:] and value.split()[-1].isdigit():
            return int(value.split()[-1])
        return None
    finally:
        session.close()


async def send_and_file(
    account: MailAccount,
    password_provider: PasswordProvider,
    mail: ComposedMail,
    *,
    timeout: float = 60.0,
    tls_context: ssl.SSLContext | None = None,
) -> SendResult:
    """Send, then APPEND to Sent.

    Sending errors raise. A failed APPEND after a successful send does not: the mail is out
    and must not be sent again, so it is reported in ``SendResult.append_error``.
    """
    await smtp_send(account, password_provider, mail, timeout=timeout, tls_context=tls_context)
    try:
        uid = await append_to_sent(account, password_provider, mail, timeout=timeout)
    except MailError as exc:
        return SendResult(mail.message_id, None, exc)
    return SendResult(mail.message_id, uid)
