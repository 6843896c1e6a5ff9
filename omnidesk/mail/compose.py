"""Building outgoing messages, replies in particular (see email-notes, "Replying in the thread").

Layout of what is built (wrappers only when needed)::

    multipart/mixed                       only with attachments
      multipart/alternative
        text/plain
        multipart/related                 only with inline signature images
          text/html
          image/* (Content-ID: <id>, referenced as cid:id)
      attachments
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import nh3

from .html import sanitize_html
from .subject import reply_subject
from .types import Address, MailAccount, ParsedMail

MAX_REFERENCES = 20
"""References longer than this keep the first id and the most recent ones."""


@dataclass(frozen=True)
class OutgoingAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ComposedMail:
    """A message ready for SMTP: the exact bytes plus what the caller must store."""

    message_id: str
    raw: bytes
    sender: str
    recipients: list[str]
    """Envelope recipients (To, Cc and Bcc)."""
    subject: str
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)


def build_message(
    account: MailAccount,
    *,
    to: Sequence[Address],
    subject: str,
    text: str,
    html: str | None = None,
    cc: Sequence[Address] = (),
    bcc: Sequence[Address] = (),
    attachments: Sequence[OutgoingAttachment] = (),
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    quote_text: str = "",
    quote_html: str = "",
    date: dt.datetime | None = None,
    message_id: str | None = None,
) -> ComposedMail:
    """A new message with the account's signature; ``quote_*`` go under the answer."""
    message_id = message_id or make_msgid(domain=account.domain)
    body_html = html if html is not None else _text_to_html(text)
    signature_text = html_to_text(account.signature_html) if account.signature_html else ""

    plain = text.rstrip("\n") + "\n"
    if signature_text:
        plain += "\n-- \n" + signature_text.rstrip("\n") + "\n"
    if quote_text:
        plain += "\n" + quote_text

    rich = f"<div>{body_html}</div>"
    if account.signature_html:
        rich += f'\n<div class="signature">-- <br>{account.signature_html}</div>'
    if quote_html:
        rich += "\n" + quote_html
    rich = f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>{rich}</body></html>'

    msg = EmailMessage(policy=policy.default)
    msg["From"] = formataddr((account.display_name, account.address))
    if to:
        msg["To"] = ", ".join(str(a) for a in to)
    if cc:
        msg["Cc"] = ", ".join(str(a) for a in cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or dt.datetime.now(dt.UTC).astimezone())
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    msg["MIME-Version"] = "1.0"

    msg.set_content(plain, subtype="plain", charset="utf-8")
    msg.add_alternative(rich, subtype="html", charset="utf-8")
    if account.signature_images:
        html_part = list(msg.iter_parts())[1]
        assert isinstance(html_part, EmailMessage)
        for image in account.signature_images:
            maintype, _, subtype = image.content_type.partition("/")
            html_part.add_related(
                image.data,
                maintype,
                subtype or "octet-stream",
                cid=f"<{image.content_id}>",
                filename=image.filename or None,
                disposition="inline",
            )
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        msg.add_attachment(
            attachment.data,
            maintype,
            subtype or "octet-stream",
            filename=attachment.filename,
        )

    recipients = _unique_emails([*to, *cc, *bcc])
    return ComposedMail(
        message_id=message_id,
        raw=msg.as_bytes(policy=policy.SMTP),
        sender=account.address,
        recipients=recipients,
        subject=subject,
        in_reply_to=in_reply_to,
        references=list(references),
    )


def build_reply(
    account: MailAccount,
    parent: ParsedMail,
    *,
    text: str,
    html: str | None = None,
    reply_all: bool = False,
    attachments: Sequence[OutgoingAttachment] = (),
    date: dt.datetime | None = None,
) -> ComposedMail:
    """A reply in the parent's thread, the quoted original under the answer."""
    to, cc = reply_recipients(account, parent, reply_all=reply_all)
    in_reply_to = None if parent.synthetic_id else parent.message_id
    return build_message(
        account,
        to=to,
        cc=cc,
        subject=reply_subject(parent.subject),
        text=text,
        html=html,
        attachments=attachments,
        in_reply_to=in_reply_to,
        references=reply_references(parent),
        quote_text=quote_plain(parent),
        quote_html=quote_html(parent),
        date=date,
    )


def reply_references(parent: ParsedMail, limit: int = MAX_REFERENCES) -> list[str]:
    """Parent's References (or its In-Reply-To) followed by the parent's Message-ID."""
    refs = list(parent.references)
    if not refs and parent.in_reply_to:
        refs = [parent.in_reply_to]
    if not parent.synthetic_id and parent.message_id not in refs:
        refs.append(parent.message_id)
    if len(refs) > limit:
        refs = [refs[0], *refs[-(limit - 1) :]]
    return refs


def reply_recipients(
    account: MailAccount, parent: ParsedMail, *, reply_all: bool
) -> tuple[list[Address], list[Address]]:
    """(To, Cc): Reply-To else From; reply-all adds To and Cc minus the agent's addresses."""
    own = account.all_own_addresses()
    to = _without(parent.reply_to or parent.from_, own)
    if not to:  # replying to our own message: go back to its recipients
        to = _without(parent.to, own)
    cc: list[Address] = []
    if reply_all:
        taken = {a.email.lower() for a in to}
        for address in _without([*parent.to, *parent.cc], own):
            if address.email.lower() not in taken:
                taken.add(address.email.lower())
                cc.append(address)
    return to, cc


def quote_plain(parent: ParsedMail) -> str:
    body = parent.text or html_to_text(parent.html)
    lines = body.rstrip("\n").splitlines() or [""]
    quoted = "\n".join(">" + (" " + line if line and not line.startswith(">") else line)
                       for line in lines)  # fmt: skip
    return f"{_attribution(parent)}\n{quoted}\n"


def quote_html(parent: ParsedMail) -> str:
    inner = sanitize_html(parent.html) if parent.html else _text_to_html(parent.text)
    attribution = html_lib.escape(_attribution(parent))
    return f'<div class="quote">{attribution}<blockquote type="cite">{inner}</blockquote></div>'


def html_to_text(source: str) -> str:
    """A rough plain-text rendering of HTML, for quoting and signatures."""
    text = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>|</h\d\s*>|</li\s*>", "\n", source)
    text = nh3.clean(text, tags=set(), clean_content_tags={"script", "style", "head", "title"})
    text = html_lib.unescape(text)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _attribution(parent: ParsedMail) -> str:
    who = str(parent.from_[0]) if parent.from_ else "someone"
    if parent.date is not None:
        return f"On {format_datetime(parent.date)}, {who} wrote:"
    return f"{who} wrote:"


def _text_to_html(text: str) -> str:
    return html_lib.escape(text).replace("\n", "<br>\n")


def _without(addresses: Iterable[Address], own: frozenset[str]) -> list[Address]:
    out: list[Address] = []
    seen: set[str] = set()
    for address in addresses:
        key = address.email.lower()
        if key and key not in own and key not in seen:
            seen.add(key)
            out.append(address)
    return out


def _unique_emails(addresses: Iterable[Address]) -> list[str]:
    out: list[str] = []
    for address in addresses:
        if address.email and address.email.lower() not in (o.lower() for o in out):
            out.append(address.email)
    return out
