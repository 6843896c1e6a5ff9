"""Desktop notifications for new customer messages the agent should see.

A message triggers one when it comes from the customer, is new (status ``received``), and its
conversation is the agent's or unassigned, while the window is not the active one.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon

from omnidesk.domain import Conversation, Direction, Message

Show = Callable[[str, str], None]


def should_notify(message: Message, conversation: Conversation, me: str | None) -> bool:
    return (
        message.direction is Direction.IN
        and message.author == "customer"
        and (conversation.assignee is None or conversation.assignee == me)
    )


class Notifier(QObject):
    """Shows a notification through the system tray when there is one; ``show`` is injectable."""

    def __init__(self, parent: QObject | None = None, show: Show | None = None) -> None:
        super().__init__(parent)
        self._tray: QSystemTrayIcon | None = None
        self._show = show
        if show is None and QSystemTrayIcon.isSystemTrayAvailable():
            self._tray = QSystemTrayIcon(QIcon.fromTheme("mail-unread"), self)
            self._tray.show()

    @property
    def available(self) -> bool:
        return self._show is not None or self._tray is not None

    def notify(self, title: str, body: str) -> None:
        if self._show is not None:
            self._show(title, body)
        elif self._tray is not None:
            self._tray.showMessage(title, body, QSystemTrayIcon.MessageIcon.Information, 6000)
