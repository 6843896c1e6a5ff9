"""A strict, fast reader for the common, well-formed message; None for anything else.

The email package's parser with ``policy.default`` costs about 5 ms for a typical message
(a line-by-line feed parser, and a header registry that parses every structured header
with a recursive-descent parser): 50 s of CPU for a 10,000-message first sync, ten times
what mbsync needs for the whole job. This module finds the same MIME structure with bytes
searches and C-level regexes and describes each part (:class:`FastPart`) exactly as the
``email.message`` methods that :mod:`.parse` calls would (``get_content_type``,
``get_filename``, ``get_payload``, ...) over ``policy.default``'s header objects.

It only accepts what it can read *exactly* as the email package does, and answers None for
everything else (which then takes the full parser): ASCII-only header blocks with no
continuation first line and a blank line after them, no lone CR near structure, a
Content-Type / Content-Disposition in a plain ``token/token; name=value`` grammar (not
RFC 2231 parameters, comments, encoded words), no ``message/*``, ``multipart/digest`` or
uuencoded parts, multiparts with their start and close boundaries and no empty part, no
deep nesting. The differential tests
(tests/services/mail/test_parse_fast.py) check that both readers agree.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from email import _encoded_words as encoded_words  # type: ignore[attr-defined]  # the registry's own decoder
from email.utils import unquote
from typing import NamedTuple

MAX_DEPTH = 20
"""As deep as :data:`.parse.MAX_DEPTH`: deeper nesting is the full parser's business."""

_HEADER_BLOCK = re.compile(
    rb"(?:[\x21-\x39\x3b-\x7e]+:[\t\x20-\x7e]*\r?\n(?:[ \t][\t\x20-\x7e]*\r?\n)*)*"
)
"""Header lines the feed parser reads as headers (printable ASCII only), each field's
first line a ``name:``; nothing else before the blank line."""
_HEADER = re.compile(r"([\x21-\x39\x3b-\x7e]+):[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)\r?\n")
_BLANK_LINE = re.compile(rb"\n\r?\n")

_TOKEN = r"[A-Za-z0-9!#$&+\-.^_`{|}~]+"
"""An RFC 2045 token without ``'``, ``%`` and ``*`` (which the registry reads as RFC 2231)."""
_QUOTED = r'"[^"\\\x00-\x1f\x7f]*"'
_PARAMS = rf"(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))*[ \t]*;?[ \t]*"
_PARAM = re.compile(rf";[ \t]*({_TOKEN})=({_TOKEN}|{_QUOTED})")
_CONTENT_TYPE = re.compile(rf"[ \t]*({_TOKEN})/({_TOKEN}){_PARAMS}")
_DISPOSITION = re.compile(rf"[ \t]*({_TOKEN}){_PARAMS}")
_CTE = re.compile(r"[A-Za-z0-9\-]+")
_UUENCODED = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})

_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_ADDR_SPEC = rf"{_ATEXT}+(?:\.{_ATEXT}+)*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
_MAILBOX = re.compile(
    rf"[ \t]*(?:(?:([^\"<>,]*?)|\"([^\"\\\x00-\x1f\x7f]*)\")[ \t]*<({_ADDR_SPEC})>"
    rf"|({_ADDR_SPEC}))[ \t]*(?:,|\Z)"
)
_PHRASE_WORD = re.compile(rf"{_ATEXT}+")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=")
_WSP = re.compile(r"[ \t]+")
_SIMPLE_TEXT = re.compile(r"\S+(?: \S+)*")


class FastAddress(NamedTuple):
    """What :mod:`.parse` reads of a registry ``Address``."""

    display_name: str
    addr_spec: str


class FastAddressHeader(NamedTuple):
    """What :mod:`.parse` reads of a registry ``AddressHeader``."""

    addresses: tuple[FastAddress, ...]


