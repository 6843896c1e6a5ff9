"""The one op runner: every async operation started from the UI goes through here.

:class:`OpRunner` starts the coroutine as a task (holding a strong reference), counts busy
operations, turns every error into one user-facing message, and emits the returned
:class:`Changes` on the hub, so each view can decide whether to refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Signal

from omnidesk.changes import Changes
from omnidesk.domain import ConnectionState
from omnidesk.services.errors import (
    RelayAuthError,
    RelayError,
    RelayProtocolError,
    RelayRequestError,
    RelayUnavailable,
    TakeoverConflict,
)
from omnidesk.services.event_stream import CatchUpProgress
from omnidesk.storage import CacheDiskFull, CacheError, CacheLocked

log = logging.getLogger(__name__)
T = TypeVar("T")


class ChangeHub(QObject):
    """Where service callbacks and op results meet Qt.

    Signals:
        changed(Changes): something in the cache changed.
        connection(str): the relay connection state (a ``ConnectionState`` value).
        notice(str): a message for the agent (errors, warnings), already translated.
        busy(bool): whether any operation is running.
        catchUp(int, int): events done and total of the relay catch-up; (0, 0) when it ended
            (ints rather than an object that may be None: PySide6 leaks None's refcount).
    """

    changed = Signal(object)
    connection = Signal(str)
    notice = Signal(str)
    busy = Signal(bool)
    catchUp = Signal(int, int)

    def publish(self, changes: Changes) -> None:
        if changes:
            self.changed.emit(changes)

    def set_connection(self, state: ConnectionState) -> None:
        self.connection.emit(state.value)

    def report_catch_up(self, progress: CatchUpProgress | None) -> None:
        if progress is None:
            self.catchUp.emit(0, 0)
        else:
            self.catchUp.emit(progress.done, progress.total)


def describe_error(exc: BaseException) -> str:
    """One sentence for the agent, in their language."""

    if isinstance(exc, TakeoverConflict):
        return QCoreApplication.translate(
            "Errors", "{owner} already took over this conversation."
        ).format(owner=exc.owner)
    if isinstance(exc, RelayAuthError):
        return QCoreApplication.translate(
            "Errors", "The relay refused your token. Enter a new one in Settings."
        )
    if isinstance(exc, RelayUnavailable):
        return QCoreApplication.translate(
            "Errors", "The relay cannot be reached right now. Try again when you are back online."
        )
    if isinstance(exc, RelayRequestError):
        return QCoreApplication.translate("Errors", "The relay refused this: {detail}").format(
            detail=exc.detail or exc.status
        )
    if isinstance(exc, RelayProtocolError | RelayError):
        return QCoreApplication.translate(
            "Errors", "The relay answered something unexpected. Details are in the log."
        )
    if isinstance(exc, CacheDiskFull):
        return QCoreApplication.translate(
            "Errors", "The disk is full: the local cache could not be saved. Free some space."
        )
    if isinstance(exc, CacheLocked):
        return QCoreApplication.translate("Errors", "The local cache is in use by another program.")
    if isinstance(exc, CacheError):
        return QCoreApplication.translate("Errors", "The local cache failed: {detail}").format(
            detail=str(exc)
        )
    return QCoreApplication.translate("Errors", "Something went wrong. Details are in the log.")


class OpRunner(QObject):
    """Runs async operations for the UI. See the module docstring."""

    def __init__(self, hub: ChangeHub, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._hub = hub
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def run(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], bool] | None = None,
        owner: QObject | None = None,
    ) -> asyncio.Task[T]:
        """Start ``coro``. A ``Changes`` result is published; ``on_done`` gets the result.

        ``on_error`` may handle an error itself (return True); otherwise it is shown.
        Callbacks are skipped once ``owner`` (the widget or model asking) has been deleted.
        """
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        if len(self._tasks) == 1:
            self._hub.busy.emit(True)

        def done(t: asyncio.Task[T]) -> None:
            self._tasks.discard(t)
            if not self._tasks:
                self._hub.busy.emit(False)
            if t.cancelled():
                return
            if owner is not None and not shiboken6.isValid(owner):
                on_done_ = None
                on_error_ = None
            else:
                on_done_ = on_done
                on_error_ = on_error
            exc = t.exception()
            if exc is not None:
                if on_error_ is not None and on_error_(exc):
                    return
                if isinstance(exc, RelayError | CacheError):
                    log.info("operation failed: %s", exc)
                else:
                    log.error("operation failed", exc_info=exc)
                self._hub.notice.emit(describe_error(exc))
                return
            result = t.result()
            if isinstance(result, Changes):
                self._hub.publish(result)
            if on_done_ is not None:
                on_done_(result)

        task.add_done_callback(done)
        return task

    async def drain(self, timeout: float = 2.0) -> None:
        """Let running operations finish (a draft being saved), then cancel what is left."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        await self.cancel_all()

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
