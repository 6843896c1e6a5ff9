"""A real relay per test: uvicorn on a loopback port, on SQLite and on the machine's PostgreSQL,
sending to the Graph API stand-in."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlmodel import SQLModel

from relay.app import create_app
from relay.settings import Settings
from relay.store.agents import AgentExists, add_agent
from relay.store.database import Database
from relay.store.migrate import migrate
from relay.testing.graph_standin import DEFAULT_TOKEN, GraphStandIn
from relay.testing.server import ThreadedServer
from relay.webhooks.signature import signature_for
from tests.helpers.meta_samples import SAMPLES
from tests.helpers.services import require_postgres

APP_SECRET = b"relay-acceptance-app-secret"
IG_SECRET = b"relay-acceptance-ig-app-secret"
VERIFY_TOKEN = "a-verify-token"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> Any:
    return json.loads(sample(name))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    admin_url = require_postgres()
    name = f"omnidesk_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    db = Database(url)
    migrate(db.engine)
    db.close()
    yield url
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_all(url: str) -> None:
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'relay.sqlite3'}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_all(url)
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Database]:
    """The relay's store, migrated, without a relay around it."""
    database = Database(database_url)
    migrate(database.engine)
    yield database
    database.close()


@pytest.fixture(scope="session")
def graph_session() -> Iterator[GraphStandIn]:
    with GraphStandIn() as graph:
        yield graph


@pytest.fixture
def graph(graph_session: GraphStandIn) -> GraphStandIn:
    graph_session.reset()
    return graph_session


def relay_settings(database_url: str, graph: GraphStandIn, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "relay_database_url": database_url,
        "meta_app_secret": [APP_SECRET.decode()],
        "instagram_app_secret": [IG_SECRET.decode()],
        "meta_verify_token": VERIFY_TOKEN,
        "meta_access_token": DEFAULT_TOKEN,
        "graph_base_url": graph.base_url,
        "instagram_graph_base_url": graph.instagram_base_url,
        "send_retry_scale": 0.02,
        "event_poll_s": 0.05,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class RelayHarness:
    """One running relay, an agent token for it, and ways to talk to it as Meta and as agents."""

    def __init__(self, settings: Settings, *, port: int = 0) -> None:
        """``port``: 0 for a free one; a stopped relay's port brings it back where clients
        look for it."""
        self.settings = settings
        db = Database(settings.relay_database_url)
        migrate(db.engine)
        self.token = self._new_agent(db, "ana")
        self.other_token = self._new_agent(db, "bruno")
        db.close()
        self.server = ThreadedServer(create_app(settings), port=port).start()
        self.url = self.server.url
        self.api = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )
        self.http = httpx.Client(base_url=self.url, timeout=10)

    @staticmethod
    def _new_agent(db: Database, name: str) -> str:
        """A token for `name`, or for `name-2`... when a previous relay on this store made one."""
        for suffix in ["", *(f"-{n}" for n in range(2, 10))]:
            try:
                return db.write_sync(add_agent(name + suffix))
            except AgentExists:
                continue
        raise AssertionError("too many relays on one store")

    def post_webhook(
        self,
        body: bytes | dict[str, Any],
        *,
        secret: bytes = APP_SECRET,
        signature: str | None = None,
    ) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        sig = signature if signature is not None else signature_for(secret, raw)
        if sig:
            headers["X-Hub-Signature-256"] = sig
        return self.http.post("/webhooks/meta", content=raw, headers=headers)

    def post_sample(self, name: str) -> httpx.Response:
        return self.post_webhook(
            sample(name), secret=IG_SECRET if name.startswith("ig_") else APP_SECRET
        )

    def conversations(self, **params: Any) -> list[dict[str, Any]]:
        response = self.api.get("/v1/conversations", params=params)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def messages(self, conversation_id: int, **params: Any) -> list[dict[str, Any]]:
        response = self.api.get(f"/v1/conversations/{conversation_id}/messages", params=params)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def wait_until(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            time.sleep(0.02)

    def close(self) -> None:
        self.api.close()
        self.http.close()
        self.server.stop()


@pytest.fixture
def relay_factory(database_url: str, graph: GraphStandIn) -> Iterator[Callable[..., RelayHarness]]:
    started: list[RelayHarness] = []

    def start(**overrides: Any) -> RelayHarness:
        harness = RelayHarness(relay_settings(database_url, graph, **overrides))
        started.append(harness)
        return harness

    yield start
    for harness in started:
        harness.close()


@pytest.fixture
def relay(relay_factory: Callable[..., RelayHarness]) -> RelayHarness:
    return relay_factory()