@dataclass(slots=True)
class FastPart:
    """One MIME part as the email package would describe it to :mod:`.parse`."""

    ctype: str
    """``get_content_type()``: lower case, ``text/plain`` when absent."""
    params: dict[str, str]
    """Content-Type parameters, lower-case name -> value as written (first one wins)."""
    has_type: bool
    disposition: str | None
    """``get_content_disposition()``."""
    disposition_params: dict[str, str]
    cte: str
    """``Content-Transfer-Encoding`` in lower case, ``""`` when absent."""
    content_id: str | None
    """The ``Content-ID`` field as written (unfolded), None when absent."""
    body: bytes = b""
    """A leaf's payload (for a nested part without the line break before the boundary)."""
    children: list[FastPart] | None = None

    def param(self, name: str) -> str | None:
        """``get_param(name)``: the first such Content-Type parameter, unquoted."""
        value = self.params.get(name)
        return None if value is None else unquote(value)

    def filename(self) -> str | None:
        """``get_filename()``: Content-Disposition's ``filename``, else Content-Type's ``name``."""
        value = self.disposition_params.get("filename")
        if value is None:
            value = self.params.get("name")
        return None if value is None else unquote(unquote(value)).strip()

    def charset(self) -> str | None:
        """``get_content_charset()``."""
        value = self.param("charset")
        return None if value is None else value.lower()

    def decoded(self) -> bytes:
        """``get_payload(decode=True)`` of a leaf (uuencoded parts never get here)."""
        if self.cte == "quoted-printable":
            return binascii.a2b_qp(self.body)
        if self.cte == "base64":
            value: bytes = encoded_words.decode_b(b"".join(self.body.splitlines()))[0]
            return value
        return self.body

    def payload_text(self) -> str:
        """``get_payload()`` of a leaf: the body as text, 8-bit bytes read in its charset."""
        if self.body.isascii():
            return self.body.decode("ascii")
        charset = self.param("charset") if self.has_type else None
        try:
            return self.body.decode(charset or "ascii", "replace")
        except LookupError:
            return self.body.decode("ascii", "replace")


class FastMessage(NamedTuple):
    headers: list[tuple[str, str]]
    """Every top-level field as the parser stores it (``raw_items()``), in order."""
    tree: FastPart


def read_message(raw: bytes) -> FastMessage | None:
    """The message's fields and MIME tree, or None if it needs the full parser."""
    head = _read_headers(raw, 0, len(raw))
    if head is None:
        return None
    headers, body_start = head
    tree = _part(headers, raw, body_start, len(raw), nested=False, depth=0)
    return None if tree is None else FastMessage(headers, tree)


def unfolded(value: str) -> str:
    """A field value as ``policy.default`` hands it to the header registry."""
    return value.replace("\r", "").replace("\n", "") if "\n" in value else value


def unstructured(value: str) -> str | None:
    """``str()`` of the registry's unstructured header for ``value`` (unfolded), with runs
    of whitespace that the caller collapses anyway left as they are; None when unsure."""
    if "=?" not in value:
        return value
    out: list[str] = []
    previous_was_word = False
    for token in _WSP.split(value):
        if not token:
            continue
        if _ENCODED_WORD.fullmatch(token):
            text, _charset, _lang, defects = encoded_words.decode(token)
            if defects:
                return None
            if out and not previous_was_word:
                out.append(" ")
            out.append(text)  # RFC 2047: no space between two adjacent encoded words
            previous_was_word = True
        elif "=?" in token:
            return None
        else:
            if out:
                out.append(" ")
            out.append(token)
            previous_was_word = False
    return "".join(out)


def addresses(value: str) -> FastAddressHeader | None:
    """The registry's reading of a simple address list (unfolded); None when unsure."""
    found: list[FastAddress] = []
    pos, end = 0, len(value)
    while pos < end:
        match = _MAILBOX.match(value, pos)
        if match is None:
            return None
        phrase, quoted, in_angles, bare = match.groups()
        if bare is not None:
            found.append(FastAddress("", bare))
        elif quoted is not None:
            if "=?" in quoted:
                return None
            found.append(FastAddress(quoted, in_angles))
        else:
            name = _display_name(phrase)
            if name is None:
                return None
            found.append(FastAddress(name, in_angles))
        pos = match.end()
        if pos == end and value.endswith(","):
            return None
    return FastAddressHeader(tuple(found)) if found else None


def _display_name(phrase: str) -> str | None:
    """Atoms and encoded words separated by whitespace, as the registry joins them."""
    words: list[str] = []
    for token in _WSP.split(phrase):
        if not token:
            continue
        if _PHRASE_WORD.fullmatch(token) and "=?" not in token:
            words.append(token)
        elif _ENCODED_WORD.fullmatch(token):
            text, _charset, _lang, defects = encoded_words.decode(token)
            if defects or not _SIMPLE_TEXT.fullmatch(text):
                return None
            words.append(text)
        else:
            return None
    return " ".join(words)


# -- structure ---------------------------------------------------------------------------------


def _read_headers(raw: bytes, start: int, end: int) -> tuple[list[tuple[str, str]], int] | None:
    """The fields of the part at ``raw[start:end]`` and where its body starts."""
    if raw.startswith(b"\n", start) or raw.startswith(b"\r\n", start):
        return [], start + (1 if raw[start] == 10 else 2)
    blank = _BLANK_LINE.search(raw, start, end)
    if blank is None:
        return None
    block_end = blank.start() + 1
    if _HEADER_BLOCK.fullmatch(raw, start, block_end) is None:
        return None
    block = raw[start:block_end].decode("ascii")
    # header_source_parse: the value loses leading blanks and trailing line breaks only
    headers: list[tuple[str, str]] = _HEADER.findall(block)
    return headers, blank.end()


