"""What the benchmark scripts share: child processes they start and stop, and percentiles.

Each benchmark runs servers (the relay, a bare app, the bot) as child processes in their own
process group, logging to a file in the run's work folder, so a failed start can show its
last lines and a stop never leaves anything behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


def say(line: str) -> None:
    print(line, flush=True)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN when there is nothing to rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL; only the process group we started."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def running(name: str, argv: list[str], env: dict[str, str], workdir: Path) -> Iterator[Proc]:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=workdir,  # no stray .env from the caller's directory
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as one
        )
    try:
        yield Proc(name, proc, log)
    finally:
        stop_process(proc)


def wait_for(what: str, check: Callable[[], object], proc: Proc, timeout: float = 60.0) -> None:
    """Poll ``check`` until it is true; fail with the child's log if it died or took too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.name} exited at start:\n{proc.tail()}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s:\n{proc.tail()}")


def child_env(**extra: str) -> dict[str, str]:
    """The caller's environment without its OMNIDESK_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIDESK_")}
    env.update(extra)
    return env


def relay_command() -> list[str]:
    script = Path(sys.executable).parent / "omnidesk-relay"
    found = str(script) if script.exists() else shutil.which("omnidesk-relay")
    if not found:
        raise RuntimeError("omnidesk-relay is not installed: run with `uv run python ...`")
    return [found]
