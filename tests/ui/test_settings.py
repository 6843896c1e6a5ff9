from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keyring.backend
import keyring.backends.fail
import keyring.backends.null
import pytest
from keyrings.alt.file import PlaintextKeyring

from omnidesk.settings import (
    MAIL_KEYRING_SERVICE,
    RELAY_KEYRING_SERVICE,
    AccountProblem,
    MailAccountSettings,
    SecretStore,
    Settings,
    TokenStorage,
    is_safe_backend,
    load_settings,
    save_settings,
)
from omnidesk.ui.settings_dialog import SettingsDialog
from tests.helpers.keyrings import MemoryKeyring


def test_settings_round_trip_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    assert load_settings(path) == Settings()
    s = Settings(relay_url="https://relay.example", language="pt_BR")
    save_settings(s, path)
    assert load_settings(path) == s
    assert "token" not in path.read_text()
    path.write_text('{"relay_url": 5, "language": "en", "nope": 1}')
    assert load_settings(path) == Settings(language="en")
    path.write_text("{broken")
    assert load_settings(path) == Settings()


def test_token_and_mail_passwords_go_to_a_real_keyring() -> None:
    backend = MemoryKeyring()
    store = SecretStore(backend)
    assert store.storage is TokenStorage.KEYRING and store.problem is None
    store.set(RELAY_KEYRING_SERVICE, "http://r", "secret")
    store.set(MAIL_KEYRING_SERVICE, "acct1", "mail-pass")
    assert backend.store == {
        ("omnidesk-relay", "http://r"): "secret",
        ("omnidesk-mail", "acct1"): "mail-pass",
    }
    assert SecretStore(backend).get(RELAY_KEYRING_SERVICE, "http://r") == "secret"
    assert SecretStore(backend).get(MAIL_KEYRING_SERVICE, "acct1") == "mail-pass"
    store.delete(MAIL_KEYRING_SERVICE, "acct1")
    assert SecretStore(backend).get(MAIL_KEYRING_SERVICE, "acct1") is None


@pytest.mark.parametrize(
    "backend",
    [keyring.backends.fail.Keyring(), keyring.backends.null.Keyring(), PlaintextKeyring()],
)
def test_no_usable_keyring_is_said_plainly_and_nothing_is_written(
    backend: keyring.backend.KeyringBackend, tmp_path: Path, monkeypatch: Any
) -> None:
    if isinstance(backend, PlaintextKeyring):
        monkeypatch.setattr(PlaintextKeyring, "file_path", str(tmp_path / "plain.cfg"))
    assert not is_safe_backend(backend)
    store = SecretStore(backend)
    assert store.problem is not None and "no usable system keyring" in store.problem
    # PyCryptodome is not installed here, so no encrypted file either: session only
    assert store.storage in (TokenStorage.SESSION, TokenStorage.ENCRYPTED_FILE)
    if store.storage is TokenStorage.SESSION:
        store.set(RELAY_KEYRING_SERVICE, "http://r", "secret")
        store.set(MAIL_KEYRING_SERVICE, "acct1", "mail-pass")
        assert store.get(RELAY_KEYRING_SERVICE, "http://r") == "secret"
        assert store.get(MAIL_KEYRING_SERVICE, "acct1") == "mail-pass"
        assert store.get(MAIL_KEYRING_SERVICE, "http://r") is None  # services stay apart
        assert not (tmp_path / "plain.cfg").exists()
        again = SecretStore(backend)  # asked again next start
        assert again.get(RELAY_KEYRING_SERVICE, "http://r") is None
        assert again.get(MAIL_KEYRING_SERVICE, "acct1") is None


def test_settings_dialog_emits_new_settings_and_token(qtbot: Any) -> None:
    dialog = SettingsDialog(Settings(), TokenStorage.SESSION, "No keyring here.")
    qtbot.addWidget(dialog)
    got: list[tuple[object, object]] = []
    dialog.saved.connect(lambda s, t: got.append((s, t)))
    dialog.url.setText("https://relay.example")
    dialog.token.setText("  tok-123 ")
    dialog.language.setCurrentIndex(dialog.language.findData("pt_BR"))
    dialog.accept()
    assert got == [(Settings(relay_url="https://relay.example", language="pt_BR"), "tok-123")]
    assert dialog.token.echoMode() == dialog.token.EchoMode.Password


