"""The machine's real servers: find them, or say clearly why a test cannot run.

On a developer laptop a missing service skips its tests with the reason; in CI (where the
`CI` variable is set) a missing service fails them, so nothing is silently not tested.
"""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "OMNIDESK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
AMQP_URL = os.environ.get("OMNIDESK_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def unavailable(what: str, how_to_start: str) -> None:
    message = f"{what} is not reachable; start it with: {how_to_start}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_postgres() -> str:
    if not port_open("127.0.0.1", 5432):
        unavailable(
            "PostgreSQL on 127.0.0.1:5432",
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        )
    return POSTGRES_ADMIN_URL


def require_rabbitmq() -> str:
    if not port_open("127.0.0.1", 5672):
        unavailable("RabbitMQ on 127.0.0.1:5672", "rabbitmq-server -detached")
    return AMQP_URL
