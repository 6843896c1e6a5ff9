"""The mail half of the composition root: the mail service runs while accounts exist.

:class:`MailSetup` builds the :class:`~omnidesk.storage.mail_store.MailStore` and the
:class:`~omnidesk.services.mail.service.MailService` once the agent has a mail account (at
start, or when the first one is added), keeps its accounts in step with the settings, keeps
the passwords in the keyring (service ``omnidesk-mail``, user = account id) and stops the
service with the console. The relay part never depends on it, and it never on the relay.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication

from omnidesk.settings import MAIL_KEYRING_SERVICE, SecretStore, Settings, save_settings

if TYPE_CHECKING:
    from omnidesk.mail.types import MailAccount
    from omnidesk.services.mail.service import MailService
    from omnidesk.storage import Cache
    from omnidesk.ui.main_window import MainWindow

log = logging.getLogger(__name__)


class MailSetup:
    def __init__(
        self,
        cache: Cache,
        secrets: SecretStore,
        window: MainWindow,
        *,
        settings_path: Path | None,
    ) -> None:
        self._cache = cache
        self._secrets = secrets
        self._window = window
        self._settings_path = settings_path
        self._known = {a.id for a in window.settings.mail_accounts}
        self.service: MailService | None = None
        self._passwords: dict[str, str | None] = {}
        """Read from the keyring once per account, off the GUI thread (a keyring call may
        wait on D-Bus or an unlock prompt); the connections ask for them again and again."""
        window.mail.set_passwords(self.password_for, secrets.storage, self.check_account)
        window.mail.accountsSaved.connect(self._accounts_saved)

    def password_for(self, account_id: str) -> str | None:
        """The saved password, or None (the account then waits for one, saying so)."""
        if account_id not in self._passwords:  # not loaded by _apply: read it now
            self._passwords[account_id] = self._secrets.get(MAIL_KEYRING_SERVICE, account_id)
        return self._passwords[account_id]

    async def _load_passwords(self, accounts: list[MailAccount]) -> None:
        missing = [a.id for a in accounts if a.id not in self._passwords]
        if missing:
            found = await asyncio.to_thread(
                lambda: {i: self._secrets.get(MAIL_KEYRING_SERVICE, i) for i in missing}
            )
            self._passwords.update(found)

    async def check_account(self, account: MailAccount, password: str) -> str | None:
        """ "Check" before the service runs (the agent's very first account)."""
        from omnidesk.services.mail.accounts import check_login

        return await check_login(account, password)

    async def start(self, settings: Settings) -> None:
        """Start the accounts of the settings; a failure here never stops the relay part."""
        if not settings.mail_accounts:
            return
        try:
            await self._apply(settings)
        except Exception as exc:
            log.exception("the mail service did not start")
            self._window.hub.notice.emit(
                QCoreApplication.translate("Console", "Email could not start: {error}").format(
                    error=exc
                )
            )

    async def _apply(self, settings: Settings) -> None:
        accounts = [a.to_account() for a in settings.mail_accounts]
        await self._load_passwords(accounts)
        if self.service is not None:
            await self.service.set_accounts(accounts)
            return
        if not accounts:
            return
        from omnidesk.services.mail.service import MailService
        from omnidesk.storage.mail_store import MailStore

        hub = self._window.hub
        service = MailService(
            MailStore(self._cache, {}),
            accounts,
            self.password_for,
            hub.publish,
            self._window.mail.account_status,
        )
        self.service = service
        await service.start()
        self._window.mail.set_service(service)

    def _accounts_saved(self, settings: object, passwords: object) -> None:
        """The accounts dialog changed something: keyring, settings file, then the service."""
        if not isinstance(settings, Settings) or not isinstance(passwords, dict):
            return
        kept = {a.id for a in settings.mail_accounts}
        removed, self._known = self._known - kept, kept
        for account_id in removed:
            self._passwords.pop(account_id, None)
        self._passwords.update(passwords)
        if self._settings_path is not None:
            save_settings(settings, self._settings_path)

        def store_in_keyring() -> None:
            for account_id in removed:
                self._secrets.delete(MAIL_KEYRING_SERVICE, account_id)
            for account_id, password in passwords.items():
                self._secrets.set(MAIL_KEYRING_SERVICE, account_id, password)

        async def apply() -> None:
            await asyncio.to_thread(store_in_keyring)
            await self._apply(settings)
            if self.service is not None:
                for account_id in passwords:
                    self.service.password_changed(account_id)

        self._window.ops.run(apply())

    async def shutdown(self) -> None:
        service, self.service = self.service, None
        if service is not None:
            self._window.mail.set_service(None)
            await service.shutdown()
