"""What the reader pane fetches only when the agent asks: attachments and remote images.

Attachment bodies are not kept in the cache (a mailbox's attachments can be gigabytes):
:func:`save_part` fetches one MIME part by UID and section from the folder that holds the
message (``BODY.PEEK``, so saving never marks the mail read), undoes its
Content-Transfer-Encoding and writes the file atomically, so a failed save never leaves a
half-written file under the agent's chosen name.

Remote images are trackers as often as pictures, so :func:`~.html.sanitize_html` drops
their ``src`` by default; :func:`load_remote_images` fetches them once the agent asks:
images only, size-capped, time-bounded, and one bad URL never spoils the others.
"""

from __future__ import annotations

import asyncio
import base64
import imaplib
import logging
import os
import quopri
import re
import secrets
from collections.abc import Sequence
from email.parser import BytesHeaderParser
from email.policy import compat32
from html.parser import HTMLParser
from pathlib import Path

import httpx

from omnidesk.mail.html import sanitize_html
from omnidesk.mail.types import MailAccount, PasswordProvider

from .errors import MailConnectionLost, MailProtocolError
from .imap_blocking import BlockingImap

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGES = 50
"""A newsletter can reference hundreds of images; the reader shows the first ones only."""
_SECTION = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_LITERAL = re.compile(rb"BODY\[([0-9.]+?)(\.MIME)?\] \{\d+\}$")
"""The item a literal belongs to ends the text before it: ``... BODY[1.2.MIME] {145}``."""
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


# -- attachments ------------------------------------------------------------------------------


async def save_part(
    account: MailAccount,
    password_provider: PasswordProvider,
    folder: str,
    uid: int,
    part_path: str,
    path: str | os.PathLike[str],
    *,
    timeout: float = 60.0,
) -> int:
    """Fetch MIME part ``part_path`` of message ``uid`` in ``folder``, decoded, into ``path``.

    Returns the number of bytes written. Raises :class:`~.errors.MailError` when the server
    cannot be reached or no longer has the message, ``OSError`` when the file cannot be
    written.
    """
    data = await fetch_part(account, password_provider, folder, uid, part_path, timeout=timeout)
    await asyncio.to_thread(write_atomically, Path(path), data)
    return len(data)


async def fetch_part(
    account: MailAccount,
    password_provider: PasswordProvider,
    folder: str,
    uid: int,
    part_path: str,
    *,
    timeout: float = 60.0,
) -> bytes:
    """The decoded bytes of one MIME part."""
    found = await fetch_parts(account, password_provider, folder, uid, [part_path], timeout=timeout)
    return found[part_path]


async def fetch_parts(
    account: MailAccount,
    password_provider: PasswordProvider,
    folder: str,
    uid: int,
    sections: Sequence[str],
    *,
    timeout: float = 60.0,
) -> dict[str, bytes]:
    """``{section: decoded bytes}``, in one FETCH on a connection of its own (worker thread).

    Raises :class:`~.errors.MailProtocolError` when the message is no longer there.
    """
    for section in sections:
        if not _SECTION.match(section):
            raise ValueError(f"not an IMAP section number: {section!r}")
    password = password_provider()
    try:
        async with asyncio.timeout(timeout + 5):
            return await asyncio.to_thread(
                _fetch_blocking, account, password, folder, uid, list(sections), timeout
            )
    except TimeoutError as exc:
        raise MailConnectionLost("fetching from the mail server timed out") from exc


def _fetch_blocking(
    account: MailAccount,
    password: str,
    folder: str,
    uid: int,
    sections: list[str],
    timeout: float,
) -> dict[str, bytes]:
    items = " ".join(f"BODY.PEEK[{s}.MIME] BODY.PEEK[{s}]" for s in sections)
    session = BlockingImap.connect(account, password, timeout)
    try:
        session.select(folder)
        try:
            typ, data = session.conn.uid("FETCH", str(uid), f"({items})")
        except imaplib.IMAP4.abort as exc:
            raise MailConnectionLost(str(exc)) from exc
        except imaplib.IMAP4.error as exc:
            raise MailProtocolError(str(exc)) from exc
        except (OSError, EOFError) as exc:
            raise MailConnectionLost(f"{type(exc).__name__}: {exc}") from exc
    finally:
        session.close()
    if typ != "OK":
        raise MailProtocolError(f"UID FETCH {uid} failed: {data!r}")
    mime, bodies = _literals(data)
    if not bodies:
        raise MailProtocolError(f"message {uid} is no longer in {folder!r}")
    return {s: decode_transfer_encoding(mime.get(s, b""), bodies.get(s, b"")) for s in sections}


