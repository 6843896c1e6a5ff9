"""Raw RFC 5322 bytes -> :class:`ParsedMail`, best effort and never raising.

Everything that had to fall back (bad charset, broken MIME, unparseable header) is recorded
in ``ParsedMail.defects`` instead of raising. Attachment bodies are never decoded: their size
is computed from the encoded payload.

Speed: a first sync parses every message of a mailbox, so most messages take the strict
reader in :mod:`.mime_fast` (tens of times cheaper than the email package with
``policy.default``); whatever it is unsure of goes through the email package. Both paths
share the header handling (:func:`_headers`) and the text and size rules; the two walks
(:func:`_walk`, :func:`_walk_fast`) mirror each other, and test_parse_fast.py checks that
both readers give equal results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from .html import sanitize_html
from .mime_fast import FastPart, addresses, read_message, unfolded, unstructured
from .types import Address, Attachment, ParsedMail

__all__ = ["parse_message", "sanitize_html"]


class _CachedHeaderRegistry(HeaderRegistry):
    """The stdlib registry builds a new class for every header it is asked for (about
    25 us each, several per message); the classes only depend on the name, so keep them."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


Fetch = Callable[[str], Any]
"""``msg[name]`` of ``policy.default``: the first field of that name as a header object."""

_MSGID_RE = re.compile(r"<([^<>\s]+)>")
_UNFOLD_RE = re.compile(r"\r?\n[ \t]")
_POLICY = policy.default.clone(header_factory=_CachedHeaderRegistry())
_PARSER = BytesParser(policy=_POLICY)
_ADDRESS_FIELDS = frozenset({"from", "to", "cc", "reply-to"})
_STR_WHITESPACE = bytes(c for c in range(128) if chr(c).isspace())
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
    mail = _parse_fast(raw)
    if mail is None:
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
    """The email package's reading: slow, but it copes with anything."""
    msg = _PARSER.parsebytes(raw)
    defects: list[str] = [type(d).__name__ for d in msg.defects]
    mail = _headers(_raw_headers(msg), msg.get, defects)
    _walk(msg, "", mail, depth=0, top=True)
    return _finish(mail, raw)


def _parse_fast(raw: bytes) -> ParsedMail | None:
    """The strict reader's result, or None when the message needs :func:`_parse`."""
    try:
        found = read_message(raw)
        if found is None:
            return None
        raw_headers: dict[str, str] = {}
        values: dict[str, str] = {}
        for name, value in found.headers:  # ASCII only: _unescape_8bit has nothing to do
            key = name.lower()
            if key not in raw_headers:
                folded = "\n" in value
                raw_headers[key] = _UNFOLD_RE.sub(" ", value) if folded else value
                values[key] = unfolded(value) if folded else value

        def fetch(name: str) -> Any:
            value = values.get(name)
            if value is None:
                return None
            if name in _ADDRESS_FIELDS:
                simple: Any = addresses(value)
            else:
                simple = unstructured(value) if name == "subject" else None
            return simple if simple is not None else _POLICY.header_factory(name, value)

        mail = _headers(raw_headers, fetch, [])
        _walk_fast(found.tree, "", mail)
        return _finish(mail, raw)
    except Exception:  # a case the strict reader misjudged: the full parser decides
        return None


def _headers(raw_headers: dict[str, str], fetch: Fetch, defects: list[str]) -> ParsedMail:
    ids = _msgids(raw_headers.get("message-id", ""))
    mail = ParsedMail(message_id=ids[0] if ids else "", defects=defects)
    irt = _msgids(raw_headers.get("in-reply-to", ""))
    mail.in_reply_to = irt[-1] if irt else None
    mail.references = _dedupe(_msgids(raw_headers.get("references", "")))
    mail.subject = _text_header(fetch, "subject", raw_headers, defects)
    mail.from_ = _addresses(fetch, "from", raw_headers, defects)
    mail.to = _addresses(fetch, "to", raw_headers, defects)
    mail.cc = _addresses(fetch, "cc", raw_headers, defects)
    mail.reply_to = _addresses(fetch, "reply-to", raw_headers, defects)
    mail.date = _date(raw_headers.get("date"), defects)
    return mail


def _finish(mail: ParsedMail, raw: bytes) -> ParsedMail:
    if not mail.message_id:
        mail.defects.append("missing Message-ID")
        mail.message_id = _synthetic_id(raw)
        mail.synthetic_id = True
    return mail


