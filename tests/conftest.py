"""Qt and qasync plumbing for the console's tests. Kept small on purpose.

One qasync loop serves the whole run. ``qloop`` marks it as the running loop only for the
duration of one UI test (a loop left marked running would break pytest-asyncio tests), and
fails the test if it leaves tasks behind. UI tests stay synchronous and wait with qtbot.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"

import pytest

from omnidesk.storage import Cache


@pytest.fixture(scope="session")
def qasync_loop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    import PySide6  # noqa: F401  (before qasync)
    import qasync

    loop = qasync.QEventLoop(qapp)
    yield loop
    loop.close()  # once, at the end of the run, while the QApplication still exists


@pytest.fixture
def qloop(
    qasync_loop: asyncio.AbstractEventLoop, qtbot: Any
) -> Iterator[asyncio.AbstractEventLoop]:
    asyncio.events._set_running_loop(qasync_loop)
    try:
        yield qasync_loop
        pending = [t for t in asyncio.all_tasks(qasync_loop) if not t.done()]
        if pending:
            try:
                qtbot.waitUntil(lambda: all(t.done() for t in pending), timeout=2000)
            except Exception:
                for t in pending:
                    t.cancel()
                qtbot.waitUntil(lambda: all(t.done() for t in pending), timeout=2000)
                pytest.fail(f"the test left tasks running: {pending!r}")
    finally:
        asyncio.events._set_running_loop(None)


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[Cache]:
    """A fresh console cache in the test's folder (for the services' and storage's tests)."""
    opened = await Cache.open(tmp_path / "cache.sqlite3")
    yield opened
    await opened.close()
