"""The console's settings, declared once, and where the secrets are kept.

Settings live in a small JSON file in the platform's config folder. Secrets never go there:
the agent token (service ``omnidesk-relay``) and each mail account's password (service
``omnidesk-mail``, user = the account id) live in the OS keyring (``keyring``). When the
machine has no real keyring (no Secret Service daemon: ``keyring`` then picks its *fail*
backend, or keyrings.alt's *plain-text* file), :class:`SecretStore` says so plainly and falls
back to keyrings.alt's encrypted file behind a master password when PyCryptodome is
installed, and otherwise keeps the secrets in memory for this session only (the console asks
for them at each start).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import platformdirs

from omnidesk.mail.types import MailAccount, Security
from omnidesk.services.mail.tls import is_loopback

if TYPE_CHECKING:
    # keyring is imported when a secret is first needed, after the window showed the cached
    # conversations: importing it and finding its backend takes well over 100 ms.
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

APP_NAME = "omnidesk"
RELAY_KEYRING_SERVICE = "omnidesk-relay"
"""Keyring service of the agent token; the user is :meth:`Settings.token_account`."""
MAIL_KEYRING_SERVICE = "omnidesk-mail"
"""Keyring service of the mail passwords; the user is the account id."""
SECURITIES: tuple[Security, ...] = get_args(Security)


class AccountProblem(enum.StrEnum):
    """Why an account cannot be saved; the dialog turns each into a sentence."""

    NO_ADDRESS = "no_address"
    BAD_ADDRESS = "bad_address"
    DUPLICATE_ADDRESS = "duplicate_address"
    NO_IMAP_HOST = "no_imap_host"
    NO_SMTP_HOST = "no_smtp_host"
    BAD_IMAP_PORT = "bad_imap_port"
    BAD_SMTP_PORT = "bad_smtp_port"
    PLAIN_IMAP_NOT_LOCAL = "plain_imap_not_local"
    PLAIN_SMTP_NOT_LOCAL = "plain_smtp_not_local"
    NO_FOLDERS = "no_folders"
    NO_SENT_FOLDER = "no_sent_folder"


_ADDRESS = re.compile(r"^[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+\.[^@\s<>(),;:\"]+$")


def new_account_id() -> str:
    """A stable id for a new account: it names the keyring entry and the ``email:`` channel."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class MailAccountSettings:
    """One mail account as the agent set it up. The password is in the keyring, never here."""

    id: str
    address: str
    display_name: str = ""
    """Shown as the sender's name in replies."""
    login: str = ""
    """The IMAP/SMTP user name; empty means the address."""
    imap_host: str = ""
    imap_port: int = 993
    imap_security: Security = "tls"
    """``tls``, ``starttls`` or ``none`` (only for a server on loopback)."""
    smtp_host: str = ""
    smtp_port: int = 465
    smtp_security: Security = "tls"
    folders: tuple[str, ...] = ("INBOX",)
    """The folders watched for customer mail."""
    sent_folder: str = "Sent"
    """Where replies are filed after sending (and where replies from other clients appear)."""
    signature_html: str = ""
    """Added under every reply (sanitised when the reply is built)."""
    tls_ca_file: str = ""
    """A PEM file trusted as well as the system's certificates (a private CA, a self-signed
    server); empty trusts the system store only."""

    def to_account(self) -> MailAccount:
        """What the mail services work with."""
        return MailAccount(
            id=self.id,
            address=self.address,
            login=self.login or self.address,
            imap_host=self.imap_host,
            imap_port=self.imap_port,
            imap_security=self.imap_security,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            smtp_security=self.smtp_security,
            display_name=self.display_name,
            folders=self.folders,
            sent_folder=self.sent_folder,
            signature_html=self.signature_html,
            tls_ca_file=self.tls_ca_file,
        )

    @classmethod
    def from_account(cls, account: MailAccount) -> MailAccountSettings:
        return cls(
            id=account.id,
            address=account.address,
            display_name=account.display_name,
            login="" if account.login == account.address else account.login,
            imap_host=account.imap_host,
            imap_port=account.imap_port,
            imap_security=account.imap_security,
            smtp_host=account.smtp_host,
            smtp_port=account.smtp_port,
            smtp_security=account.smtp_security,
            folders=account.folders,
            sent_folder=account.sent_folder,
            signature_html=account.signature_html,
            tls_ca_file=account.tls_ca_file,
        )

    @classmethod
    def from_json(cls, raw: object) -> MailAccountSettings | None:
        """Read one account from the settings file; None when it is unusable (logged)."""
        if not isinstance(raw, dict):
            return None
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in raw:
                continue
            value = raw[f.name]
            if f.name == "folders":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    continue
                value = tuple(value)
            elif f.name.endswith("_security"):
                if value not in SECURITIES:
                    continue
            elif f.name.endswith("_port"):
                if not isinstance(value, int) or isinstance(value, bool):
                    continue
            elif not isinstance(value, str):
                continue
            values[f.name] = value
        if not values.get("id") or not values.get("address"):
            log.warning("ignoring a mail account without id or address in the settings file")
            return None
        return cls(**values)

    def problems(self, others: tuple[MailAccountSettings, ...] = ()) -> list[AccountProblem]:
        """What keeps this account from working, checked before it is saved.

        ``others`` are the other accounts (an address may be set up only once).
        """
        out: list[AccountProblem] = []
        address = self.address.strip()
        if not address:
            out.append(AccountProblem.NO_ADDRESS)
        elif not _ADDRESS.match(address):
            out.append(AccountProblem.BAD_ADDRESS)
        elif any(o.id != self.id and o.address.lower() == address.lower() for o in others):
            out.append(AccountProblem.DUPLICATE_ADDRESS)
        for host, port, security, missing, bad_port, plain in (
            (self.imap_host, self.imap_port, self.imap_security, AccountProblem.NO_IMAP_HOST,
             AccountProblem.BAD_IMAP_PORT, AccountProblem.PLAIN_IMAP_NOT_LOCAL),
            (self.smtp_host, self.smtp_port, self.smtp_security, AccountProblem.NO_SMTP_HOST,
             AccountProblem.BAD_SMTP_PORT, AccountProblem.PLAIN_SMTP_NOT_LOCAL),
        ):  # fmt: skip
            if not host.strip():
                out.append(missing)
            elif security == "none" and not is_loopback(host.strip()):
                out.append(plain)
            if not 0 < port < 65536:
                out.append(bad_port)
        if not any(f.strip() for f in self.folders):
            out.append(AccountProblem.NO_FOLDERS)
        if not self.sent_folder.strip():
            out.append(AccountProblem.NO_SENT_FOLDER)
        return out


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
    mail_accounts: tuple[MailAccountSettings, ...] = ()
    """The mailboxes the console syncs itself (IMAP/SMTP, no relay in between)."""

    def mail_account(self, account_id: str) -> MailAccountSettings | None:
        return next((a for a in self.mail_accounts if a.id == account_id), None)

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
    names = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in names:
            continue
        if key == "mail_accounts":
            if isinstance(value, list):
                accounts = (MailAccountSettings.from_json(v) for v in value)
                values[key] = tuple(a for a in accounts if a is not None)
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


