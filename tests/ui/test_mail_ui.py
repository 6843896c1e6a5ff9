"""The mail side of the window against an in-memory mail service: reader, composer, details,
status line and the accounts dialog. (The end-to-end test against Dovecot and aiosmtpd is in
``test_mail_live.py``.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, QUrl
from PySide6.QtGui import QColor, QImage, QTextDocument
from PySide6.QtWidgets import QMessageBox

from omnidesk.changes import Changes
from omnidesk.domain import (
    ConversationStatus,
    MailAccountState,
    MailAccountStatus,
    MailAttachmentInfo,
    MailDetail,
)
from omnidesk.settings import MailAccountSettings, Settings
from omnidesk.ui.mail_accounts_dialog import MailAccountsDialog
from omnidesk.ui.ops import ChangeHub, OpRunner
from omnidesk.ui.settings_dialog import SettingsDialog
from tests.helpers.fake_mail_service import FakeMailService, mail_conversation, mail_message
from tests.ui.conftest import UI

THREAD = -10
OTHER = -11
FIRST, NEWEST = -101, -100  # mail ids grow with the date, like the relay's


def png(color: str, size: int = 12) -> bytes:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(QColor(color))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


LOGO = png("#0EA5E9", 24)
HTML = (
    '<p>Hello, my order <b>#1234</b> arrived broken.</p><img src="cid:logo@cust">'
    '<p><a href="https://cust.example/photos">photos</a></p>'
)


def detail(message_id: int, **kw: Any) -> MailDetail:
    values: dict[str, Any] = dict(
        message_id=message_id,
        account_id="acct",
        subject="Order 1234 arrived broken",
        from_="Carol Customer <carol@cust.example>",
        to=("support@shop.test",),
        cc=("boss@cust.example",),
        date=dt.datetime(2026, 3, 2, 9, 5, tzinfo=dt.UTC),
        html=HTML,
        text="Hello, my order #1234 arrived broken.",
        attachments=(
            MailAttachmentInfo(0, "logo.png", "image/png", len(LOGO), True, "logo@cust"),
            MailAttachmentInfo(1, "invoice.pdf", "application/pdf", 12_400),
        ),
        inline_images={"logo@cust": LOGO},
    )
    values.update(kw)
    return MailDetail(**values)


@pytest.fixture
def mail(ui: UI, qtbot: Any) -> FakeMailService:
    """Two mail threads of one customer in the cache, and the fake service in the window."""
    first = mail_message(FIRST, THREAD, "Hello, my order #1234 arrived broken.", minute=60)
    newest = mail_message(NEWEST, THREAD, "Any news?", minute=70)
    older = mail_message(-102, OTHER, "Where is my invoice?", subject="Invoice", minute=5)
    ui.run(ui.cache.upsert_messages([first, newest, older]))
    ui.run(
        ui.cache.upsert_conversations(
            [
                mail_conversation(THREAD, newest, minute=70),
                mail_conversation(OTHER, older, unread=0, minute=5),
            ]
        )
    )
    ui.hub.publish(Changes(conversations=frozenset({THREAD, OTHER})))
    qtbot.waitUntil(lambda: ui.window.list_model.rowCount() == 7)
    service = FakeMailService(ui.cache)
    service.details = {
        FIRST: detail(FIRST),
        NEWEST: detail(
            NEWEST, html="", text="Any news?", subject="Re: Order 1234", attachments=(), cc=()
        ),
    }
    ui.window.mail.set_service(service)
    return service


def open_mail(ui: UI, qtbot: Any, conversation_id: int = THREAD) -> None:
    w = ui.window
    with qtbot.waitSignal(w.conversationOpened, timeout=3000):
        w.open_conversation(conversation_id)
    qtbot.waitUntil(lambda: w.ops.pending == 0)


def select_message(ui: UI, qtbot: Any, message_id: int) -> None:
    w = ui.window
    row = w.thread_model.row_of_message(message_id)
    assert row is not None
    with qtbot.waitSignal(w.reader.shown, timeout=3000):
        w.thread_view.setCurrentIndex(w.thread_model.index(row))


def test_opening_a_mail_thread_switches_the_window_to_mail(
    ui: UI, mail: FakeMailService, qtbot: Any
) -> None:
    w = ui.window
    open_mail(ui, qtbot)
    assert mail.opened == [THREAD]  # marked read through the mail service, not the relay
    assert w.composer.mail_bar.isVisible() and w.reader.isVisible()
    assert not w.header.button.isVisible()  # no bot to take over from
    assert "support@shop.test" in w.header.owner.text()
    assert not w.details.fields["mode"].isVisible()
    qtbot.waitUntil(lambda: w.details.others.count() == 1)
    assert "Invoice" in w.details.others.item(0).text()
    # the newest mail is read at once, as plain text (it has no HTML part)
    qtbot.waitUntil(lambda: w.reader.detail is not None and w.reader.detail.message_id == NEWEST)
    assert w.reader.body.toPlainText() == "Any news?"
    assert not w.reader.headers["cc"].isVisible() and not w.reader.attachments.isVisible()
    qtbot.waitUntil(lambda: ui.run(ui.cache.conversation(THREAD)).unread_count == 0)

    # a relay conversation puts everything back
    with qtbot.waitSignal(w.conversationOpened, timeout=3000):
        w.open_conversation(2)
    assert not w.composer.mail_bar.isVisible() and not w.reader.isVisible()
    assert w.header.button.isVisible() and w.details.fields["mode"].isVisible()
    assert not w.details.others.isVisible()


def test_the_reader_shows_html_with_inline_images_and_remote_ones_only_on_request(
    ui: UI, mail: FakeMailService, qtbot: Any
) -> None:
    w = ui.window
    mail.details[FIRST] = detail(FIRST, has_remote_images=True)
    mail.remote_html[FIRST] = HTML + '<img src="https://img.cust.example/broken.png">'
    mail.remote_images = {"https://img.cust.example/broken.png": png("#DC2626")}
    open_mail(ui, qtbot)
    select_message(ui, qtbot, FIRST)
    reader = w.reader
    assert reader.subject.text() == "Order 1234 arrived broken"
    assert reader.headers["from"].text() == "Carol Customer <carol@cust.example>"
    assert reader.headers["cc"].text() == "boss@cust.example"
    assert "arrived broken" in reader.body.toPlainText()
    assert reader.body.requested == ["cid:logo@cust"]
    served = reader.body.loadResource(
        int(QTextDocument.ResourceType.ImageResource), QUrl("cid:logo@cust")
    )
    assert isinstance(served, QImage) and served.width() == 24
    # inline images are in place, not in the list; the PDF is listed with its size
    names = [lbl.text() for lbl in reader.attachments.findChildren(type(reader.subject))]
    assert any("invoice.pdf" in n for n in names) and not any("logo.png" in n for n in names)
    assert any("KB" in n or "kB" in n for n in names)

    assert reader.remote_bar.isVisible() and mail.remote_calls == []
    with qtbot.waitSignal(reader.remoteImagesLoaded, timeout=3000) as loaded:
        reader.remote_button.click()
    assert loaded.args == [1] and mail.remote_calls == [FIRST]
    assert "https://img.cust.example/broken.png" in reader.body.requested
    image = reader.body.document().resource(
        QTextDocument.ResourceType.ImageResource, QUrl("https://img.cust.example/broken.png")
    )
    assert isinstance(image, QImage) and image.width() == 12
    assert not reader.remote_bar.isVisible()


def test_links_open_only_on_click_and_only_safe_schemes(
    ui: UI, mail: FakeMailService, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(
        "omnidesk.ui.mail_reader.QDesktopServices.openUrl",
        lambda url: opened.append(url.toString()),
    )
    open_mail(ui, qtbot)
    select_message(ui, qtbot, FIRST)
    assert opened == []  # showing a mail opens nothing
    body = ui.window.reader.body
    body.anchorClicked.emit(QUrl("javascript:alert(1)"))
    body.anchorClicked.emit(QUrl("file:///etc/passwd"))
    body.anchorClicked.emit(QUrl("https://cust.example/photos"))
    assert opened == ["https://cust.example/photos"]
    assert not body.openLinks() and not body.openExternalLinks()


def test_saving_an_attachment_asks_where_and_says_what_went_wrong(
    ui: UI, mail: FakeMailService, qtbot: Any, tmp_path: Path
) -> None:
    open_mail(ui, qtbot)
    select_message(ui, qtbot, FIRST)
    reader = ui.window.reader
    asked: list[str] = []

    def choose(_parent: object, name: str, chosen: Any) -> None:
        asked.append(name)
        chosen(str(tmp_path / name))

    reader.choose_save_path = choose
    with qtbot.waitSignal(reader.attachmentSaved, timeout=3000) as saved:
        reader.save_attachment(1)
    assert asked == ["invoice.pdf"]
    assert mail.saved == [(FIRST, 1, tmp_path / "invoice.pdf")]
    assert saved.args == [str(tmp_path / "invoice.pdf")]

    mail.save_error = PermissionError(13, "Permission denied", "/root/invoice.pdf")
    reader.save_attachment(1)
    qtbot.waitUntil(lambda: reader.error.isVisible())
    assert reader.error.text() == "You may not write there: /root/invoice.pdf"


def test_reply_goes_to_the_mail_service_with_reply_all_and_attachments(
    ui: UI, mail: FakeMailService, qtbot: Any, tmp_path: Path
) -> None:
    w = ui.window
    open_mail(ui, qtbot)
    composer = w.composer
    files = [tmp_path / "photo.jpg", tmp_path / "label.pdf"]
    composer.choose_files = lambda _parent, chosen: chosen([str(f) for f in files])
    composer.attach_button.click()
    assert composer.attachments == tuple(files)
    composer.remove_attachment(files[0])
    assert composer.attachments == (files[1],)
    assert composer.chips.count() == 1
    composer.reply_all_box.setChecked(True)
    composer.edit.setPlainText("We are sending a new one today.")
    composer.submit()
    qtbot.waitUntil(lambda: len(mail.sent) == 1)
    assert mail.sent == [(THREAD, "We are sending a new one today.", None, True, (files[1],))]
    assert composer.attachments == () and not composer.reply_all_box.isChecked()
    assert ui.run(ui.cache.outbox(THREAD)) == []  # nothing went to the relay's outbox

    w._set_status(ConversationStatus.RESOLVED.value)
    qtbot.waitUntil(lambda: mail.statuses == [(THREAD, ConversationStatus.RESOLVED)])
    qtbot.waitUntil(lambda: w.header.status.currentData() == "resolved")


def test_cancelling_a_queued_mail_reply_goes_to_the_mail_service(
    ui: UI, mail: FakeMailService, qtbot: Any
) -> None:
    item, changes = ui.run(ui.cache.outbox_add(THREAD, "wait, not yet", None))
    ui.hub.publish(changes)
    open_mail(ui, qtbot)
    ui.window._cancel_reply(item)
    qtbot.waitUntil(lambda: mail.cancelled == [item.client_id])
    qtbot.waitUntil(lambda: ui.run(ui.cache.outbox(THREAD)) == [])


def test_other_conversations_of_the_contact_are_one_click_away(
    ui: UI, mail: FakeMailService, qtbot: Any
) -> None:
    w = ui.window
    open_mail(ui, qtbot)
    qtbot.waitUntil(lambda: w.details.others.count() == 1)
    with qtbot.waitSignal(w.conversationOpened, timeout=3000) as opened:
        w.details.others.itemClicked.emit(w.details.others.item(0))
    assert opened.args == [OTHER]
    qtbot.waitUntil(lambda: w.details.others.count() == 1)
    assert "Order 1234" in w.details.others.item(0).text()


def test_a_mail_thread_without_the_mail_service_says_so(ui: UI, qtbot: Any) -> None:
    w = ui.window
    msg = mail_message(-300, -30, "Hi")
    ui.run(ui.cache.upsert_messages([msg]))
    ui.run(ui.cache.upsert_conversations([mail_conversation(-30, msg)]))
    open_mail(ui, qtbot, -30)
    qtbot.waitUntil(lambda: w.reader.error.isVisible())
    assert "not set up" in w.reader.error.text()
    w.composer.edit.setPlainText("hello?")
    w.composer.submit()
    qtbot.waitUntil(lambda: w.notice.isVisible())
    assert "Mail accounts" in w.notice.label.text()


def test_the_status_line_warns_about_accounts_and_opens_the_dialog(
    ui: UI, mail: FakeMailService, qtbot: Any
) -> None:
    w = ui.window
    account = MailAccountSettings(id="acct", address="support@shop.test", imap_host="imap.x")
    w.settings = dataclasses.replace(w.settings, mail_accounts=(account,))
    line = w.mail.status_line
    w.mail.account_status(
        MailAccountStatus("acct", "support@shop.test", MailAccountState.SYNCING, progress=(50, 200))
    )
    assert line.isVisible() and "50 of 200" in line.label.text()
    assert not line.button.isVisible()
    w.mail.account_status(
        MailAccountStatus(
            "acct", "support@shop.test", MailAccountState.AUTH_FAILED, detail="wrong password"
        )
    )
    assert "support@shop.test" in line.label.text() and "password" in line.label.text()
    assert line.button.isVisible()
    line.button.click()
    dialog = w.mail.dialog
    assert dialog is not None and dialog.isVisible()
    assert "refused the password" in dialog.status_text("acct")
    w.mail.account_status(MailAccountStatus("acct", "support@shop.test", MailAccountState.LIVE))
    assert not line.isVisible()
    assert "Up to date" in dialog.status_text("acct")
    dialog.reject()


def test_the_accounts_dialog_is_in_the_menu_and_the_settings_dialog(ui: UI, qtbot: Any) -> None:
    w = ui.window
    assert w.mail.accounts_action in w.menuBar().actions()[0].menu().actions()
    w.mail.accounts_action.trigger()
    assert w.mail.dialog is not None and w.mail.dialog.isVisible()
    w.mail.dialog.reject()
    qtbot.waitUntil(lambda: w.mail.dialog is None)
    w.open_settings()
    settings_dialog = w.findChild(SettingsDialog)
    assert settings_dialog is not None
    settings_dialog.mail_button.click()
    assert w.mail.dialog is not None and w.mail.dialog.isVisible()
    w.mail.dialog.reject()
    settings_dialog.reject()


def test_accounts_saved_reach_the_settings_and_survive_the_settings_dialog(
    ui: UI, qtbot: Any
) -> None:
    w = ui.window
    emitted: list[tuple[object, object]] = []
    w.mail.accountsSaved.connect(lambda s, p: emitted.append((s, p)))
    w.open_settings()  # opened before the account exists: it must not drop it on save
    settings_dialog = w.findChild(SettingsDialog)
    assert settings_dialog is not None
    w.mail.open_accounts()
    dialog = w.mail.dialog
    assert dialog is not None
    dialog.add_account()
    fill(dialog, address="support@shop.test", host="mail.shop.test", password="pw")
    dialog.save_form()
    account = w.settings.mail_accounts[0]
    assert account.address == "support@shop.test"
    assert emitted == [(w.settings, {account.id: "pw"})]
    saved: list[object] = []
    w.settingsSaved.connect(lambda s, _t: saved.append(s))
    settings_dialog.accept()
    assert isinstance(saved[0], Settings) and saved[0].mail_accounts == (account,)
    assert w.settings.mail_accounts == (account,)
    dialog.reject()


# -- the accounts dialog on its own --------------------------------------------------------------


def fill(dialog: MailAccountsDialog, *, address: str, host: str, password: str = "") -> None:
    form = dialog.form
    form.address.setText(address)
    form.password.setText(password)
    form.imap_host.setText(host)
    form.smtp_host.setText(host)


@pytest.fixture
def accounts_dialog(
    qloop: Any, qtbot: Any
) -> Iterator[tuple[MailAccountsDialog, list[tuple[Any, Any]], OpRunner, dict[str, str]]]:
    ops = OpRunner(ChangeHub())
    saved_passwords = {"old": "secret"}
    existing = MailAccountSettings(
        id="old", address="sales@shop.test", imap_host="imap.shop.test", smtp_host="smtp.shop.test"
    )
    checks: list[tuple[Any, str]] = []

    async def check(account: Any, password: str) -> str | None:
        checks.append((account, password))
        return None if password == "secret" else "The IMAP server refused the password."

    dialog = MailAccountsDialog(
        (existing,), {}, ops, check=check, saved_password=saved_passwords.get
    )
    qtbot.addWidget(dialog)
    emitted: list[tuple[Any, Any]] = []
    dialog.saved.connect(lambda a, p: emitted.append((a, p)))
    dialog.show()
    yield dialog, emitted, ops, saved_passwords
    qtbot.waitUntil(lambda: ops.pending == 0)


def test_the_form_says_what_is_wrong_in_plain_words(accounts_dialog: Any) -> None:
    dialog, emitted, _ops, _pw = accounts_dialog
    dialog.add_account()
    dialog.form.folders.setText(" , ")
    dialog.save_form()
    text = dialog.form_problems.text()
    assert dialog.form_problems.isVisible() and emitted == []
    for words in (
        "Enter the email address",
        "incoming (IMAP) server",
        "outgoing (SMTP) server",
        "at least one folder",
        "Enter the password",
    ):
        assert words in text
    fill(dialog, address="sales@shop.test", host="mail.example.com", password="x")
    dialog.form.folders.setText("INBOX")
    dialog.form.imap_security.setCurrentIndex(dialog.form.imap_security.findData("none"))
    dialog.save_form()
    text = dialog.form_problems.text()
    assert "Another account already uses sales@shop.test." in text
    assert "allowed only for a server on this computer" in text and "mail.example.com" in text
    assert dialog.form.imap_port.value() == 143  # the usual port followed the security
    dialog.form.address.setText("not-an-address")
    dialog.save_form()
    assert "“not-an-address” is not an email address" in dialog.form_problems.text()


def test_add_check_edit_and_remove_accounts(accounts_dialog: Any, qtbot: Any) -> None:
    dialog, emitted, ops, saved_passwords = accounts_dialog
    dialog.add_account()
    fill(dialog, address="support@shop.test", host="127.0.0.1", password="wrong")
    dialog.form.smtp_security.setCurrentIndex(dialog.form.smtp_security.findData("none"))
    assert dialog.form.smtp_port.value() == 25
    dialog.check_button.click()
    qtbot.waitUntil(lambda: dialog.check_button.isEnabled())
    assert dialog.check_result.text() == "The IMAP server refused the password."
    dialog.form.password.setText("secret")
    dialog.check_button.click()
    qtbot.waitUntil(lambda: dialog.check_button.isEnabled())
    assert "Both servers accepted the login" in dialog.check_result.text()
    dialog.save_form()
    accounts, passwords = emitted[-1]
    new = accounts[1]
    assert (new.address, new.imap_host, new.smtp_security, new.smtp_port, new.folders) == (
        "support@shop.test",
        "127.0.0.1",
        "none",
        25,
        ("INBOX",),
    )
    assert passwords == {new.id: "secret"}
    assert dialog.pages.currentIndex() == 0 and dialog.list.count() == 2
    assert new.to_account().login == "support@shop.test"

    # editing keeps the saved password when the field stays empty (and Check uses it)
    dialog.list.setCurrentRow(0)
    dialog.edit_selected()
    assert dialog.form.address.text() == "sales@shop.test"
    assert "keep the saved password" in dialog.form.password.placeholderText()
    dialog.check_form()
    qtbot.waitUntil(lambda: ops.pending == 0)
    assert "Both servers accepted" in dialog.check_result.text()
    dialog.form.display_name.setText("Sales Team")
    dialog.save_form()
    accounts, passwords = emitted[-1]
    assert accounts[0].display_name == "Sales Team" and passwords == {}

    dialog.list.setCurrentRow(0)
    dialog.remove_selected()
    assert dialog.confirm is not None
    dialog.confirm.button(QMessageBox.StandardButton.Cancel).click()
    assert len(emitted) == 2
    dialog.remove_selected()
    dialog.confirm.button(QMessageBox.StandardButton.Yes).click()
    accounts, passwords = emitted[-1]
    assert [a.address for a in accounts] == ["support@shop.test"] and passwords == {}


def test_the_dialog_never_interprets_account_text_as_html(accounts_dialog: Any) -> None:
    dialog, *_ = accounts_dialog
    dialog.set_status(
        MailAccountStatus("old", "sales@shop.test", MailAccountState.RETRYING, detail="<b>down</b>")
    )
    assert "<b>down</b>" in dialog.status_text("old")
    assert dialog.form_problems.textFormat() == Qt.TextFormat.PlainText


# -- the composition root ------------------------------------------------------------------------

MAIL_ONLY = """
import sys
from PySide6.QtCore import QTimer
import keyring.backends.null
from omnidesk.app import run_console
from omnidesk.domain import MailAccountState
from omnidesk.settings import MailAccountSettings, SecretStore, Settings

