"""Webhook to bot to customer: how long a customer waits for the reference bot's answer.

Run it from the repository root (RabbitMQ on 127.0.0.1:5672, or set OMNIDESK_AMQP_URL)::

    uv run python benchmarks/bot_roundtrip.py [--rate 100] [--duration 10] [--conversations 100]

Method
------
Everything runs on this machine over loopback; this script only orchestrates, and each
moving part has its own process:

- the Graph API stand-in (`relay.testing.graph_standin.GraphStandIn`, a thread of this
  script, idle otherwise), which records when each send reached it (`received_at`);
- the relay, `omnidesk-relay serve` on a free port, SQLite in a temporary directory, the
  bridge on with queues unique to the run (`bench.<random>.inbound/outbound`);
- the reference bot, `omnidesk-relay bot-demo`, with the same settings;
- an open-loop load generator (this script with `--loadgen`, aiohttp on uvloop): signed
  WhatsApp text webhooks shaped like `shared/meta-samples/wa_webhook_text.json`, each with its
  own wamid and text, `--conversations` customers in parallel, `--rate` webhooks/s in total,
  on schedule whatever the answers.

Latency of one message = the stand-in's `received_at` of the bot's echo ("You said: <text>",
matched by its unique text and recipient) minus the wall-clock time just before the
webhook's POST. A warm-up round (one message per conversation, which also creates the
conversations) runs first and is not counted.

Baseline, in the same run and at the same rate, before the relay starts: a bare aio-pika round
trip through two quorum queues on the same broker (declared like the bot's), each hop as the
bot path does it: publish persistent with a confirm to q1; a consumer (manual ack, prefetch)
republishes to q2 with a confirm, then acks; a consumer of q2 stamps the arrival.

The stages line splits the median latency using the relay's own timestamps (its store's
`created_at`/`published_at`, all from the same clock): webhook -> stored (ingest commit),
-> confirmed on the inbound queue (outbox publisher), -> bot reply stored (the bot and the
relay's consumer), -> received by the stand-in (sender: claim, Graph call).

The last line of output is one JSON object. The bench queues, processes and files are
removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _processes import child_env, percentile, relay_command, running, say, wait_for

from relay.testing.server import free_port

APP_SECRET = "bench-app-secret"
VERIFY_TOKEN = "bench-verify-token"
PHONE_NUMBER_ID = "109876543210987"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
GRACE_S = 15.0  # how long to wait for the last replies after the last webhook
LOADGEN_CONNECTIONS = 32
GOAL_P50_MS, GOAL_P99_MS = 30.0, 150.0
ECHO = "You said: "


# ----------------------------------------------------------------------------- webhooks


def customer(conversation: int) -> str:
    return f"1650555{conversation:04d}"


def message_text(tag: str, conversation: int, seq: int) -> str:
    return f"ping {tag} c{conversation:03d} n{seq:05d}"  # no FAQ keyword: the bot echoes it


def webhook_body(tag: str, conversation: int, seq: int) -> bytes:
    wa_id = customer(conversation)
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550123456", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": f"Customer {conversation}"}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": f"wamid.HBgLBENCH{tag}C{conversation:04d}N{seq:06d}AA=",
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": message_text(tag, conversation, seq)},
            }
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "210987654321098", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(body, separators=(",", ":")).encode()


# ----------------------------------------------------------------------------- load generator


async def open_loop(args: argparse.Namespace) -> dict[str, Any]:
    """`rate` webhooks/s over `conversations` customers, on schedule, whatever the answers."""
    import aiohttp

    from relay.webhooks.signature import signature_for

    total = int(args.rate * args.duration)
    plan = []  # (conversation, seq, text, signature, body), all signed before the clock starts
    for k in range(total):
        conversation, seq = k % args.conversations, args.first_seq + k // args.conversations
        body = webhook_body(args.tag, conversation, seq)
        signature = signature_for(APP_SECRET.encode(), body)
        plan.append((conversation, seq, message_text(args.tag, conversation, seq), signature, body))
    records: list[dict[str, Any]] = []
    connector = aiohttp.TCPConnector(limit=LOADGEN_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(index: int, scheduled: float) -> None:
            conversation, _seq, text, signature, body = plan[index]
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
            posted, started = time.time(), time.perf_counter()
            status: int | str
            try:
                async with session.post(args.loadgen, data=body, headers=headers) as answer:
                    await answer.read()
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = f"{type(exc).__name__}"
            records.append(
                {
                    "text": text,
                    "to": "+" + customer(conversation),
                    "posted": posted,
                    "lag_ms": (started - scheduled) * 1000,  # late against the schedule
                    "http_ms": (time.perf_counter() - started) * 1000,
                    "status": status,
                }
            )

        tasks = []
        start = time.perf_counter() + 0.05
        for index in range(total):
            scheduled = start + index / args.rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(index, scheduled)))
        await asyncio.wait(tasks, timeout=30)
        elapsed = time.perf_counter() - start
    Path(args.loadgen_out).write_text(json.dumps(records))
    return {"posted": len(records), "elapsed_s": elapsed}


def loadgen_main(args: argparse.Namespace) -> int:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    print(json.dumps(asyncio.run(open_loop(args))), flush=True)
    return 0


def run_loadgen(
    url: str, out: Path, tag: str, conversations: int, rate: float, duration: float, first: int
) -> list[dict[str, Any]]:
    argv = [sys.executable, __file__, "--loadgen", f"{url}/webhooks/meta"]
    argv += ["--loadgen-out", str(out), "--tag", tag, "--conversations", str(conversations)]
    argv += ["--rate", str(rate), "--duration", str(duration), "--first-seq", str(first)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 90, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stdout}\n{done.stderr}")
    records: list[dict[str, Any]] = json.loads(out.read_text())
    return records


# ----------------------------------------------------------------------------- baseline


async def baseline(args: argparse.Namespace) -> dict[str, Any]:
    """publish(q1, confirm) -> consumer republishes to q2 (confirm, then ack) -> receive."""
    import aio_pika
    from aio_pika.abc import AbstractIncomingMessage

    from relay.bot.demo import QueueNames
    from relay.bot.queues import declare_queues

    q1_name, q2_name = args.baseline
    names = QueueNames(q1_name, q2_name)
    echo_conn = await aio_pika.connect_robust(args.amqp_url)
    client_conn = await aio_pika.connect_robust(args.amqp_url)
    try:
        echo_channel = await echo_conn.channel(publisher_confirms=True)
        await echo_channel.set_qos(prefetch_count=32)
        client_channel = await client_conn.channel(publisher_confirms=True)
        await client_channel.set_qos(prefetch_count=100)
        echo_queues = await declare_queues(echo_channel, names)
        client_queues = await declare_queues(client_channel, names)
        q1 = next(q for q in echo_queues if q.name == q1_name)
        q2 = next(q for q in client_queues if q.name == q2_name)
        lock = asyncio.Lock()

        async def echo(message: AbstractIncomingMessage) -> None:
            async with lock:  # one at a time, like the bot
                await echo_channel.default_exchange.publish(
                    aio_pika.Message(
                        message.body,
                        message_id=message.message_id,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=q2_name,
                    timeout=5,
                )
                await message.ack()

        sent_at: dict[str, float] = {}
        latencies: list[float] = []

        async def receive(message: AbstractIncomingMessage) -> None:
            now = time.perf_counter()
            started = sent_at.pop(message.message_id or "", None)
            if started is not None:
                latencies.append((now - started) * 1000)
            await message.ack()

        await q1.consume(echo)
        await q2.consume(receive)

        async def publish(ident: str) -> None:
            sent_at[ident] = time.perf_counter()
            await client_channel.default_exchange.publish(
                aio_pika.Message(
                    b'{"ping": "' + ident.encode() + b'"}',
                    message_id=ident,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=q1_name,
                timeout=5,
            )

        total = int(args.rate * args.duration)
        tasks = []
        start = time.perf_counter() + 0.05
        for index in range(total):
            delay = start + index / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(publish(f"b{index}")))
        await asyncio.gather(*tasks)
        deadline = time.perf_counter() + 10
        while sent_at and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        return {"sent": total, "received": len(latencies), "latencies_ms": latencies}
    finally:
        await echo_conn.close()
        await client_conn.close()


def run_baseline(
    amqp_url: str, q1: str, q2: str, rate: float, duration: float, out: Path
) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--baseline", q1, q2, "--amqp-url", amqp_url]
    argv += ["--rate", str(rate), "--duration", str(duration), "--loadgen-out", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"baseline failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def baseline_main(args: argparse.Namespace) -> int:
    result = asyncio.run(baseline(args))
    Path(args.loadgen_out).write_text(json.dumps(result))
    return 0


async def _queue_admin(amqp_url: str, action: str, names: list[str]) -> int:
    """`consumers`: consumers on names[0]; `delete`: delete every queue named."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        if action == "consumers":
            queue = await channel.declare_queue(names[0], passive=True)
            result = queue.declaration_result.consumer_count
            return int(result) if result is not None else 0
        for name in names:
            await channel.queue_delete(name)
        return len(names)
    finally:
        await connection.close()


