"""How fast the relay takes Meta's WhatsApp webhooks, beside a bare endpoint of the same framework.

Run it from the repository root::

    uv run python benchmarks/relay_ingest.py [--duration 10] [--skip-postgres]

Method
------
Everything runs on this machine, over loopback, each server in its own process and the
load generator in yet another one (the script only orchestrates; it never serves or loads).

1. **Bodies.** Before any load, the script writes files of signed WhatsApp text webhooks
   shaped like ``shared/meta-samples/wa_webhook_text.json``: every body has its own wamid
   (so the relay really stores each one), the customer cycles over 500 WhatsApp numbers
   (so there are 500 realistic conversations), and each line carries the exact
   ``X-Hub-Signature-256`` (HMAC-SHA256 of the body bytes with the benchmark's app secret).
   Each wrk thread reads its own file, so no body is posted twice in a run.
2. **Bare baseline.** A FastAPI app whose POST route only reads the body and answers 200,
   served by uvicorn exactly as ``omnidesk-relay serve`` serves the relay (one worker,
   ``uvicorn.run`` defaults: uvloop and httptools when installed, no access log). Loaded
   with Debian's ``wrk``: 2 threads, 64 connections, ``--duration`` seconds, same bodies.
3. **The relay as a user runs it.** ``omnidesk-relay serve --host 127.0.0.1 --port P``
   with the ``OMNIDESK_*`` settings in its environment, first on a fresh SQLite file in a
   temporary directory, then on a fresh PostgreSQL database created for the run on the
   machine's server (and dropped afterwards). The Graph API base URL points at an unused
   loopback port: ingest sends nothing. Same wrk load as the baseline ("saturated").
4. **Latency at a steady rate.** wrk is closed-loop (each connection waits for its answer
   before the next request), so it cannot say how fast a relay answers at a normal load.
   Debian has no ``wrk2``; this script re-runs itself as an open-loop aiohttp load
   generator (a separate process) that schedules 200 webhooks/s for ``--duration`` seconds
   over at most 16 connections and measures every latency from the request's *scheduled*
   send time, so a stall also counts against the requests queued behind it (no
   coordinated omission). Before it starts, the script waits until the relay has stored
   the requests wrk left in flight, so the steady phase meets an idle relay. Requests still
   unanswered 5 s after the last slot are given up and counted with the time they had
   waited: if the relay cannot keep up with 200/s, p99 is then a lower bound (the output
   says so).
5. **Correctness.** After each relay run the script counts the stored messages of the
   benchmark directly in the database and checks that every webhook acknowledged with a
   200 was stored: ``acknowledged <= stored <= acknowledged + sent-but-not-seen-answered``
   (requests wrk had in flight when it stopped, and steady ones given up, are stored but
   not counted as acknowledged), that no answer was other than 200 and no socket error
   occurred, and that nothing landed in ``unsupportedpayload``.

Reading the figures
-------------------
- ``bare_rps``: what one uvicorn worker running FastAPI can answer at all on this box
  while wrk shares the 2 cores with it: the ceiling for any FastAPI route.
- ``relay_rps`` / ``relay_rps_postgres``: signed, parsed, normalised and *committed*
  webhooks per second at saturation; ``ratio`` = relay over bare (goal: at least 0.4).
  For scale: Meta allows 80 messages/s per business number by default.
- ``relay_p50_ms_saturated`` / ``relay_p99_ms_saturated`` (wrk's figures): latency when
  64 connections keep the relay saturated; mostly time spent queued in the relay, about
  64 / relay_rps seconds.
- ``p50_ms_at_200`` / ``p99_ms_at_200`` (and ``_postgres``): latency at a steady 200
  webhooks/s (2.5 times a number's default limit), what Meta would see on a busy day;
  goal: p99 under 50 ms.
- ``stored`` vs ``acknowledged``: a 200 promises the webhook was committed; any
  shortfall is a bug, and is printed as FAIL.

The last line of output is one JSON object with every figure (PostgreSQL ones are null
with ``--skip-postgres``). Nothing here is a pass or fail test of speed; the exit status
is 1 only when a stored count does not match. The machine has 2 cores that the servers,
wrk and the database share: anything else running skews every figure, far more than the
run-to-run noise, so the JSON carries the load average before and after; compare the
figures of one run with each other (``ratio``), not across runs on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _processes import (
    Proc,
    child_env,
    percentile,
    relay_command,
    running,
    say,
    wait_for,
)

from relay.testing.server import free_port

APP_SECRET = "bench-app-secret"
VERIFY_TOKEN = "bench-verify-token"
ACCESS_TOKEN = "bench-access-token"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
WRK = "/usr/bin/wrk"
WRK_THREADS = 2
WRK_CONNECTIONS = 64
CUSTOMERS = 500
STEADY_RATE = 200.0
STEADY_CONNECTIONS = 16
STEADY_GRACE_S = 5.0  # how long the steady phase waits for late answers after its last send
SETTLE_S = 15.0  # how long to wait for wrk's last requests to be stored before the next phase
PHONE_NUMBER_ID = "109876543210987"
WAMID_PREFIX = "wamid.HBgLMTY1MDU1NTAxNDIVAgASGBQzQkVOQ0g"  # every benchmark wamid starts so
# wrk requests a body file can hold before it wraps (and posts duplicates): per second and thread
BODIES_PER_THREAD_SECOND = 4_000

RESULT_PREFIX = "BENCH_RESULT "

WRK_LUA = r"""
-- Signed WhatsApp webhooks, each thread from its own file: "<signature>\t<body>" per line.
local threads = {}
local sigs = {}
local bodies = {}
local n = 0
counter = 0  -- global: done() reads it through thread:get

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1] .. "/wrk-bodies-" .. tid .. ".txt"
  for line in io.lines(path) do
    local tab = line:find("\t", 1, true)
    n = n + 1
    sigs[n] = line:sub(1, tab - 1)
    bodies[n] = line:sub(tab + 1)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local i = ((counter - 1) % n) + 1
  wrk.headers["X-Hub-Signature-256"] = sigs[i]
  return wrk.format(nil, nil, nil, bodies[i])
