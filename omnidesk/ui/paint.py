"""Small painting helpers shared by the delegates: colours, avatars, badges, ticks, text."""

from __future__ import annotations

import hashlib

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QTextLayout,
    QTextOption,
)

CHANNEL_COLORS = {
    "whatsapp": QColor("#25A366"),
    "instagram": QColor("#D62976"),
    "email": QColor("#3B82F6"),
    "other": QColor("#6B7280"),
}
CHANNEL_GLYPHS = {"whatsapp": "W", "instagram": "IG", "email": "@", "other": "?"}
AVATAR_COLORS = ["#7C3AED", "#0EA5E9", "#F59E0B", "#10B981", "#EF4444", "#6366F1", "#EC4899"]
STATUS_COLORS = {"open": "#16A34A", "pending": "#D97706", "resolved": "#6B7280"}
MODE_COLORS = {"bot": "#7C3AED", "human": "#0891B2"}
READ_BLUE = QColor("#2196F3")
FAIL_RED = QColor("#DC2626")


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor.fromRgbF(
        a.redF() * (1 - t) + b.redF() * t,
        a.greenF() * (1 - t) + b.greenF() * t,
        a.blueF() * (1 - t) + b.blueF() * t,
    )


def initials(name: str) -> str:
    parts = [p for p in name.replace("@", " ").split() if p[:1].isalnum()]
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0][:1].upper()
    return (parts[0][:1] + parts[-1][:1]).upper()


def avatar_color(seed: str) -> QColor:
    digest = hashlib.blake2s(seed.encode(), digest_size=2).digest()
    return QColor(AVATAR_COLORS[digest[0] % len(AVATAR_COLORS)])


def draw_avatar(p: QPainter, rect: QRectF, name: str, channel_kind: str, font: QFont) -> None:
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(avatar_color(name))
    p.drawEllipse(rect)
    f = QFont(font)
    f.setBold(True)
    f.setPixelSize(int(rect.height() * 0.38))
    p.setFont(f)
    p.setPen(QColor("white"))
    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, initials(name))
    # channel badge, bottom right
    d = rect.width() * 0.46
    badge = QRectF(rect.right() - d + 3, rect.bottom() - d + 3, d, d)
    p.setBrush(CHANNEL_COLORS.get(channel_kind, CHANNEL_COLORS["other"]))
    p.setPen(QPen(QColor("white"), 2))
    p.drawEllipse(badge)
    f.setPixelSize(int(d * (0.42 if len(CHANNEL_GLYPHS.get(channel_kind, "?")) > 1 else 0.55)))
    p.setFont(f)
    p.drawText(badge, Qt.AlignmentFlag.AlignCenter, CHANNEL_GLYPHS.get(channel_kind, "?"))
    p.restore()


def draw_pill(p: QPainter, x: float, y: float, text: str, color: QColor, font: QFont) -> float:
    """Draw a small rounded label; returns its width."""
    fm = QFontMetricsF(font)
    w = fm.horizontalAdvance(text) + 12
    h = fm.height() + 2
    rect = QRectF(x, y, w, h)
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    bg = QColor(color)
    bg.setAlphaF(0.16)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(bg)
    p.drawRoundedRect(rect, h / 2, h / 2)
    p.setPen(color)
    p.setFont(font)
    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    p.restore()
    return w


def draw_count_badge(p: QPainter, right: float, cy: float, count: int, font: QFont) -> None:
    text = str(count) if count < 100 else "99+"
    fm = QFontMetricsF(font)
    h = fm.height() + 4
    w = max(h, fm.horizontalAdvance(text) + 10)
    rect = QRectF(right - w, cy - h / 2, w, h)
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(CHANNEL_COLORS["whatsapp"])
    p.drawRoundedRect(rect, h / 2, h / 2)
    p.setPen(QColor("white"))
    p.setFont(font)
    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    p.restore()


def draw_ticks(p: QPainter, rect: QRectF, status: str, color: QColor) -> None:
    """Delivery state at the right of ``rect``: clock, one tick, two ticks (blue when read)."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    cy = rect.center().y()
    x = rect.right()
    if status in ("queued", "sending", "unconfirmed"):
        r = 5.0
        p.setPen(QPen(color, 1.3))
        p.setBrush(Qt.BrushStyle.NoBrush)
        c = QPointF(x - r, cy)
        p.drawEllipse(c, r, r)
        p.drawLine(c, QPointF(c.x(), c.y() - r + 2))
        p.drawLine(c, QPointF(c.x() + r - 2, c.y()))
    elif status == "failed":
        r = 6.0
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(FAIL_RED)
        c = QPointF(x - r, cy)
        p.drawEllipse(c, r, r)
        p.setPen(QPen(QColor("white"), 2))
        p.drawLine(QPointF(c.x(), c.y() - 3), QPointF(c.x(), c.y() + 0.5))
        p.drawPoint(QPointF(c.x(), c.y() + 3))
    elif status in ("sent", "delivered", "read"):
        pen = QPen(READ_BLUE if status == "read" else color, 1.6)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        offsets = [0.0] if status == "sent" else [4.5, 0.0]
        for off in offsets:
            path = QPainterPath()
            right = x - off
            path.moveTo(right - 9, cy)
            path.lineTo(right - 6, cy + 3)
            path.lineTo(right, cy - 4)
            p.drawPath(path)
    p.restore()


def text_layout(text: str, font: QFont, width: float) -> tuple[QTextLayout, float, float]:
    """Lay out plain text (never interpreted) wrapping anywhere if needed.

    Returns the layout, its height and the widest line.
    """
    # QTextLayout breaks lines only at U+2028; newlines in the text are paragraph breaks.
    layout = QTextLayout(text.replace("\r\n", "\n").replace("\n", "\u2028"), font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    layout.beginLayout()
    height = 0.0
    widest = 0.0
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        line.setPosition(QPointF(0, height))
        height += line.height()
        widest = max(widest, line.naturalTextWidth())
    layout.endLayout()
    return layout, height, widest
