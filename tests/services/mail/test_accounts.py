"""One account's runner (first sync, IDLE push, retries, wrong password) against a real Dovecot."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from omnidesk.domain import MailAccountState, MailAccountStatus
from omnidesk.mail.types import MailAccount
from omnidesk.services.mail.accounts import AccountRunner, check_login
from relay.testing.server import free_port
from tests.helpers.dovecot import DovecotServer, dovecot_binary
from tests.helpers.smtp_server import SmtpServer
from tests.helpers.waiting import wait_until
from tests.services.mail.factory import QUICK, make_raw
from tests.services.mail.memory_sink import MemorySink

States = list[MailAccountStatus]


def state_of(statuses: States) -> MailAccountState | None:
    return statuses[-1].state if statuses else None


@pytest.fixture
async def run_account(
    account: MailAccount,
) -> AsyncIterator[Callable[..., tuple[AccountRunner, MemorySink, States]]]:
    runners: list[AccountRunner] = []

    def make(
        password: Callable[[], str | None], *, acct: MailAccount = account, **kwargs: Any
    ) -> tuple[AccountRunner, MemorySink, States]:
        sink = MemorySink()
        statuses: States = []
        settings = replace(QUICK, **kwargs)
        runner = AccountRunner(acct, password, sink, statuses.append, settings=settings)
        runners.append(runner)
        runner.start()
        return runner, sink, statuses

    yield make
    for runner in runners:
        start = time.monotonic()
        await runner.stop()
        assert time.monotonic() - start < 5, "stop() must not hang"
        assert runner.status.state is MailAccountState.STOPPED
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftover == [], "tasks left running after stop()"


async def test_first_sync_reports_progress_then_live_and_push_arrives(
    dovecot: DovecotServer, run_account: Callable[..., tuple[AccountRunner, MemorySink, States]]
) -> None:
    dovecot.deliver_many([make_raw(i) for i in range(30)])
    dovecot.deliver(make_raw(100, sender="agent@shop.test", to="c@c.example"), "Sent", seen=True)
    _runner, sink, statuses = run_account(lambda: dovecot.password, batch_size=10)

    await wait_until(lambda: state_of(statuses) is MailAccountState.LIVE)
    states = [s.state for s in statuses]
    assert states[0] is MailAccountState.STARTING
    progress = [s.progress for s in statuses if s.state is MailAccountState.SYNCING]
    assert progress[0] == (0, 0)
    assert (10, 30) in progress and (30, 30) in progress
    assert progress[-1] == (31, 31)  # INBOX, then Sent
    assert states.index(MailAccountState.LIVE) > states.index(MailAccountState.SYNCING)
    assert len(sink.box("acct")) == 30 and len(sink.box("acct", "Sent")) == 1

    dovecot.deliver(make_raw(200))
    latency = await wait_until(lambda: len(sink.box("acct")) == 31, timeout=5)
    assert latency < 1.5
    assert state_of(statuses) is MailAccountState.LIVE


async def test_read_in_another_client_clears_unread(
    dovecot: DovecotServer, run_account: Callable[..., tuple[AccountRunner, MemorySink, States]]
) -> None:
    dovecot.deliver_many([make_raw(1), make_raw(2)])
    _runner, sink, statuses = run_account(lambda: dovecot.password)
    await wait_until(lambda: state_of(statuses) is MailAccountState.LIVE)
    assert not sink.box("acct")[2].seen

    with dovecot.client() as conn:
        conn.uid("STORE", "2", "+FLAGS", "(\\Seen)")
    await wait_until(lambda: sink.box("acct")[2].seen, timeout=5)
    assert not sink.box("acct")[1].seen


async def test_wrong_password_stops_trying_until_it_changes(
    dovecot: DovecotServer, run_account: Callable[..., tuple[AccountRunner, MemorySink, States]]
) -> None:
    password = "wrong"
    runner, sink, statuses = run_account(lambda: password)
    await wait_until(lambda: state_of(statuses) is MailAccountState.AUTH_FAILED)
    assert "wrong user name or password for agent@shop.test" in statuses[-1].detail

    await asyncio.sleep(2.0)  # a retrying loop (backoff 0.1-0.5 s) would have tried again
    assert dovecot.log().count("auth failed") == 1
    assert "Login: user=<agent>" not in dovecot.log()
    assert state_of(statuses) is MailAccountState.AUTH_FAILED

    password = dovecot.password
    runner.set_password_changed()
    # Dovecot delays the next login after a failure by a few seconds
    await wait_until(lambda: state_of(statuses) is MailAccountState.LIVE, timeout=15)
    assert ("acct", "INBOX") in sink.states


async def test_no_saved_password_waits_for_one(
    dovecot: DovecotServer, run_account: Callable[..., tuple[AccountRunner, MemorySink, States]]
) -> None:
    password: str | None = None
    runner, _sink, statuses = run_account(lambda: password)
    await wait_until(lambda: state_of(statuses) is MailAccountState.AUTH_FAILED)
    assert "no password" in statuses[-1].detail
    password = dovecot.password
    runner.set_password_changed()
    await wait_until(lambda: state_of(statuses) is MailAccountState.LIVE)


async def test_server_down_retries_then_live_again_without_restart(
    dovecot: DovecotServer, run_account: Callable[..., tuple[AccountRunner, MemorySink, States]]
) -> None:
    dovecot.deliver(make_raw(1))
    _runner, sink, statuses = run_account(lambda: dovecot.password)
    await wait_until(lambda: state_of(statuses) is MailAccountState.LIVE)

    await asyncio.to_thread(dovecot.stop)
    dovecot.deliver(make_raw(2))  # arrives while the server is down
    await wait_until(lambda: state_of(statuses) is MailAccountState.RETRYING)
    retrying = statuses[-1]
    assert f"127.0.0.1:{dovecot.port}" in retrying.detail
    assert retrying.retry_at is not None

    await asyncio.to_thread(dovecot.start)
    await wait_until(lambda: state_of(statuses) is MailAccountState.LIVE, timeout=10)
    await wait_until(lambda: len(sink.box("acct")) == 2, timeout=5)
    dovecot.deliver(make_raw(3))
    await wait_until(lambda: len(sink.box("acct")) == 3, timeout=5)


async def test_unreachable_at_start_retries_with_backoff(
    dovecot: DovecotServer,
    account: MailAccount,
    run_account: Callable[..., tuple[AccountRunner, MemorySink, States]],
) -> None:
    await asyncio.to_thread(dovecot.stop)
    attempts = 0

    def password() -> str:
        nonlocal attempts
        attempts += 1
        return dovecot.password

    _runner, _sink, statuses = run_account(password, retry_initial=0.3, retry_max=0.6)
    await wait_until(lambda: state_of(statuses) is MailAccountState.RETRYING)
    assert "cannot reach" in statuses[-1].detail
    await asyncio.sleep(1.5)
    retries = [s for s in statuses if s.state is MailAccountState.RETRYING]
    assert 2 <= len(retries) <= 6  # backed off, not hammering
    await asyncio.to_thread(dovecot.start)
    await wait_until(lambda: state_of(statuses) is MailAccountState.LIVE, timeout=10)


async def test_missing_folder_says_so(
    dovecot: DovecotServer,
    account: MailAccount,
    run_account: Callable[..., tuple[AccountRunner, MemorySink, States]],
) -> None:
    acct = replace(account, folders=("INBOX", "Nope"))
    _runner, _sink, statuses = run_account(lambda: dovecot.password, acct=acct)
    await wait_until(lambda: state_of(statuses) is MailAccountState.RETRYING)
    assert "Nope" in statuses[-1].detail


async def test_check_login(
    dovecot: DovecotServer, smtp_server: SmtpServer, account: MailAccount
) -> None:
    good = replace(account, smtp_port=smtp_server.port)
    assert await check_login(good, dovecot.password, timeout=5) is None

    no_smtp = await check_login(replace(good, smtp_port=free_port()), dovecot.password, timeout=5)
    assert no_smtp is not None and "cannot reach the SMTP server 127.0.0.1" in no_smtp
    missing = await check_login(replace(good, folders=("INBOX", "Nope")), dovecot.password)
    assert missing is not None and "'Nope'" in missing
    plain = await check_login(replace(good, imap_host="mail.example.com"), dovecot.password)
    assert plain is not None and "without TLS" in plain
    assert not smtp_server.received

    other = SmtpServer(user=dovecot.user, password="another-password")
    other.start()
    try:
        refused = await check_login(replace(good, smtp_port=other.port), dovecot.password)
    finally:
        other.stop()
    assert refused == f"the SMTP server 127.0.0.1:{other.port} refused the user name or password"

    wrong = await check_login(good, "wrong", timeout=10)  # last: Dovecot slows logins after it
    assert wrong == "wrong user name or password for agent@shop.test"


async def test_starttls_account_is_pushed() -> None:
    """STARTTLS accounts get IDLE like the others: a new mail is there within ~1 s, long
    before any poll would run, and a server restart is ridden out."""
    binary = dovecot_binary()
    if binary is None or shutil.which("openssl") is None or os.geteuid() != 0:
        pytest.skip("needs dovecot, openssl and root (see conftest.dovecot)")
    server = DovecotServer.create(binary, tls=True)
    server.start()
    statuses: States = []
    sink = MemorySink()
    account = MailAccount(
        id="acct", address="agent@shop.test", login=server.user, imap_host="127.0.0.1",
        imap_port=server.port, imap_security="starttls", tls_ca_file=str(server.tls_ca_file),
    )  # fmt: skip
    settings = replace(QUICK, poll_every=3600.0, sent_every=3600.0)
    runner = AccountRunner(account, lambda: server.password, sink, statuses.append,
                           settings=settings)  # fmt: skip
    try:
        server.deliver(make_raw(1))
        runner.start()
        await wait_until(lambda: state_of(statuses) is MailAccountState.LIVE)
        assert len(sink.box("acct")) == 1
        server.deliver(make_raw(2))
        assert await wait_until(lambda: len(sink.box("acct")) == 2, timeout=3) < 1.5
        await runner.mark_seen("INBOX", 2)  # through the sync's STARTTLS session
        await wait_until(lambda: sink.box("acct")[2].seen, timeout=3)

        await asyncio.to_thread(server.stop)
        await wait_until(lambda: state_of(statuses) is MailAccountState.RETRYING)
        await asyncio.to_thread(server.start)
        await wait_until(lambda: state_of(statuses) is MailAccountState.LIVE, timeout=10)
        server.deliver(make_raw(3))
        assert await wait_until(lambda: len(sink.box("acct")) == 3, timeout=3) < 1.5
        log = (server.root / "dovecot.log").read_text(errors="replace")
        logins = [line for line in log.splitlines() if "Login: user=<" in line]
        assert logins and all(", TLS," in line for line in logins)  # never in clear
    finally:
        start = time.monotonic()
        await runner.stop()
        assert time.monotonic() - start < 2.0
        server.cleanup()
