"""One conversation's messages (and the agent's unsent replies), oldest first, paged upwards."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from omnidesk.changes import Changes
from omnidesk.domain import Message, OutboxItem
from omnidesk.storage import Cache
from omnidesk.ui import texts
from omnidesk.ui.ops import OpRunner

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


class MsgRole(enum.IntEnum):
    KEY = Qt.ItemDataRole.UserRole + 1
    """``("m", message id)`` or ``("o", client id)``."""
    ITEM = enum.auto()
    TEXT = enum.auto()
    AUTHOR = enum.auto()
    TIME = enum.auto()
    OUTGOING = enum.auto()
    STATUS = enum.auto()
    """A ``MessageStatus`` value, or ``queued``/``sending``/``failed`` for an outbox item."""
    ERROR = enum.auto()
    KIND = enum.auto()
    QUOTE = enum.auto()
    """``(author, text)`` of the message replied to, or None."""
    IS_OUTBOX = enum.auto()
    MESSAGE_ID = enum.auto()
    NOTE = enum.auto()
    """True for activity lines and internal notes (drawn centred, not as a bubble)."""


@dataclass(frozen=True)
class _Snapshot:
    messages: list[Message]
    outbox: list[OutboxItem]
    quotes: dict[int, Message]


Row = Message | OutboxItem


def _key(item: Row) -> tuple[str, int | str]:
    return ("m", item.id) if isinstance(item, Message) else ("o", item.client_id)


class ThreadModel(QAbstractListModel):
    """Signals:
    loaded(): a (re)load finished; views may scroll.
    olderLoaded(int): that many rows were added at the top.
    """

    loaded = Signal()
    olderLoaded = Signal(int)
    PAGE = 200

    def __init__(self, cache: Cache, ops: OpRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cache = cache
        self._ops = ops
        self._rows: list[Row] = []
        self._quotes: dict[int, Message] = {}
        self._conversation: int | None = None
        self._contact = ""
        self._older = False
        self._loading_older = False
        self._generation = 0

    @property
    def conversation_id(self) -> int | None:
        return self._conversation

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        names.update({int(r): QByteArray(r.name.lower().encode()) for r in MsgRole})
        return names

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        item = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, MsgRole.TEXT):
            return texts.message_text(item) if isinstance(item, Message) else item.text
        if role == MsgRole.KEY:
            return _key(item)
        if role == MsgRole.ITEM:
            return item
        if role == MsgRole.IS_OUTBOX:
            return isinstance(item, OutboxItem)
        if role == MsgRole.NOTE:
            return isinstance(item, Message) and item.is_note
        if isinstance(item, OutboxItem):
            return self._outbox_data(item, role)
        if role == MsgRole.MESSAGE_ID:
            return item.id
        if role == MsgRole.AUTHOR:
            return texts.author_label(item, self._contact)
        if role == MsgRole.TIME:
            return texts.bubble_time(item.created_at)
        if role == Qt.ItemDataRole.ToolTipRole:
            return texts.full_time(item.created_at)
        if role == MsgRole.OUTGOING:
            return item.direction.value == "out"
        if role == MsgRole.STATUS:
            return item.status.value
        if role == MsgRole.ERROR:
            if item.error is None:
                return None
            return " — ".join(p for p in (item.error.title, item.error.detail) if p)
        if role == MsgRole.KIND:
            return item.type
        if role == MsgRole.QUOTE:
            return self._quote(item.reply_to)
        return None

    def _outbox_data(self, item: OutboxItem, role: int) -> Any:
        if role == MsgRole.AUTHOR:
            return self.tr("You")
        if role == MsgRole.TIME:
            return texts.bubble_time(item.created_at)
        if role == MsgRole.OUTGOING:
            return True
        if role == MsgRole.STATUS:
            return item.state.value
        if role == MsgRole.ERROR:
            return item.error
        if role == MsgRole.KIND:
            return "text"
        if role == MsgRole.QUOTE:
            return self._quote(item.reply_to)
        return None

    def _quote(self, reply_to: int | None) -> tuple[str, str] | None:
        if reply_to is None:
            return None
        quoted = self._quotes.get(reply_to)
        if quoted is None:
            return (self.tr("Earlier message"), "")
        text = " ".join(texts.message_text(quoted).split())
        return (texts.author_label(quoted, self._contact), text)

    # -- loading ------------------------------------------------------------------------------

    def clear(self) -> None:
        self._generation += 1
        self.beginResetModel()
        self._conversation = None
        self._rows = []
        self._older = False
        self.endResetModel()

    def load(self, conversation_id: int, contact: str, *, around: int | None = None) -> None:
        """Show a conversation; ``around`` makes sure that message is loaded."""
        switching = conversation_id != self._conversation
        if switching:
            self.clear()
            self._conversation = conversation_id
            self._contact = contact
        self._refresh(around=around, reset=switching)

    def _refresh(self, *, around: int | None = None, reset: bool = False) -> None:
        conv = self._conversation
        if conv is None:
            return
        self._generation += 1
        generation = self._generation
        first = next((r.id for r in self._rows if isinstance(r, Message)), None)
        limit = self.PAGE if first is None else 1_000_000

        async def fetch() -> _Snapshot:
            # Keep what is shown (from the first loaded message on) and add what is new.
            messages = await self._cache.messages(conv, since=first, limit=limit)
            while around is not None and messages and messages[0].id > around:
                older = await self._cache.messages(conv, before=messages[0].id, limit=self.PAGE)
                if not older:
                    break
                messages = older + messages
            outbox = await self._cache.outbox(conv)
            wanted = {m.reply_to for m in messages if m.reply_to} | {
                o.reply_to for o in outbox if o.reply_to
            }
            have = {m.id: m for m in messages}
            missing = {i for i in wanted if i is not None and i not in have}
            quotes = {i: have[i] for i in wanted if i is not None and i in have}
            quotes.update(await self._cache.messages_by_id(missing))
            return _Snapshot(messages, outbox, quotes)

        def done(snap: _Snapshot) -> None:
            if generation != self._generation:
                return
            rows: list[Row] = [*snap.messages, *snap.outbox]
            self._quotes = snap.quotes
            if first is None:
                self._older = len(snap.messages) >= limit
            old_keys = [_key(r) for r in self._rows]
            new_keys = [_key(r) for r in rows]
            if not reset and new_keys == old_keys:
                self._rows = rows
                if rows:
                    self.dataChanged.emit(self.index(0), self.index(len(rows) - 1))
            elif not reset and old_keys and new_keys[: len(old_keys)] == old_keys:
                shown = len(self._rows)
                self._rows[:shown] = rows[:shown]
                self.dataChanged.emit(self.index(0), self.index(shown - 1))
                self.beginInsertRows(QModelIndex(), shown, len(rows) - 1)
                self._rows = rows
                self.endInsertRows()
            else:
                self.beginResetModel()
                self._rows = rows
                self.endResetModel()
            self.loaded.emit()

        self._ops.run(fetch(), on_done=done, owner=self)

    def has_older(self) -> bool:
        return self._older and not self._loading_older

    def load_older(self) -> None:
        conv = self._conversation
        first = next((r for r in self._rows if isinstance(r, Message)), None)
        if conv is None or first is None or not self.has_older():
            return
        self._loading_older = True
        generation = self._generation

        def done(older: list[Message]) -> None:
            self._loading_older = False
            if generation != self._generation or not older:
                self._older = False if generation == self._generation else self._older
                return
            self._older = len(older) >= self.PAGE
            self.beginInsertRows(QModelIndex(), 0, len(older) - 1)
            self._rows = [*older, *self._rows]
            self.endInsertRows()
            self.olderLoaded.emit(len(older))

        self._ops.run(
            self._cache.messages(conv, before=first.id, limit=self.PAGE), on_done=done, owner=self
        )

    def on_changes(self, changes: Changes) -> None:
        if self._conversation is None:
            return
        mine = {_key(r)[1] for r in self._rows if isinstance(r, Message)}
        if self._conversation in changes.threads or changes.messages & mine:
            self._refresh()

    def row_of_message(self, message_id: int) -> int | None:
        for i, r in enumerate(self._rows):
            if isinstance(r, Message) and r.id == message_id:
                return i
        return None

    def item_at(self, row: int) -> Row | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None
