"""The conversation header (owner, take over / hand back, status) and the details pane.

A mail conversation has no bot and no relay: the header hides Take over / Hand back, and the
details pane shows the contact's other conversations instead of mode and assignee.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from omnidesk.domain import Conversation, ConversationStatus, Mode, is_mail_conversation
from omnidesk.ui import texts
from omnidesk.ui.texts import PLAIN


def plain_label(parent: QWidget, name: str = "") -> QLabel:
    """A label that never interprets its text as HTML."""
    label = QLabel(parent)
    label.setTextFormat(PLAIN)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


class ConversationHeader(QFrame):
    """Signals:
    takeover(): the agent asked to take the conversation from the bot.
    handback(): the agent gave it back to the bot.
    statusChosen(str): a ``ConversationStatus`` value.
    """

    takeover = Signal()
    handback = Signal()
    statusChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversationHeader")
        self._conversation: Conversation | None = None
        self.name = plain_label(self, "headerName")
        self.sub = plain_label(self, "headerSub")
        self.owner = plain_label(self, "headerOwner")
        self.status = QComboBox(self)
        self.status.setObjectName("statusCombo")
        for s in ConversationStatus:
            self.status.addItem(texts.status_label(s), s.value)
        self.status.setToolTip(self.tr("Conversation status"))
        self.status.activated.connect(self._status_activated)
        self.button = QPushButton(self)
        self.button.setObjectName("takeoverButton")
        self.button.clicked.connect(self._clicked)
        left = QVBoxLayout()
        left.setSpacing(1)
        left.addWidget(self.name)
        left.addWidget(self.sub)
        left.addWidget(self.owner)
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 10, 16, 10)
        row.addLayout(left, 1)
        row.addWidget(self.status)
        row.addWidget(self.button)

    def set_conversation(self, c: Conversation, me: str | None) -> None:
        self._conversation = c
        self.name.setText(c.contact.display_name)
        self.sub.setText(f"{c.channel.name} · {c.contact.handle}")
        mail = is_mail_conversation(c.id)
        self.button.setVisible(not mail)  # no bot to take over from
        if mail:
            self.owner.setText(
                self.tr("Email: your answer goes out from {address}").format(address=c.channel.name)
            )
        elif c.mode is Mode.BOT:
            self.owner.setText(self.tr("The bot is answering this conversation"))
            self.button.setText(self.tr("Take over"))
        else:
            if c.assignee and c.assignee == me:
                self.owner.setText(self.tr("You own this conversation"))
            elif c.assignee:
                self.owner.setText(self.tr("Owned by {agent}").format(agent=c.assignee))
            else:
                self.owner.setText(self.tr("Waiting for an agent"))
            self.button.setText(self.tr("Hand back to bot"))
        self.button.setProperty("mode", c.mode.value)
        self.status.setCurrentIndex(self.status.findData(c.status.value))

    def _clicked(self) -> None:
        if self._conversation is None:
            return
        if self._conversation.mode is Mode.BOT:
            self.takeover.emit()
        else:
            self.handback.emit()

    def _status_activated(self, row: int) -> None:
        value = self.status.itemData(row)
        if self._conversation is not None and value != self._conversation.status.value:
            self.statusChosen.emit(str(value))


class DetailsPane(QFrame):
    """Contact and conversation facts (channel, handle, mode, status, assignee).

    Signals: conversationChosen(int): the agent clicked one of the contact's other
    conversations (mail contacts only; filled by :meth:`set_other_conversations`).
    """

    conversationChosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailsPane")
        self._others: list[Conversation] = []
        self.title = plain_label(self, "detailsTitle")
        self.title.setText(self.tr("Details"))
        self.contact = plain_label(self, "detailsContact")
        self.contact.setWordWrap(True)
        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        self.form = form
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.setVerticalSpacing(8)
        for key, label in (
            ("channel", self.tr("Channel")),
            ("handle", self.tr("Handle")),
            ("mode", self.tr("Mode")),
            ("status", self.tr("Status")),
            ("assignee", self.tr("Assignee")),
            ("reason", self.tr("Handoff reason")),
            ("updated", self.tr("Last activity")),
        ):
            value = plain_label(self, f"detail_{key}")
            value.setWordWrap(True)
            caption = QLabel(label, self)
            caption.setObjectName("detailCaption")
            form.addRow(caption, value)
            self.fields[key] = value
        self.others_title = plain_label(self, "otherConversationsTitle")
        self.others_title.setText(self.tr("Other conversations with this contact"))
        self.others_title.setWordWrap(True)
        self.others = QListWidget(self)
        self.others.setObjectName("otherConversations")
        self.others.setWordWrap(True)
        self.others.setFrameShape(QFrame.Shape.NoFrame)
        self.others.setSpacing(2)
        self.others.setCursor(Qt.CursorShape.PointingHandCursor)
        self.others.itemClicked.connect(self._other_clicked)
        self.others.itemActivated.connect(self._other_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.addWidget(self.title)
        layout.addWidget(self.contact)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addSpacing(12)
        layout.addWidget(self.others_title)
        layout.addWidget(self.others, 1)
        layout.addStretch(0)
        self._show_others(False)

    def _show_others(self, visible: bool) -> None:
        self.others_title.setVisible(visible)
        self.others.setVisible(visible)

    def set_conversation(self, c: Conversation | None) -> None:
        mail = c is not None and is_mail_conversation(c.id)
        for key in ("mode", "assignee", "reason"):  # a mail thread has no bot and no owner
            self.form.setRowVisible(self.fields[key], not mail)
        self._show_others(mail)
        if not mail:
            self.set_other_conversations([])
        if c is None:
            self.contact.setText("")
            for v in self.fields.values():
                v.setText("")
            return
        self.contact.setText(c.contact.display_name)
        self.fields["channel"].setText(c.channel.name)
        self.fields["handle"].setText(c.contact.handle)
        self.fields["mode"].setText(texts.mode_label(c.mode))
        self.fields["status"].setText(texts.status_label(c.status))
        self.fields["assignee"].setText(c.assignee or self.tr("Nobody"))
        self.fields["reason"].setText(c.handoff_reason or "—")
        self.fields["updated"].setText(texts.full_time(c.updated_at))

    def set_other_conversations(self, conversations: list[Conversation]) -> None:
        """The contact's conversations besides the open one, newest first."""
        self._others = list(conversations)
        self.others.clear()
        if not self._others:
            item = QListWidgetItem(self.tr("None so far."))
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.others.addItem(item)
        for c in self._others:
            subject = (
                texts.email_subject(c.last_message)
                or texts.preview(c.last_message)
                or self.tr("(no subject)")
            )
            item = QListWidgetItem(f"{subject}\n{texts.short_time(c.updated_at)}")
            item.setToolTip(subject)
            self.others.addItem(item)

    def _other_clicked(self, item: QListWidgetItem) -> None:
        # Rows map to self._others (item.data() would hit PySide6's None refcount bug).
        row = self.others.row(item)
        if self._others and 0 <= row < len(self._others):
            self.conversationChosen.emit(self._others[row].id)
