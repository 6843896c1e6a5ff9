"""The conversation list: a Qt model over the cache that holds a window of rows, paged lazily."""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from omnidesk.changes import Changes
from omnidesk.domain import Conversation, ConversationFilter
from omnidesk.storage import Cache
from omnidesk.ui import texts
from omnidesk.ui.ops import OpRunner

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


class ConvRole(enum.IntEnum):
    ID = Qt.ItemDataRole.UserRole + 1
    CONVERSATION = enum.auto()
    CONTACT = enum.auto()
    PREVIEW = enum.auto()
    TIME = enum.auto()
    UNREAD = enum.auto()
    MODE = enum.auto()
    STATUS = enum.auto()
    CHANNEL_KIND = enum.auto()
    CHANNEL_NAME = enum.auto()
    ASSIGNEE = enum.auto()


class ConversationListModel(QAbstractListModel):
    """Conversations in the order the cache gives (newest activity first).

    Signals:
        reloaded(): the rows were replaced (views restore their selection by id).
        loaded(): a load finished (first page, a refresh or a further page).
    """

    reloaded = Signal()
    loaded = Signal()
    PAGE = 200

    def __init__(self, cache: Cache, ops: OpRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cache = cache
        self._ops = ops
        self._rows: list[Conversation] = []
        self._filter = ConversationFilter()
        self._more = False
        self._loading = False
        self._generation = 0
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(60)
        self._reload_timer.timeout.connect(self.reload)

    # -- Qt API -------------------------------------------------------------------------------

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        names.update({int(r): QByteArray(r.name.lower().encode()) for r in ConvRole})
        return names

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        c = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole or role == ConvRole.CONTACT:
            return c.contact.display_name
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{c.contact.display_name} · {c.channel.name}"
        if role == ConvRole.ID:
            return c.id
        if role == ConvRole.CONVERSATION:
            return c
        if role == ConvRole.PREVIEW:
            return texts.preview(c.last_message)
        if role == ConvRole.TIME:
            return texts.short_time(c.updated_at)
        if role == ConvRole.UNREAD:
            return c.unread_count
        if role == ConvRole.MODE:
            return c.mode.value
        if role == ConvRole.STATUS:
            return c.status.value
        if role == ConvRole.CHANNEL_KIND:
            return c.channel.kind.value
        if role == ConvRole.CHANNEL_NAME:
            return c.channel.name
        if role == ConvRole.ASSIGNEE:
            return c.assignee
        return None

    def canFetchMore(self, parent: Index = _ROOT) -> bool:
        return not parent.isValid() and self._more and not self._loading

    def fetchMore(self, parent: Index = _ROOT) -> None:
        if not self.canFetchMore(parent):
            return
        self._loading = True
        generation = self._generation
        offset = len(self._rows)

        def done(rows: list[Conversation]) -> None:
            self._loading = False
            if generation != self._generation:
                return
            known = {c.id for c in self._rows}
            rows = [c for c in rows if c.id not in known]
            self._more = len(rows) >= self.PAGE
            if rows:
                first = len(self._rows)
                self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
                self._rows.extend(rows)
                self.endInsertRows()
            self.loaded.emit()

        self._ops.run(
            self._cache.conversations(self._filter, offset=offset, limit=self.PAGE),
            on_done=done,
            owner=self,
        )

    # -- ours ---------------------------------------------------------------------------------

    @property
    def filter(self) -> ConversationFilter:
        return self._filter

    def set_filter(self, flt: ConversationFilter) -> None:
        if flt != self._filter:
            self._filter = flt
            self._rows_limit_reset()
            self.reload()

    def _rows_limit_reset(self) -> None:
        self._generation += 1
        self.beginResetModel()
        self._rows = []
        self._more = False
        self.endResetModel()

    def reload(self) -> None:
        """Fetch again the rows currently shown (at least one page)."""
        self._generation += 1
        generation = self._generation
        limit = max(self.PAGE, len(self._rows))

        def done(rows: list[Conversation]) -> None:
            if generation != self._generation:
                return
            self._more = len(rows) >= limit
            self._loading = False
            old_ids = [c.id for c in self._rows]
            new_ids = [c.id for c in rows]
            if new_ids == old_ids:
                self._rows = rows
                if rows:
                    self.dataChanged.emit(self.index(0), self.index(len(rows) - 1))
            elif len(new_ids) == len(old_ids) and set(new_ids) == set(old_ids):
                # Same conversations, new order (one got a message): keep selection and scroll.
                self.layoutAboutToBeChanged.emit()
                position = {cid: i for i, cid in enumerate(new_ids)}
                self._rows = rows
                for idx in self.persistentIndexList():
                    moved = position[old_ids[idx.row()]]
                    self.changePersistentIndex(idx, self.index(moved, idx.column()))
                self.layoutChanged.emit()
                self.dataChanged.emit(self.index(0), self.index(len(rows) - 1))
            else:
                self.beginResetModel()
                self._rows = rows
                self.endResetModel()
                self.reloaded.emit()
            self.loaded.emit()

        self._ops.run(
            self._cache.conversations(self._filter, limit=limit), on_done=done, owner=self
        )

    def on_changes(self, changes: Changes) -> None:
        if changes.conversations or changes.settings:
            self._reload_timer.start()  # a burst of events gives one reload

    def conversation_at(self, row: int) -> Conversation | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, conversation_id: int) -> int | None:
        for i, c in enumerate(self._rows):
            if c.id == conversation_id:
                return i
        return None
