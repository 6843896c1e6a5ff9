from __future__ import annotations

import datetime as dt
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from omnidesk.mail.compose import (
    OutgoingAttachment,
    build_message,
    build_reply,
    reply_references,
)
from omnidesk.mail.parse import parse_message
from omnidesk.mail.types import MailAccount, SignatureImage
from omnidesk.services.mail.signature import embed_signature_images

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

ACCOUNT = MailAccount(
    id="a1",
    address="support@shop.test",
    login="support",
    imap_host="127.0.0.1",
    display_name="Shop Support",
    own_addresses=("help@shop.test",),
    signature_html='<p>Best regards<br>Shop team <img src="cid:logo@shop.test"></p>',
    signature_images=(SignatureImage("logo@shop.test", "image/png", PNG, "logo.png"),),
)

PARENT_RAW = (
    b"Message-ID: <p3@customer.example>\r\n"
    b"In-Reply-To: <p2@shop.test>\r\n"
    b"References: <p1@customer.example> <p2@shop.test>\r\n"
    b"Subject: AW: RE: Re: Order problem\r\n"
    b"From: Anna <anna@customer.example>\r\n"
    b"Reply-To: orders@customer.example\r\n"
    b"To: support@shop.test, Bob <bob@customer.example>\r\n"
    b"Cc: HELP@shop.test, carol@customer.example\r\n"
    b"Date: Tue, 03 Mar 2026 10:00:00 +0100\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"The parcel never arrived.\r\n> older quote\r\n"
)


def _tree(part: EmailMessage, depth: int = 0) -> list[str]:
    out = ["  " * depth + part.get_content_type()]
    if part.is_multipart():
        for child in part.iter_parts():
            assert isinstance(child, EmailMessage)
            out += _tree(child, depth + 1)
    return out


