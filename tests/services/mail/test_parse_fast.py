"""The strict fast reader (mime_fast) against the email package, message by message.

The property everything here checks: whenever the fast path answers, its ParsedMail equals
the full parser's; and for the mail real programs send, it does answer (or the first sync
silently falls back to the slow path).
"""

from __future__ import annotations

import base64
import datetime as dt
import quopri
import random
from dataclasses import replace
from email import policy
from email.headerregistry import Address as RegistryAddress
from email.message import EmailMessage, Message
from email.utils import format_datetime, formataddr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.mail import mime_fast
from omnidesk.mail.parse import _parse, _parse_fast, parse_message
from omnidesk.mail.types import ParsedMail
from tests.services.mail.factory import make_raw


def both(raw: bytes) -> tuple[ParsedMail | None, ParsedMail | None]:
    fast = _parse_fast(raw)
    try:
        slow: ParsedMail | None = _parse(raw)
    except Exception:
        slow = None
    if fast is not None:
        assert slow is not None, "the fast path read a message the full parser cannot"
        assert fast == slow
    return fast, slow


def realistic(n: int, rnd: random.Random) -> bytes:
    """What mail programs send: alternative text/HTML, inline images, attachments."""
    msg = EmailMessage()
    names = ["Ana Souza", "João Pereira", "Müller, Peter", "Tom O'Brien", "", "Zoë (Shop)"]
    msg["Message-ID"] = f"<m{n}.{rnd.getrandbits(32):x}@mail.example>"
    msg["From"] = formataddr((rnd.choice(names), f"user{n}@example.com"))
    msg["To"] = ", ".join(formataddr((rnd.choice(names), f"x{i}@shop.test")) for i in range(2))
    if rnd.random() < 0.3:
        msg["Cc"] = formataddr(("Suporte Loja", "support@shop.test"))
    msg["Subject"] = rnd.choice(
        ["Re: Pedido nº 123 não chegou", "Order 42", "Fwd: Réclamation", "x" * 120 + " end"]
    )
    msg["Date"] = format_datetime(dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n))
    if n % 3:
        msg["In-Reply-To"] = f"<m{n - 1}@mail.example>"
        msg["References"] = " ".join(f"<m{i}@mail.example>" for i in range(max(0, n - 8), n))
    text = rnd.choice(["Olá, tudo bem?\n", "Hello\nsecond line\n", "naïve café " * 50])
    msg.set_content(text, cte=rnd.choice(["quoted-printable", "base64", "8bit"]))
    msg.add_alternative(f"<p>{text}</p><img src='cid:logo'>", subtype="html")
    if rnd.random() < 0.5:
        html = msg.get_body(("html",))
        assert html is not None
        html.add_related(rnd.randbytes(300), "image", "png", cid="<logo@x>", filename="logo.png")
    if rnd.random() < 0.5:
        msg.add_attachment(
            rnd.randbytes(rnd.randint(0, 3000)),
            maintype="application",
            subtype=rnd.choice(["pdf", "zip", "octet-stream"]),
            filename=rnd.choice(["invoice.pdf", "a b.zip", "relatório.pdf", "x;y.bin"]),
        )
    raw = msg.as_bytes(policy=policy.SMTP if n % 2 else policy.default)
    return raw


def test_realistic_mail_takes_the_fast_path_and_agrees() -> None:
    rnd = random.Random(5)
    taken = 0
    for n in range(300):
        fast, _slow = both(realistic(n, rnd))
        taken += fast is not None
    assert taken >= 250  # RFC 2231 filenames (relatório.pdf: one in eight) fall back


def test_factory_messages_take_the_fast_path() -> None:
    for n in range(20):
        raw = make_raw(n, attachment=b"%PDF" + bytes(500) if n % 2 else None)
        fast, _ = both(raw)
        assert fast is not None
        assert parse_message(raw) == replace(fast, size=len(raw))


