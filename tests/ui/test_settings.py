from __future__ import annotations

from pathlib import Path
from typing import Any

import keyring.backend
import keyring.backends.fail
import keyring.backends.null
import pytest
from keyrings.alt.file import PlaintextKeyring

from omnidesk.settings import (
    Settings,
    TokenStorage,
    TokenStore,
    is_safe_backend,
    load_settings,
    save_settings,
)
from omnidesk.ui.settings_dialog import SettingsDialog


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


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


def test_token_goes_to_a_real_keyring() -> None:
    backend = MemoryKeyring()
    store = TokenStore(backend)
    assert store.storage is TokenStorage.KEYRING and store.problem is None
    store.set("http://r", "secret")
    assert backend.store == {("omnidesk-relay", "http://r"): "secret"}
    assert TokenStore(backend).get("http://r") == "secret"


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
    store = TokenStore(backend)
    assert store.problem is not None and "no usable system keyring" in store.problem
    # PyCryptodome is not installed here, so no encrypted file either: session only
    assert store.storage in (TokenStorage.SESSION, TokenStorage.ENCRYPTED_FILE)
    if store.storage is TokenStorage.SESSION:
        store.set("http://r", "secret")
        assert store.get("http://r") == "secret"
        assert not (tmp_path / "plain.cfg").exists()
        assert TokenStore(backend).get("http://r") is None  # asked again next start


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