SUPPORT = MailAccountSettings(
    id="a1",
    address="support@acme.example",
    display_name="Acme Support",
    imap_host="imap.acme.example",
    smtp_host="smtp.acme.example",
    smtp_port=587,
    smtp_security="starttls",
    folders=("INBOX", "Support"),
    sent_folder="Sent Items",
    signature_html="<p>Acme</p>",
)


def test_mail_accounts_round_trip_without_passwords(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = Settings(mail_accounts=(SUPPORT, MailAccountSettings("a2", "sales@acme.example")))
    save_settings(settings, path)
    assert load_settings(path) == settings
    assert "password" not in path.read_text() and "secret" not in path.read_text()
    assert load_settings(path).mail_account("a1") == SUPPORT


def test_broken_mail_accounts_are_skipped_and_bad_fields_defaulted(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        '{"mail_accounts": ['
        '{"id": "ok", "address": "a@b.example", "imap_port": "x", "imap_security": "ssl",'
        ' "folders": "INBOX", "smtp_port": 2525},'
        '{"address": "no-id@b.example"}, 7, "nope"],'
        ' "language": "en"}'
    )
    loaded = load_settings(path)
    assert loaded.language == "en"
    assert loaded.mail_accounts == (
        MailAccountSettings(id="ok", address="a@b.example", smtp_port=2525),
    )
    path.write_text('{"mail_accounts": {"id": "x"}}')
    assert load_settings(path).mail_accounts == ()


def test_account_settings_convert_to_the_services_account() -> None:
    account = SUPPORT.to_account()
    assert account.id == "a1" and account.login == "support@acme.example"  # login defaults
    assert (account.smtp_port, account.smtp_security) == (587, "starttls")
    assert account.folders == ("INBOX", "Support") and account.sent_folder == "Sent Items"
    assert account.signature_html == "<p>Acme</p>" and account.display_name == "Acme Support"
    assert MailAccountSettings.from_account(account) == SUPPORT
    custom = dataclasses.replace(SUPPORT, login="u123").to_account()
    assert custom.login == "u123"


def test_account_problems_are_found_before_saving() -> None:
    assert SUPPORT.problems() == []
    empty = MailAccountSettings(id="n", address="", folders=(), sent_folder=" ")
    assert empty.problems() == [
        AccountProblem.NO_ADDRESS,
        AccountProblem.NO_IMAP_HOST,
        AccountProblem.NO_SMTP_HOST,
        AccountProblem.NO_FOLDERS,
        AccountProblem.NO_SENT_FOLDER,
    ]
    plain = dataclasses.replace(SUPPORT, id="b", imap_security="none", smtp_security="none")
    assert plain.problems((SUPPORT,)) == [
        AccountProblem.DUPLICATE_ADDRESS,
        AccountProblem.PLAIN_IMAP_NOT_LOCAL,
        AccountProblem.PLAIN_SMTP_NOT_LOCAL,
    ]
    local = dataclasses.replace(plain, address="x@y.example", imap_host="127.0.0.1",
                                smtp_host="localhost", imap_port=0)  # fmt: skip
    assert local.problems((SUPPORT,)) == [AccountProblem.BAD_IMAP_PORT]
    assert dataclasses.replace(SUPPORT, address="nope").problems() == [AccountProblem.BAD_ADDRESS]


@pytest.mark.parametrize(
    ("host", "local"),
    [("localhost", True), ("127.0.0.1", True), ("127.5.0.9", True), ("::1", True),
     (" LOCALHOST ", True), ("10.0.0.1", False), ("mail.example.com", False),
     ("localhost.example.com", False)],
)  # fmt: skip
def test_only_loopback_hosts_may_go_without_tls(host: str, local: bool) -> None:
    account = dataclasses.replace(SUPPORT, imap_host=host, imap_security="none")
    assert (AccountProblem.PLAIN_IMAP_NOT_LOCAL not in account.problems()) is local


def test_settings_dialog_keeps_mail_accounts_and_offers_their_dialog(qtbot: Any) -> None:
    dialog = SettingsDialog(Settings(mail_accounts=(SUPPORT,)), TokenStorage.KEYRING, None)
    qtbot.addWidget(dialog)
    got: list[object] = []
    asked: list[bool] = []
    dialog.saved.connect(lambda s, _t: got.append(s))
    dialog.mailAccountsRequested.connect(lambda: asked.append(True))
    dialog.mail_button.click()
    assert asked == [True]
    dialog.accept()
    assert isinstance(got[0], Settings) and got[0].mail_accounts == (SUPPORT,)
