from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from omnidesk.services.backoff import Backoff
from omnidesk.services.console import ConsoleService
from omnidesk.services.relay_client import RelayClient
from omnidesk.services.wire import parse_conversation, parse_message
from omnidesk.settings import Settings
from omnidesk.storage import Cache
from omnidesk.ui.main_window import MainWindow
from omnidesk.ui.ops import ChangeHub, OpRunner
from tests.helpers.console_factories import conversation_json, message_json
from tests.helpers.fake_relay import FakeRelay

T = TypeVar("T")
Run = Callable[[Coroutine[Any, Any, T]], T]


@pytest.fixture
def arun(qloop: asyncio.AbstractEventLoop, qtbot: Any) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Run a coroutine on the qasync loop from a synchronous test and return its result."""

    def run(coro: Coroutine[Any, Any, T], timeout: int = 5000) -> T:
        task = asyncio.ensure_future(coro)
        qtbot.waitUntil(task.done, timeout=timeout)
        return task.result()

    return run


def seed(relay: FakeRelay) -> None:
    """A small, realistic inbox on the fake relay."""
    people = [
        (1, "Ana Souza", "whatsapp", "open", "bot", None, 2),
        (2, "Bruno Lima", "instagram", "open", "human", "joao", 0),
        (3, "Carla Dias", "whatsapp", "pending", "human", None, 1),
        (4, "<b>Bob</b> & Co", "whatsapp", "open", "bot", None, 0),
        (5, "Daniela Rocha", "instagram", "resolved", "human", "maria", 0),
    ]
    for cid, name, channel, status, mode, assignee, unread in people:
        relay.add_conversation(
            conversation_json(
                cid,
                name,
                channel=channel,
                status=status,
                mode=mode,
                assignee=assignee,
                unread=unread,
                minute=cid * 10,
                handle="@" + name.split()[0].lower() if channel == "instagram" else None,
            )
        )
    mid = 0

    def say(cid: int, text: str | None, **kw: Any) -> int:
        nonlocal mid
        mid += 1
        minute = cid * 10 + mid * 0.1
        relay.add_message(message_json(mid, cid, text, minute=minute, **kw), event=False)
        return mid

    say(1, "Oi! Vocês têm o tênis azul no tamanho 42?")
    say(1, "Olá Ana! Temos sim. Quer que eu reserve?", direction="out", author="bot", status="read")
    say(1, "Quero falar com um atendente, por favor")
    q = say(2, "Meu pedido #4821 ainda não chegou")
    say(
        2,
        "Sinto muito, Bruno! Vou verificar agora.",
        direction="out",
        author="agent:joao",
        status="read",
        reply_to=q,
    )
    say(
        2,
        None,
        type="image",
        payload={
            "media": {
                "id": "m1",
                "mime_type": "image/jpeg",
                "caption": "foto da etiqueta",
                "filename": None,
            }
        },
    )
    say(
        2,
        "Encontrei: ele sai para entrega hoje à tarde.",
        direction="out",
        author="agent:joao",
        status="delivered",
    )
    say(
        2,
        "Obrigado!!",
        direction="out",
        author="agent:joao",
        status="failed",
        error={
            "code": 131047,
            "title": "Re-engagement message",
            "detail": "More than 24 hours have passed since the customer last replied.",
        },
    )
    say(3, "Vocês entregam em Niterói?")
    say(
        3,
        None,
        type="document",
        payload={
            "media": {
                "id": "d1",
                "mime_type": "application/pdf",
                "caption": None,
                "filename": "comprovante.pdf",
            }
        },
    )
    say(4, "<img src=x> <b>not bold</b>")
    say(5, "Tudo certo, obrigada!", direction="in")


class UI:
    def __init__(
        self,
        window: MainWindow,
        service: ConsoleService,
        relay: FakeRelay,
        cache: Cache,
        hub: ChangeHub,
        run: Callable[..., Any],
    ) -> None:
        self.window = window
        self.service = service
        self.relay = relay
        self.cache = cache
        self.hub = hub
        self.run = run


@pytest.fixture
def ui(arun: Callable[..., Any], qtbot: Any, tmp_path: Path) -> Iterator[UI]:
    relay = FakeRelay()
    seed(relay)
    cache: Cache = arun(Cache.open(tmp_path / "cache.sqlite3"))
    # What a first sync would have stored.
    arun(cache.upsert_conversations([parse_conversation(c) for c in relay.conversations.values()]))
    arun(cache.upsert_messages([parse_message(m) for m in relay.messages.values()]))
    hub = ChangeHub()
    ops = OpRunner(hub)
    service = ConsoleService(
        RelayClient(relay.client(), token="tok"),
        cache,
        on_changes=hub.publish,
        on_state=hub.set_connection,
        stream_backoff=Backoff(initial=0.01, maximum=0.05),
        outbox_backoff=Backoff(initial=0.01, maximum=0.05),
    )
    service.me = "joao"
    window = MainWindow(service, hub, ops, Settings(relay_url="http://relay.test"))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.list_model.rowCount() == 5)
    qtbot.waitUntil(lambda: ops.pending == 0)
    yield UI(window, service, relay, cache, hub, arun)
    window.close()
    qtbot.waitUntil(lambda: ops.pending == 0)
    arun(service.shutdown())
    arun(cache.close())
