from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from omnidesk.domain import ConnectionState, Mode, OutboxItem
from omnidesk.ui.conversation_model import ConvRole
from omnidesk.ui.texts import PLAIN
from omnidesk.ui.thread_model import MsgRole
from tests.ui.conftest import UI


def open_row(ui: UI, qtbot: Any, conv_id: int) -> None:
    w = ui.window
    row = w.list_model.row_of(conv_id)
    assert row is not None
    with qtbot.waitSignal(w.conversationOpened, timeout=3000):
        rect = w.list.visualRect(w.list_model.index(row))
        qtbot.mouseClick(w.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: w.ops.pending == 0)


def thread_texts(ui: UI) -> list[str]:
    m = ui.window.thread_model
    return [m.data(m.index(r), MsgRole.TEXT) for r in range(m.rowCount())]


def test_list_shows_conversations_from_cache(ui: UI) -> None:
    m = ui.window.list_model
    names = [m.data(m.index(r), ConvRole.CONTACT) for r in range(m.rowCount())]
    assert names == ["Daniela Rocha", "<b>Bob</b> & Co", "Carla Dias", "Bruno Lima", "Ana Souza"]
    ana = m.index(4)
    assert m.data(ana, ConvRole.UNREAD) == 2 and m.data(ana, ConvRole.MODE) == "bot"
    assert m.data(ana, ConvRole.CHANNEL_KIND) == "whatsapp"
    assert m.data(ana, ConvRole.PREVIEW) == "Quero falar com um atendente, por favor"
    assert ui.window.windowTitle() == "Omnidesk (3 unread)"


def test_opening_shows_messages_in_order(ui: UI, qtbot: Any) -> None:
    open_row(ui, qtbot, 2)
    assert thread_texts(ui) == [
        "Meu pedido #4821 ainda não chegou",
        "Sinto muito, Bruno! Vou verificar agora.",
        "[Photo]\nfoto da etiqueta",
        "Encontrei: ele sai para entrega hoje à tarde.",
        "Obrigado!!",
    ]
    m = ui.window.thread_model
    assert m.data(m.index(1), MsgRole.QUOTE) == ("Bruno Lima", "Meu pedido #4821 ainda não chegou")
    assert m.data(m.index(1), MsgRole.AUTHOR) == "joao"
    assert m.data(m.index(4), MsgRole.STATUS) == "failed"
    assert "24 hours" in m.data(m.index(4), MsgRole.ERROR)
    assert ui.window.header.name.text() == "Bruno Lima"
    assert ui.window.details.fields["assignee"].text() == "joao"
    # opening marks it read on the relay
    assert any(r.url.path == "/v1/conversations/2/read" for r in ui.relay.requests) is False
    open_row(ui, qtbot, 1)
    qtbot.waitUntil(lambda: ui.relay.conversations[1]["unread_count"] == 0)


def test_customer_markup_is_shown_literally(ui: UI, qtbot: Any) -> None:
    open_row(ui, qtbot, 4)
    w = ui.window
    assert thread_texts(ui) == ["<img src=x> <b>not bold</b>"]
    assert w.header.name.text() == "<b>Bob</b> & Co"
    assert w.header.name.textFormat() == PLAIN
    assert w.details.contact.textFormat() == PLAIN
    row = w.list_model.row_of(4)
    assert row is not None
    assert (
        w.list_model.data(w.list_model.index(row), ConvRole.PREVIEW)
        == "<img src=x> <b>not bold</b>"
    )
    w.thread_view.grab()  # paints the bubble (plain-text layout) without trouble


def test_composer_enter_sends_and_shift_enter_adds_a_line(ui: UI, qtbot: Any) -> None:
    open_row(ui, qtbot, 2)
    edit = ui.window.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "Bom dia")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(edit, "Tudo certo?")
    assert edit.toPlainText() == "Bom dia\nTudo certo?"
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(ui.run(ui.cache.outbox())) == 1)
    assert edit.toPlainText() == ""
    item = ui.run(ui.cache.outbox())[0]
    assert item.text == "Bom dia\nTudo certo?"
    m = ui.window.thread_model
    qtbot.waitUntil(lambda: isinstance(m.item_at(m.rowCount() - 1), OutboxItem))
    assert m.data(m.index(m.rowCount() - 1), MsgRole.STATUS) == "queued"
    # Ctrl+Enter sends too
    qtbot.keyClicks(edit, "E agora?")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(ui.run(ui.cache.outbox())) == 2)