account = MailAccountSettings(
    id="a1", address="support@shop.test", imap_host="127.0.0.1", imap_port=9,
    imap_security="none", smtp_host="127.0.0.1", smtp_port=9, smtp_security="none",
)
settings = Settings(relay_url="http://127.0.0.1:9", cache_path=sys.argv[1],
                    mail_accounts=(account,))

def ready(window):
    waited = [0]
    def check():
        waited[0] += 1
        status = window.mail.statuses.get("a1")
        if (status is not None and status.state is MailAccountState.AUTH_FAILED) or waited[0] > 80:
            print("SERVICE", window.mail.service is not None)
            print("STATE", status.state.value if status else None)
            print("LINE", window.mail.status_line.isVisible())
            print("RELAY", window.connection.state.value)
            print("SETTINGS_OPEN", bool(window._settings_dialog and window._settings_dialog.isVisible()))
            window.close()
        else:
            QTimer.singleShot(100, check)
    QTimer.singleShot(100, check)

sys.exit(run_console(settings, secret_store=SecretStore(keyring.backends.null.Keyring()),
                     on_ready=ready))
"""


def test_a_mail_only_console_runs_without_the_relay(tmp_path: Path) -> None:
    """No token and one mail account: the relay is never contacted and no token is asked
    for; the mail service runs and says the password is missing (none is saved)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", MAIL_ONLY, str(tmp_path / "cache.sqlite3")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert lines == {
        "SERVICE": "True",
        "STATE": "auth_failed",
        "LINE": "True",
        "RELAY": "offline",
        "SETTINGS_OPEN": "False",
    }, result.stdout + result.stderr[-2000:]