def _literals(data: list[object]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """({section: MIME header}, {section: body}) from an imaplib FETCH answer, in any order."""
    mime: dict[str, bytes] = {}
    bodies: dict[str, bytes] = {}
    for item in data:
        if not isinstance(item, tuple) or len(item) < 2:
            continue
        match = _LITERAL.search(bytes(item[0]))
        if match is None:
            continue
        (mime if match.group(2) else bodies)[match.group(1).decode()] = bytes(item[1])
    return mime, bodies


def decode_transfer_encoding(mime_headers: bytes, body: bytes) -> bytes:
    """Undo base64 or quoted-printable (leniently: mail in the wild is sloppy).

    Other encodings (7bit, 8bit, binary, unknown ones) are the bytes themselves.
    """
    headers = BytesHeaderParser(policy=compat32).parsebytes(mime_headers)
    cte = str(headers.get("content-transfer-encoding", "")).strip().lower()
    if cte == "base64":
        clean = _NOT_BASE64.sub(b"", body)
        if len(clean) % 4 == 1:  # one stray character cannot encode anything
            clean = clean[:-1]
        return base64.b64decode(clean + b"=" * (-len(clean) % 4))
    if cte == "quoted-printable":
        return quopri.decodestring(body)
    return body


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside ``path``, flush to disk, then rename over it (never a partial file).

    The file is created like any other (mode 0666 less the umask), not 0600 as ``mkstemp``
    would make it: the agent saves attachments to share and open them.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- remote images ----------------------------------------------------------------------------


class _ImageSources(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            for name, value in attrs:
                if name == "src" and value and _is_remote(value) and value not in self.urls:
                    self.urls.append(value)


def _is_remote(url: str) -> bool:
    return url.strip().lower().startswith(("http:", "https:", "//"))


def remote_image_urls(html: str) -> list[str]:
    """The ``<img src>`` URLs the reader would show with remote content allowed, in order.

    They are read from the HTML sanitised with ``allow_remote=True``, so they are exactly
    the ``src`` values the reader pane will ask for (the keys of
    :func:`load_remote_images`'s answer).
    """
    parser = _ImageSources()
    parser.feed(sanitize_html(html, allow_remote=True))
    parser.close()
    return parser.urls


async def load_remote_images(
    html: str,
    *,
    client: httpx.AsyncClient | None = None,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_images: int = MAX_IMAGES,
    timeout: float = 10.0,
    concurrency: int = 4,
) -> dict[str, bytes]:
    """Fetch the remote images of ``html`` (raw or sanitised): ``{src: bytes}``.

    Only answers that say ``image/*`` (SVG excepted: it is a document that can carry
    script) and are at most ``max_bytes`` long are kept; failures are logged and skipped.
    """
    urls = remote_image_urls(html)[:max_images]
    if not urls:
        return {}
    own = client is None
    http = client or httpx.AsyncClient(
        follow_redirects=True, timeout=timeout, headers={"User-Agent": "Omnidesk"}
    )
    limit = asyncio.Semaphore(concurrency)

    async def one(url: str) -> tuple[str, bytes | None]:
        async with limit:
            return url, await _fetch_image(http, url, max_bytes, timeout)

    try:
        results = await asyncio.gather(*(one(url) for url in urls))
    finally:
        if own:
            await http.aclose()
    return {url: data for url, data in results if data is not None}


async def _fetch_image(
    client: httpx.AsyncClient, url: str, max_bytes: int, timeout: float
) -> bytes | None:
    target = "https:" + url if url.startswith("//") else url
    try:
        async with asyncio.timeout(timeout), client.stream("GET", target) as response:
            if response.status_code != 200:
                log.info("remote image %s: HTTP %s", url, response.status_code)
                return None
            ctype = response.headers.get("content-type", "").partition(";")[0].strip().lower()
            if not ctype.startswith("image/") or ctype == "image/svg+xml":
                log.info("remote image %s is %r, not an image", url, ctype)
                return None
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                log.info("remote image %s is too big (%s bytes)", url, length)
                return None
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    log.info("remote image %s is bigger than %d bytes", url, max_bytes)
                    return None
            return bytes(data)
    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, ValueError) as exc:
        log.info("remote image %s not loaded: %s: %s", url, type(exc).__name__, exc)
        return None