end

function done(summary, latency, requests)
  local sent = 0
  for _, t in ipairs(threads) do
    sent = sent + t:get("counter")
  end
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"sent":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    "BENCH_RESULT ", summary.requests, summary.duration, sent, e.status, e.connect, e.read,
    e.write, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""

BARE_APP = r"""
import sys

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()


@app.post("/webhooks/meta")
async def receive(request: Request) -> Response:
    await request.body()
    return Response(status_code=200)


@app.get("/healthz")
async def healthz() -> Response:
    return Response(status_code=200)


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
"""


# ----------------------------------------------------------------------------- bodies


def _body_template() -> str:
    """Meta's sample as compact JSON, with `{wa}`, `{name}`, `{id}`, `{ts}`, `{text}` slots."""
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "210987654321098",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550123456",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": "@name@"}, "wa_id": "@wa@"}],
                            "messages": [
                                {
                                    "from": "@wa@",
                                    "id": "@id@",
                                    "timestamp": "@ts@",
                                    "type": "text",
                                    "text": {"body": "@text@"},
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    template = json.dumps(body, separators=(",", ":")).replace("{", "{{").replace("}", "}}")
    for slot in ("wa", "name", "id", "ts", "text"):
        template = template.replace(f"@{slot}@", "{" + slot + "}")
    return template


BODY_TEMPLATE = _body_template()


def webhook_body(index: int, tag: str) -> bytes:
    """One WhatsApp text webhook like Meta's sample, with its own wamid and a customer.

    The slots are filled with plain ASCII that needs no JSON escaping (a template is ~5x
    faster than `json.dumps` per body, and the script writes tens of thousands).
    """
    customer = index % CUSTOMERS
    return BODY_TEMPLATE.format(
        wa=f"1650555{customer:04d}",
        name=f"Customer {customer}",
        id=f"{WAMID_PREFIX}{tag}{index:09d}AA=",
        ts=1789207200 + index // 100,
        text=f"Hi! Do you have the blue jacket in size M? ({index})",
    ).encode()


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def write_bodies(path: Path, tag: str, start: int, count: int) -> None:
    """`count` signed bodies, numbered from `start`, one "<signature>\\t<body>" per line."""
    with path.open("wb") as out:
        for index in range(start, start + count):
            body = webhook_body(index, tag)
            out.write(signature(body).encode() + b"\t" + body + b"\n")


def read_bodies(path: Path) -> list[tuple[str, bytes]]:
    items = []
    with path.open("rb") as src:
        for line in src:
            sig, _, body = line.rstrip(b"\n").partition(b"\t")
            items.append((sig.decode(), body))
    return items


# ----------------------------------------------------------------------------- processes


@contextlib.contextmanager
def serving(
    name: str, argv: list[str], env: dict[str, str], port: int, workdir: Path
) -> Iterator[Proc]:
    """Run a server on ``port`` until its /healthz answers 200."""
    with running(name, argv, env, workdir) as proc:
        wait_for(name, lambda: healthy(local_url(port)), proc)
        yield proc


def local_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def relay_env(database_url: str) -> dict[str, str]:
    return child_env(
        OMNIDESK_RELAY_DATABASE_URL=database_url,
        OMNIDESK_META_APP_SECRET=APP_SECRET,
        OMNIDESK_META_VERIFY_TOKEN=VERIFY_TOKEN,
        OMNIDESK_META_ACCESS_TOKEN=ACCESS_TOKEN,
        OMNIDESK_GRAPH_BASE_URL=f"http://127.0.0.1:{free_port()}/v25.0",
        OMNIDESK_INSTAGRAM_GRAPH_BASE_URL=f"http://127.0.0.1:{free_port()}/v25.0",
    )


# ----------------------------------------------------------------------------- load


@dataclass
class WrkResult:
    rps: float
    requests: int
    sent: int
    non2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def acknowledged(self) -> int:
        return self.requests - self.non2xx


def run_wrk(url: str, duration: float, workdir: Path) -> WrkResult:
    script = workdir / "webhooks.lua"
    script.write_text(WRK_LUA)
    argv = [
        WRK,
        f"-t{WRK_THREADS}",
        f"-c{WRK_CONNECTIONS}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        f"{url}/webhooks/meta",
        "--",
        str(workdir),
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration + 60, check=False, cwd=workdir
    )
    line = next(
        (ln for ln in done.stdout.splitlines() if ln.startswith(RESULT_PREFIX)),
        None,
    )
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix(RESULT_PREFIX))
    seconds = raw["duration_us"] / 1e6
    return WrkResult(
        rps=raw["requests"] / seconds,
        requests=raw["requests"],
        sent=raw["sent"],
        non2xx=raw["non2xx"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
    )


@dataclass
class SteadyResult:
    sent: int
    ok: int
    non200: int
    errors: int
    unanswered: int  # given up after the grace period: their latency is a lower bound
    p50_ms: float
    p99_ms: float
    max_ms: float
    achieved_rps: float


def run_steady(url: str, bodies: Path, rate: float, duration: float) -> SteadyResult:
    """The open-loop generator, in its own process (this very script, `--loadgen`)."""
    argv = [
        sys.executable,
        __file__,
        "--loadgen",
        f"{url}/webhooks/meta",
        "--loadgen-bodies",
        str(bodies),
        "--loadgen-rate",
        str(rate),
        "--duration",
        str(duration),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(RESULT_PREFIX)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"load generator failed:\n{done.stdout}\n{done.stderr}")
    return SteadyResult(**json.loads(line.removeprefix(RESULT_PREFIX)))


async def open_loop(
    url: str, bodies: list[tuple[str, bytes]], rate: float, duration: float
) -> dict[str, Any]:
    """Send `rate` requests/s on schedule, whatever the answers, and time each from its slot.

    Requests still unanswered `STEADY_GRACE_S` after the last slot are given up: their
    latency is counted as the time they had waited by then (a lower bound), so a server
    that cannot keep up shows a huge p99 instead of a run that never ends.
    """
    import aiohttp

    total = min(len(bodies), int(rate * duration))
    latencies: list[float] = []
    counts = {"ok": 0, "non200": 0, "errors": 0}
    connector = aiohttp.TCPConnector(limit=STEADY_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=duration + STEADY_GRACE_S + 30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def post(index: int, scheduled: float) -> None:
            sig, body = bodies[index]
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sig}
            try:
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                counts["errors"] += 1
                return
            # From the scheduled time, not from when a connection was free: no coordinated
            # omission (a stall counts against every request that should have gone meanwhile).
            latencies.append(time.perf_counter() - scheduled)
            counts["ok" if status == 200 else "non200"] += 1

        loop = asyncio.get_running_loop()
        pending: dict[asyncio.Task[None], float] = {}
        start = time.perf_counter() + 0.05
        for index in range(total):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = loop.create_task(post(index, scheduled))
            pending[task] = scheduled
            task.add_done_callback(pending.pop)
        if pending:
            await asyncio.wait(list(pending), timeout=STEADY_GRACE_S)
        given_up = time.perf_counter()
        unanswered = len(pending)
        for task, scheduled in list(pending.items()):
            latencies.append(given_up - scheduled)
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        elapsed = given_up - start
    latencies.sort()
    return {
        "sent": total,
        **counts,
        "unanswered": unanswered,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": (latencies[-1] if latencies else float("nan")) * 1000,
        "achieved_rps": counts["ok"] / elapsed if elapsed > 0 else 0.0,
    }


def loadgen_main(args: argparse.Namespace) -> int:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    bodies = read_bodies(Path(args.loadgen_bodies))
    result = asyncio.run(open_loop(args.loadgen, bodies, args.loadgen_rate, args.duration))
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


# ----------------------------------------------------------------------------- databases


def count_stored(database_url: str) -> dict[str, int]:
    """Benchmark messages (and the conversations they made), read straight from the store."""
    from sqlalchemy import create_engine, text

    url = database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            messages = conn.execute(
                text("SELECT count(*) FROM message WHERE external_id LIKE :prefix"),
                {"prefix": WAMID_PREFIX + "%"},
            ).scalar_one()
            conversations = conn.execute(text("SELECT count(*) FROM conversation")).scalar_one()
            unsupported = conn.execute(text("SELECT count(*) FROM unsupportedpayload")).scalar_one()
    finally:
        engine.dispose()
    return {
        "messages": int(messages),
        "conversations": int(conversations),
        "unsupported": int(unsupported),
    }


def settle(database_url: str, expected: int) -> float:
    """Wait until wrk's last requests are stored; the seconds it took.

    Done when `expected` benchmark messages are stored, or when the count has not moved for
    a second (wrk may have built a last request it never sent), or after `SETTLE_S`.
    """
    started = time.monotonic()
    last, still_since = -1, started
    while time.monotonic() - started < SETTLE_S:
        count = count_stored(database_url)["messages"]
        now = time.monotonic()
        if count >= expected or (count == last and now - still_since >= 1.0):
            break
        if count != last:
            last, still_since = count, now
        time.sleep(0.2)
    return time.monotonic() - started


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL, dropped afterwards whatever happens."""
    from sqlalchemy import create_engine, text

    admin = create_engine(
        "postgresql+psycopg://" + PG_ADMIN_URL.removeprefix("postgresql://"),
        isolation_level="AUTOCOMMIT",
    )
    name = f"omnidesk_bench_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# ----------------------------------------------------------------------------- phases


def bench_bare(workdir: Path, duration: float) -> WrkResult:
    app = workdir / "bare_app.py"
    app.write_text(textwrap.dedent(BARE_APP))
    port = free_port()
    with serving("bare", [sys.executable, str(app), str(port)], child_env(), port, workdir):
        result = run_wrk(local_url(port), duration, workdir)
    say(
        f"bare FastAPI  : {result.rps:8.0f} req/s  p50 {result.p50_ms:6.1f} ms  "
        f"p99 {result.p99_ms:6.1f} ms  (non-2xx {result.non2xx}, socket errors "
        f"{result.socket_errors})"
    )
    return result


@dataclass
class RelayRun:
    saturated: WrkResult
    steady: SteadyResult
    stored: dict[str, int]
    ok: bool


def bench_relay(
    label: str, database_url: str, workdir: Path, duration: float, steady_bodies: Path, unique: int
) -> RelayRun:
    port = free_port()
    argv = [*relay_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with serving(f"relay-{label}", argv, relay_env(database_url), port, workdir) as srv:
        sat = run_wrk(local_url(port), duration, workdir)
        say(
            f"relay {label:<8}: {sat.rps:8.0f} req/s  p50 {sat.p50_ms:6.1f} ms  "
            f"p99 {sat.p99_ms:6.1f} ms  max {sat.max_ms:7.1f} ms  (64 connections, "
            f"non-2xx {sat.non2xx}, socket errors {sat.socket_errors})"
        )
        # wrk stops with requests in flight; the relay still stores them. Let it finish, so
        # the steady phase starts on an idle relay.
        settled = settle(database_url, min(sat.sent, unique))
        if settled > 0.5:
            say(f"relay {label:<8}: {settled:.1f} s to store wrk's last requests")
        steady = run_steady(local_url(port), steady_bodies, STEADY_RATE, duration)
        late = (
            f", {steady.unanswered} unanswered after {STEADY_GRACE_S:.0f} s: "
            "p99 and max are lower bounds"
            if steady.unanswered
            else ""
        )
        say(
            f"relay {label:<8}: at {STEADY_RATE:.0f}/s steady: p50 {steady.p50_ms:6.1f} ms  "
            f"p99 {steady.p99_ms:6.1f} ms  max {steady.max_ms:7.1f} ms  "
            f"({steady.ok}/{steady.sent} answered 200, non-200 {steady.non200}, "
            f"errors {steady.errors}, {steady.achieved_rps:.0f}/s answered{late})"
        )
        if srv.proc.poll() is not None:
            raise RuntimeError(f"relay exited during the run:\n{srv.tail()}")
        stored = count_stored(database_url)
    # wrk's bodies wrap around after `unique` requests: beyond that they are duplicates.
    acknowledged = min(sat.acknowledged, unique) + steady.ok
    # sent but not seen answered: may or may not be stored (all are, unless a bug loses them)
    unseen = max(0, min(sat.sent, unique) - sat.requests) + steady.sent - steady.ok
    ok = (
        acknowledged <= stored["messages"] <= acknowledged + unseen
        and sat.non2xx == 0
        and sat.socket_errors == 0
        and steady.non200 == 0
        and steady.errors == 0
        and stored["unsupported"] == 0
    )
    wrapped = "" if sat.sent <= unique else f" (wrk wrapped its {unique} bodies: raise the limit)"
    say(
        f"relay {label:<8}: stored {stored['messages']} messages in "
        f"{stored['conversations']} conversations; acknowledged {acknowledged} "
        f"(+{unseen} sent but not seen answered), unsupported {stored['unsupported']} -> "
        f"{'OK' if ok else 'FAIL'}{wrapped}"
    )
    return RelayRun(sat, steady, stored, ok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Relay webhook ingest vs a bare FastAPI endpoint (see the module docstring)."
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load phase")
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--loadgen", help=argparse.SUPPRESS)  # internal: open-loop generator
    parser.add_argument("--loadgen-bodies", help=argparse.SUPPRESS)
    parser.add_argument("--loadgen-rate", type=float, default=STEADY_RATE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loadgen:
        return loadgen_main(args)

    # A SIGTERM unwinds like Ctrl-C, so the servers, files and database go away either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not Path(WRK).exists():
        print(f"{WRK} is missing: apt-get install wrk", file=sys.stderr)
        return 2

    results: dict[str, Any] = {}
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="omnidesk-bench-") as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        load_start = os.getloadavg()[0]
        say(
            f"machine: {os.cpu_count()} cores, load average {load_start:.2f} before the run "
            "(anything else running skews every figure)"
        )
        per_thread = max(2_000, int(args.duration * BODIES_PER_THREAD_SECOND))
        for thread in range(WRK_THREADS):
            write_bodies(workdir / f"wrk-bodies-{thread}.txt", "W", thread * per_thread, per_thread)
        steady_bodies = workdir / "steady-bodies.txt"
        write_bodies(steady_bodies, "S", 0, int(STEADY_RATE * args.duration) + 1)
        unique = per_thread * WRK_THREADS
        say(
            f"{unique} signed wrk bodies + {int(STEADY_RATE * args.duration)} steady ones "
            f"over {CUSTOMERS} customers written in {time.monotonic() - started:.1f} s; "
            f"wrk: {WRK_THREADS} threads, {WRK_CONNECTIONS} connections, {args.duration:.0f} s"
        )

        bare = bench_bare(workdir, args.duration)
        results["bare_rps"] = round(bare.rps, 1)
        results["bare_p99_ms"] = round(bare.p99_ms, 2)

        sqlite_url = f"sqlite:///{workdir / 'relay.sqlite3'}"
        run = bench_relay("sqlite", sqlite_url, workdir, args.duration, steady_bodies, unique)
        all_ok &= run.ok
        results |= {
            "relay_rps": round(run.saturated.rps, 1),
            "ratio": round(run.saturated.rps / bare.rps, 3),
            "p50_ms_at_200": round(run.steady.p50_ms, 2),
            "p99_ms_at_200": round(run.steady.p99_ms, 2),
            "relay_p50_ms_saturated": round(run.saturated.p50_ms, 2),
            "relay_p99_ms_saturated": round(run.saturated.p99_ms, 2),
            "stored_sqlite": run.stored["messages"],
        }

        pg_keys = (
            "relay_rps_postgres",
            "ratio_postgres",
            "p50_ms_at_200_postgres",
            "p99_ms_at_200_postgres",
            "relay_p99_ms_saturated_postgres",
            "stored_postgres",
        )
        results |= dict.fromkeys(pg_keys)
        if not args.skip_postgres:
            with postgres_database() as pg_url:
                run = bench_relay("postgres", pg_url, workdir, args.duration, steady_bodies, unique)
            all_ok &= run.ok
            results |= {
                "relay_rps_postgres": round(run.saturated.rps, 1),
                "ratio_postgres": round(run.saturated.rps / bare.rps, 3),
                "p50_ms_at_200_postgres": round(run.steady.p50_ms, 2),
                "p99_ms_at_200_postgres": round(run.steady.p99_ms, 2),
                "relay_p99_ms_saturated_postgres": round(run.saturated.p99_ms, 2),
                "stored_postgres": run.stored["messages"],
            }
        results["all_stored"] = all_ok
        results["load_avg_1m_before"] = round(load_start, 2)
        results["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
        results["duration_s"] = args.duration
        say(
            f"goal ratio >= 0.4: {results['ratio']} (SQLite), {results['ratio_postgres']} "
            f"(PostgreSQL); goal p99 < 50 ms at 200/s: {results['p99_ms_at_200']} ms (SQLite), "
            f"{results['p99_ms_at_200_postgres']} ms (PostgreSQL); "
            f"whole run {time.monotonic() - started:.0f} s"
        )
    print(json.dumps(results), flush=True)
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
