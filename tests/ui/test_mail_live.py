"""The mail UI end to end, against a real Dovecot (IMAP) and aiosmtpd (SMTP) on loopback.

The agent adds the account in the accounts dialog (through the same ``MailSetup`` wiring as
``app.py``), the customer's HTML mail shows in the unified list, opening it shows the HTML
with its inline ``cid:`` image, and a reply from the composer reaches the SMTP server in the
customer's thread. A screenshot of that window goes to ``test-artifacts/mail_window.png``.
"""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QImage, QTextDocument
from PySide6.QtWidgets import QMessageBox

from omnidesk.app_mail import MailSetup
from omnidesk.domain import MailAccountState, Message, MessageStatus, is_mail_conversation
from omnidesk.settings import MAIL_KEYRING_SERVICE, SecretStore, load_settings
from tests.helpers.dovecot import DovecotServer
from tests.helpers.keyrings import MemoryKeyring
from tests.helpers.smtp_server import SmtpServer
from tests.services.mail import conftest as mail_servers
from tests.ui.conftest import UI
from tests.ui.test_mail_ui import png

dovecot = mail_servers.dovecot
smtp_server = mail_servers.smtp_server
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LOGO = png("#0EA5E9", 40)


def customer_mail(n: int, subject: str, text: str, minutes_ago: int) -> bytes:
    msg = EmailMessage()
    msg["Message-ID"] = f"<order-{n}@cust.example>"
    msg["From"] = "Carol Customer <carol@cust.example>"
    msg["To"] = "Shop Support <agent@shop.test>"
    msg["Cc"] = "Dan Customer <dan@cust.example>"
    msg["Subject"] = subject
    date = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    msg["Date"] = format_datetime(date)
    msg.set_content(text)
    paragraphs = "".join(f"<p>{line}</p>" for line in text.split("\n") if line)
    msg.add_alternative(
        f'<html><body style="font-family: sans-serif">{paragraphs}'
        f'<p><img src="cid:photo-{n}@cust.example" alt="photo"></p>'
        "<p>Thanks,<br><b>Carol</b></p></body></html>",
        subtype="html",
    )
    html_part = msg.get_payload()[1]  # type: ignore[index]
    html_part.add_related(LOGO, "image", "png", cid=f"<photo-{n}@cust.example>")
    msg.add_attachment(b"%PDF-1.4 receipt", "application", "pdf", filename="receipt.pdf")
    return msg.as_bytes(policy=policy.SMTP)