EDGE_CASES = [
    # folding, tabs and odd spacing in structured fields
    b"Message-ID: <a@b>\r\nSubject: one\r\n\ttwo\r\n  three\r\nFrom: A <a@b.c>,\r\n B <b@c.d>\r\n"
    b"Content-Type: text/plain;\r\n\tcharset=ISO-8859-1 ;\r\n\r\ncaf\xe9\r\n",
    # LF only, preamble, epilogue, boundary with trailing blanks, close at EOF without newline
    b"Message-ID: <lf@x>\nContent-Type: multipart/mixed; boundary=XYZ\n\npreamble\n--XYZ  \n"
    b"Content-Type: text/plain\n\nbody\n\n--XYZ\nContent-Type: application/pdf; name=a.pdf\n"
    b"Content-Transfer-Encoding: base64\n\nQUJD\nREVG==\n--XYZ--",
    # boundary-like lines that are not boundaries
    b'Message-ID: <bl@x>\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
    b"\r\n--bb\r\n --b\r\n--b x\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>h</p>\r\n--b--\r\n",
    # no Content-Type at all; 8-bit body; no Message-ID
    b"Subject: plain\r\n\r\n\xc3\xa9t\xc3\xa9\r\n",
    # unknown charset, bad base64 padding
    b"Message-ID: <u@x>\r\nContent-Type: text/plain; charset=x-klingon\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nY2Fmw6k\r\n",
    # a second text/plain and a named text part become attachments; CID without angle brackets
    b"Message-ID: <t@x>\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nfirst\r\n"
    b"--q\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--q\r\nContent-Type: text/html\r\n"
    b'Content-Disposition: attachment; filename="page.html"\r\nContent-ID: cid1\r\n\r\n<p>\r\n'
    b"--q\r\nContent-Type: image/png\r\nContent-ID: <img@x>\r\n\r\nPNG\r\n--q--\r\n",
    # empty body, headers only
    b"Message-ID: <e@x>\r\nSubject: empty\r\n\r\n",
    # quoted-printable with soft breaks and 8-bit in an attachment body
    b"Message-ID: <q@x>\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"ol=C3=A1 =\r\nmundo\r\n--z\r\nContent-Type: application/octet-stream; charset=latin-1\r\n"
    b"Content-Disposition: attachment\r\n\r\n\xff\xfe\x00raw\r\n--z--\r\n",
    # encoded words in subject and names, in the forms the fast path reads itself
    b"Message-ID: <ew@x>\r\nSubject: =?utf-8?q?Ol=C3=A1?= =?utf-8?b?IG11bmRv?= Re: x\r\n"
    b'From: =?utf-8?q?Jo=C3=A3o_Pereira?= <joao@x.pt>\r\nTo: "Doe, John" <j@x.com>, k@y.z\r\n'
    b"\r\nbody\r\n",
    # cases the fast path must leave to the full parser
    b"Message-ID: <r@x>\r\nContent-Type: multipart/mixed; boundary=r\r\n\r\n--r\r\n"
    b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhi\r\n--r--\r\n",
    b"Message-ID: <n@x>\r\nContent-Type: multipart/mixed; boundary=r\r\n\r\n--r\r\n\r\nno close\r\n",
    b"Message-ID: <c@x>\r\nContent-Type: text/plain; name*=utf-8''na%C3%AFve.txt\r\n\r\nx\r\n",
    b"From nobody Mon Jan 1 00:00:00 2026\r\nMessage-ID: <f@x>\r\n\r\nbody\r\n",
    b"Message-ID: <cr@x>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r--b\r\n"
    b"\r\ny\r\n--b--\r\n",
    b" continuation first\r\nMessage-ID: <cf@x>\r\n\r\nbody\r\n",
    b"Message-ID: <nb@x>\r\nSubject: no blank line",
]


@pytest.mark.parametrize("raw", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_cases_agree(raw: bytes) -> None:
    both(raw)


def test_edge_cases_the_fast_path_reads() -> None:
    read = [_parse_fast(raw) is not None for raw in EDGE_CASES]
    assert read[:9] == [True] * 9
    assert read[9:] == [False] * (len(EDGE_CASES) - 9)


# -- random messages built from pieces real mail is made of ----------------------------------

_EOL = st.sampled_from([b"\r\n", b"\n"])
_WS = st.sampled_from(["", " ", "\t", "  "])
_TOKENS = st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "us-ascii", "x-unknown", "a.b", "A1"])
_QUOTED = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"\\'),
    max_size=12,
)
_PARAM_NAMES = st.sampled_from(["charset", "name", "filename", "format", "boundary", "Name"])


@st.composite
def params(draw: st.DrawFn) -> str:
    out = ""
    for _ in range(draw(st.integers(0, 3))):
        value = draw(st.one_of(_TOKENS, _QUOTED.map(lambda q: f'"{q}"')))
        out += f"{draw(_WS)};{draw(_WS)}{draw(_PARAM_NAMES)}={value}"
    return out + draw(st.sampled_from(["", "", ";", " "]))


@st.composite
def leaf(draw: st.DrawFn) -> tuple[list[str], bytes]:
    ctype = draw(
        st.sampled_from(["text/plain", "text/html", "TEXT/Plain", "image/png", "application/pdf"])
    )
    fields = []
    if draw(st.booleans()) or ctype != "text/plain":
        fields.append(f"Content-Type:{draw(_WS)}{ctype}{draw(params())}")
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["inline", "attachment", "Attachment"]))
        fields.append(f"Content-Disposition: {kind}{draw(params())}")
    if draw(st.booleans()):
        fields.append("Content-ID: " + draw(st.sampled_from(["<a@b>", "a@b", " <x> ", "<>"])))
    cte = draw(st.sampled_from(["", "base64", "quoted-printable", "8bit", "7BIT", "Base64"]))
    data = draw(st.binary(max_size=200))
    if cte.lower() == "base64":
        body = base64.encodebytes(data) + draw(st.sampled_from([b"", b"=", b"!!"]))
    elif cte.lower() == "quoted-printable":
        body = quopri.encodestring(data)
    else:
        body = data.replace(b"\r", b"")  # lone CRs have their own test below
    if cte:
        fields.append(f"Content-Transfer-Encoding: {cte}")
    return fields, body


