"""Sending queued mail replies: outbox row -> SMTP -> Sent folder -> the thread.

The composer's reply is already in the cache (``MailStore.queue_mail``: the exact MIME
bytes, shown as queued). :class:`MailSender` claims queued mail one at a time, oldest first,
sends it with :func:`~.smtp_send.send_and_file` and records it with
``MailStore.mail_sent``, which turns the outbox row into an outbound mail of its thread at
once; the Sent folder's sync later finds that same row (same UID or same Message-ID).

What happens when it cannot be sent:

- server unreachable or timing out: queued again, retried with backoff (per account: one
  account's outage does not hold another's mail; an account's mail keeps its order);
- login refused: failed, with a sentence saying so (retrying a wrong password gets accounts
  locked); the agent retries once the password is fixed;
- the server refuses the message: failed with the server's reason.

Never twice: a row is ``sending`` in the cache before SMTP starts and stops being in the
outbox in the same transaction that records the mail as sent. SMTP has no idempotency key, so
a row still ``sending`` when the sender starts (the console stopped mid-send) is not resent
blindly: if its Message-ID is in the Sent folder it is recorded as sent, otherwise it is
marked failed with :data:`INTERRUPTED` and the agent decides (a resend keeps the
Message-ID, so most mail programs would show a duplicate once). There must be one
``MailSender`` per cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from omnidesk.changes import Changes
from omnidesk.mail.compose import ComposedMail
from omnidesk.mail.parse import parse_message
from omnidesk.mail.types import MailAccount, PasswordProvider
from omnidesk.services.backoff import Backoff
from omnidesk.storage.mail_store import MailStore, QueuedMail

from .errors import MailAuthError, MailError, MailSendError
from .imap_blocking import BlockingImap
from .smtp_send import SendResult, send_and_file

log = logging.getLogger(__name__)

AccountFor = Callable[[str], MailAccount | None]
"""Account id (kept with each queued mail) -> the account, or None when it was removed."""
PasswordFor = Callable[[str], PasswordProvider]
SendFn = Callable[[MailAccount, PasswordProvider, ComposedMail, float], Awaitable[SendResult]]
FindFn = Callable[[MailAccount, PasswordProvider, str, float], Awaitable[int | None]]

INTERRUPTED = (
    "The console stopped while sending this reply, so it may or may not have gone out. "
    "Check the Sent folder, then resend it if needed."
)
NO_ACCOUNT = "The mail account of this reply is no longer set up."


def auth_refused(account: MailAccount) -> str:
    return (
        f"The mail server refused the login for {account.login}. "
        "Check the password in the mail account settings, then resend."
    )


async def _send(
    account: MailAccount, password: PasswordProvider, mail: ComposedMail, timeout: float
) -> SendResult:
    return await send_and_file(account, password, mail, timeout=timeout)


async def find_in_sent(
    account: MailAccount, password: PasswordProvider, message_id: str, timeout: float
) -> int | None:
    """The UID of the mail with this Message-ID in the account's Sent folder, if any."""

    def search() -> int | None:
        session = BlockingImap.connect(account, password(), timeout)
        try:
            session.select(account.sent_folder)
            quoted = '"' + message_id.replace("\\", "\\\\").replace('"', '\\"') + '"'
            found = session.search_uids(f"HEADER Message-ID {quoted}")
            return max(found) if found else None
        finally:
            session.close()

    async with asyncio.timeout(timeout + 5):
        return await asyncio.to_thread(search)


