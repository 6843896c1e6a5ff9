"""The real console window against a real relay (SQLite, started by the test) and the Graph
API stand-in: what an agent sees as customers write, as replies go out, and as the network
comes and goes. Nothing here is faked but Meta itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import shiboken6
from PySide6.QtCore import QPoint, Qt

from omnidesk.domain import ConnectionState, OutboxItem
from omnidesk.services.backoff import Backoff
from omnidesk.services.console import ConsoleService
from omnidesk.services.relay_client import RelayClient
from omnidesk.settings import Settings
from omnidesk.storage import Cache
from omnidesk.ui.conversation_model import ConvRole
from omnidesk.ui.main_window import MainWindow
from omnidesk.ui.ops import ChangeHub, OpRunner
from omnidesk.ui.paint import FAIL_RED
from omnidesk.ui.thread_model import MsgRole
from relay.testing.graph_standin import GraphStandIn
from tests.helpers.amqp import BotPeer, QueueNames
from tests.helpers.meta_samples import text_webhook
from tests.helpers.services import require_rabbitmq
from tests.relay.conftest import RelayHarness, relay_settings

MARIA = "16505550142"
OLIVER = "447700900456"


@pytest.fixture(scope="module")
def graph_module() -> Iterator[GraphStandIn]:
    with GraphStandIn() as graph:
        yield graph


class Live:
    """One relay database, the relay serving it (stopped and started at will, on one port),
    and the console window (closed and opened again at will, on one cache file)."""

    def __init__(
        self, tmp_path: Path, graph: GraphStandIn, qtbot: Any, run: Callable[..., Any]
    ) -> None:
        self.tmp_path, self.graph, self.qtbot, self.run = tmp_path, graph, qtbot, run
        self.database_url = f"sqlite:///{tmp_path / 'relay.sqlite3'}"
        self.overrides: dict[str, Any] = {}
        self.relays: list[RelayHarness] = []
        self.relay: RelayHarness | None = None
        self.port = 0
        self.token = ""
        self.window: MainWindow | None = None
        self.service: ConsoleService | None = None
        self.cache: Cache | None = None

    # -- the relay ------------------------------------------------------------------------------

    def start_relay(self, **overrides: Any) -> RelayHarness:
        """Start the relay where the console looks for it (the same port after a stop)."""
        self.overrides |= overrides
        settings = relay_settings(self.database_url, self.graph, **self.overrides)
        relay = RelayHarness(settings, port=self.port)
        self.relays.append(relay)
        self.relay, self.port = relay, relay.server.port
        self.token = self.token or relay.token  # the agent the console signs in as
        return relay

    def stop_relay(self) -> None:
        assert self.relay is not None
        self.relay.close()
        self.relay = None

    def other_relay(self) -> RelayHarness:
        """A second relay process on the same database, on a port the console does not use
        (Meta's webhooks reach it while the console's relay is down)."""
        relay = RelayHarness(relay_settings(self.database_url, self.graph, **self.overrides))
        self.relays.append(relay)
        return relay

    # -- the console ----------------------------------------------------------------------------

    def open_console(self, *, start: bool = True) -> MainWindow:
        """Build the console as ``omnidesk.app`` does, with short backoffs, and start it
        (``start=False``: the caller starts ``self.service`` once it is watching)."""
        assert self.port, "start the relay once first: the console needs its address"
        url = f"http://127.0.0.1:{self.port}"
        self.cache = cache = self.run(Cache.open(self.tmp_path / "console.sqlite3"))
        hub = ChangeHub()
        ops = OpRunner(hub)
        http = httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10.0, connect=2.0))
        self.service = service = ConsoleService(
            RelayClient(http, self.token),
            cache,
            on_changes=hub.publish,
            on_state=hub.set_connection,
            stream_backoff=Backoff(initial=0.05, maximum=0.2),
            outbox_backoff=Backoff(initial=0.05, maximum=0.2),
        )
        # Not qtbot.addWidget: pytest-qt would delete the window before this harness has
        # closed it and shut its services down.
        self.window = window = MainWindow(service, hub, ops, Settings(relay_url=url))
        window.resize(1280, 800)
        window.show()
        window.start()
        if start:
            self.run(service.start())
        return window

    def close_console(self) -> None:
        assert self.window is not None and self.service is not None and self.cache is not None
        window, ops = self.window, self.window.ops
        window.close()  # as the agent does: the draft is saved
        self.qtbot.waitUntil(lambda: ops.pending == 0)
        self.run(self.service.shutdown())
        # Delete the window now, with its timers: one firing in a later test would start a
        # cache read with no loop running.
        window.deleteLater()
        self.qtbot.waitUntil(lambda: not shiboken6.isValid(window))
        self.qtbot.waitUntil(lambda: ops.pending == 0)
        self.run(self.cache.close())
        self.window = self.service = self.cache = None

    def close(self) -> None:
        if self.window is not None:
            self.close_console()
        for relay in self.relays:
            relay.close()


@pytest.fixture
def live(
    tmp_path: Path, graph_module: GraphStandIn, qtbot: Any, arun: Callable[..., Any]
) -> Iterator[Live]:
    graph_module.reset()
    harness = Live(tmp_path, graph_module, qtbot, arun)
    yield harness
    harness.close()


# -- what the agent sees ------------------------------------------------------------------------


def contacts(w: MainWindow) -> list[str]:
    m = w.list_model
    return [m.data(m.index(r), ConvRole.CONTACT) for r in range(m.rowCount())]


def row_named(w: MainWindow, name: str) -> int:
    return contacts(w).index(name)


def conversation_id(w: MainWindow, name: str) -> int:
    m = w.list_model
    return int(m.data(m.index(row_named(w, name)), ConvRole.ID))


def thread(w: MainWindow, role: int = MsgRole.TEXT) -> list[Any]:
    m = w.thread_model
    return [m.data(m.index(r), role) for r in range(m.rowCount())]


def last(w: MainWindow, role: int = MsgRole.TEXT) -> Any:
    """The newest row's ``role`` (None while the thread is empty)."""
    rows = thread(w, role)
    return rows[-1] if rows else None


