"""TLS against the real Dovecot: implicit TLS, STARTTLS, IDLE over TLS, and the refusals.

The server's certificate is signed by a CA made at setup (``DovecotServer(tls=True)``) that
no system store knows, so "trusted" means "named by ``MailAccount.tls_ca_file``" and the
same server doubles as the untrusted one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from omnidesk.mail.compose import build_message
from omnidesk.mail.types import Address, MailAccount, Security
from omnidesk.services.backoff import Backoff
from omnidesk.services.mail.errors import MailUnreachable
from omnidesk.services.mail.imap_connection import AsyncImap
from omnidesk.services.mail.imap_idle import FolderWatcher
from omnidesk.services.mail.imap_sync import FolderSync
from omnidesk.services.mail.smtp_send import smtp_send
from omnidesk.services.mail.tls import is_loopback
from relay.testing.server import free_port
from tests.helpers.dovecot import DovecotServer, dovecot_binary
from tests.helpers.smtp_server import RecordingHandler
from tests.services.mail.conftest import plain_account
from tests.services.mail.factory import make_raw
from tests.services.mail.memory_sink import MemorySink


@pytest.fixture
def tls_dovecot() -> Iterator[DovecotServer]:
    binary = dovecot_binary()
    if binary is None or shutil.which("openssl") is None:
        reason = "dovecot and openssl are needed (apt-get install -y dovecot-imapd openssl)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    if os.geteuid() != 0:
        pytest.skip("the private Dovecot must start as root (it hands the mailbox to `mail`)")
    server = DovecotServer.create(binary, tls=True)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def tls_account(tls_dovecot: DovecotServer) -> MailAccount:
    """Implicit TLS (the 993 kind) on the ``imaps`` listener, trusting the test CA."""
    return replace(
        plain_account(tls_dovecot),
        imap_port=tls_dovecot.imaps_port,
        imap_security="tls",
        tls_ca_file=str(tls_dovecot.tls_ca_file),
    )


@pytest.fixture
def starttls_account(tls_dovecot: DovecotServer, tls_account: MailAccount) -> MailAccount:
    """STARTTLS on the plain port, trusting the test CA."""
    return replace(tls_account, imap_port=tls_dovecot.port, imap_security="starttls")


def tls_logins(server: DovecotServer) -> int:
    """Logins Dovecot itself recorded as made over TLS."""
    log = (server.root / "dovecot.log").read_text(errors="replace")
    return sum(1 for line in log.splitlines() if "Login: user=<" in line and ", TLS," in line)


async def sync_once(account: MailAccount, password: str, sink: MemorySink) -> int:
    sync = FolderSync(account, lambda: password, sink, timeout=10)
    try:
        return (await sync.sync("INBOX")).new
    finally:
        await sync.aclose()


async def test_first_sync_over_implicit_tls(
    tls_dovecot: DovecotServer, tls_account: MailAccount
) -> None:
    tls_dovecot.deliver_many([make_raw(i) for i in range(30)])
    sink = MemorySink()
    assert await sync_once(tls_account, tls_dovecot.password, sink) == 30
    assert len(sink.box("acct")) == 30
    assert sink.box("acct")[30].message_id == "<msg29@c.example>"
    assert tls_logins(tls_dovecot) >= 1


async def test_localhost_name_is_verified_too(
    tls_dovecot: DovecotServer, tls_account: MailAccount
) -> None:
    tls_dovecot.deliver(make_raw(1))
    sink = MemorySink()
    assert await sync_once(replace(tls_account, imap_host="localhost"), tls_dovecot.password, sink)


async def test_starttls_on_the_plain_port(
    tls_dovecot: DovecotServer, tls_account: MailAccount
) -> None:
    account = replace(tls_account, imap_port=tls_dovecot.port, imap_security="starttls")
    tls_dovecot.deliver_many([make_raw(i) for i in range(5)])
    sink = MemorySink()
    sync = FolderSync(account, lambda: tls_dovecot.password, sink, timeout=10)
    try:
        assert (await sync.sync("INBOX")).new == 5
        await sync.mark_seen("INBOX", 3)  # STARTTLS accounts do this on the blocking session
        assert (await sync.sync("INBOX")).flag_changes == 1
    finally:
        await sync.aclose()
    assert sink.box("acct")[3].seen and not sink.box("acct")[2].seen
    assert tls_logins(tls_dovecot) >= 1


async def test_idle_push_over_tls(tls_dovecot: DovecotServer, tls_account: MailAccount) -> None:
    sink = MemorySink()
    sync = FolderSync(tls_account, lambda: tls_dovecot.password, sink, timeout=10)

    async def on_change() -> None:
        await sync.sync("INBOX")

    watcher = FolderWatcher(tls_account, lambda: tls_dovecot.password, "INBOX", on_change,
                            timeout=10)  # fmt: skip
    task = asyncio.create_task(watcher.run())
    try:
        async with asyncio.timeout(10):
            await watcher.idling.wait()
        tls_dovecot.deliver(make_raw(1))
        start = time.monotonic()
        async with asyncio.timeout(5):
            while not sink.box("acct"):
                await asyncio.sleep(0.02)
        assert time.monotonic() - start < 2.0
        assert watcher.connect_count == 1
    finally:
        task.cancel()
        async with asyncio.timeout(10):
            await asyncio.gather(task, return_exceptions=True)
        await sync.aclose()
    assert tls_logins(tls_dovecot) >= 2  # the watcher's and the sync's


@contextlib.asynccontextmanager
async def pushing_into(
    sink: MemorySink, account: MailAccount, server: DovecotServer, **kwargs: Any
) -> AsyncIterator[tuple[FolderWatcher, list[str]]]:
    """A watcher on INBOX whose pushes sync into ``sink``; cancelled (promptly) at the end."""
    sync = FolderSync(account, lambda: server.password, sink, timeout=10)
    statuses: list[str] = []

    async def on_change() -> None:
        await sync.sync("INBOX")

    watcher = FolderWatcher(account, lambda: server.password, "INBOX", on_change, timeout=5,
                            on_status=lambda what, _e: statuses.append(what),
                            **kwargs)  # fmt: skip
    task = asyncio.create_task(watcher.run())
    try:
        yield watcher, statuses
        assert not task.done()
    finally:
        task.cancel()
        start = time.monotonic()
        async with asyncio.timeout(10):
            await asyncio.gather(task, return_exceptions=True)
        assert time.monotonic() - start < 2.0, "a cancelled watcher must stop promptly"
        await sync.aclose()


async def wait_for_box(sink: MemorySink, count: int, timeout: float = 5.0) -> float:
    start = time.monotonic()
    async with asyncio.timeout(timeout):
        while len(sink.box("acct")) < count:
            await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_idle_push_over_starttls_and_reissue(
    tls_dovecot: DovecotServer, starttls_account: MailAccount
) -> None:
    tls_dovecot.deliver(make_raw(1))
    sink = MemorySink()
    async with pushing_into(sink, starttls_account, tls_dovecot, reissue_after=0.4) as (
        watcher,
        statuses,
    ):
        async with asyncio.timeout(10):
            await watcher.idling.wait()
        assert len(sink.box("acct")) == 1  # on_change ran after connecting
        await asyncio.sleep(1.0)
        assert watcher.idle_count >= 3  # IDLE re-issued every 0.4 s
        assert watcher.connect_count == 1 and "disconnected" not in statuses
        for n in (2, 3):
            async with asyncio.timeout(10):
                await watcher.idling.wait()
            tls_dovecot.deliver(make_raw(n))
            assert await wait_for_box(sink, n) < 1.5
    # the watcher's and the sync's logins were both made over TLS, none in clear
    log = (tls_dovecot.root / "dovecot.log").read_text(errors="replace")
    assert tls_logins(tls_dovecot) >= 2
    assert tls_logins(tls_dovecot) == log.count("Login: user=<")


async def test_starttls_watcher_reconnects_after_server_restart(
    tls_dovecot: DovecotServer, starttls_account: MailAccount
) -> None:
    sink = MemorySink()
    backoff = Backoff(initial=0.1, maximum=0.5)
    async with pushing_into(sink, starttls_account, tls_dovecot, backoff=backoff) as (
        watcher,
        statuses,
    ):
        async with asyncio.timeout(10):
            await watcher.idling.wait()
        await asyncio.to_thread(tls_dovecot.stop)
        tls_dovecot.deliver(make_raw(7))  # arrives while the server is down
        async with asyncio.timeout(5):
            while "disconnected" not in statuses:
                await asyncio.sleep(0.02)
        await asyncio.to_thread(tls_dovecot.start)
        await wait_for_box(sink, 1, timeout=10)  # caught up after the reconnect
        assert watcher.connect_count >= 2
        async with asyncio.timeout(10):
            await watcher.idling.wait()
        tls_dovecot.deliver(make_raw(8))
        assert await wait_for_box(sink, 2) < 1.5


@pytest.mark.parametrize("when", ["connecting", "idling", "syncing"])
async def test_cancelled_starttls_watcher_stops_promptly(
    tls_dovecot: DovecotServer, starttls_account: MailAccount, when: str
) -> None:
    """Cancel lands in the STARTTLS handshake, in IDLE, or in ``on_change``; each time the
    watcher is gone within 2 s (checked by ``pushing_into``) and leaves no task behind."""
    if when == "syncing":
        tls_dovecot.deliver_many([make_raw(i) for i in range(800)])
    sink = MemorySink()
    async with pushing_into(sink, starttls_account, tls_dovecot) as (watcher, _statuses):
        if when == "idling":
            async with asyncio.timeout(10):
                await watcher.idling.wait()
        elif when == "syncing":  # first batch stored (the sync's session is open), more due
            await wait_for_box(sink, 1, timeout=10)
            assert len(sink.box("acct")) < 800
        else:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftover == []


async def test_server_without_idle_is_polled(tls_account: MailAccount) -> None:
    """The one case left for polling: a server that does not announce IDLE."""
    binary = dovecot_binary()
    assert binary is not None  # tls_account's fixture has checked
    server = DovecotServer.create(binary, tls=True)
    caps = "IMAP4rev1 LITERAL+ SASL-IR ENABLE UIDPLUS CONDSTORE STARTTLS AUTH=PLAIN"
    server.config.write_text(server.config.read_text() + f"imap_capability = {caps}\n")
    account = replace(tls_account, imap_port=server.port, imap_security="starttls",
                      tls_ca_file=str(server.tls_ca_file))  # fmt: skip
    try:
        server.start()
        sink = MemorySink()
        async with pushing_into(sink, account, server, poll_every=0.3) as (watcher, statuses):
            async with asyncio.timeout(10):
                await watcher.idling.wait()
            assert statuses == ["connected", "idle"]
            server.deliver(make_raw(1))
            await wait_for_box(sink, 1, timeout=3)
            assert watcher.idle_count == 0
    finally:
        server.cleanup()


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_untrusted_certificate_is_refused_quickly(
    tls_dovecot: DovecotServer, tls_account: MailAccount, security: Security
) -> None:
    port = tls_dovecot.imaps_port if security == "tls" else tls_dovecot.port
    untrusted = replace(tls_account, imap_port=port, imap_security=security, tls_ca_file="")
    start = time.monotonic()
    with pytest.raises(MailUnreachable, match="certificate .* is not trusted"):
        await sync_once(untrusted, tls_dovecot.password, MemorySink())
    # the aioimaplib connection (IDLE, interactive commands) refuses it the same way
    with pytest.raises(MailUnreachable, match="certificate .* is not trusted"):
        await AsyncImap(untrusted, lambda: tls_dovecot.password, timeout=10).connect()
    assert time.monotonic() - start < 5
    assert tls_logins(tls_dovecot) == 0


async def test_wrong_host_name_is_refused(
    tls_dovecot: DovecotServer, tls_account: MailAccount
) -> None:
    """The CA is trusted, but the certificate names 127.0.0.1 and localhost only."""
    other_name = replace(tls_account, imap_host="127.0.0.2")
    with pytest.raises(MailUnreachable):
        await sync_once(other_name, tls_dovecot.password, MemorySink())


async def test_missing_ca_file_says_so(tls_account: MailAccount) -> None:
    account = replace(tls_account, tls_ca_file="/nonexistent/ca.pem")
    with pytest.raises(MailUnreachable, match="CA certificate file"):
        await sync_once(account, "x", MemorySink())


async def test_starttls_not_offered_is_refused_not_skipped(
    dovecot: DovecotServer, account: MailAccount
) -> None:
    """A server without STARTTLS (ssl = no) must not get the password in clear."""
    starttls = replace(account, imap_security="starttls")
    with pytest.raises(MailUnreachable, match="STARTTLS"):
        await sync_once(starttls, dovecot.password, MemorySink())
    with pytest.raises(MailUnreachable, match="does not offer STARTTLS"):
        await AsyncImap(starttls, lambda: dovecot.password, timeout=10).connect()
    assert "Login: user=<" not in (dovecot.root / "dovecot.log").read_text(errors="replace")


async def test_no_tls_to_a_real_network_host_is_refused() -> None:
    remote = MailAccount(
        id="acct", address="agent@shop.test", login="agent",
        imap_host="192.0.2.10", imap_port=143, imap_security="none",
    )  # fmt: skip
    start = time.monotonic()
    with pytest.raises(MailUnreachable, match="without TLS"):
        await sync_once(remote, "x", MemorySink())
    with pytest.raises(MailUnreachable, match="without TLS"):
        await AsyncImap(remote, lambda: "x", timeout=10).connect()
    smtp = replace(remote, smtp_host="192.0.2.10", smtp_port=25, smtp_security="none")
    reply = build_message(smtp, to=[Address("", "c@c.example")], subject="s", text="t")
    with pytest.raises(MailUnreachable, match="SMTP server 192.0.2.10:25 without TLS"):
        await smtp_send(smtp, lambda: "x", reply, timeout=10)
    assert time.monotonic() - start < 1  # refused before any connection attempt


@contextlib.contextmanager
def tls_smtp(server: DovecotServer, *, implicit: bool) -> Iterator[tuple[int, RecordingHandler]]:
    """aiosmtpd with the test CA's server certificate: implicit TLS, or STARTTLS required."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server.tls_dir / "server.pem", server.tls_dir / "server.key")

    def authenticate(*args: Any) -> AuthResult:
        data = args[-1]
        ok = isinstance(data, LoginPassword) and data.password.decode() == server.password
        return AuthResult(success=ok, handled=False)

    handler, port = RecordingHandler(), free_port()
    # aiosmtpd does not count implicit TLS as TLS for auth_require_tls: only STARTTLS asks
    tls: dict[str, Any] = (
        {"ssl_context": context, "auth_require_tls": False}
        if implicit
        else {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
    )
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5,
                            authenticator=authenticate, **tls)  # fmt: skip
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


@pytest.mark.parametrize("implicit", [True, False], ids=["tls", "starttls"])
async def test_smtp_trusts_the_account_ca_and_refuses_without_it(
    tls_dovecot: DovecotServer, tls_account: MailAccount, implicit: bool
) -> None:
    with tls_smtp(tls_dovecot, implicit=implicit) as (port, handler):
        account = replace(
            tls_account, smtp_port=port, smtp_security="tls" if implicit else "starttls"
        )
        mail = build_message(account, to=[Address("", "customer@c.example")], subject="Hi",
                             text="Over TLS.")  # fmt: skip
        await smtp_send(account, lambda: tls_dovecot.password, mail, timeout=10)
        assert [r.rcpt_tos for r in handler.received] == [["customer@c.example"]]
        with pytest.raises(MailUnreachable, match="certificate verify failed"):
            await smtp_send(replace(account, tls_ca_file=""), lambda: tls_dovecot.password,
                            mail, timeout=10)  # fmt: skip
        assert len(handler.received) == 1


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.8.0.1") and is_loopback("LOCALHOST")
    assert not is_loopback("192.0.2.10") and not is_loopback("mail.example.com")
    assert not is_loopback("localhost.example.com")