def test_add_account_read_html_and_reply_through_real_servers(
    ui: UI, qtbot: Any, tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServer
) -> None:
    w = ui.window
    dovecot.deliver(
        customer_mail(1, "Order 4821 arrived damaged", "Hi!\nMy order 4821 arrived damaged.", 9)
    )
    dovecot.deliver(customer_mail(2, "Invoice for order 4700", "Could you send the invoice?", 900))
    backend = MemoryKeyring()
    settings_path = tmp_path / "settings.json"
    setup = MailSetup(ui.cache, SecretStore(backend), w, settings_path=settings_path)
    try:
        # -- the agent adds the account --------------------------------------------------------
        w.mail.accounts_action.trigger()
        dialog = w.mail.dialog
        assert dialog is not None
        dialog.add_account()
        form = dialog.form
        form.address.setText("agent@shop.test")
        form.display_name.setText("Shop Support")
        form.login.setText(dovecot.user)
        form.password.setText(dovecot.password)
        form.imap_host.setText("127.0.0.1")
        form.imap_security.setCurrentIndex(form.imap_security.findData("none"))
        form.imap_port.setValue(dovecot.port)
        form.smtp_host.setText("127.0.0.1")
        form.smtp_security.setCurrentIndex(form.smtp_security.findData("none"))
        form.smtp_port.setValue(smtp_server.port)
        form.signature.setPlainText("<p><b>Shop Support</b> · shop.test</p>")
        dialog.check_form()
        qtbot.waitUntil(lambda: dialog.check_button.isEnabled(), timeout=20_000)
        assert "Both servers accepted" in dialog.check_result.text()
        dialog.save_form()
        account = w.settings.mail_accounts[0]
        qtbot.waitUntil(
            lambda: w.ops.pending == 0, timeout=10_000
        )  # the keyring is written off the GUI thread
        assert backend.store == {(MAIL_KEYRING_SERVICE, account.id): dovecot.password}
        assert load_settings(settings_path).mail_accounts == (account,)
        assert dovecot.password not in settings_path.read_text()
        qtbot.waitUntil(lambda: setup.service is not None, timeout=10_000)
        qtbot.waitUntil(
            lambda: (
                w.mail.statuses.get(account.id) is not None
                and w.mail.statuses[account.id].state is MailAccountState.LIVE
            ),
            timeout=20_000,
        )
        assert "Up to date" in dialog.status_text(account.id)
        dialog.accept()

        # -- the mail is in the unified list; opening it shows the HTML and the cid image -----
        def mail_rows() -> list[int]:
            rows = (w.list_model.conversation_at(r) for r in range(w.list_model.rowCount()))
            return [c.id for c in rows if c is not None and is_mail_conversation(c.id)]

        qtbot.waitUntil(lambda: len(mail_rows()) == 2, timeout=10_000)
        assert w.list_model.rowCount() == 7  # beside the relay's WhatsApp and Instagram
        newest = mail_rows()[0]
        with qtbot.waitSignal(w.reader.shown, timeout=10_000):
            w.open_conversation(newest)
        reader = w.reader
        assert reader.detail is not None
        assert reader.subject.text() == "Order 4821 arrived damaged"
        assert "Carol Customer" in reader.headers["from"].text()
        assert "dan@cust.example" in reader.headers["cc"].text()
        assert "arrived damaged" in reader.body.toPlainText()
        assert reader.body.requested == ["cid:photo-1@cust.example"]
        image = reader.body.loadResource(
            int(QTextDocument.ResourceType.ImageResource), QUrl("cid:photo-1@cust.example")
        )
        assert isinstance(image, QImage) and image.width() == 40
        assert image.pixelColor(5, 5) == QColor("#0EA5E9")
        assert reader.attachments.isVisible()
        target = tmp_path / "saved-receipt.pdf"
        reader.choose_save_path = lambda _parent, _name, chosen: chosen(str(target))
        receipt = next(a for a in reader.detail.attachments if a.filename == "receipt.pdf")
        with qtbot.waitSignal(reader.attachmentSaved, timeout=20_000):
            reader.save_attachment(receipt.index)
        assert target.read_bytes() == b"%PDF-1.4 receipt"
        qtbot.waitUntil(lambda: w.details.others.count() == 1, timeout=5000)
        assert "Invoice for order 4700" in w.details.others.item(0).text()
        qtbot.waitUntil(lambda: ui.run(ui.cache.conversation(newest)).unread_count == 0)

        # -- a reply from the composer reaches the SMTP server, in the thread -----------------
        w.composer.reply_all_box.setChecked(True)
        w.composer.edit.setPlainText("Sorry about that, Carol! A new one ships today.")
        w.composer.submit()
        qtbot.waitUntil(lambda: len(smtp_server.received) == 1, timeout=20_000)
        received = smtp_server.received[0]
        reply = message_from_bytes(received.data, policy=policy.default)
        assert reply["In-Reply-To"] == "<order-1@cust.example>"
        assert reply["Subject"] == "Re: Order 4821 arrived damaged"
        assert set(received.rcpt_tos) == {"carol@cust.example", "dan@cust.example"}
        body = reply.get_body(("plain",))
        assert body is not None and "A new one ships today." in body.get_content()
        # it is filed in Sent and shows in the same thread as a sent mail, once
        qtbot.waitUntil(lambda: len(sent_mails(ui)) == 1 and w.ops.pending == 0, timeout=20_000)
        assert sent_mails(ui)[0].status is MessageStatus.SENT
        assert ui.run(ui.cache.outbox(newest)) == []

        screenshot(ui, qtbot)

        # -- removing the account forgets its password and stops its sync ---------------------
        w.mail.open_accounts()
        dialog = w.mail.dialog
        assert dialog is not None
        dialog.list.setCurrentRow(0)
        dialog.remove_selected()
        assert dialog.confirm is not None
        dialog.confirm.button(QMessageBox.StandardButton.Yes).click()
        qtbot.waitUntil(lambda: w.ops.pending == 0, timeout=10_000)
        assert backend.store == {}
        assert load_settings(settings_path).mail_accounts == ()
        assert setup.service is not None and setup.service.statuses() == []
        dialog.accept()
    finally:
        ui.run(setup.shutdown(), timeout=15_000)


def sent_mails(ui: UI) -> list[Message]:
    m = ui.window.thread_model
    rows = (m.item_at(r) for r in range(m.rowCount()))
    return [i for i in rows if isinstance(i, Message) and "ships today" in (i.text or "")]


def screenshot(ui: UI, qtbot: Any) -> None:
    """The window with the mail thread open and its first mail in the reader."""
    w = ui.window
    w.thread_view.setCurrentIndex(w.thread_model.index(0))  # the customer's mail
    qtbot.waitUntil(
        lambda: (
            w.reader.detail is not None
            and w.reader.detail.subject == "Order 4821 arrived damaged"
            and w.ops.pending == 0
        ),
        timeout=5000,
    )
    w.composer.edit.setPlainText("We have booked the pickup of the damaged one for Monday.")
    w.resize(1440, 900)
    qtbot.wait(100)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "mail_window.png"
    assert w.grab().toImage().save(str(path))
    assert path.stat().st_size > 20_000
