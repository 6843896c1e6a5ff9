from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from omnidesk.mail.types import MailAccount
from tests.helpers.dovecot import DovecotServer, dovecot_binary
from tests.helpers.smtp_server import SmtpServer


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A private Dovecot with one user and an empty INBOX, Sent, Drafts and Trash."""
    binary = dovecot_binary()
    if binary is None:
        reason = (
            "dovecot is not installed (apt-get install -y dovecot-core dovecot-imapd); "
            "the IMAP tests need a real server"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    if os.geteuid() != 0:
        pytest.skip("the private Dovecot must start as root (it hands the mailbox to `mail`)")
    server = DovecotServer.create(binary)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def smtp_server(dovecot: DovecotServer) -> Iterator[SmtpServer]:
    """aiosmtpd on loopback, delivering every accepted message into the Dovecot INBOX."""
    server = SmtpServer(user=dovecot.user, password=dovecot.password, deliver=dovecot.deliver)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def account(dovecot: DovecotServer) -> MailAccount:
    return plain_account(dovecot)


def plain_account(dovecot: DovecotServer) -> MailAccount:
    """The agent's account on the test Dovecot, without TLS (loopback), SMTP port unset."""
    return MailAccount(
        id="acct",
        address="agent@shop.test",
        login=dovecot.user,
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_security="none",
        smtp_host="127.0.0.1",
        smtp_port=0,
        smtp_security="none",
        display_name="Shop Agent",
        sent_folder="Sent",
    )
