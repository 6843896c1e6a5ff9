"""Delegates that paint the conversation rows and the message bubbles, as plain text only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QRectF,
    QSize,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPalette
from PySide6.QtWidgets import QAbstractScrollArea, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from omnidesk.ui import paint
from omnidesk.ui.conversation_model import ConvRole
from omnidesk.ui.texts import mode_label, status_label
from omnidesk.ui.thread_model import MsgRole

Index = QModelIndex | QPersistentModelIndex


def _d(index: Index, role: int) -> Any:
    """Read a role through the Python model directly.

    PySide6 6.12 loses a reference to ``None`` each time ``QModelIndex.data()`` converts an
    empty QVariant back to Python; enough paints and the interpreter aborts (none_dealloc).
    """
    model = index.model()
    return model.data(index, role) if model is not None else None


def _small(font: QFont, delta: float = -1.5) -> QFont:
    f = QFont(font)
    f.setPointSizeF(max(6.0, f.pointSizeF() + delta))
    return f


class ConversationDelegate(QStyledItemDelegate):
    ROW_HEIGHT = 76

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(280, self.ROW_HEIGHT)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        from omnidesk.domain import ConversationStatus, Mode

        pal: QPalette = option.palette
        rect = QRectF(option.rect)
        state = option.state
        font = QFont(option.font)
        selected = bool(state & QStyle.StateFlag.State_Selected)
        p.save()
        base = pal.color(QPalette.ColorRole.Base)
        if selected:
            bg = paint.mix(base, pal.color(QPalette.ColorRole.Highlight), 0.22)
        elif state & QStyle.StateFlag.State_MouseOver:
            bg = paint.mix(base, pal.color(QPalette.ColorRole.Text), 0.04)
        else:
            bg = base
        p.fillRect(rect, bg)
        if selected:
            p.fillRect(
                QRectF(rect.left(), rect.top(), 3, rect.height()),
                pal.color(QPalette.ColorRole.Highlight),
            )
        text_color = pal.color(QPalette.ColorRole.Text)
        muted = paint.mix(text_color, base, 0.45)
        pad = 12.0
        av = QRectF(rect.left() + pad, rect.top() + 12, 44, 44)
        name = str(_d(index, ConvRole.CONTACT) or "")
        paint.draw_avatar(p, av, name, str(_d(index, ConvRole.CHANNEL_KIND)), font)

        x = av.right() + 12
        right = rect.right() - pad
        small = _small(font)
        fm_small = QFontMetricsF(small)
        time_text = str(_d(index, ConvRole.TIME) or "")
        tw = fm_small.horizontalAdvance(time_text)
        unread = int(_d(index, ConvRole.UNREAD) or 0)

        bold = QFont(font)
        bold.setBold(True)
        fm_bold = QFontMetricsF(bold)
        top = rect.top() + 10
        p.setFont(bold)
        p.setPen(text_color)
        name_w = right - tw - 8 - x
        p.drawText(
            QRectF(x, top, name_w, fm_bold.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm_bold.elidedText(name, Qt.TextElideMode.ElideRight, name_w),
        )
        p.setFont(small)
        p.setPen(paint.CHANNEL_COLORS["whatsapp"] if unread else muted)
        p.drawText(
            QRectF(right - tw, top, tw, fm_bold.height()),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            time_text,
        )

        line2 = top + fm_bold.height() + 3
        fm = QFontMetricsF(font)
        preview_w = right - x - (30 if unread else 0)
        preview = str(_d(index, ConvRole.PREVIEW) or "")
        p.setFont(font)
        p.setPen(text_color if unread else muted)
        p.drawText(
            QRectF(x, line2, preview_w, fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(preview.replace("\n", " "), Qt.TextElideMode.ElideRight, preview_w),
        )
        if unread:
            badge_font = _small(font, -2)
            badge_font.setBold(True)
            paint.draw_count_badge(p, right, line2 + fm.height() / 2, unread, badge_font)

        line3 = line2 + fm.height() + 5
        tiny = _small(font, -2.5)
        mode = Mode(str(_d(index, ConvRole.MODE)))
        status = ConversationStatus(str(_d(index, ConvRole.STATUS)))
        px = x
        px += (
            paint.draw_pill(
                p, px, line3, mode_label(mode), QColor(paint.MODE_COLORS[mode.value]), tiny
            )
            + 5
        )
        px += (
            paint.draw_pill(
                p, px, line3, status_label(status), QColor(paint.STATUS_COLORS[status.value]), tiny
            )
            + 6
        )
        assignee = _d(index, ConvRole.ASSIGNEE)
        if assignee:
            p.setFont(tiny)
            p.setPen(muted)
            fm_tiny = QFontMetricsF(tiny)
            p.drawText(
                QRectF(px, line3, right - px, fm_tiny.height() + 2),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                fm_tiny.elidedText(str(assignee), Qt.TextElideMode.ElideRight, right - px),
            )
        p.setPen(paint.mix(base, text_color, 0.08))
        p.drawLine(QPointF(x, rect.bottom()), QPointF(rect.right(), rect.bottom()))
        p.restore()


@dataclass
class _BubbleGeometry:
    bubble: QRectF
    author: QRectF | None
    quote: QRectF | None
    body: QRectF
    footer: QRectF
    error: QRectF | None
    height: float


class BubbleDelegate(QStyledItemDelegate):
    """Paints one message as a bubble (incoming left, outgoing right) or a centred note."""

    MARGIN = 10.0
    PAD = 9.0

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._heights: dict[tuple[object, str, int, str | None, object], float] = {}

    def _fonts(self, font: QFont) -> tuple[QFont, QFont, QFont]:
        author = _small(font, -1)
        author.setBold(True)
        return font, author, _small(font, -2)

    def _max_width(self, view_width: float) -> float:
        return max(160.0, min(view_width * 0.72, 620.0))

    def _geometry(self, rect: QRectF, font: QFont, index: Index) -> _BubbleGeometry:
        body_font, author_font, small = self._fonts(font)
        text = str(_d(index, MsgRole.TEXT) or "")
        outgoing = bool(_d(index, MsgRole.OUTGOING))
        quote = _d(index, MsgRole.QUOTE)
        error = _d(index, MsgRole.ERROR)
        maxw = self._max_width(rect.width())
        inner = maxw - 2 * self.PAD
        _, body_h, body_w = paint.text_layout(text, body_font, inner)
        fm_author = QFontMetricsF(author_font)
        fm_small = QFontMetricsF(small)
        author = str(_d(index, MsgRole.AUTHOR) or "")
        content_w = max(body_w, fm_author.horizontalAdvance(author))
        footer_w = fm_small.horizontalAdvance(str(_d(index, MsgRole.TIME) or "")) + 26
        quote_h = 0.0
        if quote:
            quote_h = fm_small.height() * 2 + 10
            content_w = max(content_w, min(inner, 180.0))
        err_h = 0.0
        if error:
            _, err_h, err_w = paint.text_layout(str(error), small, inner - 16)
            err_h += 6
            content_w = max(content_w, err_w + 16)
        content_w = min(inner, max(content_w, footer_w))
        y = rect.top() + self.PAD + 3
        author_rect = QRectF(0, y, content_w, fm_author.height())
        y += fm_author.height() + 2
        quote_rect = None
        if quote:
            quote_rect = QRectF(0, y, content_w, quote_h - 4)
            y += quote_h
        body_rect = QRectF(0, y, content_w, body_h)
        y += body_h
        err_rect = None
        if error:
            err_rect = QRectF(0, y + 4, content_w, err_h)
            y += err_h + 2
        footer_rect = QRectF(0, y + 1, content_w, fm_small.height())
        y += fm_small.height() + 2
        bubble_w = content_w + 2 * self.PAD
        bubble_h = y + self.PAD - 3 - (rect.top() + 3)
        left = (
            rect.right() - self.MARGIN - bubble_w - 6 if outgoing else rect.left() + self.MARGIN + 6
        )
        bubble = QRectF(left, rect.top() + 3, bubble_w, bubble_h)
        for r in (author_rect, quote_rect, body_rect, err_rect, footer_rect):
            if r is not None:
                r.moveLeft(left + self.PAD)
        return _BubbleGeometry(
            bubble, author_rect, quote_rect, body_rect, footer_rect, err_rect, bubble_h + 6
        )

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        view = option.widget
        width = float(view.viewport().width()) if isinstance(view, QAbstractScrollArea) else 600.0
        width -= 8  # the view's spacing on both sides
        font = QFont(option.font)
        if _d(index, MsgRole.NOTE):
            _, h, _ = paint.text_layout(
                str(_d(index, MsgRole.TEXT) or ""), _small(font), width - 80
            )
            return QSize(int(width), int(h + 16))
        key = (
            _d(index, MsgRole.KEY),
            str(_d(index, MsgRole.TEXT) or ""),
            int(width),
            _d(index, MsgRole.ERROR),
            _d(index, MsgRole.QUOTE),
        )
        height = self._heights.get(key)
        if height is None:
            geo = self._geometry(QRectF(0, 0, width, 10_000), font, index)
            height = geo.height
            if len(self._heights) > 20_000:
                self._heights.clear()
            self._heights[key] = height
        return QSize(int(width), int(height) + 1)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        pal: QPalette = option.palette
        rect = QRectF(option.rect)
        font = QFont(option.font)
        body_font, author_font, small = self._fonts(font)
        text_color = pal.color(QPalette.ColorRole.Text)
        window = pal.color(QPalette.ColorRole.Window)
        muted = paint.mix(text_color, window, 0.45)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = str(_d(index, MsgRole.TEXT) or "")
        if _d(index, MsgRole.NOTE):
            layout, h, w = paint.text_layout(text, _small(font), rect.width() - 80)
            x = rect.left() + (rect.width() - w) / 2
            pill = QRectF(x - 10, rect.top() + 4, w + 20, h + 8)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(paint.mix(window, text_color, 0.07))
            p.drawRoundedRect(pill, 8, 8)
            p.setPen(muted)
            layout.draw(p, QPointF(x, rect.top() + 8))
            p.restore()
            return
        geo = self._geometry(rect, font, index)
        outgoing = bool(_d(index, MsgRole.OUTGOING))
        status = str(_d(index, MsgRole.STATUS) or "")
        dark = paint.is_dark(pal)
        if outgoing:
            fill = QColor("#1F4D3A") if dark else QColor("#D9FDD3")
        else:
            fill = paint.mix(pal.color(QPalette.ColorRole.Base), text_color, 0.10 if dark else 0.0)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        border = (
            pal.color(QPalette.ColorRole.Highlight)
            if selected
            else paint.mix(fill, text_color, 0.12)
        )
        p.setPen(border)
        p.setBrush(fill)
        p.drawRoundedRect(geo.bubble, 10, 10)
        if geo.author is not None:
            p.setFont(author_font)
            author = str(_d(index, MsgRole.AUTHOR) or "")
            p.setPen(paint.avatar_color(author) if not outgoing else QColor("#0F766E"))
            p.drawText(
                geo.author, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, author
            )
        quote = _d(index, MsgRole.QUOTE)
        if quote and geo.quote is not None:
            q_author, q_text = quote
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(paint.mix(fill, text_color, 0.07))
            p.drawRoundedRect(geo.quote, 5, 5)
            p.setBrush(QColor("#0EA5E9"))
            p.drawRect(QRectF(geo.quote.left(), geo.quote.top(), 3, geo.quote.height()))
            fm = QFontMetricsF(small)
            inner = geo.quote.adjusted(8, 3, -6, -3)
            bold_small = QFont(small)
            bold_small.setBold(True)
            p.setFont(bold_small)
            p.setPen(QColor("#0EA5E9"))
            p.drawText(
                QRectF(inner.left(), inner.top(), inner.width(), fm.height()),
                Qt.AlignmentFlag.AlignLeft,
                str(q_author),
            )
            p.setFont(small)
            p.setPen(muted)
            p.drawText(
                QRectF(inner.left(), inner.top() + fm.height(), inner.width(), fm.height()),
                Qt.AlignmentFlag.AlignLeft,
                fm.elidedText(str(q_text), Qt.TextElideMode.ElideRight, inner.width()),
            )
        layout, _, _ = paint.text_layout(
            text, body_font, self._max_width(rect.width()) - 2 * self.PAD
        )
        p.setPen(text_color)
        layout.draw(p, geo.body.topLeft())
        error = _d(index, MsgRole.ERROR)
        if error and geo.error is not None:
            p.setPen(paint.FAIL_RED)
            p.setBrush(Qt.BrushStyle.NoBrush)
            err_layout, _, _ = paint.text_layout(str(error), small, geo.error.width() - 16)
            paint.draw_ticks(p, QRectF(geo.error.left(), geo.error.top(), 12, 12), "failed", muted)
            p.setPen(paint.FAIL_RED)
            err_layout.draw(p, QPointF(geo.error.left() + 16, geo.error.top()))
        p.setFont(small)
        p.setPen(muted)
        time_text = str(_d(index, MsgRole.TIME) or "")
        footer = geo.footer
        tick_w = 18 if outgoing else 0
        p.drawText(
            footer.adjusted(0, 0, -tick_w, 0),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            time_text,
        )
        if outgoing:
            paint.draw_ticks(p, footer, status, muted)
        p.restore()
