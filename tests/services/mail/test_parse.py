from __future__ import annotations

import base64
import datetime as dt
from email.message import EmailMessage

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.mail.parse import parse_message, sanitize_html

SIMPLE = (
    b"Message-ID: <a1@example.com>\r\n"
    b"In-Reply-To: <a0@example.com>\r\n"
    b"References: <root@example.com>\r\n <a0@example.com>\r\n"
    b"Subject: =?utf-8?q?Bestellung_=C3=BCber?= 42\r\n"
    b'From: "M\xc3\xbcller, Anna" <anna@example.com>\r\n'
    b"To: support@shop.test, Bob <bob@example.com>\r\n"
    b"Cc: carol@example.com\r\n"
    b"Reply-To: replies@example.com\r\n"
    b"Date: Tue, 03 Mar 2026 10:00:00 +0100\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hallo \xc3\xbcber alles\r\n"
)


def test_simple_headers_and_body() -> None:
    mail = parse_message(SIMPLE, uid=7, folder="INBOX", flags=frozenset({"\\Seen"}))
    assert mail.message_id == "<a1@example.com>"
    assert mail.in_reply_to == "<a0@example.com>"
    assert mail.references == ["<root@example.com>", "<a0@example.com>"]
    assert mail.subject == "Bestellung über 42"
    assert [a.email for a in mail.from_] == ["anna@example.com"]
    assert mail.from_[0].name == "Müller, Anna"
    assert [a.email for a in mail.to] == ["support@shop.test", "bob@example.com"]
    assert [a.email for a in mail.cc] == ["carol@example.com"]
    assert [a.email for a in mail.reply_to] == ["replies@example.com"]
    assert mail.date == dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
    assert mail.text.strip() == "Hallo über alles"
    assert (mail.uid, mail.folder, mail.seen) == (7, "INBOX", True)
    assert not mail.synthetic_id


def test_missing_headers_gets_synthetic_id() -> None:
    mail = parse_message(b"just a body, no headers at all\r\n")
    assert mail.synthetic_id
    assert mail.message_id.endswith("@omnidesk.invalid>")
    assert "missing Message-ID" in mail.defects
    assert mail.from_ == [] and mail.date is None
    # deterministic: the same bytes give the same id (dedupe across folders)
    assert parse_message(b"just a body, no headers at all\r\n").message_id == mail.message_id


def test_unknown_charset_falls_back() -> None:
    raw = (
        b"Message-ID: <cs@x>\r\nSubject: test\r\n"
        b"Content-Type: text/plain; charset=x-klingon\r\n\r\ncaf\xc3\xa9\r\n"
    )
    mail = parse_message(raw)
    assert mail.text.strip() == "café"
    assert any("charset" in d for d in mail.defects)


def test_latin1_8bit_header_and_bad_date() -> None:
    raw = b"Message-ID: <l1@x>\r\nSubject: R\xe9clamation\r\nDate: yesterday-ish\r\n\r\nbody"
    mail = parse_message(raw)
    assert mail.subject == "Réclamation"
    assert mail.date is None
    assert "unparseable Date" in mail.defects


def test_broken_multipart_without_boundary() -> None:
    raw = (
        b"Message-ID: <b1@x>\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--zzz\r\nContent-Type: text/plain\r\n\r\nhello\r\n--zzz--\r\n"
    )
    mail = parse_message(raw)
    assert mail.message_id == "<b1@x>"
    assert "hello" in mail.text
    assert mail.defects


def test_unterminated_multipart_and_garbage_base64() -> None:
    raw = (
        b'Message-ID: <b2@x>\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"!!!not base64***\r\n--b\r\nContent-Type: application/pdf; name=x.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0x"
    )
    mail = parse_message(raw)
    assert mail.message_id == "<b2@x>"
    assert [a.filename for a in mail.attachments] == ["x.pdf"]


def test_malformed_address_and_references_junk() -> None:
    raw = (
        b"Message-ID: no-brackets@x\r\n"
        b"In-Reply-To: Your message of Tuesday <p@x> (sent)\r\n"
        b"References: junk <r1@x> more junk <r2@x><r1@x>\r\n"
        b"From: <<<@@>>> broken, =?bogus?x?zz?=\r\n"
        b"To: undisclosed-recipients:;\r\n\r\nx"
    )
    mail = parse_message(raw)
    assert mail.message_id == "<no-brackets@x>"
    assert mail.in_reply_to == "<p@x>"
    assert mail.references == ["<r1@x>", "<r2@x>"]