def open_conversation(w: MainWindow, qtbot: Any, name: str) -> None:
    """Click the contact in the list, as the agent does, and wait for the thread."""
    rect = w.list.visualRect(w.list_model.index(row_named(w, name)))
    with qtbot.waitSignal(w.conversationOpened, timeout=5000):
        qtbot.mouseClick(w.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert w.header.name.text() == name


def type_reply(w: MainWindow, qtbot: Any, text: str) -> None:
    w.composer.edit.setFocus()
    qtbot.keyClicks(w.composer.edit, text)
    qtbot.keyClick(w.composer.edit, Qt.Key.Key_Return)
    assert w.composer.edit.toPlainText() == ""


def wait_live(w: MainWindow, qtbot: Any) -> None:
    qtbot.waitUntil(lambda: w.connection.state is ConnectionState.LIVE, timeout=5000)


def post(relay: RelayHarness, body: dict[str, Any]) -> None:
    assert relay.post_webhook(body).status_code == 200


def event_head(relay: RelayHarness) -> int:
    """The relay's newest event id, as it tells a console opening its event stream."""
    with relay.api.stream("GET", "/v1/events") as events:
        return int(events.headers["X-Event-Head"])


# -- the inbox ----------------------------------------------------------------------------------


def test_the_list_fills_as_signed_webhooks_arrive(live: Live, qtbot: Any) -> None:
    relay = live.start_relay()
    w = live.open_console()
    wait_live(w, qtbot)
    assert contacts(w) == []
    post(relay, text_webhook("Oi! Vocês têm o tênis azul?", wamid="wamid.a"))
    qtbot.waitUntil(lambda: contacts(w) == ["Maria Garcia"])
    post(relay, text_webhook("Hello, I'd like to return an item.", wa_id=OLIVER, name="Oliver"))
    assert relay.post_sample("ig_webhook_text.json").status_code == 200
    qtbot.waitUntil(lambda: len(contacts(w)) == 3)
    m = w.list_model
    rows = {
        m.data(m.index(r), ConvRole.CONTACT): (
            m.data(m.index(r), ConvRole.CHANNEL_KIND),
            m.data(m.index(r), ConvRole.PREVIEW),
        )
        for r in range(m.rowCount())
    }
    instagram = [name for name, (kind, _) in rows.items() if kind == "instagram"]
    assert len(instagram) == 1
    assert rows["Maria Garcia"] == ("whatsapp", "Oi! Vocês têm o tênis azul?")
    assert rows["Oliver"] == ("whatsapp", "Hello, I'd like to return an item.")
    qtbot.waitUntil(lambda: w.windowTitle() == "Omnidesk (3 unread)")


def test_opening_a_conversation_shows_its_messages_in_order(live: Live, qtbot: Any) -> None:
    relay = live.start_relay()
    post(relay, text_webhook("primeira", "segunda", "terceira", wamid="wamid.o1"))
    w = live.open_console()
    qtbot.waitUntil(lambda: contacts(w) == ["Maria Garcia"])
    post(relay, text_webhook("quarta", wamid="wamid.o2"))
    qtbot.waitUntil(lambda: w.list_model.data(w.list_model.index(0), ConvRole.PREVIEW) == "quarta")
    open_conversation(w, qtbot, "Maria Garcia")
    assert thread(w) == ["primeira", "segunda", "terceira", "quarta"]
    assert set(thread(w, MsgRole.AUTHOR)) == {"Maria Garcia"}
    assert not any(thread(w, MsgRole.OUTGOING))
    # a message arriving while it is open is appended below, once
    post(relay, text_webhook("quinta", wamid="wamid.o3"))
    qtbot.waitUntil(lambda: thread(w) == ["primeira", "segunda", "terceira", "quarta", "quinta"])


# -- replies ------------------------------------------------------------------------------------


def test_a_reply_typed_in_the_composer_reaches_meta_once_and_gets_its_tick(
    live: Live, qtbot: Any
) -> None:
    relay = live.start_relay()
    post(relay, text_webhook("Meu pedido não chegou", wamid="wamid.r1"))
    w = live.open_console()
    wait_live(w, qtbot)
    qtbot.waitUntil(lambda: contacts(w) == ["Maria Garcia"])
    open_conversation(w, qtbot, "Maria Garcia")
    type_reply(w, qtbot, "Vou verificar agora!")
    qtbot.waitUntil(lambda: last(w) == "Vou verificar agora!")  # shown at once
    qtbot.waitUntil(lambda: live.graph.sent_texts() == ["Vou verificar agora!"], timeout=5000)
    (send,) = live.graph.sends()
    assert send.channel == "whatsapp" and send.json["to"].lstrip("+") == MARIA
    # the bubble swaps its clock for Meta's "sent" tick
    qtbot.waitUntil(lambda: last(w, MsgRole.STATUS) == "sent", timeout=5000)
    assert last(w, MsgRole.IS_OUTBOX) is False
    assert thread(w).count("Vou verificar agora!") == 1
    # exactly once: a later reply of the same conversation goes out behind it, alone
    type_reply(w, qtbot, "Chega hoje.")
    qtbot.waitUntil(lambda: len(live.graph.sent_texts()) >= 2, timeout=5000)
    assert live.graph.sent_texts() == ["Vou verificar agora!", "Chega hoje."]


def test_a_reply_meta_refuses_shows_its_reason_in_red(live: Live, qtbot: Any) -> None:
    relay = live.start_relay()
    post(relay, text_webhook("Ainda tem?", wamid="wamid.f1"))
    w = live.open_console()
    qtbot.waitUntil(lambda: contacts(w) == ["Maria Garcia"])
    open_conversation(w, qtbot, "Maria Garcia")
    live.graph.fail_next(131047)  # more than 24 hours since the customer wrote
    type_reply(w, qtbot, "Temos sim!")
    qtbot.waitUntil(lambda: last(w, MsgRole.STATUS) == "failed", timeout=5000)
    assert last(w) == "Temos sim!"
    reason = last(w, MsgRole.ERROR)
    assert reason.startswith("More than 24 hours have passed since the customer last wrote")
    assert "Message failed to send because" in reason  # and Meta's own words
    assert live.graph.sent_texts() == []  # Meta did not act on it
    # and the agent sees it: the failed mark is painted red in that bubble, not elsewhere
    view = w.thread_view
    failed = view.visualRect(w.thread_model.index(w.thread_model.rowCount() - 1))
    customer = view.visualRect(w.thread_model.index(0))
    image = view.viewport().grab().toImage()

    def red_pixels(rect: Any) -> int:
        return sum(
            1
            for x in range(rect.left(), rect.right())
            for y in range(rect.top(), rect.bottom())
            if image.pixelColor(QPoint(x, y)) == FAIL_RED
        )

    assert red_pixels(failed) > 50
    assert red_pixels(customer) == 0


# -- the bot ------------------------------------------------------------------------------------


@pytest.fixture
def bot(arun: Callable[..., Any]) -> Iterator[BotPeer]:
    peer = BotPeer(require_rabbitmq(), QueueNames.unique())
    arun(peer.__aenter__())
    yield peer
    arun(peer.__aexit__(None, None, None))


@pytest.mark.rabbitmq
def test_take_over_switches_the_mode_on_the_relay_and_the_bot_stops_receiving(
    bot: BotPeer, live: Live, qtbot: Any
) -> None:  # the bot's queues outlive the relay that consumes them: `bot` comes first
    relay = live.start_relay(
        amqp_url=bot.url,
        bot_inbound_queue=bot.names.bot_inbound_queue,
        bot_outbound_queue=bot.names.bot_outbound_queue,
    )
    post(relay, text_webhook("Quero falar com alguém", wamid="wamid.b1"))
    _, first = live.run(bot.inbound())
    assert first["text"] == "Quero falar com alguém"  # the bot has it while in bot mode
    w = live.open_console()
    qtbot.waitUntil(lambda: contacts(w) == ["Maria Garcia"])
    open_conversation(w, qtbot, "Maria Garcia")
    assert w.header.button.text() == "Take over"
    assert w.header.owner.text() == "The bot is answering this conversation"

    qtbot.mouseClick(w.header.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.header.button.text() == "Hand back to bot")
    assert w.header.owner.text() == "You own this conversation"
    (conv,) = relay.conversations()
    assert (conv["mode"], conv["assignee"]) == ("human", "ana")

    # The customer writes again, then somebody else writes to the bot. The bridge publishes
    # in commit order: if the first had gone to the bot, it would come before the second.
    post(relay, text_webhook("Alô?", wamid="wamid.b2"))
    post(relay, text_webhook("Oi bot", wa_id=OLIVER, name="Oliver", wamid="wamid.b3"))
    _, next_inbound = live.run(bot.inbound())
    assert (next_inbound["text"], next_inbound["contact"]["handle"]) == ("Oi bot", f"+{OLIVER}")
    # ... and the agent who owns it sees it instead
    qtbot.waitUntil(lambda: last(w) == "Alô?")


# -- offline and back ---------------------------------------------------------------------------


def test_offline_cached_threads_open_search_works_and_queued_replies_go_out_once_in_order(
    live: Live, qtbot: Any
) -> None:
    relay = live.start_relay()
    post(relay, text_webhook("Vocês entregam em Niterói?", wamid="wamid.n1"))
    post(relay, text_webhook("Hello there", wa_id=OLIVER, name="Oliver", wamid="wamid.n2"))
    w = live.open_console()
    qtbot.waitUntil(lambda: sorted(contacts(w)) == ["Maria Garcia", "Oliver"])
    live.stop_relay()  # the network is gone...
    live.close_console()  # ...and the agent restarts the console on the train

    w = live.open_console()
    qtbot.waitUntil(lambda: w.connection.state is ConnectionState.RECONNECTING, timeout=5000)
    assert sorted(contacts(w)) == ["Maria Garcia", "Oliver"]
    open_conversation(w, qtbot, "Maria Garcia")
    assert thread(w) == ["Vocês entregam em Niterói?"]
    with qtbot.waitSignal(w.searchFinished, timeout=3000):
        w.search.setText("niteroi")
    assert w.results.count() == 1 and w.results.item(0).text().startswith("Maria Garcia")
    w.search.clear()

    type_reply(w, qtbot, "primeira")
    type_reply(w, qtbot, "segunda")
    m = w.thread_model
    qtbot.waitUntil(lambda: thread(w, MsgRole.IS_OUTBOX) == [False, True, True])
    qtbot.waitUntil(lambda: thread(w, MsgRole.STATUS)[1:] == ["queued", "queued"])
    assert [m.item_at(r).text for r in (1, 2)] == ["primeira", "segunda"]  # type: ignore[union-attr]
    assert all(isinstance(m.item_at(r), OutboxItem) for r in (1, 2))
    assert live.graph.sent_texts() == []

    live.start_relay()  # back, on the same database and address: the console finds it alone
    wait_live(w, qtbot)
    qtbot.waitUntil(lambda: len(live.graph.sent_texts()) >= 2, timeout=8000)
    qtbot.waitUntil(lambda: thread(w, MsgRole.STATUS)[1:] == ["sent", "sent"], timeout=5000)
    assert thread(w) == ["Vocês entregam em Niterói?", "primeira", "segunda"]
    # exactly once: a third reply goes out right behind them, and nothing else did
    type_reply(w, qtbot, "terceira")
    qtbot.waitUntil(lambda: len(live.graph.sent_texts()) >= 3, timeout=5000)
    assert live.graph.sent_texts() == ["primeira", "segunda", "terceira"]


# -- the event stream is cut --------------------------------------------------------------------


def test_a_cut_event_stream_resumes_with_every_message_exactly_once(live: Live, qtbot: Any) -> None:
    relay = live.start_relay()
    post(relay, text_webhook("m1", "m2", wamid="wamid.c1"))
    w = live.open_console()
    qtbot.waitUntil(lambda: contacts(w) == ["Maria Garcia"])
    open_conversation(w, qtbot, "Maria Garcia")
    maria = conversation_id(w, "Maria Garcia")
    post(relay, text_webhook("m3", wamid="wamid.c2"))
    qtbot.waitUntil(lambda: thread(w) == ["m1", "m2", "m3"])

    live.stop_relay()  # the stream is cut while the console follows it
    qtbot.waitUntil(lambda: w.connection.state is ConnectionState.RECONNECTING, timeout=5000)
    # Meanwhile customers keep writing (Meta reaches another relay on the same database).
    other = live.other_relay()
    post(other, text_webhook(*(f"m{n}" for n in range(4, 24)), wamid="wamid.c3"))
    post(other, text_webhook("Hello", wa_id=OLIVER, name="Oliver", wamid="wamid.c4"))
    other.close()

    # The relay comes back; the console resumes from its cursor. Mid-way through that catch-up
    # the console's own stream is cut once more (as a flaky network would).
    cut: list[int] = []

    def cut_mid_catch_up(done: int, total: int) -> None:
        if not cut and 5 <= done < total:
            cut.append(done)
            assert live.service is not None
            live.service.reconnect()

    live.service.stream.REPORT_EVERY_S = 0  # type: ignore[union-attr]  # report every event
    w.hub.catchUp.connect(cut_mid_catch_up)
    relay = live.start_relay()
    qtbot.waitUntil(lambda: len(contacts(w)) == 2, timeout=8000)
    post(relay, text_webhook("m24", wamid="wamid.c5"))  # and live again
    expected = [f"m{n}" for n in range(1, 25)]
    qtbot.waitUntil(lambda: thread(w) == expected, timeout=8000)
    assert cut, "the catch-up was not cut mid-way"

    # Every message once, in the thread, in the cache and in the list; the cursor is at the end.
    on_relay = [m["id"] for m in relay.messages(maria, limit=100)]
    assert thread(w, MsgRole.MESSAGE_ID) == sorted(on_relay) and len(on_relay) == 24
    assert live.cache is not None
    cached = live.run(live.cache.messages(maria, limit=1000))
    assert [m.id for m in cached] == sorted(on_relay)
    assert sorted(contacts(w)) == ["Maria Garcia", "Oliver"]
    assert live.run(live.cache.event_cursor()) == event_head(relay)


# -- the first catch-up -------------------------------------------------------------------------


def test_the_first_catch_up_shows_its_progress_then_goes_away(live: Live, qtbot: Any) -> None:
    relay = live.start_relay()
    post(relay, text_webhook(*(f"pedido {n}" for n in range(300)), wamid="wamid.h1"))
    head = event_head(relay)  # a message and a conversation update each: 600 events
    w = live.open_console(start=False)
    indicator = w.catch_up
    shown: list[tuple[bool, str, int, int]] = []

    def looked(_done: int, _total: int) -> None:  # after the window's own slot ran
        bar = indicator.bar
        shown.append((indicator.isVisible(), indicator.label.text(), bar.value(), bar.maximum()))

    w.hub.catchUp.connect(looked)
    assert not indicator.isVisible()
    live.run(live.service.start())  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: live.run(live.cache.event_cursor()) == head, timeout=15000)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: not indicator.isVisible())

    assert shown[0] == (True, f"Catching up with the relay… 0 of {head} events", 0, head)
    values = [value for visible, _, value, _ in shown if visible]
    assert values == sorted(values) and any(0 < v < head for v in values)  # it moves
    assert shown[-1][0] is False  # and is gone once the newest event is applied
    qtbot.waitUntil(lambda: contacts(w) == ["Maria Garcia"])
    # live events afterwards are not a catch-up
    seen = len(shown)
    post(relay, text_webhook("mais um", wamid="wamid.h2"))
    qtbot.waitUntil(lambda: w.list_model.data(w.list_model.index(0), ConvRole.PREVIEW) == "mais um")
    assert len(shown) == seen and not indicator.isVisible()
