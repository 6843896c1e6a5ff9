"""Waiting for something the servers do, in async tests: poll, and fail with a clear line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> float:
    """Seconds until ``predicate()`` held (the IDLE tests report them)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def wait_for_async(check: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
    """Like :func:`wait_until` for a coroutine function (a cache read, say): its first
    truthy result."""
    start = time.monotonic()
    while not (result := await check()):
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
    return result


async def wait_in_thread(check: Callable[[], T], timeout: float = 10.0) -> T:
    """Like :func:`wait_for_async` for a blocking check (an HTTP call, a SQL read), run in a
    thread so the event loop (a relay, a broker client) goes on meanwhile."""
    return await wait_for_async(lambda: asyncio.to_thread(check), timeout)
