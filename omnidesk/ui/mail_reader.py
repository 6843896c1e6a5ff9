"""The mail reader: one email's headers, its sanitised HTML (or plain text) and attachments.

Nothing here touches the network or the disk on the GUI thread. The HTML comes from the cache
already sanitised (no scripts, no forms); :class:`MailBrowser` serves ``cid:`` images from the
mail's own parts and remote images only once the agent asked for them (the service fetches
them through the op runner, then they are added as document resources). Links open in the
system browser, and only when clicked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from omnidesk.domain import MailAttachmentInfo, MailDetail
from omnidesk.ui import texts
from omnidesk.ui.conversation_panes import plain_label
from omnidesk.ui.mail_api import MailApi
from omnidesk.ui.mail_texts import data_size, describe_mail_error
from omnidesk.ui.ops import OpRunner
from omnidesk.ui.paint import is_dark, mix

log = logging.getLogger(__name__)

SAFE_LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
ChooseSavePath = Callable[[QWidget, str, Callable[[str], None]], None]
"""Ask where to save ``filename``; call back with the chosen path (never if cancelled)."""


def choose_save_path(parent: QWidget, filename: str, chosen: Callable[[str], None]) -> None:
    """A non-modal save dialog (``open()``, no nested event loop)."""
    dialog = QFileDialog(parent, QObject.tr(parent, "Save attachment"))
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.selectFile(filename)
    dialog.fileSelected.connect(chosen)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()


def reader_stylesheet(pal: QPalette) -> str:
    """The reader's own look, from the palette like the window's (light and dark)."""
    text = pal.color(QPalette.ColorRole.Text)
    window = pal.color(QPalette.ColorRole.Window)
    muted = mix(text, window, 0.45).name()
    line = mix(window, text, 0.12).name()
    bar_bg, bar_fg = ("#5A4A12", "#FDE68A") if is_dark(pal) else ("#FEF3C7", "#78350F")
    return f"""
    #mailSubject {{ font-size: 13pt; font-weight: 600; }}
    #mailHeaderCaption, #attachmentSize, #mailPlaceholder {{ color: {muted}; }}
    #remoteBar {{ background: {bar_bg}; border-radius: 4px; }}
    #remoteNote {{ color: {bar_fg}; }}
    #mailBody {{ border: 1px solid {line}; border-radius: 4px; }}
    #attachmentRow {{ border-top: 1px solid {line}; }}
    #mailError {{ color: #DC2626; }}
    """


def _cid(url: QUrl) -> str:
    """``cid:part1@example`` -> ``part1@example`` (percent-escapes undone, as RFC 2392 asks)."""
    return url.path(QUrl.ComponentFormattingOption.FullyDecoded).strip().strip("<>")


class MailBrowser(QTextBrowser):
    """A ``QTextBrowser`` that never loads anything by itself (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mailBody")
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._open_link)
        self._html = ""
        self._inline: dict[str, bytes] = {}
        self._remote: dict[str, bytes] = {}
        self.requested: list[str] = []
        """Every resource URL the document asked for (tests check nothing else was fetched)."""

    def show_html(self, html: str, inline_images: dict[str, bytes]) -> None:
        self._html = html
        self._inline = {cid.strip("<>"): data for cid, data in inline_images.items()}
        self._remote = {}
        self.requested = []
        self.document().clear()  # drops the previous mail's resources too
        self.setHtml(html)

    def show_text(self, text: str) -> None:
        self._html, self._inline, self._remote, self.requested = "", {}, {}, []
        self.document().clear()
        self.setPlainText(text)

    def add_remote_images(self, images: dict[str, bytes]) -> int:
        """Add the fetched remote images as resources and lay the mail out again."""
        added = 0
        doc = self.document()
        for url, data in images.items():
            image = QImage.fromData(data)
            if image.isNull():
                continue
            self._remote[url] = data
            doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(url), image)
            added += 1
        if added and self._html:
            self.setHtml(self._html)  # resources survive setHtml; the images now resolve
        return added

    def loadResource(self, kind: int, url: QUrl | str) -> Any:
        """Only the mail's own parts and images the agent chose to load; never I/O."""
        url = QUrl(url) if isinstance(url, str) else url
        self.requested.append(url.toString())
        if kind != int(QTextDocument.ResourceType.ImageResource):
            return QImage()  # style sheets and the like: nothing, and no file lookup either
        scheme = url.scheme().lower()
        data: bytes | None = None
        if scheme == "cid":
            data = self._inline.get(_cid(url))
        elif scheme in ("http", "https"):
            data = self._remote.get(url.toString())
        image = QImage.fromData(data) if data else QImage()
        return image if not image.isNull() else QImage(1, 1, QImage.Format.Format_ARGB32)

    def _open_link(self, url: QUrl) -> None:
        if url.scheme().lower() in SAFE_LINK_SCHEMES:
            QDesktopServices.openUrl(url)
        else:
            log.info("not opening a %s link from a mail", url.scheme() or "relative")


