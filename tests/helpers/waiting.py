"""Waiting for something the servers do, in async tests: poll, and fail with a clear line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> float:
    """Seconds until ``predicate()`` held (the IDLE tests report them)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def wait_for_async(check: Callable[[], Awaitable[object]], timeout: float = 10.0) -> None:
    """Like :func:`wait_until` for a coroutine function (a cache read, say)."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
