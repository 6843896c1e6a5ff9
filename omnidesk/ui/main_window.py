"""The console's main window: conversation list | open conversation | details.

It reads from the cache, changes things only through :class:`ConsoleService` calls run by the
:class:`OpRunner`, and refreshes each part from the :class:`Changes` published on the hub.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from omnidesk.changes import Changes
from omnidesk.domain import (
    ConnectionState,
    Conversation,
    ConversationFilter,
    ConversationStatus,
    Draft,
    Message,
    OutboxItem,
    OutboxState,
    SearchHit,
    is_mail_conversation,
)
from omnidesk.services.console import ConsoleService
from omnidesk.services.errors import TakeoverConflict
from omnidesk.settings import Settings, TokenStorage
from omnidesk.ui import texts
from omnidesk.ui.bars import CatchUpIndicator, ConnectionBadge, NoticeBar
from omnidesk.ui.composer import Composer, MailOptions
from omnidesk.ui.conversation_model import ConversationListModel
from omnidesk.ui.conversation_panes import ConversationHeader, DetailsPane, plain_label
from omnidesk.ui.delegates import BubbleDelegate, ConversationDelegate
from omnidesk.ui.mail_panel import MailPanel
from omnidesk.ui.mail_reader import MailReader
from omnidesk.ui.notifier import Notifier, should_notify
from omnidesk.ui.ops import ChangeHub, OpRunner
from omnidesk.ui.style import stylesheet
from omnidesk.ui.thread_model import MsgRole, ThreadModel

if TYPE_CHECKING:
    from omnidesk.ui.settings_dialog import SettingsDialog

log = logging.getLogger(__name__)

T = TypeVar("T")


class MainWindow(QMainWindow):
    """Signals:
    conversationOpened(int): a conversation is shown (after its messages loaded).
    searchFinished(): search results were shown.
    settingsSaved(Settings, object): from the settings dialog (token or None).
    """

    conversationOpened = Signal(int)
    searchFinished = Signal()
    settingsSaved = Signal(object, object)

    def __init__(
        self,
        service: ConsoleService,
        hub: ChangeHub,
        ops: OpRunner,
        settings: Settings,
        *,
        token_storage: TokenStorage = TokenStorage.KEYRING,
        token_problem: str | None = None,
        notifier: Notifier | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.service = service
        self.cache = service.cache
        self.hub = hub
        self.ops = ops
        self.settings = settings
        self._token_storage = token_storage
        self._token_problem = token_problem
        self._current: Conversation | None = None
        self._pending_open: tuple[int, int | None] | None = None
        self._unread = 0
        self._hits: list[SearchHit] = []
        self.notifier = notifier or Notifier(self)
        self._notified: set[int] = set()
        self._ops_busy = False
        self._settings_dialog: SettingsDialog | None = None

        # -- left: search, filters, list / search results --------------------------------------
        self.search = QLineEdit(self)
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText(self.tr("Search messages (Ctrl+K)"))
        self.search.setClearButtonEnabled(True)
        self.channel_filter = QComboBox(self)
        self.channel_filter.setObjectName("channelFilter")
        self.channel_filter.addItem(self.tr("All channels"), "")
        self.status_filter = QComboBox(self)
        self.status_filter.setObjectName("statusFilter")
        self.status_filter.addItem(self.tr("Any status"), "")
        for s in ConversationStatus:
            self.status_filter.addItem(texts.status_label(s), s.value)
        self.who_filter = QComboBox(self)
        self.who_filter.setObjectName("whoFilter")
        for key, label in (
            ("", self.tr("Everyone")),
            ("mine", self.tr("Mine")),
            ("unassigned", self.tr("Unassigned")),
            ("bot", self.tr("With the bot")),
        ):
            self.who_filter.addItem(label, key)
        for combo in (self.channel_filter, self.status_filter, self.who_filter):
            combo.activated.connect(self._filters_changed)

        self.list_model = ConversationListModel(self.cache, ops, self)
        self.list = QListView(self)
        self.list.setObjectName("conversationList")
        self.list.setModel(self.list_model)
        self.list.setItemDelegate(ConversationDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setMouseTracking(True)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.selectionModel().currentChanged.connect(self._list_current_changed)
        self.list_model.reloaded.connect(self._restore_selection)
        self.list_model.loaded.connect(self._list_loaded)
        self.results = QListWidget(self)
        self.results.setObjectName("searchResults")
        self.results.itemActivated.connect(self._open_hit)
        self.results.itemClicked.connect(self._open_hit)
        self.left_stack = QStackedWidget(self)
        self.left_stack.addWidget(self.list)
        self.left_stack.addWidget(self.results)
        filters = QHBoxLayout()
        filters.setSpacing(4)
        filters.addWidget(self.channel_filter, 1)
        filters.addWidget(self.status_filter, 1)
        filters.addWidget(self.who_filter, 1)
        left = QFrame(self)
        left.setObjectName("leftPane")
        lv = QVBoxLayout(left)
        lv.setContentsMargins(8, 8, 8, 0)
        lv.setSpacing(6)
        lv.addWidget(self.search)
        lv.addLayout(filters)
        lv.addWidget(self.left_stack, 1)

        # -- middle: header, thread, composer --------------------------------------------------
        self.header = ConversationHeader(self)
        self.header.takeover.connect(self._takeover)
        self.header.handback.connect(self._handback)
        self.header.statusChosen.connect(self._set_status)
        self.thread_model = ThreadModel(self.cache, ops, self)
        self.thread_view = QListView(self)
        self.thread_view.setObjectName("thread")
        self.thread_view.setModel(self.thread_model)
        self.thread_view.setItemDelegate(BubbleDelegate(self.thread_view))
        self.thread_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.thread_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.thread_view.setSpacing(3)
        self.thread_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.thread_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.thread_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.thread_view.customContextMenuRequested.connect(self._thread_menu)
        self.thread_view.doubleClicked.connect(self._reply_to_index)
        self.thread_view.verticalScrollBar().valueChanged.connect(self._thread_scrolled)
        self.thread_model.loaded.connect(self._thread_loaded)
        self.thread_model.rowsAboutToBeInserted.connect(self._thread_rows_about_to_be_inserted)
        self.thread_model.rowsInserted.connect(self._thread_rows_inserted)
        self._follow_thread = False
        self.composer = Composer(self)
        self.composer.send.connect(self._send)
        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(700)
        self._draft_timer.timeout.connect(self._save_draft)
        self.composer.edited.connect(self._draft_timer.start)
        conv_page = QWidget(self)
        cv = QVBoxLayout(conv_page)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.setSpacing(0)
        cv.addWidget(self.header)
        cv.addWidget(self._thread_and_reader(), 1)
        cv.addWidget(self.composer)
        self.placeholder = QLabel(self.tr("Choose a conversation on the left."), self)
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.middle = QStackedWidget(self)
        self.middle.addWidget(self.placeholder)
        self.middle.addWidget(conv_page)

        # -- right: details --------------------------------------------------------------------
        self.details = DetailsPane(self)

        splitter = QSplitter(self)
        splitter.setObjectName("mainSplitter")
        splitter.addWidget(left)
        splitter.addWidget(self.middle)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 0)
        splitter.setSizes([340, 640, 260])
        splitter.setChildrenCollapsible(False)
        left.setMinimumWidth(280)
        self.details.setMinimumWidth(220)

        self.notice = NoticeBar(self)
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.notice)
        outer.addWidget(splitter, 1)
        self.setCentralWidget(central)

        self.mail = MailPanel(self)

        # -- status bar, menu, shortcuts -------------------------------------------------------
        self.connection = ConnectionBadge(self)
        self.busy = QProgressBar(self)
        self.busy.setObjectName("busyIndicator")
        self.busy.setRange(0, 0)  # indeterminate: catching up, loading, sending
        self.busy.setMaximumWidth(90)
        self.busy.setMaximumHeight(10)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(400)
        self._busy_timer.timeout.connect(self._update_busy)
        self.statusBar().addPermanentWidget(self.busy)
        self.statusBar().addPermanentWidget(self.connection)
        self.me_label = plain_label(self, "meLabel")
        self.statusBar().addWidget(self.me_label)
        settings_action = QAction(self.tr("&Settings…"), self)
        settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        settings_action.triggered.connect(lambda: self.open_settings())
        quit_action = QAction(self.tr("&Quit"), self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        menu = self.menuBar().addMenu(self.tr("&Omnidesk"))
        menu.addAction(settings_action)
        menu.addAction(self.mail.accounts_action)
        menu.addSeparator()
        menu.addAction(quit_action)
        QShortcut(QKeySequence("Ctrl+K"), self, self._focus_search)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self._escape)
        QShortcut(QKeySequence("Alt+Down"), self, lambda: self._move(1))
        QShortcut(QKeySequence("Alt+Up"), self, lambda: self._move(-1))
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(120)
        self._search_timer.timeout.connect(self._run_search)
        self.search.textChanged.connect(self._search_text_changed)

        hub.changed.connect(self.on_changes)
        hub.connection.connect(self._connection_changed)
        hub.notice.connect(self.notice.show_notice)
        hub.busy.connect(self._busy_changed)
        self._show_catch_up(service, hub)
        self._update_me()
        self._update_title()
        self.resize(1280, 800)
        # Set last: every widget added under a style sheet is styled again as it comes.
        self.setStyleSheet(stylesheet(self.palette()))

    def _run(self, coro: Coroutine[Any, Any, T], **kw: Any) -> None:
        self.ops.run(coro, owner=self, **kw)

    def _thread_and_reader(self) -> QSplitter:
        """The thread above the mail reader (shown only on mail conversations)."""
        self.reader = MailReader(self.ops, self)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.setObjectName("threadSplitter")
        split.addWidget(self.thread_view)
        split.addWidget(self.reader)
        split.setChildrenCollapsible(False)
        split.setSizes([300, 500])
        return split

    # -- start ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Fill the window from the cache (no network needed)."""
        self.list_model.reload()
        self._reload_channels()
        self._refresh_unread()
        report = self.cache.report
        if report.rebuilt:
            why = (
                self.tr("it was written by a newer version of Omnidesk")
                if report.reason == "newer"
                else self.tr("it was damaged")
            )
            self.notice.show_notice(
                self.tr(
                    "The local cache could not be used ({why}). It was moved to {path} and is "
                    "being rebuilt from the relay; {count} unsent replies were kept."
                ).format(why=why, path=report.moved_to, count=report.recovered_outbox)
            )
        elif self._token_problem:
            self._warn_no_keyring()

    def set_secret_storage(self, storage: TokenStorage, problem: str | None) -> None:
        """Say where secrets are kept, once known (the app asks keyring after the first paint)."""
        self._token_storage = storage
        self._token_problem = problem
        if problem and not self.cache.report.rebuilt:  # that notice matters more
            self._warn_no_keyring()

    def _warn_no_keyring(self) -> None:
        from omnidesk.ui.settings_dialog import storage_sentence  # the dialog: only when opened

        log.warning("%s", self._token_problem)
        self.notice.show_notice(
            self.tr("This computer has no usable system keyring.")
            + " "
            + storage_sentence(self._token_storage)
        )

    # -- changes -------------------------------------------------------------------------------

    def on_changes(self, changes: Changes) -> None:
        self.list_model.on_changes(changes)
        self.thread_model.on_changes(changes)
        if self._current is not None and self._current.id in changes.conversations:
            conv_id = self._current.id
            self._run(self.cache.conversation(conv_id), on_done=self._conversation_refreshed)
        if changes.conversations:
            self._refresh_unread()
            self._reload_channels()
        if changes.settings:
            self._update_me()
        if changes.messages and self.notifier.available and not self.isActiveWindow():
            self._run(self._to_notify(changes.messages), on_done=self._notify)

    async def _to_notify(self, ids: frozenset[int]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        messages = await self.cache.messages_by_id(ids)
        for m in sorted(messages.values(), key=lambda m: m.id):
            if m.status.value != "received" or m.id in self._notified:
                continue
            conv = await self.cache.conversation(m.conversation_id)
            if conv is not None and should_notify(m, conv, self.service.me):
                self._notified.add(m.id)
                out.append(
                    (conv.contact.display_name, " ".join(texts.message_text(m).split())[:200])
                )
        return out

    def _notify(self, items: list[tuple[str, str]]) -> None:
        for name, body in items:
            self.notifier.notify(self.tr("New message from {name}").format(name=name), body)

    def _conversation_refreshed(self, conv: Conversation | None) -> None:
        if conv is not None and self._current is not None and conv.id == self._current.id:
            self._current = conv
            self.header.set_conversation(conv, self.service.me)
            self.details.set_conversation(conv)

    def _refresh_unread(self) -> None:
        self._run(self.cache.unread_total(), on_done=self._set_unread)

    def _set_unread(self, count: int) -> None:
        self._unread = count
        self._update_title()

    def _update_title(self) -> None:
        if self._unread:
            self.setWindowTitle(self.tr("Omnidesk ({count} unread)").format(count=self._unread))
        else:
            self.setWindowTitle(self.tr("Omnidesk"))

    def _update_me(self) -> None:
        me = self.service.me
        self.me_label.setText(
            self.tr("Signed in as {agent}").format(agent=me) if me else self.tr("Not signed in")
        )

    def _show_catch_up(self, service: ConsoleService, hub: ChangeHub) -> None:
        """Show the relay catch-up's progress beside the connection badge while it runs."""
        self.catch_up = CatchUpIndicator(self)
        self.statusBar().addPermanentWidget(self.catch_up)
        hub.catchUp.connect(self.catch_up.set_progress)
        service.watch_catch_up(hub.report_catch_up)

    def _busy_changed(self, busy: bool) -> None:
        self._ops_busy = busy
        if busy:
            self._busy_timer.start()  # show it only for work that takes a while
        else:
            self._update_busy()

    def _update_busy(self) -> None:
        catching_up = self.connection.state is ConnectionState.CONNECTING
        self.busy.setVisible(self._ops_busy or catching_up)

    def _connection_changed(self, value: str) -> None:
        state = ConnectionState(value)
        self.connection.set_state(state)
        self._update_busy()
        if state is ConnectionState.NEEDS_TOKEN:
            self.open_settings(reason=self.tr("The relay refused the token. Enter a new one."))

    def _reload_channels(self) -> None:
        def done(channels: list[tuple[str, str, str]]) -> None:
            current = self.channel_filter.currentData()
            self.channel_filter.blockSignals(True)
            while self.channel_filter.count() > 1:
                self.channel_filter.removeItem(1)
            for channel_id, _kind, name in channels:
                self.channel_filter.addItem(name, channel_id)
            self.channel_filter.setCurrentIndex(max(0, self.channel_filter.findData(current)))
            self.channel_filter.blockSignals(False)

        self._run(self.cache.channels(), on_done=done)

    # -- list ----------------------------------------------------------------------------------

    def _filters_changed(self) -> None:
        who = self.who_filter.currentData()
        status = self.status_filter.currentData()
        self.list_model.set_filter(
            ConversationFilter(
                channel_id=self.channel_filter.currentData() or None,
                status=ConversationStatus(status) if status else None,
                mine=who == "mine",
                unassigned=who == "unassigned",
                bot=who == "bot",
                me=self.service.me,
            )
        )

    def _list_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        conv = self.list_model.conversation_at(current.row()) if current.isValid() else None
        if conv is not None and (self._current is None or conv.id != self._current.id):
            self.open_conversation(conv.id)

    def _restore_selection(self) -> None:
        if self._current is not None:
            row = self.list_model.row_of(self._current.id)
            if row is not None and self.list.currentIndex().row() != row:
                self.list.selectionModel().setCurrentIndex(
                    self.list_model.index(row),
                    QItemSelectionModel.SelectionFlag.ClearAndSelect,
                )

    def _list_loaded(self) -> None:
        self._restore_selection()

    def _move(self, step: int) -> None:
        row = self.list.currentIndex().row() + step
        if 0 <= row < self.list_model.rowCount():
            self.list.setCurrentIndex(self.list_model.index(row))

    # -- opening a conversation ----------------------------------------------------------------

    def open_conversation(self, conversation_id: int, *, at_message: int | None = None) -> None:
        self._save_draft()
        self._pending_open = (conversation_id, at_message)
        self._run(
            self.cache.conversation(conversation_id),
            on_done=lambda conv: self._show_conversation(conv, at_message),
        )

    def _show_conversation(self, conv: Conversation | None, at_message: int | None) -> None:
        if conv is None or self._pending_open is None or self._pending_open[0] != conv.id:
            return
        self._current = conv
        self.header.set_conversation(conv, self.service.me)
        self.details.set_conversation(conv)
        self.middle.setCurrentIndex(1)
        self.thread_model.load(conv.id, conv.contact.display_name, around=at_message)
        row = self.list_model.row_of(conv.id)
        if row is not None and self.list.currentIndex().row() != row:
            self.list.selectionModel().setCurrentIndex(
                self.list_model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
        self.composer.set_draft("", None)
        self._run(self._load_draft(conv.id), on_done=self._draft_loaded)
        self.mail.conversation_shown(conv)
        if not is_mail_conversation(conv.id):
            self._run(self.service.sync_conversation(conv.id))

    async def _load_draft(
        self, conversation_id: int
    ) -> tuple[int, str, tuple[int, str, str] | None]:
        draft = await self.cache.draft(conversation_id)
        if draft is None:
            return conversation_id, "", None
        quote = None
        if draft.reply_to is not None:
            found = await self.cache.messages_by_id([draft.reply_to])
            m = found.get(draft.reply_to)
            if m is not None and self._current is not None:
                quote = (
                    m.id,
                    texts.author_label(m, self._current.contact.display_name),
                    texts.message_text(m),
                )
        return conversation_id, draft.text, quote

    def _draft_loaded(self, result: tuple[int, str, tuple[int, str, str] | None]) -> None:
        conv_id, text, quote = result
        if self._current is not None and self._current.id == conv_id:
            self.composer.set_draft(text, quote)

    def _thread_loaded(self) -> None:
        pending = self._pending_open
        if pending is not None and self._current is not None and pending[0] == self._current.id:
            self._pending_open = None
            at = pending[1]
            row = self.thread_model.row_of_message(at) if at is not None else None
            if row is not None:
                index = self.thread_model.index(row)
                self.thread_view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
                self.thread_view.setCurrentIndex(index)
            else:
                self.thread_view.scrollToBottom()
            self.conversationOpened.emit(self._current.id)

    def _thread_rows_about_to_be_inserted(self, _parent: QModelIndex, first: int, _l: int) -> None:
        bar = self.thread_view.verticalScrollBar()
        self._follow_thread = self._follow_thread or bar.value() >= bar.maximum() - 8

    def _thread_rows_inserted(self, _parent: QModelIndex, first: int, _last: int) -> None:
        # Appended rows: follow the conversation, unless the agent is reading further up.
        if first > 0 and self._follow_thread:
            # With the view as context, Qt drops the timer if the window is closed first.
            QTimer.singleShot(0, self.thread_view, self.thread_view.scrollToBottom)
        self._follow_thread = False

    def _thread_scrolled(self, value: int) -> None:
        if value == 0 and self.thread_model.has_older():
            self.thread_model.load_older()

    def close_conversation(self) -> None:
        self._save_draft()
        self._current = None
        self._pending_open = None
        self.thread_model.clear()
        self.middle.setCurrentIndex(0)
        self.details.set_conversation(None)
        self.mail.conversation_shown(None)
        self.list.selectionModel().clearSelection()
        self.list.setCurrentIndex(QModelIndex())

    # -- composer ------------------------------------------------------------------------------

    def _send(self, text: str, reply_to: object, mail_options: object = None) -> None:
        if self._current is None:
            return
        self._draft_timer.stop()
        reply = reply_to if isinstance(reply_to, int) else None
        self._follow_thread = True  # show my own reply even if I was reading further up
        if is_mail_conversation(self._current.id):
            options = mail_options if isinstance(mail_options, MailOptions) else None
            self.mail.send_reply(self._current.id, text, reply, options)
        else:
            self._run(self.service.send_reply(self._current.id, text, reply))

    def _save_draft(self) -> None:
        self._draft_timer.stop()
        if self._current is None:
            return
        draft = Draft(self._current.id, self.composer.text(), self.composer.reply_to)
        self._run(self.service.save_draft(draft))

    def _reply_to_index(self, index: QModelIndex) -> None:
        m = self.thread_model
        item = m.item_at(index.row()) if index.isValid() else None
        if isinstance(item, Message):
            self.composer.set_reply(
                item.id, str(m.data(index, MsgRole.AUTHOR)), str(m.data(index, MsgRole.TEXT))
            )

    def _thread_menu(self, pos: QPoint) -> None:
        index = self.thread_view.indexAt(pos)
        item = self.thread_model.item_at(index.row()) if index.isValid() else None
        menu = QMenu(self)
        if isinstance(item, Message):
            menu.addAction(self.tr("Reply"), lambda: self._reply_to_index(index))
        elif isinstance(item, OutboxItem):
            if item.state in (OutboxState.QUEUED, OutboxState.FAILED):
                menu.addAction(self.tr("Cancel sending"), lambda: self._cancel_reply(item))
            if item.state is OutboxState.FAILED:
                menu.addAction(
                    self.tr("Try again"),
                    lambda: self._run(self.service.retry_reply(item.client_id)),
                )
        if not menu.isEmpty():
            menu.popup(self.thread_view.viewport().mapToGlobal(pos))

    def _cancel_reply(self, item: OutboxItem) -> None:
        if is_mail_conversation(item.conversation_id):
            self.mail.cancel_reply(item.client_id)  # the mail sender may be sending it now
        else:
            self._run(self.service.cancel_reply(item.client_id))

    # -- conversation actions ------------------------------------------------------------------

    def _takeover(self) -> None:
        if self._current is None:
            return
        conv_id = self._current.id

        def conflict(exc: BaseException) -> bool:
            if isinstance(exc, TakeoverConflict):
                self._run(self.service.refresh_conversation(conv_id))
            return False  # still shown to the agent

        self._run(self.service.takeover(conv_id), on_error=conflict)

    def _handback(self) -> None:
        if self._current is not None:
            self._run(self.service.handback(self._current.id))

    def _set_status(self, value: str) -> None:
        if self._current is None:
            return
        if is_mail_conversation(self._current.id):
            self.mail.set_status(self._current.id, ConversationStatus(value))
        else:
            self._run(self.service.set_status(self._current.id, ConversationStatus(value)))

    # -- search --------------------------------------------------------------------------------

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _escape(self) -> None:
        if self.search.hasFocus() and self.search.text():
            self.search.clear()
        elif self._current is not None:
            self.close_conversation()

    def _search_text_changed(self, text: str) -> None:
        if text.strip():
            self._search_timer.start()
        else:
            self._search_timer.stop()
            self.results.clear()
            self.left_stack.setCurrentIndex(0)

    def _run_search(self) -> None:
        query = self.search.text()
        self._run(self.cache.search(query), on_done=lambda hits: self._show_hits(query, hits))

    def _show_hits(self, query: str, hits: list[SearchHit]) -> None:
        if query != self.search.text():
            return
        self.results.clear()
        self._hits = hits
        if not hits:
            item = QListWidgetItem(self.tr("No messages match “{query}”.").format(query=query))
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.results.addItem(item)
        for hit in hits:
            when = texts.short_time(hit.created_at)
            item = QListWidgetItem(f"{hit.contact_name} · {when}\n{hit.snippet}")
            item.setToolTip(hit.snippet)
            self.results.addItem(item)
        self.left_stack.setCurrentIndex(1)
        self.searchFinished.emit()

    def _open_hit(self, item: QListWidgetItem) -> None:
        # Rows map to self._hits (item.data() would hit PySide6's None refcount bug).
        row = self.results.row(item)
        if self._hits and 0 <= row < len(self._hits):
            hit = self._hits[row]
            self.open_conversation(hit.conversation_id, at_message=hit.message_id)

    # -- settings ------------------------------------------------------------------------------

    def open_settings(self, reason: str = "") -> None:
        if self._settings_dialog is not None and self._settings_dialog.isVisible():
            return
        from omnidesk.ui.settings_dialog import SettingsDialog  # not needed to show the window

        dialog = SettingsDialog(
            self.settings, self._token_storage, self._token_problem, reason=reason, parent=self
        )
        dialog.saved.connect(self._settings_saved)
        dialog.mailAccountsRequested.connect(self.mail.open_accounts)
        self._settings_dialog = dialog
        dialog.open()

    def _settings_saved(self, settings: object, token: object) -> None:
        if isinstance(settings, Settings):
            # The mail accounts dialog may have saved since this dialog opened: keep its work.
            settings = dataclasses.replace(settings, mail_accounts=self.settings.mail_accounts)
            self.settings = settings
        self.settingsSaved.emit(settings, token)

    # -- closing -------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self._save_draft()
        super().closeEvent(event)