def test_sent_reply_reaches_the_relay_once(ui: UI, qtbot: Any) -> None:
    ui.run(ui.service.start())
    open_row(ui, qtbot, 2)
    qtbot.waitUntil(lambda: ui.service.state is ConnectionState.LIVE)
    assert ui.window.connection.state is ConnectionState.LIVE
    ui.window.composer.edit.setPlainText("Chega hoje!")
    qtbot.keyClick(ui.window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: [m["text"] for m in ui.relay.sent] == ["Chega hoje!"])
    m = ui.window.thread_model
    qtbot.waitUntil(lambda: thread_texts(ui)[-1] == "Chega hoje!")
    qtbot.waitUntil(lambda: not m.data(m.index(m.rowCount() - 1), MsgRole.IS_OUTBOX))
    assert thread_texts(ui).count("Chega hoje!") == 1


def test_reply_to_a_message_sends_its_id(ui: UI, qtbot: Any) -> None:
    open_row(ui, qtbot, 3)
    w = ui.window
    w._reply_to_index(w.thread_model.index(0))
    assert w.composer.quote.isVisible()
    assert w.composer.quote_text.text() == "Vocês entregam em Niterói?"
    w.composer.edit.setPlainText("Sim!")
    w.composer.submit()
    qtbot.waitUntil(lambda: len(ui.run(ui.cache.outbox())) == 1)
    assert ui.run(ui.cache.outbox())[0].reply_to == 9
    assert not w.composer.quote.isVisible()


def test_draft_stays_with_its_conversation(ui: UI, qtbot: Any) -> None:
    open_row(ui, qtbot, 1)
    ui.window.composer.edit.setPlainText("rascunho para Ana")
    open_row(ui, qtbot, 3)
    assert ui.window.composer.text() == ""
    open_row(ui, qtbot, 1)
    qtbot.waitUntil(lambda: ui.window.composer.text() == "rascunho para Ana")


def test_takeover_and_handback(ui: UI, qtbot: Any) -> None:
    open_row(ui, qtbot, 1)
    w = ui.window
    assert w.header.button.text() == "Take over"
    assert w.header.owner.text() == "The bot is answering this conversation"
    qtbot.mouseClick(w.header.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.header.button.text() == "Hand back to bot")
    assert ui.relay.conversations[1]["mode"] == "human"
    assert w.header.owner.text() == "You own this conversation"
    assert w.details.fields["mode"].text() == "Human"
    qtbot.mouseClick(w.header.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.header.button.text() == "Take over")
    assert ui.relay.conversations[1]["mode"] == "bot"


def test_takeover_conflict_says_who_owns_it(ui: UI, qtbot: Any) -> None:
    ui.relay.conversations[4].update(mode="human", assignee="maria")  # maria was faster
    open_row(ui, qtbot, 4)
    w = ui.window
    assert w._current is not None and w._current.mode is Mode.BOT  # the cache is behind
    qtbot.mouseClick(w.header.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.notice.isVisible())
    assert w.notice.label.text() == "maria already took over this conversation."
    qtbot.waitUntil(lambda: w.header.owner.text() == "Owned by maria")


def test_status_change(ui: UI, qtbot: Any) -> None:
    open_row(ui, qtbot, 1)
    combo = ui.window.header.status
    combo.setCurrentIndex(combo.findData("resolved"))
    combo.activated.emit(combo.currentIndex())
    qtbot.waitUntil(lambda: ui.relay.conversations[1]["status"] == "resolved")
    qtbot.waitUntil(lambda: ui.window.details.fields["status"].text() == "Resolved")


def test_filters(ui: UI, qtbot: Any) -> None:
    w = ui.window
    m = w.list_model

    def ids() -> list[int]:
        return [m.data(m.index(r), ConvRole.ID) for r in range(m.rowCount())]

    w.who_filter.setCurrentIndex(w.who_filter.findData("mine"))
    w.who_filter.activated.emit(w.who_filter.currentIndex())
    qtbot.waitUntil(lambda: ids() == [2])
    w.who_filter.setCurrentIndex(w.who_filter.findData("bot"))
    w.who_filter.activated.emit(w.who_filter.currentIndex())
    qtbot.waitUntil(lambda: ids() == [4, 1])
    w.who_filter.setCurrentIndex(0)
    w.status_filter.setCurrentIndex(w.status_filter.findData("pending"))
    w.status_filter.activated.emit(0)
    qtbot.waitUntil(lambda: ids() == [3])
    w.status_filter.setCurrentIndex(0)
    qtbot.waitUntil(lambda: w.channel_filter.count() == 3)
    w.channel_filter.setCurrentIndex(w.channel_filter.findData("instagram:17841400"))
    w.channel_filter.activated.emit(0)
    qtbot.waitUntil(lambda: ids() == [5, 2])


