"""`omnidesk-relay` as an administrator uses it: settings errors, agents, channels, serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from relay.store.agents import agent_for_token
from relay.store.database import Database
from relay.testing.graph_standin import GraphStandIn
from relay.testing.server import free_port
from tests.relay.conftest import APP_SECRET, RelayHarness

RELAY = [sys.executable, "-m", "relay.cli"]


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIDESK_")}
    env.update(
        OMNIDESK_RELAY_DATABASE_URL=database_url,
        OMNIDESK_META_APP_SECRET=APP_SECRET.decode(),
        OMNIDESK_META_VERIFY_TOKEN="v",
        OMNIDESK_META_ACCESS_TOKEN="standin-token",
        **extra,
    )
    return env


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        RELAY + args, env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def test_a_missing_setting_stops_the_start_with_one_clear_line(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    del env["OMNIDESK_META_APP_SECRET"]
    result = run(["serve"], env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "omnidesk-relay: missing required setting OMNIDESK_META_APP_SECRET"
    ]


def test_agents_add_list_revoke(database_url: str) -> None:
    env = cli_env(database_url)
    added = run(["agents", "add", "carla"], env)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    db = Database(database_url)
    try:
        assert db.read_sync(agent_for_token(token)) == "carla"
        assert run(["agents", "add", "carla"], env).returncode == 1
        assert "carla\tactive" in run(["agents", "list"], env).stdout
        assert run(["agents", "revoke", "carla"], env).returncode == 0
        assert db.read_sync(agent_for_token(token)) is None
        assert "carla\trevoked" in run(["agents", "list"], env).stdout
    finally:
        db.close()
    assert token not in run(["agents", "list"], env).stdout


def test_channels_appear_with_their_first_webhook_and_take_their_own_token(
    relay: RelayHarness, graph: GraphStandIn
) -> None:
    env = cli_env(relay.settings.relay_database_url)
    assert run(["channels", "list"], env).stdout == ""
    relay.post_sample("wa_webhook_text.json")
    channel = "whatsapp:109876543210987"
    assert f"{channel}\t15550123456\tdefault token" in run(["channels", "list"], env).stdout
    assert run(["channels", "name", channel, "Sales BR"], env).returncode == 0
    graph.tokens.add("channel-own-token")
    assert run(["channels", "set-token", channel], env, stdin="channel-own-token\n").returncode == 0
    listed = run(["channels", "list"], env).stdout
    assert f"{channel}\tSales BR\town token" in listed and "channel-own-token" not in listed
    assert relay.conversations()[0]["channel"]["name"] == "Sales BR"
    conversation_id = relay.conversations()[0]["id"]
    relay.api.post(f"/v1/conversations/{conversation_id}/messages", json={"text": "hi"})
    (send,) = graph.wait_for_requests(1)
    assert send.headers["authorization"] == "Bearer channel-own-token"
    assert run(["channels", "name", "whatsapp:0", "x"], env).returncode == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_answers_and_stops_on_sigterm(database_url: str) -> None:
    port = free_port()
    env = cli_env(database_url, OMNIDESK_LOG_JSON="true")
    proc = subprocess.Popen(
        RELAY + ["serve", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "relay did not start"
                time.sleep(0.1)
        assert health.json()["store"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    assert stderr and all(line.startswith("{") for line in stderr.strip().splitlines()), stderr