class MailReader(QFrame):
    """Signals:
    shown(int): a mail was shown (its cache message id).
    remoteImagesLoaded(int): the remote images were added (how many).
    attachmentSaved(str): an attachment was written to that path.
    """

    shown = Signal(int)
    remoteImagesLoaded = Signal(int)
    attachmentSaved = Signal(str)

    def __init__(self, ops: OpRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mailReader")
        self.setStyleSheet(reader_stylesheet(self.palette()))
        self._ops = ops
        self._service: MailApi | None = None
        self._detail: MailDetail | None = None
        self._wanted: int | None = None
        self.choose_save_path: ChooseSavePath = choose_save_path

        self.subject = plain_label(self, "mailSubject")
        self.subject.setWordWrap(True)
        self.headers: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        for row, (key, caption) in enumerate(
            (("from", self.tr("From")), ("to", self.tr("To")), ("cc", self.tr("Cc")),
             ("date", self.tr("Date")))
        ):  # fmt: skip
            name = QLabel(caption, self)
            name.setObjectName("mailHeaderCaption")
            value = plain_label(self, f"mailHeader_{key}")
            value.setWordWrap(True)
            grid.addWidget(name, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, row, 1)
            self.headers[key] = value
            self.headers[f"{key}_caption"] = name
        grid.setColumnStretch(1, 1)

        self.remote_bar = QFrame(self)
        self.remote_bar.setObjectName("remoteBar")
        self.remote_note = plain_label(self.remote_bar, "remoteNote")
        self.remote_note.setText(self.tr("Remote images are blocked to protect your privacy."))
        self.remote_button = QPushButton(self.tr("Load remote images"), self.remote_bar)
        self.remote_button.setObjectName("loadRemoteImages")
        self.remote_button.clicked.connect(self.load_remote_images)
        rb = QHBoxLayout(self.remote_bar)
        rb.setContentsMargins(8, 4, 4, 4)
        rb.addWidget(self.remote_note, 1)
        rb.addWidget(self.remote_button)
        self.remote_bar.hide()

        self.body = MailBrowser(self)
        self.attachments = QFrame(self)
        self.attachments.setObjectName("mailAttachments")
        self._attachment_rows = QVBoxLayout(self.attachments)
        self._attachment_rows.setContentsMargins(0, 0, 0, 0)
        self._attachment_rows.setSpacing(2)
        self.attachments.hide()
        self.error = plain_label(self, "mailError")
        self.error.setWordWrap(True)
        self.error.hide()
        self.placeholder = plain_label(self, "mailPlaceholder")
        self.placeholder.setText(self.tr("Select a message in the thread to read it here."))
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(6)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.subject)
        layout.addLayout(grid)
        layout.addWidget(self.remote_bar)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.attachments)
        layout.addWidget(self.error)
        self._set_parts_visible(False)

    @property
    def detail(self) -> MailDetail | None:
        return self._detail

    def set_service(self, service: MailApi | None) -> None:
        self._service = service

    def _set_parts_visible(self, visible: bool) -> None:
        self.placeholder.setVisible(not visible)
        self.subject.setVisible(visible)
        for label in self.headers.values():
            label.setVisible(visible)
        self.body.setVisible(visible)
        if not visible:
            self.remote_bar.hide()
            self.attachments.hide()

    # -- showing -------------------------------------------------------------------------------

    def clear(self) -> None:
        self._wanted = None
        self._detail = None
        self.body.show_text("")
        self.error.hide()
        self._set_parts_visible(False)

    def show_message(self, message_id: int) -> None:
        """Show a mail from the cache (the body was stored by the sync)."""
        if self._detail is not None and self._detail.message_id == message_id:
            return
        self._wanted = message_id
        service = self._service
        if service is None:
            self.clear()
            self._show_error(self.tr("This mail's account is not set up on this computer."))
            return

        def done(detail: MailDetail | None) -> None:
            if self._wanted != message_id:
                return
            if detail is None:
                self.clear()
                self._show_error(self.tr("This mail is not in the local cache (yet)."))
                return
            self.set_detail(detail)

        self._ops.run(service.detail(message_id), on_done=done, on_error=self._failed, owner=self)

    def set_detail(self, detail: MailDetail) -> None:
        self._wanted = detail.message_id
        self._detail = detail
        self.error.hide()
        self._set_parts_visible(True)
        self.subject.setText(detail.subject or self.tr("(no subject)"))
        self.headers["from"].setText(detail.from_)
        self.headers["to"].setText(", ".join(detail.to))
        self.headers["cc"].setText(", ".join(detail.cc))
        for key in ("cc", "cc_caption"):
            self.headers[key].setVisible(bool(detail.cc))
        self.headers["date"].setText(texts.full_time(detail.date) if detail.date else "")
        if detail.html.strip():
            self.body.show_html(detail.html, detail.inline_images)
        else:
            self.body.show_text(detail.text)
        self.remote_bar.setVisible(detail.has_remote_images)
        self.remote_button.setEnabled(True)
        self._show_attachments(detail)
        self.shown.emit(detail.message_id)

    def _show_attachments(self, detail: MailDetail) -> None:
        while self._attachment_rows.count():
            item = self._attachment_rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        shown_inline = bool(detail.html.strip())
        listed = [a for a in detail.attachments if not (a.inline and shown_inline)]
        for attachment in listed:
            self._attachment_rows.addWidget(self._attachment_row(attachment))
        self.attachments.setVisible(bool(listed))

    def _attachment_row(self, attachment: MailAttachmentInfo) -> QWidget:
        row = QFrame(self.attachments)
        row.setObjectName("attachmentRow")
        name = plain_label(row, "attachmentName")
        name.setText(attachment.filename or self.tr("(unnamed)"))
        size = plain_label(row, "attachmentSize")
        size.setText(data_size(attachment.size))
        save = QPushButton(self.tr("Save…"), row)
        save.setObjectName("saveAttachment")
        save.clicked.connect(lambda: self.save_attachment(attachment.index))
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 4, 0, 0)
        h.addWidget(name)
        h.addWidget(size)
        h.addStretch(1)
        h.addWidget(save)
        return row

    # -- actions -------------------------------------------------------------------------------

    def load_remote_images(self) -> None:
        detail, service = self._detail, self._service
        if detail is None or service is None:
            return
        self.remote_button.setEnabled(False)
        message_id = detail.message_id

        async def fetch() -> tuple[dict[str, bytes], MailDetail | None]:
            images = await service.load_remote_images(message_id)
            # The cached HTML drops remote sources; this copy keeps them for the images.
            return images, await service.detail(message_id, allow_remote=True)

        def done(result: tuple[dict[str, bytes], MailDetail | None]) -> None:
            images, with_remote = result
            if self._detail is None or self._detail.message_id != message_id:
                return
            if with_remote is not None:
                self.set_detail(with_remote)
            added = self.body.add_remote_images(images)
            self.remote_bar.hide()
            self.remoteImagesLoaded.emit(added)

        def failed(exc: BaseException) -> bool:
            self.remote_button.setEnabled(True)
            return self._failed(exc)

        self._ops.run(fetch(), on_done=done, on_error=failed, owner=self)

    def save_attachment(self, index: int) -> None:
        detail = self._detail
        if detail is None:
            return
        found = [a for a in detail.attachments if a.index == index]
        if not found:
            return
        message_id = detail.message_id

        def chosen(path: str) -> None:
            service = self._service
            if not path or service is None:
                return
            self.error.hide()
            self._ops.run(
                service.save_attachment(message_id, index, Path(path)),
                on_done=lambda _: self.attachmentSaved.emit(path),
                on_error=self._failed,
                owner=self,
            )

        self.choose_save_path(self, found[0].filename or "attachment", chosen)

    def _failed(self, exc: BaseException) -> bool:
        text = describe_mail_error(exc)
        if text is None:
            return False  # the op runner shows and logs it
        self._show_error(text)
        return True

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