class MailSender:
    """One loop for every account's queued mail. Publishes what it changes via ``on_changes``."""

    def __init__(
        self,
        store: MailStore,
        account_for: AccountFor,
        password_for: PasswordFor,
        on_changes: Callable[[Changes], None],
        *,
        backoff: Callable[[], Backoff] = lambda: Backoff(initial=2.0, maximum=300.0),
        timeout: float = 60.0,
        poll: float = 30.0,
        send: SendFn = _send,
        find_sent: FindFn = find_in_sent,
    ) -> None:
        self._store = store
        self._account_for = account_for
        self._password_for = password_for
        self._on_changes = on_changes
        self._new_backoff = backoff
        self._timeout = timeout
        self._poll = poll
        """Look at the outbox this often anyway (a retry queued without :meth:`wake`)."""
        self._send = send
        self._find_sent = find_sent
        self._backoffs: dict[str, Backoff] = {}
        self._not_before: dict[str, float] = {}
        """Account id -> monotonic time before which its mail is not tried again."""
        self._wake = asyncio.Event()
        self.sent = 0

    def wake(self) -> None:
        """Try now: something was queued, or an account is reachable again."""
        self._not_before.clear()
        self._wake.set()

    async def cancel(self, client_id: str) -> Changes:
        return await self._store.cancel_mail(client_id)

    async def retry(self, client_id: str) -> Changes:
        changes = await self._store.retry_mail(client_id)
        self.wake()
        return changes

    async def run(self) -> None:
        """Send until cancelled (first settling what a previous run left half-sent)."""
        await self._settle_interrupted()
        while True:
            now = time.monotonic()
            waiting = {a: t for a, t in self._not_before.items() if t > now}
            queued = await self._store.claim_next_mail(waiting.keys())
            if queued is None:
                await self._wait(min([self._poll, *(t - now for t in waiting.values())]))
                continue
            self._on_changes(Changes(threads=frozenset({queued.item.conversation_id}), outbox=True))
            await self._deliver(queued)

    async def _wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        self._wake.clear()

    # -- one mail -------------------------------------------------------------------------

    async def _deliver(self, queued: QueuedMail) -> None:
        client_id = queued.item.client_id
        envelope = queued.envelope
        account = self._account_for(envelope.account_id)
        if account is None:
            self._on_changes(await self._store.mail_failed(client_id, NO_ACCOUNT))
            return
        mail = ComposedMail(
            message_id=envelope.message_id,
            raw=queued.raw,
            sender=envelope.sender,
            recipients=list(envelope.recipients),
            subject="",
        )
        try:
            result = await self._send(account, self._password_for(account.id), mail, self._timeout)
        except asyncio.CancelledError:
            # SMTP may have taken it: leave it "sending" for the next run to settle.
            raise
        except MailAuthError as exc:
            log.info("mail %s not sent: %s", client_id, exc)
            await self._failed(client_id, auth_refused(account))
        except MailSendError as exc:
            log.info("mail %s refused: %s", client_id, exc)
            await self._failed(client_id, str(exc))
        except MailError as exc:  # unreachable, dropped, timed out: later, once
            await self._retry_later(account.id, client_id, exc)
        except Exception as exc:  # our bug: keep the reply, say so, do not loop on it
            log.exception("sending mail %s failed", client_id)
            await self._failed(client_id, f"The reply could not be sent ({type(exc).__name__}).")
        else:
            if result.append_error is not None:
                log.warning(
                    "mail %s sent but not filed in Sent: %s", client_id, result.append_error
                )
            self.sent += 1
            self._backoffs.pop(account.id, None)
            self._not_before.pop(account.id, None)
            await self._record_sent(client_id, queued.raw, account, result.sent_uid)

    async def _record_sent(
        self, client_id: str, raw: bytes, account: MailAccount, sent_uid: int | None
    ) -> None:
        parsed = parse_message(
            raw,
            uid=sent_uid,
            folder=account.sent_folder if sent_uid is not None else None,
            flags=frozenset({"\\Seen"}),
        )
        try:
            self._on_changes(await asyncio.shield(self._store.mail_sent(client_id, parsed)))
        except asyncio.CancelledError:
            raise
        except Exception:  # stays "sending" (never resent): the next start settles it
            log.exception("mail %s was sent but could not be recorded", client_id)

    async def _failed(self, client_id: str, reason: str) -> None:
        self._on_changes(await asyncio.shield(self._store.mail_failed(client_id, reason)))

    async def _retry_later(self, account_id: str, client_id: str, exc: MailError) -> None:
        backoff = self._backoffs.setdefault(account_id, self._new_backoff())
        delay = backoff.next()
        self._not_before[account_id] = time.monotonic() + delay
        log.info("mail %s not sent (%s); retrying in %.1fs", client_id, exc, delay)
        self._on_changes(await asyncio.shield(self._store.mail_requeue(client_id)))

    # -- after a restart ------------------------------------------------------------------

    async def _settle_interrupted(self) -> None:
        for queued in await self._store.interrupted_mail():
            client_id = queued.item.client_id
            account = self._account_for(queued.envelope.account_id)
            uid: int | None = None
            if account is not None:
                try:
                    uid = await self._find_sent(
                        account,
                        self._password_for(account.id),
                        queued.envelope.message_id,
                        self._timeout,
                    )
                except (MailError, TimeoutError) as exc:
                    log.info("could not look for mail %s in Sent: %s", client_id, exc)
            if account is not None and uid is not None:
                await self._record_sent(client_id, queued.raw, account, uid)
            else:
                await self._failed(client_id, INTERRUPTED)