@st.composite
def mime(draw: st.DrawFn, depth: int = 0) -> tuple[list[str], bytes]:
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(leaf())
    boundary = draw(st.sampled_from(["b1", "=_x", "abc'd", "Part_1.2"])) + str(depth)
    quoted = draw(st.booleans())
    sub = draw(st.sampled_from(["mixed", "alternative", "related"]))
    bval = f'"{boundary}"' if quoted or "'" in boundary else boundary
    fields = [f"Content-Type: multipart/{sub};{draw(_WS)}boundary={bval}{draw(params())}"]
    eol = draw(_EOL)
    body = draw(st.sampled_from([b"", b"This is a multi-part message." + eol]))
    for _ in range(draw(st.integers(1, 3))):
        child_fields, child_body = draw(mime(depth + 1))
        head = eol.join(f.encode() for f in child_fields)
        body += b"--" + boundary.encode() + draw(st.sampled_from([b"", b" ", b"\t"])) + eol
        body += head + (eol if head else b"") + eol + child_body + eol
    body += b"--" + boundary.encode() + b"--" + draw(st.sampled_from([eol, b"", eol + b"epi"]))
    return fields, body


@st.composite
def message(draw: st.DrawFn) -> bytes:
    eol = draw(_EOL)
    fields, body = draw(mime())
    top = [
        "Message-ID: " + draw(st.sampled_from(["<id@x>", "id@x", "<a@b> <c@d>", ""])),
        "Subject: " + draw(st.sampled_from(["hi", "=?utf-8?q?ol=C3=A1?=", "a\r\n b", "Re: x"])),
        "From: " + draw(st.sampled_from(["a@b.c", "A B <a@b.c>", '"C, D" <c@d.e>', "x"])),
        "Date: " + draw(st.sampled_from(["Tue, 03 Mar 2026 10:00:00 +0100", "garbage", ""])),
        *fields,
    ]
    draw(st.randoms()).shuffle(top)
    return eol.join(f.replace("\r\n", eol.decode()).encode() for f in top) + eol + eol + body


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(message())
def test_random_mime_agrees(raw: bytes) -> None:
    both(raw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(message(), st.integers(0, 10_000), st.binary(min_size=1, max_size=6), st.booleans())
def test_mutated_mime_agrees(raw: bytes, at: int, junk: bytes, overwrite: bool) -> None:
    """Damage anywhere (lone CRs, cut boundaries, 8-bit in headers): never a wrong answer."""
    at %= len(raw) + 1
    both(raw[:at] + junk + raw[at + (len(junk) if overwrite else 0) :])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.binary(min_size=1, max_size=4))
def test_mutated_realistic_mail_agrees(seed: int, cuts: int, junk: bytes) -> None:
    rnd = random.Random(seed)
    raw = bytearray(realistic(seed, rnd))
    for _ in range(cuts):
        at = rnd.randrange(len(raw))
        raw[at : at + rnd.randint(0, 3)] = junk
    both(bytes(raw))


# -- the header shortcuts against the registry ------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(params(), st.sampled_from(["text/plain", "multipart/mixed", "Image/PNG"]))
def test_content_type_readings_match_the_email_package(extra: str, ctype: str) -> None:
    value = ctype + extra
    found = mime_fast._content_type_value(value)
    if found is None:
        return
    part = mime_fast.FastPart(found[0], found[1], True, None, {}, "", None)
    reference = EmailMessage()
    reference.set_raw("Content-Type", value)
    assert part.ctype == reference.get_content_type()
    assert part.charset() == reference.get_content_charset()
    assert part.filename() == reference.get_filename()
    assert part.param("boundary") == reference.get_param("boundary")
    compat = Message()
    compat.set_raw("Content-Type", value)
    assert part.param("format") == compat.get_param("format")


_NAMES = st.sampled_from(["Ana", "João Pereira", "Doe, John", "O'Brien", "Zoë", "x y", 'a"b'])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_NAMES, st.sampled_from(["a@b.c", "x.y@shop.test"])), min_size=1))
def test_address_shortcut_matches_the_registry(pairs: list[tuple[str, str]]) -> None:
    value = ", ".join(formataddr(p) for p in pairs)
    fast = mime_fast.addresses(value)
    if fast is None:
        return
    header = policy.default.header_factory("To", value)
    expected = [(a.display_name, a.addr_spec) for a in header.addresses]
    assert [(a.display_name, a.addr_spec) for a in fast.addresses] == expected
    assert all(isinstance(a, RegistryAddress) for a in header.addresses)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["Re:", "=?utf-8?q?Ol=C3=A1?=", "=?iso-8859-1?q?caf=E9?=",
                                 "=?utf-8?b?w6k=?=", "plain", "x=?y", "(c)"]), max_size=6),
       st.sampled_from([" ", "  ", "\t"]))  # fmt: skip
def test_unstructured_shortcut_matches_the_registry(words: list[str], gap: str) -> None:
    value = gap.join(words)
    fast = mime_fast.unstructured(value)
    if fast is None:
        return
    assert fast.split() == str(policy.default.header_factory("Subject", value)).split()
