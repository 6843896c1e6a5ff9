"""Realistic test messages as bytes."""

from __future__ import annotations

import datetime as dt
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from omnidesk.services.mail.accounts import RunnerSettings

# Timeouts and retries short enough for tests against the loopback servers.
QUICK = RunnerSettings(timeout=5.0, retry_initial=0.1, retry_max=0.5)


def make_raw(
    n: int,
    *,
    subject: str | None = None,
    sender: str = "customer@c.example",
    to: str = "agent@shop.test",
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    message_id: str | None = None,
    body: str | None = None,
    attachment: bytes | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["Message-ID"] = message_id or f"<msg{n}@c.example>"
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject or f"Order problem {n}"
    msg["Date"] = format_datetime(dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n))
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    msg.set_content(body or f"Hello, this is message {n}.\n" + "Lorem ipsum dolor sit amet. " * 20)
    msg.add_alternative(f"<p>Hello, this is <b>message {n}</b>.</p>", subtype="html")
    if attachment is not None:
        msg.add_attachment(
            attachment, maintype="application", subtype="pdf", filename=f"invoice{n}.pdf"
        )
    return msg.as_bytes(policy=policy.SMTP)