def _backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def is_safe_backend(backend: KeyringBackend) -> bool:
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


class SecretStore:
    """Reads and writes secrets without ever writing them to a plain file.

    One store serves every secret (the agent token, the mail passwords), so the agent unlocks
    the encrypted-file fallback once. Each secret is addressed like keyring's own
    ``(service, user)``: :data:`RELAY_KEYRING_SERVICE` or :data:`MAIL_KEYRING_SERVICE`.
    ``backend`` is injectable (tests pass one); by default it is ``keyring.get_keyring()``.
    ``problem`` is a sentence for the agent when the OS keyring is not usable.

    Nothing is asked of keyring until the first of these is used: finding the default
    backend walks every installed package's entry points, and the console does it only once
    its window shows the cached conversations.
    """

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        self._given = backend
        self._session: dict[tuple[str, str], str] = {}
        self._encrypted: KeyringBackend | None = None

    @functools.cached_property
    def _backend(self) -> KeyringBackend:
        if self._given is not None:
            return self._given
        import keyring

        return keyring.get_keyring()

    @functools.cached_property
    def problem(self) -> str | None:
        if is_safe_backend(self._backend):
            return None
        return f"This computer has no usable system keyring ({_backend_name(self._backend)})."

    @functools.cached_property
    def storage(self) -> TokenStorage:
        """Where the secrets go: :class:`TokenStorage`."""
        if self.problem is None:
            return TokenStorage.KEYRING
        storage = (
            TokenStorage.ENCRYPTED_FILE if encrypted_file_available() else TokenStorage.SESSION
        )
        log.warning("%s Secret storage: %s", self.problem, storage.value)
        return storage

    @property
    def needs_master_password(self) -> bool:
        return self.storage is TokenStorage.ENCRYPTED_FILE and self._encrypted is None

    def unlock(self, master_password: str) -> None:
        """Open the encrypted file backend with the agent's master password."""
        from keyrings.alt.file import EncryptedKeyring

        backend = EncryptedKeyring()
        backend.keyring_key = master_password
        self._encrypted = backend

    def _persistent(self) -> KeyringBackend | None:
        """Where secrets outlive the session, or None (session only, or still locked)."""
        if self.storage is TokenStorage.SESSION:
            return None
        return self._encrypted if self.storage is TokenStorage.ENCRYPTED_FILE else self._backend

    def get(self, service: str, user: str) -> str | None:
        backend = self._persistent()
        if backend is None:
            return self._session.get((service, user))
        import keyring.errors

        try:
            return backend.get_password(service, user)
        except keyring.errors.KeyringError as exc:
            log.warning("keyring read failed: %s", exc)
            return self._session.get((service, user))

    def set(self, service: str, user: str, secret: str) -> None:
        self._session[(service, user)] = secret
        backend = self._persistent()
        if backend is None:
            return
        import keyring.errors

        try:
            backend.set_password(service, user, secret)
        except keyring.errors.KeyringError as exc:
            log.warning("keyring write failed, keeping the secret for this session: %s", exc)

    def delete(self, service: str, user: str) -> None:
        self._session.pop((service, user), None)
        backend = self._persistent()
        if backend is None:
            return
        import keyring.errors

        try:
            backend.delete_password(service, user)
        except keyring.errors.KeyringError:
            pass