def test_html_inline_image_and_big_attachment_sizes() -> None:
    msg = EmailMessage()
    msg["Message-ID"] = "<big@x>"
    msg["Subject"] = "big"
    msg.set_content("plain")
    msg.add_alternative('<p>hi <img src="cid:logo@x"></p>', subtype="html")
    msg.get_payload()[1].add_related(b"\x89PNG" + b"0" * 100, "image", "png", cid="<logo@x>")
    blob = bytes(range(256)) * 20_000  # 5 MB
    msg.add_attachment(blob, maintype="application", subtype="octet-stream", filename="b.bin")
    mail = parse_message(msg.as_bytes())
    assert mail.text.strip() == "plain"
    assert "cid:logo@x" in mail.html
    by_name = {a.content_type: a for a in mail.attachments}
    assert by_name["image/png"].content_id == "logo@x"
    assert by_name["image/png"].inline
    assert by_name["image/png"].size == 104
    big = by_name["application/octet-stream"]
    assert big.filename == "b.bin" and big.size == len(blob) and not big.inline
    assert big.part_path == "2"
    assert by_name["image/png"].part_path == "1.2.2"


def test_deep_nesting_does_not_recurse_forever() -> None:
    depth = 200
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    raw = b"Message-ID: <deep@x>\r\n" + head + b"Content-Type: text/plain\r\n\r\nx\r\n"
    mail = parse_message(raw)
    assert mail.message_id.startswith("<")


def test_rfc822_attachment_is_opaque() -> None:
    inner = b"Message-ID: <inner@x>\r\nSubject: inner\r\n\r\ninner body\r\n"
    raw = (
        b'Message-ID: <outer@x>\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nouter\r\n--b\r\n"
        b"Content-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--b--\r\n"
    )
    mail = parse_message(raw)
    assert mail.message_id == "<outer@x>"
    assert mail.text.strip() == "outer"
    assert [a.content_type for a in mail.attachments] == ["message/rfc822"]


def test_base64_attachment_size_without_decoding() -> None:
    data = b"x" * 1001
    raw = (
        b'Message-ID: <s@x>\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nt\r\n--b\r\n"
        b'Content-Type: application/zip\r\nContent-Disposition: attachment; filename="a.zip"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(data).replace(b"\n", b"\r\n")
        + b"--b--\r\n"
    )
    (att,) = parse_message(raw).attachments
    assert att.size == 1001 and att.filename == "a.zip"


# --- sanitize_html -------------------------------------------------------------------------


def test_sanitize_removes_active_content() -> None:
    dirty = (
        '<div onclick="x()" style="color:red; background:url(http://t/x)">'
        "<script>alert(1)</script><style>p{}</style><iframe src=//e></iframe>"
        '<form action=//e><input name=p></form><a href="javascript:alert(1)">j</a>'
        '<a href="https://ok.example/">ok</a><p style="color: blue">c</p></div>'
    )
    out = sanitize_html(dirty, allow_remote=True)
    for bad in ("script", "alert", "iframe", "form", "input", "onclick", "url(", "<style"):
        assert bad not in out
    assert 'href="https://ok.example/"' in out
    assert "color:blue" in out.replace(" ", "")


def test_sanitize_remote_images_and_cid() -> None:
    html = '<img src="https://track.example/p.gif"><img src="cid:logo@x"><img src="data:x">'
    blocked = sanitize_html(html, allow_remote=False)
    assert "track.example" not in blocked
    assert 'src="cid:logo@x"' in blocked
    assert "data:" not in blocked
    allowed = sanitize_html(html, allow_remote=True)
    assert "https://track.example/p.gif" in allowed


# --- never raises --------------------------------------------------------------------------

REAL = [
    SIMPLE,
    (
        b'Message-ID: <m@x>\r\nContent-Type: multipart/alternative; boundary="q"\r\n'
        b"Subject: =?iso-8859-1?q?caf=E9?=\r\nFrom: a@x\r\n\r\n--q\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n--q\r\n"
        b"Content-Type: text/html\r\n\r\n<b>x</b>\r\n--q--\r\n"
    ),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    mail = parse_message(raw)
    assert mail.message_id.startswith("<") and mail.message_id.endswith(">")


_HEADER_NAMES = st.sampled_from(
    [b"From", b"To", b"Cc", b"Subject", b"Date", b"Message-ID", b"References", b"In-Reply-To",
     b"Content-Type", b"Content-Transfer-Encoding", b"Content-Disposition", b"Reply-To"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(REAL),
    st.lists(st.tuples(_HEADER_NAMES, st.binary(max_size=80)), max_size=6),
    st.integers(min_value=0, max_value=400),
    st.binary(max_size=30),
)
def test_mutated_real_messages_never_raise(
    base: bytes, headers: list[tuple[bytes, bytes]], cut: int, splice: bytes
) -> None:
    extra = b"".join(name + b": " + value.replace(b"\n", b" ") + b"\r\n" for name, value in headers)
    mutated = extra + base[:cut] + splice + base[cut:]
    mail = parse_message(mutated)
    assert isinstance(mail.subject, str)
    assert all(isinstance(a.size, int) and a.size >= 0 for a in mail.attachments)