def queue_admin(amqp_url: str, action: str, names: list[str]) -> int:
    return asyncio.run(_queue_admin(amqp_url, action, names))


# ----------------------------------------------------------------------------- processes


def broker_connected(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return bool(json.load(answer).get("broker") == "connected")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


# ----------------------------------------------------------------------------- results


def match(
    records: list[dict[str, Any]], sends: list[Any]
) -> tuple[list[float], int, int, dict[str, float]]:
    """Latencies (ms) of the records answered; missing; sent twice; text -> received_at."""
    first_seen: dict[str, float] = {}
    twice = 0
    for send in sends:
        text = send.text or ""
        if not text.startswith(ECHO):
            continue
        key = text.removeprefix(ECHO)
        if key in first_seen:
            twice += 1
            continue
        to = send.json.get("to") if isinstance(send.json, dict) else None
        first_seen[key + "|" + str(to)] = send.received_at
        first_seen[key] = send.received_at
    latencies, missing = [], 0
    for record in records:
        received = first_seen.get(record["text"] + "|" + record["to"])
        if received is None:
            missing += 1
        else:
            latencies.append((received - record["posted"]) * 1000)
    return latencies, missing, twice, first_seen


def stages(
    database: Path, records: list[dict[str, Any]], received: dict[str, float]
) -> dict[str, float]:
    """Median ms per stage, from the relay's own timestamps (see the module docstring)."""
    import sqlite3

    def ts(value: str | None) -> float | None:
        if value is None:
            return None
        stamp = datetime.fromisoformat(value)
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()

    posted = {r["text"]: r["posted"] for r in records}
    split: dict[str, list[float]] = {"stored": [], "published": [], "bot_reply": [], "sent": []}
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute(
            "SELECT m.text, o.created_at, o.published_at, r.created_at FROM message m "
            "JOIN botoutbox o ON o.amqp_message_id = CAST(m.id AS TEXT) "
            "JOIN message r ON r.reply_to = m.id AND r.author = 'bot' "
            "WHERE m.direction = 'in'"
        ).fetchall()
    for text, stored, published, replied in rows:
        t0, t3 = posted.get(text), received.get(text)
        t1, t2, t_reply = ts(stored), ts(published), ts(replied)
        if None in (t0, t1, t2, t_reply, t3):
            continue
        assert t0 and t1 and t2 and t_reply and t3
        split["stored"].append((t1 - t0) * 1000)
        split["published"].append((t2 - t1) * 1000)
        split["bot_reply"].append((t_reply - t2) * 1000)
        split["sent"].append((t3 - t_reply) * 1000)
    return {k: round(statistics.median(v), 2) for k, v in split.items() if v}


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from relay.testing.graph_standin import DEFAULT_TOKEN, GraphStandIn

    tag = secrets.token_hex(4)
    inbound, outbound = f"bench.{tag}.inbound", f"bench.{tag}.outbound"
    base1, base2 = f"bench.{tag}.base1", f"bench.{tag}.base2"
    queues = [q + s for q in (inbound, outbound, base1, base2) for s in ("", ".dead")]
    rate, duration, conversations = args.rate, args.duration, args.conversations
    result: dict[str, Any] = {"rate": rate, "duration_s": duration, "conversations": conversations}
    say(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the run")
    with (
        tempfile.TemporaryDirectory(prefix="omnidesk-botbench-") as tmp,
        GraphStandIn(tokens=[DEFAULT_TOKEN]) as graph,
    ):
        workdir = Path(tmp)
        try:
            base = run_baseline(
                args.amqp_url, base1, base2, rate, duration, workdir / "baseline.json"
            )
            lat = base["latencies_ms"]
            result |= {
                "baseline_p50_ms": round(percentile(lat, 50), 2),
                "baseline_p99_ms": round(percentile(lat, 99), 2),
                "baseline_sent": base["sent"],
                "baseline_received": base["received"],
            }
            say(
                f"baseline (aio-pika, publish -> q1 -> republish -> q2, confirms, at {rate:.0f}/s): "
                f"p50 {result['baseline_p50_ms']} ms  p99 {result['baseline_p99_ms']} ms  "
                f"({base['received']}/{base['sent']} received)"
            )

            port = free_port()
            url = f"http://127.0.0.1:{port}"
            database = workdir / "relay.sqlite3"
            env = child_env(
                OMNIDESK_RELAY_DATABASE_URL=f"sqlite:///{database}",
                OMNIDESK_META_APP_SECRET=APP_SECRET,
                OMNIDESK_META_VERIFY_TOKEN=VERIFY_TOKEN,
                OMNIDESK_META_ACCESS_TOKEN=DEFAULT_TOKEN,
                OMNIDESK_GRAPH_BASE_URL=graph.base_url,
                OMNIDESK_INSTAGRAM_GRAPH_BASE_URL=graph.instagram_base_url,
                OMNIDESK_RELAY_PUBLIC_URL=url,
                OMNIDESK_AMQP_URL=args.amqp_url,
                OMNIDESK_BOT_INBOUND_QUEUE=inbound,
                OMNIDESK_BOT_OUTBOUND_QUEUE=outbound,
            )
            serve = [*relay_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
            with (
                running("relay", serve, env, workdir) as relay,
                running("bot", [*relay_command(), "bot-demo"], env, workdir) as bot,
            ):
                wait_for("relay", lambda: broker_connected(url), relay)
                wait_for(
                    "bot",
                    lambda: queue_admin(args.amqp_url, "consumers", [inbound]) >= 1,
                    bot,
                )
                # Warm-up: one message per conversation (creates them), not counted.
                warm = run_loadgen(
                    url, workdir / "warm.json", tag, conversations, rate, conversations / rate, 0
                )
                deadline = time.monotonic() + GRACE_S
                while time.monotonic() < deadline:
                    if match(warm, graph.sends())[1] == 0:
                        break
                    time.sleep(0.1)
                warm_lat, warm_missing, _, _ = match(warm, graph.sends())
                say(
                    f"warm-up: {len(warm)} webhooks (one per conversation), p50 "
                    f"{percentile(warm_lat, 50):.1f} ms, {warm_missing} unanswered"
                )
                time.sleep(1.0)

                started = time.monotonic()
                records = run_loadgen(
                    url, workdir / "load.json", tag, conversations, rate, duration, 1
                )
                deadline = time.monotonic() + GRACE_S
                while time.monotonic() < deadline:
                    latencies, missing, twice, received = match(records, graph.sends())
                    if not missing:
                        break
                    time.sleep(0.1)
                elapsed = time.monotonic() - started
                for proc in (relay, bot):
                    if proc.proc.poll() is not None:
                        raise RuntimeError(f"{proc.name} exited during the run:\n{proc.tail()}")
            breakdown = stages(database, records, received)
        finally:
            if args.keep:  # logs and the relay's database, for a closer look
                Path(args.keep).mkdir(parents=True, exist_ok=True)
                for name in ("relay.log", "bot.log", "relay.sqlite3"):
                    with contextlib.suppress(OSError):
                        shutil.copy(workdir / name, Path(args.keep) / name)
            with contextlib.suppress(Exception):
                queue_admin(args.amqp_url, "delete", queues)
    if missing:  # never answered in time: counted with the time they had waited (a lower bound)
        given_up = time.time()
        answered = {r for r in received if "|" in r}
        latencies = latencies + [
            (given_up - r["posted"]) * 1000
            for r in records
            if r["text"] + "|" + r["to"] not in answered
        ]
    ok = [r for r in records if r["status"] == 200]
    lags = [r["lag_ms"] for r in records]
    http = [r["http_ms"] for r in ok]
    result |= {
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies, default=float("nan")), 2),
        "sent": len(records),
        "acknowledged": len(ok),
        "received": len(records) - missing,
        "missing": missing,
        "sent_twice": twice,
        "webhook_p50_ms": round(percentile(http, 50), 2),
        "webhook_p99_ms": round(percentile(http, 99), 2),
        "loadgen_max_lag_ms": round(max(lags, default=0.0), 2),
        "stages_p50_ms": breakdown,
        "replies_per_s": round((len(records) - missing) / elapsed, 1) if elapsed else 0.0,
    }
    say(
        f"relay + bot at {rate:.0f} webhooks/s over {conversations} conversations for "
        f"{duration:.0f} s: {len(ok)}/{len(records)} acknowledged, {len(records) - missing} answered, "
        f"{missing} missing, {twice} sent twice"
    )
    say(
        f"webhook -> send{' (unanswered counted as lower bounds)' if missing else ''}: "
        f"p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  max "
        f"{result['max_ms']} ms  (the webhook's 200 itself: p50 {result['webhook_p50_ms']} ms, "
        f"p99 {result['webhook_p99_ms']} ms; load generator at most "
        f"{result['loadgen_max_lag_ms']} ms late)"
    )
    say(
        "stages (medians, ms): webhook -> stored {stored}, -> on the bot queue {published}, "
        "-> bot reply stored {bot_reply}, -> at the stand-in {sent}".format_map(
            {k: breakdown.get(k, "?") for k in ("stored", "published", "bot_reply", "sent")}
        )
    )
    good = result["p50_ms"] < GOAL_P50_MS and result["p99_ms"] < GOAL_P99_MS
    say(
        f"goal p50 < {GOAL_P50_MS:.0f} ms and p99 < {GOAL_P99_MS:.0f} ms: "
        f"{'met' if good else 'NOT met'}; baseline p50 {result['baseline_p50_ms']} ms"
    )
    result["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Webhook -> bot -> send latency (see docstring)")
    parser.add_argument("--rate", type=float, default=100.0, help="webhooks per second in total")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument(
        "--amqp-url", default=os.environ.get("OMNIDESK_AMQP_URL") or DEFAULT_AMQP_URL
    )
    parser.add_argument("--keep", metavar="DIR", help="copy the logs and database here")
    # internal: this script re-run as the load generator or the baseline
    parser.add_argument("--loadgen", help=argparse.SUPPRESS)
    parser.add_argument("--loadgen-out", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--tag", help=argparse.SUPPRESS)
    parser.add_argument("--first-seq", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loadgen:
        return loadgen_main(args)
    if args.baseline:
        return baseline_main(args)
    # A SIGTERM unwinds like Ctrl-C: processes, queues and files go away either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = bench(args)
    print(json.dumps(result), flush=True)
    return 0 if result["missing"] == 0 and result["sent_twice"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
