from __future__ import annotations

from typing import Any

from omnidesk.domain import ConversationFilter, ConversationStatus
from omnidesk.ui.conversation_model import ConversationListModel, ConvRole
from omnidesk.ui.thread_model import MsgRole, ThreadModel
from tests.helpers.console_factories import conversation, message
from tests.ui.conftest import UI


def test_conversation_model_passes_modeltester(ui: UI, qtmodeltester: Any) -> None:
    qtmodeltester.check(ui.window.list_model, force_py=True)


def test_thread_model_passes_modeltester(ui: UI, qtbot: Any, qtmodeltester: Any) -> None:
    model = ui.window.thread_model
    model.load(2, "Bruno Lima")
    qtbot.waitUntil(lambda: model.rowCount() == 5)
    qtmodeltester.check(model, force_py=True)
    names = model.roleNames()
    assert bytes(names[MsgRole.QUOTE].data()) == b"quote"


def test_conversation_model_pages_lazily(ui: UI, qtbot: Any) -> None:
    ui.run(ui.cache.upsert_conversations([conversation(100 + i, f"P{i}") for i in range(30)]))
    model = ConversationListModel(ui.cache, ui.window.ops)
    model.PAGE = 10
    model.reload()
    qtbot.waitUntil(lambda: model.rowCount() == 10)
    assert model.canFetchMore()
    model.fetchMore()
    qtbot.waitUntil(lambda: model.rowCount() == 20)
    while model.canFetchMore() or model.rowCount() < 35:
        if model.canFetchMore():
            model.fetchMore()
        qtbot.wait(5)
    assert model.rowCount() == 35
    ids = [model.data(model.index(r), ConvRole.ID) for r in range(35)]
    assert len(set(ids)) == 35
    model.set_filter(ConversationFilter(status=ConversationStatus.PENDING))
    qtbot.waitUntil(lambda: model.rowCount() == 1)
    qtbot.waitUntil(lambda: ui.window.ops.pending == 0)


def test_thread_model_pages_older_and_appends_live(ui: UI, qtbot: Any) -> None:
    ui.run(ui.cache.upsert_conversations([conversation(50, "Long")]))
    ui.run(ui.cache.upsert_messages([message(10_000 + i, 50, f"m{i}") for i in range(25)]))
    model = ThreadModel(ui.cache, ui.window.ops)
    model.PAGE = 10
    model.load(50, "Long")
    qtbot.waitUntil(lambda: model.rowCount() == 10)
    assert model.data(model.index(0), MsgRole.TEXT) == "m15"
    inserted: list[int] = []
    model.olderLoaded.connect(inserted.append)
    model.load_older()
    qtbot.waitUntil(lambda: model.rowCount() == 20)
    assert inserted == [10] and model.data(model.index(0), MsgRole.TEXT) == "m5"
    changes = ui.run(ui.cache.upsert_messages([message(20_000, 50, "live")]))
    model.on_changes(changes)
    qtbot.waitUntil(lambda: model.rowCount() == 21)
    assert model.data(model.index(20), MsgRole.TEXT) == "live"
    qtbot.waitUntil(lambda: ui.window.ops.pending == 0)


def test_nameless_contact_shows_its_handle(ui: UI, qtbot: Any) -> None:
    changes = ui.run(ui.cache.upsert_conversations([conversation(60, "", handle="@sem_nome")]))
    ui.hub.publish(changes)
    m = ui.window.list_model
    qtbot.waitUntil(lambda: m.row_of(60) is not None)
    row = m.row_of(60)
    assert row is not None and m.data(m.index(row), ConvRole.CONTACT) == "@sem_nome"
    qtbot.waitUntil(lambda: ui.window.ops.pending == 0)


def test_reorder_keeps_the_selection(ui: UI, qtbot: Any) -> None:
    w = ui.window
    m = w.list_model
    row = m.row_of(1)
    assert row == 4
    w.list.setCurrentIndex(m.index(row))
    qtbot.waitUntil(lambda: w.ops.pending == 0)
    resets: list[int] = []
    m.modelReset.connect(lambda: resets.append(1))
    ui.hub.publish(ui.run(ui.cache.upsert_messages([message(900, 1, "subiu", minute=999)])))
    qtbot.waitUntil(lambda: m.row_of(1) == 0)
    assert w.list.currentIndex().row() == 0 and resets == []
    qtbot.waitUntil(lambda: w.ops.pending == 0)