def _part(
    headers: list[tuple[str, str]], raw: bytes, start: int, end: int, *, nested: bool, depth: int
) -> FastPart | None:
    """The part whose fields are ``headers`` and body ``raw[start:end]``; None to give up."""
    if depth > MAX_DEPTH:
        return None
    fields: dict[str, str] = {}
    for name, value in headers:
        if name[:8].lower() != "content-":
            continue
        key = name.lower()
        if key not in fields:
            if "\n" in value:
                value = value.replace("\r", "").replace("\n", "")
            if "=?" in value:
                return None
            fields[key] = value
    content_type = fields.get("content-type")
    params: dict[str, str] = {}
    if content_type is None:
        ctype = "text/plain"
    else:
        found = _content_type_value(content_type)
        if found is None:
            return None
        ctype, params = found
    disposition: str | None = None
    disposition_params: dict[str, str] = {}
    if "content-disposition" in fields:
        found = _disposition_value(fields["content-disposition"])
        if found is None:
            return None
        disposition, disposition_params = found
    cte = fields.get("content-transfer-encoding", "")
    if cte and _CTE.fullmatch(cte) is None:
        return None
    part = FastPart(
        ctype=ctype,
        params=params,
        has_type=content_type is not None,
        disposition=disposition,
        disposition_params=disposition_params,
        cte=cte.lower(),
        content_id=fields.get("content-id"),
    )
    maintype = ctype.partition("/")[0]
    if maintype == "message" or ctype == "multipart/digest" or part.cte in _UUENCODED:
        return None
    if maintype != "multipart":
        if nested:  # RFC 2046: the line break before a boundary belongs to the boundary
            if raw.endswith(b"\r\n", start, end):
                end -= 2
            elif raw.endswith(b"\n", start, end):
                end -= 1
        part.body = raw[start:end]
        return part
    if (part.cte or "8bit") not in ("7bit", "8bit", "binary"):
        return None
    boundary = part.param("boundary")
    boundary = unquote(boundary).rstrip() if boundary is not None else None  # get_boundary()
    if not boundary:
        return None
    lines = _boundary_lines(raw, start, end, b"--" + boundary.encode("ascii"))
    if lines is None or len(lines) < 2 or lines[0][2] or not lines[-1][2]:
        return None  # no start boundary, or no close boundary
    part.children = []
    for (_s, part_start, _close), (part_end, _e, _c) in zip(lines, lines[1:], strict=False):
        if part_start == part_end:
            return None  # two boundary lines in a row: the feed parser merges them
        head = _read_headers(raw, part_start, part_end)
        if head is None:
            return None
        child = _part(head[0], raw, head[1], part_end, nested=True, depth=depth + 1)
        if child is None:
            return None
        part.children.append(child)
    return part


def _content_type_value(value: str) -> tuple[str, dict[str, str]] | None:
    match = _CONTENT_TYPE.fullmatch(value)
    if match is None:
        return None
    ctype = f"{match.group(1)}/{match.group(2)}".lower()
    return ctype, _params(value, match.end(2))


def _disposition_value(value: str) -> tuple[str, dict[str, str]] | None:
    match = _DISPOSITION.fullmatch(value)
    if match is None:
        return None
    return match.group(1).lower(), _params(value, match.end(1))


def _params(value: str, pos: int) -> dict[str, str]:
    """``name=value`` pairs after ``pos`` (grammar already checked); the first one wins."""
    params: dict[str, str] = {}
    for match in _PARAM.finditer(value, pos):
        params.setdefault(match.group(1).lower(), match.group(2))
    return params


def _boundary_lines(
    raw: bytes, start: int, end: int, separator: bytes
) -> list[tuple[int, int, bool]] | None:
    """``(line start, line end, is close)`` of the boundary lines up to the close one.

    The feed parser's rule: a line that is exactly the separator, optionally followed by
    ``--``, blanks, and the line break (or the end of the message). It also ends lines at a
    lone CR: near a boundary that is a case for the full parser (None).
    """
    found: list[tuple[int, int, bool]] = []
    pos = start
    while True:
        i = raw.find(separator, pos, end)
        if i < 0:
            return found
        pos = i + 1
        if i != start and raw[i - 1] != 10:
            if raw[i - 1] == 13:
                return None
            continue
        j = i + len(separator)
        close = raw.startswith(b"--", j, end)
        if close:
            j += 2
        while j < end and raw[j] in (32, 9):
            j += 1
        if j == end and end == len(raw):
            pass  # the last line of the message, without a line break
        elif raw.startswith(b"\n", j, end):
            j += 1
        elif raw.startswith(b"\r\n", j, end):
            j += 2
        elif raw.startswith(b"\r", j, end):
            return None
        else:
            continue
        found.append((i, j, close))
        if close:
            return found
