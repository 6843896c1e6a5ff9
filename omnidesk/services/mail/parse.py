"""Raw RFC 5322 bytes -> :class:`ParsedMail`, best effort and never raising.

Everything that had to fall back (bad charset, broken MIME, unparseable header) is recorded
in ``ParsedMail.defects`` instead of raising. Attachment bodies are never decoded: their size
is computed from the encoded payload.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from .html import sanitize_html
from .types import Address, Attachment, ParsedMail

__all__ = ["parse_message", "sanitize_html"]

_MSGID_RE = re.compile(r"<([^<>\s]+)>")
_PARSER = BytesParser(policy=policy.default)
MAX_DEPTH = 20
"""Deeper MIME nesting than this is treated as opaque (protects against recursion bombs)."""


def parse_message(
    raw: bytes,
    *,
    uid: int | None = None,
    folder: str | None = None,
    flags: frozenset[str] = frozenset(),
) -> ParsedMail:
    """Parse a complete message. Never raises."""
    try:
        mail = _parse(raw)
    except Exception as exc:
        mail = ParsedMail(
            message_id=_synthetic_id(raw),
            synthetic_id=True,
            defects=[f"unparseable message: {type(exc).__name__}: {exc}"],
        )
    mail.uid = uid
    mail.folder = folder
    mail.flags = frozenset(flags)
    mail.size = len(raw)
    return mail


def _parse(raw: bytes) -> ParsedMail:
    msg = _PARSER.parsebytes(raw)
    defects: list[str] = [type(d).__name__ for d in msg.defects]
    raw_headers = _raw_headers(msg)

    ids = _msgids(raw_headers.get("message-id", ""))
    mail = ParsedMail(message_id=ids[0] if ids else "", defects=defects)
    irt = _msgids(raw_headers.get("in-reply-to", ""))
    mail.in_reply_to = irt[-1] if irt else None
    mail.references = _dedupe(_msgids(raw_headers.get("references", "")))
    mail.subject = _text_header(msg, "subject", raw_headers, defects)
    mail.from_ = _addresses(msg, "from", raw_headers, defects)
    mail.to = _addresses(msg, "to", raw_headers, defects)
    mail.cc = _addresses(msg, "cc", raw_headers, defects)
    mail.reply_to = _addresses(msg, "reply-to", raw_headers, defects)
    mail.date = _date(raw_headers.get("date"), defects)

    _walk(msg, "", mail, depth=0, top=True)

    if not mail.message_id:
        defects.append("missing Message-ID")
        mail.message_id = _synthetic_id(raw)
        mail.synthetic_id = True
    return mail


def _raw_headers(msg: Message) -> dict[str, str]:
    """First occurrence of each header, unfolded, without applying the policy."""
    out: dict[str, str] = {}
    for name, value in msg.raw_items():
        key = name.lower()
        if key not in out:
            out[key] = _unescape_8bit(re.sub(r"\r?\n[ \t]", " ", str(value)))
    return out


def _unescape_8bit(value: str) -> str:
    """Header bytes the parser kept as surrogate escapes -> text (UTF-8, else Latin-1)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    data = value.encode("ascii", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _msgids(value: str) -> list[str]:
    found = [f"<{m}>" for m in _MSGID_RE.findall(value)]
    if found:
        return found
    token = value.strip()
    if token and " " not in token and "@" in token:
        return [f"<{token.strip('<>')}>"]
    return []


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _decode_words(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


def _text_header(msg: Message, name: str, raw: dict[str, str], defects: list[str]) -> str:
    if name not in raw:
        return ""
    if not raw[name].isascii():
        defects.append(f"8-bit {name}")
        return " ".join(_decode_words(raw[name]).split())
    try:
        value = msg[name]
        text = str(value) if value is not None else ""
        return " ".join(text.split())
    except Exception:
        defects.append(f"fallback decoding of {name}")
        return " ".join(_decode_words(raw[name]).split())


def _addresses(msg: Message, name: str, raw: dict[str, str], defects: list[str]) -> list[Address]:
    if name not in raw:
        return []
    try:
        header = msg[name]
        found = [
            Address(_unescape_8bit(str(a.display_name)), _unescape_8bit(str(a.addr_spec)))
            for a in getattr(header, "addresses", ())
        ]
        if found and all(_plausible(a.email) for a in found):
            return found
        if not found and not raw[name].strip():
            return []
        raise ValueError("no address parsed")
    except Exception:
        defects.append(f"fallback parsing of {name}")
        pairs = getaddresses([_decode_words(raw[name])])
        return [Address(n.strip(), e.strip()) for n, e in pairs if e.strip()]


def _plausible(email: str) -> bool:
    return bool(email) and not any("\udc80" <= ch <= "\udcff" for ch in email)


def _date(value: str | None, defects: list[str]) -> dt.datetime | None:
    if not value:
        return None
    try:
        date = parsedate_to_datetime(value.strip())
    except Exception:
        defects.append("unparseable Date")
        return None
    if date.tzinfo is None:
        date = date.replace(tzinfo=dt.UTC)
    return date


def _walk(part: Message, path: str, mail: ParsedMail, *, depth: int, top: bool) -> None:
    if depth > MAX_DEPTH:
        mail.defects.append("MIME nesting too deep")
        return
    mail.defects.extend(type(d).__name__ for d in part.defects if not top)
    ctype = _content_type(part)
    if ctype.startswith("multipart/"):
        payload = part.get_payload()
        if isinstance(payload, list):
            for i, child in enumerate(payload, start=1):
                child_path = f"{path}.{i}" if path else str(i)
                _walk(child, child_path, mail, depth=depth + 1, top=False)
            return
        # A multipart without a usable boundary: treat the body as text.
        mail.defects.append("multipart without parts")
        if not mail.text:
            mail.text = _text_of(part, mail).replace("\r\n", "\n")
        return

    section = path or "1"
    disposition = _disposition(part)
    filename = _filename(part, mail)
    is_attachment = disposition == "attachment" or (
        filename is not None and disposition != "inline"
    )
    if ctype in ("text/plain", "text/html") and not is_attachment:
        if ctype == "text/plain" and not mail.text:
            mail.text = _text_of(part, mail).replace("\r\n", "\n")
            return
        if ctype == "text/html" and not mail.html:
            mail.html = _text_of(part, mail)
            return
    content_id = _content_id(part)
    mail.attachments.append(
        Attachment(
            filename=filename or "",
            content_type=ctype,
            size=_encoded_size(part),
            content_id=content_id,
            inline=disposition == "inline" or (disposition is None and content_id is not None),
            part_path=section,
        )
    )


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _filename(part: Message, mail: ParsedMail) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        mail.defects.append("unreadable attachment filename")
        return "attachment"
    if name is None:
        return None
    return _unescape_8bit(_decode_words(str(name)))


def _content_id(part: Message) -> str | None:
    raw = part.get("content-id")
    if raw is None:
        return None
    value = str(raw).strip().strip("<>").strip()
    return value or None


def _text_of(part: Message, mail: ParsedMail) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = "us-ascii"
    try:
        charset = str(part.get_content_charset() or "us-ascii")
        return data.decode(charset, errors="replace")
    except (LookupError, ValueError):
        mail.defects.append(f"unknown charset {charset!r}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _encoded_size(part: Message) -> int:
    """Decoded size, estimated from the encoded payload without decoding it."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        if isinstance(payload, list):  # message/rfc822: size of the embedded message
            return sum(len(p.as_bytes()) if isinstance(p, Message) else 0 for p in payload)
        return 0
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "base64":
        chars = len(payload) - sum(payload.count(c) for c in "\r\n \t")
        padding = payload.rstrip().count("=", max(0, len(payload.rstrip()) - 2))
        return max(0, chars * 3 // 4 - padding)
    if cte == "quoted-printable":
        return len(payload) - 2 * payload.count("=") + payload.count("=\n") * 1
    return len(payload.encode("utf-8", "surrogateescape"))


def _synthetic_id(raw: bytes) -> str:
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@omnidesk.invalid>"