def _raw_headers(msg: Message) -> dict[str, str]:
    """First occurrence of each header, unfolded, without applying the policy."""
    out: dict[str, str] = {}
    for name, value in msg.raw_items():
        key = name.lower()
        if key not in out:
            out[key] = _unescape_8bit(_UNFOLD_RE.sub(" ", str(value)))
    return out


def _unescape_8bit(value: str) -> str:
    """Header bytes the parser kept as surrogate escapes -> text (UTF-8, else Latin-1)."""
    if value.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in value):
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


def _text_header(fetch: Fetch, name: str, raw: dict[str, str], defects: list[str]) -> str:
    if name not in raw:
        return ""
    if not raw[name].isascii():
        defects.append(f"8-bit {name}")
        return " ".join(_decode_words(raw[name]).split())
    try:
        value = fetch(name)
        text = str(value) if value is not None else ""
        return " ".join(text.split())
    except Exception:
        defects.append(f"fallback decoding of {name}")
        return " ".join(_decode_words(raw[name]).split())


def _addresses(fetch: Fetch, name: str, raw: dict[str, str], defects: list[str]) -> list[Address]:
    if name not in raw:
        return []
    try:
        header = fetch(name)
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
    return bool(email) and (email.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in email))


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


def _walk_fast(part: FastPart, path: str, mail: ParsedMail) -> None:
    """:func:`_walk` over the strict reader's tree (which holds no defects by construction)."""
    if part.children is not None:
        for i, child in enumerate(part.children, start=1):
            _walk_fast(child, f"{path}.{i}" if path else str(i), mail)
        return
    section = path or "1"
    ctype = part.ctype
    disposition = part.disposition
    name = part.filename()
    filename = None if name is None else _unescape_8bit(_decode_words(name))
    is_attachment = disposition == "attachment" or (
        filename is not None and disposition != "inline"
    )
    if ctype in ("text/plain", "text/html") and not is_attachment:
        if ctype == "text/plain" and not mail.text:
            mail.text = _decode_text(part.decoded(), part.charset, mail).replace("\r\n", "\n")
            return
        if ctype == "text/html" and not mail.html:
            mail.html = _decode_text(part.decoded(), part.charset, mail)
            return
    cid = part.content_id
    content_id = (cid.strip().strip("<>").strip() or None) if cid is not None else None
    mail.attachments.append(
        Attachment(
            filename=filename or "",
            content_type=ctype,
            size=_ascii_payload_size(part.body, part.cte)
            if part.body.isascii()
            else _payload_size(part.payload_text(), part.cte),
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
    return _decode_text(data, part.get_content_charset, mail)


def _decode_text(data: bytes, charset_of: Callable[[], str | None], mail: ParsedMail) -> str:
    """The part's text in its declared charset; UTF-8, then cp1252, when that is unknown."""
    charset = "us-ascii"
    try:
        charset = str(charset_of() or "us-ascii")
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
    return _payload_size(payload, str(part.get("content-transfer-encoding", "")).strip().lower())


def _ascii_payload_size(payload: bytes, cte: str) -> int:
    """:func:`_payload_size` of an ASCII payload, without making text of it first."""
    if cte == "base64":
        chars = len(payload) - sum(payload.count(c) for c in (b"\r", b"\n", b" ", b"\t"))
        stripped = payload.rstrip(_STR_WHITESPACE)  # what str.rstrip() strips, in ASCII
        padding = stripped.count(b"=", max(0, len(stripped) - 2))
        return max(0, chars * 3 // 4 - padding)
    if cte == "quoted-printable":
        return len(payload) - 2 * payload.count(b"=") + payload.count(b"=\n") * 1
    return len(payload)


def _payload_size(payload: str, cte: str) -> int:
    if cte == "base64":
        chars = len(payload) - sum(payload.count(c) for c in "\r\n \t")
        padding = payload.rstrip().count("=", max(0, len(payload.rstrip()) - 2))
        return max(0, chars * 3 // 4 - padding)
    if cte == "quoted-printable":
        return len(payload) - 2 * payload.count("=") + payload.count("=\n") * 1
    return len(payload.encode("utf-8", "surrogateescape"))


def _synthetic_id(raw: bytes) -> str:
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@omnidesk.invalid>"
