"""Everything `omnidesk demo` runs beside the console, on 127.0.0.1, in a temporary folder:
the Graph API stand-in, the relay (as `omnidesk-relay serve`, on SQLite), a demo agent, the
reference bot when RabbitMQ answers, and the customer simulator. `close()` stops them all."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import httpx

from relay.demo.simulator import CustomerSimulator
from relay.store.agents import add_agent
from relay.store.database import Database
from relay.store.migrate import migrate
from relay.testing.graph_standin import DEFAULT_TOKEN, GraphStandIn
from relay.testing.server import free_port

log = logging.getLogger(__name__)

APP_SECRET = "omnidesk-demo-app-secret"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def amqp_address(url: str) -> str:
    """``host:port`` of an AMQP URL, without the credentials (what the console may show)."""
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}"


def rabbitmq_reachable(url: str = DEFAULT_AMQP_URL) -> bool:
    """The demo's bot needs RabbitMQ at ``url``; without it the bot is off."""
    host, _, port = amqp_address(url).rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


class DemoStack:
    def __init__(
        self,
        *,
        with_bot: bool | None = None,
        every_s: float = 4.0,
        amqp_url: str = DEFAULT_AMQP_URL,
    ) -> None:
        """``with_bot`` None: run the bot if RabbitMQ answers at ``amqp_url``."""
        self.folder = Path(tempfile.mkdtemp(prefix="omnidesk-demo-"))
        self.amqp_url = amqp_url
        self.with_bot = rabbitmq_reachable(amqp_url) if with_bot is None else with_bot
        self.every_s = every_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.graph = GraphStandIn()
        self.token = ""
        self._processes: list[subprocess.Popen[bytes]] = []
        self._simulator: CustomerSimulator | None = None
        queue_prefix = f"omnidesk.demo.{uuid.uuid4().hex[:8]}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIDESK_")} | {
            "OMNIDESK_RELAY_DATABASE_URL": f"sqlite:///{self.folder / 'relay.sqlite3'}",
            "OMNIDESK_META_APP_SECRET": APP_SECRET,
            "OMNIDESK_META_VERIFY_TOKEN": "demo",
            "OMNIDESK_META_ACCESS_TOKEN": DEFAULT_TOKEN,
            "OMNIDESK_RELAY_PUBLIC_URL": self.url,
        }
        if self.with_bot:
            self.env |= {
                "OMNIDESK_AMQP_URL": amqp_url,
                "OMNIDESK_BOT_INBOUND_QUEUE": f"{queue_prefix}.inbound",
                "OMNIDESK_BOT_OUTBOUND_QUEUE": f"{queue_prefix}.outbound",
            }

    def start(self) -> DemoStack:
        self.graph.start()
        self.env |= {
            "OMNIDESK_GRAPH_BASE_URL": self.graph.base_url,
            "OMNIDESK_INSTAGRAM_GRAPH_BASE_URL": self.graph.instagram_base_url,
        }
        db = Database(self.env["OMNIDESK_RELAY_DATABASE_URL"])
        migrate(db.engine)
        self.token = db.write_sync(add_agent("demo"))
        db.close()
        log_file = open(self.folder / "relay.log", "ab")
        self._log = log_file
        self._spawn("serve", "--port", str(self.port))
        if self.with_bot:
            self._spawn("bot-demo")
        self._wait_healthy()
        self._simulator = CustomerSimulator(
            self.url, APP_SECRET.encode(), self.graph, every_s=self.every_s
        ).start()
        return self

    def _spawn(self, *args: str) -> None:
        self._processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "relay.cli", *args],
                env=self.env,
                stdout=self._log,
                stderr=self._log,
            )
        )

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the demo relay did not start; see {self.folder / 'relay.log'}")

    def close(self) -> None:
        if self._simulator is not None:
            self._simulator.stop()
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.graph.stop()
        if self.with_bot:
            asyncio.run(self._delete_queues())
        if hasattr(self, "_log"):
            self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    async def _delete_queues(self) -> None:
        try:
            connection = await aio_pika.connect(self.amqp_url, timeout=3)
        except Exception:
            return
        async with connection:
            channel = await connection.channel()
            for name in (
                self.env["OMNIDESK_BOT_INBOUND_QUEUE"],
                self.env["OMNIDESK_BOT_OUTBOUND_QUEUE"],
            ):
                for queue in (name, f"{name}.dead"):
                    await channel.queue_delete(queue)

    def __enter__(self) -> DemoStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
