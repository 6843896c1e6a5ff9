"""Words and times for the UI: message kinds, statuses, locale-aware timestamps."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QCoreApplication, QDateTime, QLocale, Qt

from omnidesk.domain import ConnectionState, ConversationStatus, Message, Mode


def kind_label(kind: str) -> str:
    labels = {
        "image": QCoreApplication.translate("Texts", "Photo"),
        "video": QCoreApplication.translate("Texts", "Video"),
        "audio": QCoreApplication.translate("Texts", "Audio"),
        "document": QCoreApplication.translate("Texts", "Document"),
        "sticker": QCoreApplication.translate("Texts", "Sticker"),
        "location": QCoreApplication.translate("Texts", "Location"),
        "contacts": QCoreApplication.translate("Texts", "Contact card"),
        "interactive": QCoreApplication.translate("Texts", "Interactive reply"),
        "button": QCoreApplication.translate("Texts", "Button reply"),
        "reaction": QCoreApplication.translate("Texts", "Reaction"),
        "unsupported": QCoreApplication.translate("Texts", "Unsupported message"),
    }
    return labels.get(kind, "")


def message_text(m: Message) -> str:
    """What the bubble says, as plain text (never interpreted)."""
    if m.type in ("text", "activity") or not kind_label(m.type):
        return m.text or ""
    media = m.media
    parts = [f"[{kind_label(m.type)}]"]
    if media is not None and media.filename:
        parts.append(media.filename)
    if m.type == "reaction" and isinstance(m.payload.get("emoji"), str):
        parts.append(str(m.payload["emoji"]))
    if m.type == "location":
        name = m.payload.get("name") or m.payload.get("address")
        if isinstance(name, str):
            parts.append(name)
    head = " ".join(parts)
    caption = (media.caption if media else None) or m.text
    return f"{head}\n{caption}" if caption else head


def email_subject(m: Message | None) -> str:
    """The subject the cache stored with a mail (empty for other channels)."""
    email = m.payload.get("email") if m is not None else None
    subject = email.get("subject") if isinstance(email, dict) else None
    return subject if isinstance(subject, str) else ""


def preview(m: Message | None) -> str:
    """One line for the conversation list; for email the subject leads, as in a mail client."""
    if m is None:
        return ""
    text = " ".join(message_text(m).split())
    subject = " ".join(email_subject(m).split())
    if subject:
        text = f"{subject} — {text}" if text else subject
    if m.direction.value == "out":
        who = (
            QCoreApplication.translate("Texts", "Bot")
            if m.author == "bot"
            else QCoreApplication.translate("Texts", "You")
        )
        return f"{who}: {text}"
    return text


def author_label(m: Message, contact_name: str) -> str:
    if m.author == "customer":
        return contact_name
    if m.author == "bot":
        return QCoreApplication.translate("Texts", "Bot")
    if m.author == "system":
        return QCoreApplication.translate("Texts", "System")
    return m.author_agent or m.author


def status_label(status: ConversationStatus) -> str:
    return {
        ConversationStatus.OPEN: QCoreApplication.translate("Texts", "Open"),
        ConversationStatus.PENDING: QCoreApplication.translate("Texts", "Pending"),
        ConversationStatus.RESOLVED: QCoreApplication.translate("Texts", "Resolved"),
    }[status]


def mode_label(mode: Mode) -> str:
    return (
        QCoreApplication.translate("Texts", "Bot")
        if mode is Mode.BOT
        else QCoreApplication.translate("Texts", "Human")
    )


def connection_label(state: ConnectionState) -> str:
    return {
        ConnectionState.OFFLINE: QCoreApplication.translate("Texts", "Offline"),
        ConnectionState.CONNECTING: QCoreApplication.translate("Texts", "Connecting…"),
        ConnectionState.LIVE: QCoreApplication.translate("Texts", "Live"),
        ConnectionState.RECONNECTING: QCoreApplication.translate("Texts", "Reconnecting…"),
        ConnectionState.NEEDS_TOKEN: QCoreApplication.translate("Texts", "Token needed"),
    }[state]


def qdatetime(value: dt.datetime) -> QDateTime:
    return QDateTime.fromMSecsSinceEpoch(int(value.timestamp() * 1000)).toLocalTime()


def short_time(value: dt.datetime, now: dt.datetime | None = None) -> str:
    """Time for today, otherwise the date, in the locale's short format."""
    locale = QLocale()
    q = qdatetime(value)
    today = qdatetime(now or dt.datetime.now(dt.UTC)).date()
    if q.date() == today:
        return locale.toString(q.time(), QLocale.FormatType.ShortFormat)
    if q.date().daysTo(today) < 7:
        return locale.toString(q.date(), "ddd")
    if q.date().year() == today.year():
        return locale.toString(q.date(), "d MMM")
    return locale.toString(q.date(), QLocale.FormatType.ShortFormat)


def bubble_time(value: dt.datetime) -> str:
    return QLocale().toString(qdatetime(value).time(), QLocale.FormatType.ShortFormat)


def full_time(value: dt.datetime) -> str:
    return QLocale().toString(qdatetime(value), QLocale.FormatType.LongFormat)


PLAIN = Qt.TextFormat.PlainText
