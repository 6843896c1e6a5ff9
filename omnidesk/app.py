"""The composition root: QApplication, the qasync loop, storage -> services -> ui, shutdown.

``omnidesk`` opens the console; ``omnidesk demo`` is wired by the demo module (it calls
:func:`run_console`). The relay part and the mail part (:mod:`omnidesk.app_mail`) stand on
their own: with no token and some mail accounts the relay is not contacted until a token is
entered (a mail-only agent), and with no mail account no mail service runs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

os.environ.setdefault("QT_API", "pyside6")

# PySide6 must be imported before qasync so qasync binds to it.
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit

# isort: split
import qasync

from omnidesk.settings import (
    RELAY_KEYRING_SERVICE,
    SecretStore,
    Settings,
    default_settings_path,
    load_settings,
    save_settings,
)

if TYPE_CHECKING:
    import httpx

    from omnidesk.ui.main_window import MainWindow

log = logging.getLogger("omnidesk")

ReadyCallback = Callable[[object], None]
ShutdownHook = Callable[[], Awaitable[None]]


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    log.error("unhandled error", exc_info=(kind, exc, tb))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omnidesk", description="Omnidesk agent console")
    parser.add_argument("--settings", type=Path, default=None, help="settings file to use")
    parser.add_argument("--relay-url", default=None, help="relay base URL (overrides settings)")
    parser.add_argument("--cache", type=Path, default=None, help="cache file (overrides settings)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="run a relay, a customer simulator and the console together")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "demo":
        return run_demo()
    settings_path = args.settings or default_settings_path()
    settings = load_settings(settings_path)
    if args.relay_url:
        settings = dataclasses.replace(settings, relay_url=args.relay_url)
    if args.cache:
        settings = dataclasses.replace(settings, cache_path=str(args.cache))
    return run_console(settings, settings_path=settings_path)


def run_demo() -> int:
    from omnidesk.demo import run_demo as run

    return run()


def run_console(
    settings: Settings,
    *,
    settings_path: Path | None = None,
    token: str | None = None,
    secret_store: SecretStore | None = None,
    on_ready: ReadyCallback | None = None,
    on_shutdown: ShutdownHook | None = None,
    argv: Sequence[str] | None = None,
) -> int:
    """Open the console and block until it is closed. Returns the exit code.

    ``token`` skips the keyring (the demo passes its agent's token); ``on_ready(window)`` is
    called once the window shows; ``on_shutdown()`` is awaited after the console stopped.
    """
    sys.excepthook = _excepthook

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(list(argv or sys.argv))
    app.setApplicationName("Omnidesk")
    app.setOrganizationName("Omnidesk")
    app.setQuitOnLastWindowClosed(False)
    from omnidesk.ui.i18n import install_translator

    install_translator(app, settings.language)
    with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
        return runner.run(
            console_main(
                app,
                settings,
                settings_path=settings_path,
                token=token,
                secrets=secret_store or SecretStore(),
                on_ready=on_ready,
                on_shutdown=on_shutdown,
            )
        )


async def _ask_master_password(parent: object) -> str | None:
    """Ask without a nested event loop (``open()`` + a future)."""
    from PySide6.QtWidgets import QWidget

    dialog = QInputDialog(parent if isinstance(parent, QWidget) else None)
    dialog.setWindowTitle(QCoreApplication.translate("Console", "Unlock saved passwords"))
    dialog.setLabelText(
        QCoreApplication.translate(
            "Console", "Master password for the encrypted file of your token and passwords:"
        )
    )
    dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
    future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not future.done():
            future.set_result(dialog.textValue() if result else None)

    dialog.finished.connect(finished)
    dialog.open()
    return await future


async def _list_shown(window: MainWindow, timeout: float = 2.0) -> None:
    """Wait until the window showed the cached conversations (or ``timeout`` passed).

    What the list does not need (the keyring, the relay client and its event stream, the mail
    service) starts after this, so none of it delays the first paint.
    """
    loaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def done() -> None:
        if not loaded.done():
            loaded.set_result(None)

    window.list_model.loaded.connect(done)
    try:
        await asyncio.wait_for(loaded, timeout)
    except TimeoutError:
        log.warning("the conversation list took over %s s to load from the cache", timeout)
    finally:
        window.list_model.loaded.disconnect(done)
    # The rows are painted from Qt's posted events, which run before this call_soon.
    await asyncio.sleep(0)


async def console_main(
    app: QApplication,
    settings: Settings,
    *,
    settings_path: Path | None,
    token: str | None,
    secrets: SecretStore,
    on_ready: ReadyCallback | None = None,
    on_shutdown: ShutdownHook | None = None,
) -> int:
    from omnidesk.storage import Cache, CacheError

    # The cache opens on its own thread while the rest of the console is imported here.
    opening = asyncio.ensure_future(Cache.open(settings.resolved_cache_path()))
    await asyncio.sleep(0)  # lets it hand the work to that thread
    from omnidesk.app_mail import MailSetup
    from omnidesk.services.console import ConsoleService
    from omnidesk.services.relay_client import RelayClient
    from omnidesk.ui.main_window import MainWindow
    from omnidesk.ui.ops import ChangeHub, OpRunner

    loop = asyncio.get_running_loop()
    quit_requested: asyncio.Future[None] = loop.create_future()

    def request_quit() -> None:  # aboutToQuit may fire twice
        if not quit_requested.done():
            quit_requested.set_result(None)

    app.aboutToQuit.connect(request_quit)
    app.lastWindowClosed.connect(request_quit)

    try:
        cache = await opening
    except CacheError as exc:
        log.error("cannot open the local cache: %s", exc)
        print(f"Omnidesk cannot open its local cache: {exc}", file=sys.stderr)
        return 1

    def http_client() -> httpx.AsyncClient:
        # Imported and built on the relay client's first request, after the first paint.
        import httpx

        return httpx.AsyncClient(
            base_url=settings.relay_url, timeout=httpx.Timeout(15.0, connect=5.0)
        )

    hub = ChangeHub()
    ops = OpRunner(hub)
    client = RelayClient(http_client)
    service = ConsoleService(client, cache, on_changes=hub.publish, on_state=hub.set_connection)
    window = MainWindow(service, hub, ops, settings)
    mail: MailSetup | None = None
    closed = False
    relay_started = False

    async def start_relay() -> None:
        nonlocal relay_started
        if not relay_started:
            relay_started = True
            await service.start()

    async def shutdown() -> None:
        nonlocal closed
        if closed:
            return
        closed = True
        await ops.drain()
        if mail is not None:
            await mail.shutdown()
        await service.shutdown()
        await cache.close()
        if on_shutdown is not None:
            await on_shutdown()

    def settings_saved(new: object, new_token: object) -> None:
        if not isinstance(new, Settings):
            return
        if settings_path is not None:
            save_settings(new, settings_path)
        if isinstance(new_token, str) and new_token:
            secrets.set(RELAY_KEYRING_SERVICE, new.token_account(), new_token)
            service.set_token(new_token)
            if not relay_started:
                ops.run(start_relay())
        http = client.http
        if new.relay_url.rstrip("/") != str(http.base_url).rstrip("/"):
            http.base_url = new.relay_url
            service.reconnect()

    window.settingsSaved.connect(settings_saved)
    try:
        window.show()
        window.start()
        await _list_shown(window)
        # The demo hands its token over and keeps no secret: no keyring warning for nothing.
        keeps_secrets = token is None or bool(settings.mail_accounts)
        window.set_secret_storage(secrets.storage, secrets.problem if keeps_secrets else None)
        mail = MailSetup(cache, secrets, window, settings_path=settings_path)
        if secrets.needs_master_password and (token is None or settings.mail_accounts):
            password = await _ask_master_password(window)
            if password:
                secrets.unlock(password)
        if token is None:
            token = secrets.get(RELAY_KEYRING_SERVICE, settings.token_account())
        client.set_token(token)
        if token or not settings.mail_accounts:
            await start_relay()
        await mail.start(settings)
        if not token and not settings.mail_accounts:
            window.open_settings(
                reason=QCoreApplication.translate(
                    "Console",
                    "Enter your agent token to connect to the relay, or add a mail account.",
                )
            )
        if on_ready is not None:
            on_ready(window)
        await quit_requested
    finally:
        window.hide()
        await shutdown()
        window.deleteLater()
    return 0
