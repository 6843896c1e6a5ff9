"""Attachments fetched from a real Dovecot, and remote images from a real local HTTP server."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from omnidesk.mail.parse import parse_message
from omnidesk.mail.types import MailAccount
from omnidesk.services.mail.errors import MailProtocolError
from omnidesk.services.mail.parts import (
    decode_transfer_encoding,
    load_remote_images,
    remote_image_urls,
    save_part,
    write_atomically,
)
from tests.helpers.dovecot import DovecotServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def rich_mail() -> tuple[bytes, bytes, bytes]:
    """A mail with an inline image (nested three deep) and a binary attachment."""
    pdf = os.urandom(150_000) + b"\r\n.\r\n\x00end"
    logo = os.urandom(3000)
    msg = EmailMessage()
    msg["Message-ID"] = "<rich@c.example>"
    msg["From"] = "customer@c.example"
    msg["To"] = "agent@shop.test"
    msg["Subject"] = "Invoice"
    msg.set_content("see attached")
    msg.add_alternative('<p>hi <img src="cid:logo@c"></p>', subtype="html")
    html_part = list(msg.iter_parts())[1]
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(logo, "image", "png", cid="<logo@c>", filename="logo.png")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="invoice.pdf")
    msg.add_attachment("Grüße = 100%\n" * 50, subtype="plain", cte="quoted-printable",
                       filename="notes.txt")  # fmt: skip
    return msg.as_bytes(policy=policy.SMTP), pdf, logo


async def test_attachments_saved_byte_identical_without_marking_read(
    dovecot: DovecotServer, account: MailAccount, tmp_path: Path
) -> None:
    raw, pdf, logo = rich_mail()
    dovecot.deliver(raw)
    parsed = parse_message(raw)
    by_name = {a.filename: a for a in parsed.attachments}
    assert by_name["logo.png"].part_path.count(".") == 2  # nested: 1.2.2 or so

    password = lambda: dovecot.password  # noqa: E731
    size = await save_part(account, password, "INBOX", 1, by_name["invoice.pdf"].part_path,
                           tmp_path / "invoice.pdf")  # fmt: skip
    assert size == len(pdf) and (tmp_path / "invoice.pdf").read_bytes() == pdf
    await save_part(account, password, "INBOX", 1, by_name["logo.png"].part_path,
                    tmp_path / "logo.png")  # fmt: skip
    assert (tmp_path / "logo.png").read_bytes() == logo
    await save_part(account, password, "INBOX", 1, by_name["notes.txt"].part_path,
                    tmp_path / "notes.txt")  # fmt: skip
    assert (tmp_path / "notes.txt").read_text("utf-8") == "Grüße = 100%\n" * 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invoice.pdf", "logo.png", "notes.txt"]

    with dovecot.client() as conn:
        _typ, data = conn.uid("FETCH", "1", "(FLAGS)")
    assert b"\\Seen" not in b"".join(d for d in data if isinstance(d, bytes))


async def test_missing_message_raises(
    dovecot: DovecotServer, account: MailAccount, tmp_path: Path
) -> None:
    with pytest.raises(MailProtocolError):
        await save_part(account, lambda: dovecot.password, "INBOX", 42, "2", tmp_path / "x")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError):
        await save_part(account, lambda: dovecot.password, "INBOX", 1, "2] X", tmp_path / "x")


def test_sloppy_transfer_encodings_decode() -> None:
    b64 = b"Content-Transfer-Encoding: BASE64\r\n\r\n"
    assert decode_transfer_encoding(b64, b"aGVs\r\nbG8*gd29y\nbGQ") == b"hello world"
    assert decode_transfer_encoding(b64, b"aGVsbG8=\r\n") == b"hello"
    qp = b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    assert decode_transfer_encoding(qp, b"a=3Db=\r\nc") == b"a=bc"
    assert decode_transfer_encoding(b"", b"\x00raw") == b"\x00raw"


def test_write_atomically_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]
    with pytest.raises(OSError):
        write_atomically(tmp_path / "missing-dir" / "x", b"data")


# -- remote images ----------------------------------------------------------------------------


class ImageHandler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        self.hits.append(path)
        routes: dict[str, tuple[int, str, bytes]] = {
            "/a.png": (200, "image/png", PNG),
            "/b.gif": (200, "image/gif; charset=binary", b"GIF89a" + bytes(10)),
            "/page.html": (200, "text/html", b"<html>not an image</html>"),
            "/big.png": (200, "image/png", bytes(300_000)),
            "/trap.svg": (200, "image/svg+xml", b"<svg><script>alert(1)</script></svg>"),
        }
        if path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/a.png")
            self.end_headers()
            return
        if path == "/slow.png":
            time.sleep(2)
        if path == "/chunked-big.png":  # no Content-Length: the cap applies while reading
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(bytes(10_000))
            return
        status, ctype, body = routes.get(path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """The client hanging up on an oversized image is expected here."""


@pytest.fixture
def image_server() -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def test_remote_images_keeps_only_small_images(image_server: str) -> None:
    base = image_server
    html = f"""
      <p>Hi</p><script>fetch("{base}/script.png")</script>
      <img src="{base}/a.png"><img src="{base}/b.gif?x=1&amp;y=2">
      <img src="{base}/page.html"><img src="{base}/big.png"><img src="{base}/chunked-big.png">
      <img src="{base}/trap.svg"><img src="{base}/missing.png"><img src="{base}/moved">
      <img src="{base}/slow.png"><img src="http://[bad-url/x.png"><img src="cid:logo@c">
      <img src="http://127.0.0.1:1/refused.png"><img src="{base}/a.png">
    """
    urls = remote_image_urls(html)
    assert f"{base}/b.gif?x=1&y=2" in urls and "cid:logo@c" not in urls
    assert len(urls) == len(set(urls))

    start = time.monotonic()
    images = await load_remote_images(html, max_bytes=200_000, timeout=1.0)
    assert time.monotonic() - start < 3  # the slow one is cut off, the others run alongside
    assert images == {
        f"{base}/a.png": PNG,
        f"{base}/b.gif?x=1&y=2": b"GIF89a" + bytes(10),
        f"{base}/moved": PNG,
    }
    assert "/script.png" not in ImageHandler.hits


async def test_remote_images_none_without_remote_references() -> None:
    assert await load_remote_images('<p><img src="cid:x"></p>') == {}