def test_search_opens_the_conversation_at_the_message(ui: UI, qtbot: Any) -> None:
    w = ui.window
    qtbot.keyClick(w, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert w.search.hasFocus()
    with qtbot.waitSignal(w.searchFinished, timeout=3000):
        qtbot.keyClicks(w.search, "entreg")
    qtbot.waitUntil(lambda: w.ops.pending == 0)
    assert w.left_stack.currentWidget() is w.results
    labels = [w.results.item(i).text() for i in range(w.results.count())]
    assert len(labels) == 2 and labels[0].startswith("Carla Dias")
    with qtbot.waitSignal(w.conversationOpened, timeout=3000):
        qtbot.mouseClick(
            w.results.viewport(),
            Qt.MouseButton.LeftButton,
            pos=w.results.visualItemRect(w.results.item(1)).center(),
        )
    assert w._current is not None and w._current.id == 2
    assert w.thread_model.data(w.thread_view.currentIndex(), MsgRole.MESSAGE_ID) == 7
    w.search.clear()
    assert w.left_stack.currentWidget() is w.list


def test_escape_leaves_the_conversation(ui: UI, qtbot: Any) -> None:
    open_row(ui, qtbot, 1)
    ui.window.thread_view.setFocus()
    qtbot.keyClick(ui.window.thread_view, Qt.Key.Key_Escape)
    assert ui.window.middle.currentIndex() == 0
    assert ui.window._current is None
    qtbot.waitUntil(lambda: ui.window.ops.pending == 0)


def test_connection_state_and_cancel_queued_reply(ui: UI, qtbot: Any) -> None:
    w = ui.window
    assert w.connection.label.text() == "Relay: Offline"
    ui.relay.down = True
    ui.run(ui.service.start())
    qtbot.waitUntil(lambda: w.connection.state is ConnectionState.RECONNECTING)
    assert w.connection.label.text() == "Relay: Reconnecting…"
    open_row(ui, qtbot, 3)
    w.composer.edit.setPlainText("vai esperar")
    w.composer.submit()
    m = w.thread_model
    qtbot.waitUntil(lambda: isinstance(m.item_at(m.rowCount() - 1), OutboxItem))
    item = m.item_at(m.rowCount() - 1)
    assert isinstance(item, OutboxItem)
    w.ops.run(ui.service.cancel_reply(item.client_id))  # queued or mid-attempt: both cancel
    qtbot.waitUntil(lambda: not isinstance(m.item_at(m.rowCount() - 1), OutboxItem))
    ui.relay.down = False
    qtbot.waitUntil(lambda: w.connection.state is ConnectionState.LIVE, timeout=3000)
    assert ui.relay.sent == []


def test_new_customer_message_notifies_when_mine_or_unassigned(ui: UI, qtbot: Any) -> None:
    from omnidesk.ui.notifier import Notifier
    from tests.helpers.console_factories import message

    shown: list[tuple[str, str]] = []
    w = ui.window
    w.notifier = Notifier(w, show=lambda title, body: shown.append((title, body)))
    w.isActiveWindow = lambda: False  # type: ignore[method-assign]
    changes = ui.run(
        ui.cache.upsert_messages(
            [
                message(500, 3, "Ainda estão aí?"),  # unassigned: notify
                message(501, 5, "Outra coisa"),  # maria's: no
                message(502, 2, "Obrigado", direction="out", author="agent:joao", status="sent"),
            ]
        )
    )
    ui.hub.publish(changes)
    qtbot.waitUntil(lambda: len(shown) == 1)
    assert shown == [("New message from Carla Dias", "Ainda estão aí?")]
    ui.hub.publish(changes)  # the same message again: no second notification
    qtbot.waitUntil(lambda: w.ops.pending == 0)
    assert len(shown) == 1


def test_cold_start_offline_reads_and_searches_the_cache(ui: UI, qtbot: Any) -> None:
    ui.relay.down = True
    ui.run(ui.service.start())
    w = ui.window
    qtbot.waitUntil(lambda: w.connection.state is ConnectionState.RECONNECTING)
    open_row(ui, qtbot, 3)
    assert thread_texts(ui) == ["Vocês entregam em Niterói?", "[Document] comprovante.pdf"]
    with qtbot.waitSignal(w.searchFinished, timeout=3000):
        w.search.setText("niteroi")
    assert w.results.count() == 1
    assert w.notice.isHidden()  # being offline is not an error to shout about
