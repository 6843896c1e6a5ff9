"""The console's settings, declared once, and where the agent token is kept.

Settings live in a small JSON file in the platform's config folder. The agent token never
goes there: it lives in the OS keyring (``keyring``). When the machine has no real keyring
(no Secret Service daemon: ``keyring`` then picks its *fail* backend, or keyrings.alt's
*plain-text* file), :class:`TokenStore` says so plainly and falls back to keyrings.alt's
encrypted file behind a master password when PyCryptodome is installed, and otherwise keeps
the token in memory for this session only (the console asks for it at each start).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import platformdirs

log = logging.getLogger(__name__)

APP_NAME = "omnidesk"
KEYRING_SERVICE = "omnidesk-relay"


@dataclass(frozen=True)
class Settings:
    """Everything the agent can set. Each field has a default so a fresh install just works."""

    relay_url: str = "http://127.0.0.1:8700"
    """Base URL of the relay (without ``/v1``)."""
    agent: str = ""
    """The agent's name as the relay knows it; filled from ``GET /v1/me``."""
    language: str = ""
    """``""`` follows the system locale; otherwise ``"en"`` or ``"pt_BR"``."""
    notifications: bool = True
    """Desktop notification for a new customer message in my or unassigned conversations."""
    cache_path: str = ""
    """Override of the cache file; empty means the platform's user data folder."""

    def resolved_cache_path(self) -> Path:
        if self.cache_path:
            return Path(self.cache_path)
        return Path(platformdirs.user_data_dir(APP_NAME)) / "cache.sqlite3"

    def token_account(self) -> str:
        """The keyring "username" the token is stored under: one token per relay."""
        return self.relay_url.rstrip("/")


def default_settings_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "settings.json"


def load_settings(path: Path) -> Settings:
    """Read settings; unknown keys are ignored and a missing or broken file gives defaults."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("settings file %s unreadable (%s); using defaults", path, exc)
        return Settings()
    if not isinstance(raw, dict):
        return Settings()
    names = {f.name: f.type for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in names:
            continue
        default = getattr(Settings(), key)
        if isinstance(value, type(default)):
            values[key] = value
    return Settings(**values)


def save_settings(settings: Settings, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(settings), indent=2), encoding="utf-8")
    os.replace(tmp, path)


class TokenStorage(enum.StrEnum):
    KEYRING = "keyring"
    """The OS keyring (Secret Service, macOS Keychain, Windows Credential Locker)."""
    ENCRYPTED_FILE = "encrypted_file"
    """keyrings.alt's encrypted file, unlocked with a master password each start."""
    SESSION = "session"
    """No safe place on this machine: kept in memory, asked again at each start."""


_UNSAFE_BACKENDS = (
    "keyring.backends.fail.Keyring",
    "keyring.backends.null.Keyring",
    "keyrings.alt.file.PlaintextKeyring",
)


def _backend_name(backend: keyring.backend.KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def is_safe_backend(backend: keyring.backend.KeyringBackend) -> bool:
    """True for a backend that keeps secrets out of plain files."""
    from keyring.backends.chainer import ChainerBackend

    if isinstance(backend, ChainerBackend):
        return any(is_safe_backend(b) for b in backend.backends)
    return _backend_name(backend) not in _UNSAFE_BACKENDS


def encrypted_file_available() -> bool:
    try:
        from keyrings.alt.file import EncryptedKeyring

        EncryptedKeyring._get_crypto_impl()
    except (ImportError, RuntimeError):
        return False
    return True


class TokenStore:
    """Reads and writes the agent token without ever writing it to a plain file.

    ``backend`` is injectable (tests pass one); by default it is ``keyring.get_keyring()``.
    ``problem`` is a sentence for the agent when the OS keyring is not usable.
    """

    def __init__(self, backend: keyring.backend.KeyringBackend | None = None) -> None:
        self._backend = backend if backend is not None else keyring.get_keyring()
        self._session: dict[str, str] = {}
        self._encrypted: keyring.backend.KeyringBackend | None = None
        if is_safe_backend(self._backend):
            self.storage = TokenStorage.KEYRING
            self.problem: str | None = None
        else:
            self.storage = (
                TokenStorage.ENCRYPTED_FILE if encrypted_file_available() else TokenStorage.SESSION
            )
            self.problem = (
                f"This computer has no usable system keyring ({_backend_name(self._backend)})."
            )
            log.warning("%s Token storage: %s", self.problem, self.storage.value)

    @property
    def needs_master_password(self) -> bool:
        return self.storage is TokenStorage.ENCRYPTED_FILE and self._encrypted is None

    def unlock(self, master_password: str) -> None:
        """Open the encrypted file backend with the agent's master password."""
        from keyrings.alt.file import EncryptedKeyring

        backend = EncryptedKeyring()
        backend.keyring_key = master_password
        self._encrypted = backend

    def get(self, account: str) -> str | None:
        if self.storage is TokenStorage.SESSION:
            return self._session.get(account)
        backend = self._encrypted if self.storage is TokenStorage.ENCRYPTED_FILE else self._backend
        if backend is None:
            return self._session.get(account)
        try:
            return backend.get_password(KEYRING_SERVICE, account)
        except keyring.errors.KeyringError as exc:
            log.warning("keyring read failed: %s", exc)
            return self._session.get(account)

    def set(self, account: str, token: str) -> None:
        self._session[account] = token
        if self.storage is TokenStorage.SESSION:
            return
        backend = self._encrypted if self.storage is TokenStorage.ENCRYPTED_FILE else self._backend
        if backend is None:
            return
        try:
            backend.set_password(KEYRING_SERVICE, account, token)
        except keyring.errors.KeyringError as exc:
            log.warning("keyring write failed, keeping the token for this session: %s", exc)

    def delete(self, account: str) -> None:
        self._session.pop(account, None)
        backend = self._encrypted if self.storage is TokenStorage.ENCRYPTED_FILE else self._backend
        if self.storage is TokenStorage.SESSION or backend is None:
            return
        try:
            backend.delete_password(KEYRING_SERVICE, account)
        except keyring.errors.KeyringError:
            pass