def test_reply_headers_and_tree() -> None:
    parent = parse_message(PARENT_RAW)
    reply = build_reply(
        ACCOUNT,
        parent,
        text="We are sorry.\nA new parcel is on its way.",
        reply_all=True,
        attachments=[OutgoingAttachment("label.pdf", "application/pdf", b"%PDF-1.4 test")],
        date=dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.UTC),
    )
    assert reply.raw.count(b"\r\n") > 10 and b"\n" not in reply.raw.replace(b"\r\n", b"")
    msg = message_from_bytes(reply.raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["In-Reply-To"] == "<p3@customer.example>"
    assert msg["References"].split() == [
        "<p1@customer.example>",
        "<p2@shop.test>",
        "<p3@customer.example>",
    ]
    assert msg["Subject"] == "Re: Order problem"
    assert msg["Message-ID"] == reply.message_id
    assert reply.message_id.endswith("@shop.test>")
    assert msg["From"].addresses[0].addr_spec == "support@shop.test"
    assert msg["From"].addresses[0].display_name == "Shop Support"
    assert [a.addr_spec for a in msg["To"].addresses] == ["orders@customer.example"]
    assert [a.addr_spec for a in msg["Cc"].addresses] == [
        "bob@customer.example",
        "carol@customer.example",
    ]
    assert reply.recipients == [
        "orders@customer.example",
        "bob@customer.example",
        "carol@customer.example",
    ]
    assert _tree(msg) == [
        "multipart/mixed",
        "  multipart/alternative",
        "    text/plain",
        "    multipart/related",
        "      text/html",
        "      image/png",
        "  application/pdf",
    ]
    alternative = next(msg.iter_parts())
    plain, related = alternative.iter_parts()
    text = plain.get_content().replace("\r\n", "\n")
    assert text.index("We are sorry.") < text.index("-- \n") < text.index("> The parcel")
    assert "> > older quote" in text or ">> older quote" in text
    html_part, image = related.iter_parts()
    html = html_part.get_content().replace("\r\n", "\n")
    assert 'src="cid:logo@shop.test"' in html
    assert html.index("We are sorry.") < html.index("<blockquote") < html.index("parcel never")
    assert image["Content-ID"] == "<logo@shop.test>"
    assert image.get_content() == PNG
    attachment = list(msg.iter_attachments())[0]
    assert attachment.get_filename() == "label.pdf"

    # and our own parser reads it back the same way
    back = parse_message(reply.raw)
    assert back.in_reply_to == "<p3@customer.example>"
    assert back.references[-1] == "<p3@customer.example>"
    assert [a.content_id for a in back.attachments if a.inline] == ["logo@shop.test"]
    assert not back.defects


def test_reply_to_self_sent_goes_to_original_recipients() -> None:
    parent = parse_message(
        b"Message-ID: <s@shop.test>\r\nFrom: support@shop.test\r\nTo: anna@c.example\r\n"
        b"Subject: Re: Re: Re: Hello\r\nIn-Reply-To: <x@c.example>\r\n\r\nhi\r\n"
    )
    reply = build_reply(ACCOUNT, parent, text="follow-up")
    msg = message_from_bytes(reply.raw, policy=policy.default)
    assert msg["To"] == "anna@c.example"
    assert msg["Subject"] == "Re: Hello"
    assert msg["References"].split() == ["<x@c.example>", "<s@shop.test>"]
    assert msg["Cc"] is None


def test_long_references_keep_first_and_latest() -> None:
    ids = [f"<r{i}@x>" for i in range(40)]
    parent = parse_message(
        b"Message-ID: <last@x>\r\nFrom: a@x\r\nSubject: s\r\nReferences: "
        + " ".join(ids).encode()
        + b"\r\n\r\nb"
    )
    refs = reply_references(parent)
    assert len(refs) == 20
    assert refs[0] == "<r0@x>" and refs[-1] == "<last@x>" and refs[-2] == "<r39@x>"
    reply = build_reply(ACCOUNT, parent, text="x")
    assert all(len(line) <= 998 for line in reply.raw.split(b"\r\n"))
    assert parse_message(reply.raw).references == refs


def test_plain_message_without_extras_is_alternative_only() -> None:
    account = MailAccount(id="b", address="me@x.test", login="me", imap_host="h")
    built = build_message(account, to=[], subject="Grüße", text="<b>not html</b> ünïcode", bcc=[])
    msg = message_from_bytes(built.raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert _tree(msg) == ["multipart/alternative", "  text/plain", "  text/html"]
    assert msg["Subject"] == "Grüße"
    html = list(msg.iter_parts())[1].get_content()
    assert "&lt;b&gt;not html&lt;/b&gt;" in html


def test_html_parent_is_quoted_sanitised() -> None:
    parent = parse_message(
        b"Message-ID: <h@x>\r\nFrom: a@x\r\nSubject: s\r\nContent-Type: text/html\r\n\r\n"
        b"<p>Hi<script>alert(1)</script><img src='http://track/x.gif'></p>"
    )
    reply = build_reply(ACCOUNT, parent, text="ok")
    back = parse_message(reply.raw)
    assert "alert" not in back.html and "track" not in back.html
    assert "> Hi" in back.text


def test_local_signature_images_go_inline_and_others_stay(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(PNG)
    (tmp_path / "notes.txt").write_text("not an image")
    signature = (
        f'<img src="file://{tmp_path / "logo.png"}"> <img src="{tmp_path / "missing.png"}">'
        f' <img src="{tmp_path / "notes.txt"}"> <img src="https://cdn.example/x.png">'
    )
    account = embed_signature_images(replace(ACCOUNT, signature_html=signature))
    *kept, logo = account.signature_images
    assert tuple(kept) == ACCOUNT.signature_images
    assert (logo.data, logo.content_type, logo.filename) == (PNG, "image/png", "logo.png")
    assert f'src="cid:{logo.content_id}"' in account.signature_html
    # what cannot be read as an image stays as written (and is logged), remote stays remote
    for left in (tmp_path / "missing.png", tmp_path / "notes.txt", "https://cdn.example/x.png"):
        assert f'src="{left}"' in account.signature_html
    assert embed_signature_images(ACCOUNT) is ACCOUNT  # nothing local: nothing read
