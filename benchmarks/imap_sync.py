"""How fast the console syncs a big mailbox over IMAP, beside ``mbsync`` on the same server.

Run it from the repository root, as root (the private Dovecot hands the mailbox to ``mail``)::

    uv run python benchmarks/imap_sync.py [--messages 10000] [--runs 3] [--sink auto|store|memory]

Method
------
1. **Mailbox.** A private Dovecot (``tests/helpers/dovecot.py``: loopback only, its own
   config and folder) gets a generated INBOX written straight into ``Maildir/cur`` (then
   handed to ``mail``), as a delivery agent would: ``--messages`` mails (10,000) in about
   a tenth as many threads (customer and agent taking turns, ``In-Reply-To`` and
   ``References`` chains, the quoted history growing down a thread, some starters with no
   references), every one ``multipart/alternative`` text + HTML (a third of them in
   Portuguese as quoted-printable UTF-8, some subjects as encoded words, some bodies in
   base64 or Latin-1), about a quarter with an inline logo in ``multipart/related``, 1.5 %
   with an inline screenshot, 6 % with one or two attachments (PDF, XLSX, ZIP of random,
   incompressible bytes, 15 KB to 2 MB). About 150 MB in all, the size
   email-notes measured its anchors on. Most mails are ``\\Seen``, some flagged/answered.
   Before any timing, one full ``UID FETCH 1:* (FLAGS BODY.PEEK[])`` lets Dovecot index the
   folder and puts the files in the page cache, so every client below meets the same warm
   server.
2. **mbsync** (Debian's isync) pulls INBOX into a fresh Maildir (``SSLType None``, ``Sync
   Pull``, ``Create Near``, default fsync) -- the speed anchor. ``--runs`` times, each into
   an empty folder; ``mbsync_s`` is the median wall time of the ``mbsync`` process.
3. **The console's first sync** of the same INBOX into an *empty* cache, interleaved with the
   mbsync runs: :class:`omnidesk.services.mail.imap_sync.FolderSync` exactly as the app
   builds it (batches of 200 newest first, progress reported; the newest batch fetched on
   the sync's own connection, the rest fetched and parsed by a child process on a second
   connection while this process stores) into the storage's real sink, ``MailStore`` over
   ``Cache.open(path)`` on a fresh SQLite file (``--sink memory``, or a ``mail_store``
   module that cannot be imported, uses the tests' in-memory ``MemorySink``; the output
   says which). ``first_sync_s`` is the median from ``sync()`` called to returned (connect
   and login included; opening the empty cache is not, it happens at app start). Before
   each timed run the script calls ``sync(2)``, so neither client waits for the write-back
   of the other's files.
   ``ratio`` = ``first_sync_s / mbsync_s``: goal at most 1.0.
4. **Nothing new.** ``sync()`` again on the warm connection, ``nochange_ms`` = median of 9
   (goal < 200 ms): SELECT, the CONDSTORE shortcut for flags, the cheap new-UID search.
5. **Push.** A :class:`~omnidesk.services.mail.imap_idle.FolderWatcher` (aioimaplib IDLE on
   its own connection) whose change callback runs the sync; one mail is written into the
   Maildir and the clock runs until that mail is in the sink. ``idle_push_ms`` is the median
   of 5 (goal < 1 s; Dovecot itself waits about half a second before it reports a change).

Reading the figures: both clients fetch every message whole (mbsync also writes each one to
its own file and fsyncs it); the console also parses each message (headers, text and HTML
parts, attachment list) and stores it threaded in its cache, which is what the agent then
works with. ``--profile`` runs one extra first sync under cProfile (every thread of this
process, the cache's included; not the fetch worker child) and prints the top functions.
The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import cProfile
import datetime as dt
import imaplib
import importlib
import io
import json
import os
import pstats
import pwd
import quopri
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.helpers: the same private Dovecot the tests use

from omnidesk.mail.sink import MailSink  # noqa: E402
from omnidesk.mail.types import (  # noqa: E402
    FlagUpdate,
    FolderState,
    MailAccount,
    ParsedMail,
    SyncProgress,
)
from omnidesk.services.mail.imap_idle import FolderWatcher  # noqa: E402
from omnidesk.services.mail.imap_sync import FolderSync  # noqa: E402
from tests.helpers.dovecot import DovecotServer, dovecot_binary  # noqa: E402


def say(line: str) -> None:
    print(line, flush=True)


# -- the mailbox -------------------------------------------------------------------------------

WORDS_EN = (
    "order delivery refund invoice payment account package tracking address customer "
    "support thanks please update issue problem return exchange warranty shipping week "
    "receipt discount coupon store online product size colour replacement broken damaged "
    "arrived today yesterday tomorrow morning afternoon number reference confirm details "
    "the a of to and in for is on with that this it we you your our be as at have can will"
).split()
WORDS_PT = (
    "pedido entrega reembolso fatura pagamento conta pacote rastreio endereço cliente "
    "suporte obrigado por favor atualização problema devolução troca garantia envio semana "
    "recibo desconto cupom loja produto tamanho cor substituição quebrado danificado chegou "
    "hoje ontem amanhã manhã tarde número referência confirmar informações não está então "
    "o a de para e em com que isso é nós você seu nosso ser como tem pode será já também"
).split()
CUSTOMERS = [
    ("Ana Souza", "ana.souza"), ("João Pereira", "joao.p"), ("Mary Jones", "mary.jones"),
    ("Peter Müller", "p.mueller"), ("Carla Dias", "carla"), ("Tom O'Brien", "tobrien"),
    ("Luísa Gonçalves", "luisa.g"), ("Ravi Patel", "ravi"), ("Chen Wei", "chen.wei"),
    ("Beatriz Lima", "bia.lima"),
]  # fmt: skip
DOMAINS = ["gmail.test", "outlook.test", "empresa.com.test", "uol.test", "corp.example"]
AGENTS = [("Shop Support", "support@shop.test"), ("Rita (Shop)", "rita@shop.test")]


def _sentence(rnd: random.Random, words: list[str]) -> str:
    text = " ".join(rnd.choice(words) for _ in range(rnd.randint(6, 18)))
    return text[0].upper() + text[1:] + rnd.choice([".", ".", ".", "?", "!"])


def _paragraphs(rnd: random.Random, words: list[str], n: int) -> list[str]:
    return [" ".join(_sentence(rnd, words) for _ in range(rnd.randint(2, 6))) for _ in range(n)]


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii")


def _qp(text: str) -> str:
    return quopri.encodestring(text.encode("utf-8")).decode("ascii")


@dataclass
class _Thread:
    subject: str
    customer: tuple[str, str]
    portuguese: bool
    ids: list[str] = field(default_factory=list)
    last_text: str = ""


def generate_mailbox(count: int, seed: int = 7) -> Iterator[tuple[bytes, str]]:
    """Yield ``(raw message, maildir flags)`` in delivery order (oldest first)."""
    rnd = random.Random(seed)
    logo = rnd.randbytes(6_000)  # one company logo, the same bytes in every signature
    threads: list[_Thread] = []
    open_threads: list[_Thread] = []
    start = dt.datetime(2025, 1, 6, 8, 0, tzinfo=dt.UTC)
    for n in range(count):
        date = start + dt.timedelta(minutes=7 * n + rnd.randint(0, 6))
        if not open_threads or rnd.random() < 0.1:  # about ten mails per thread
            portuguese = rnd.random() < 0.35
            words = WORDS_PT if portuguese else WORDS_EN
            name, local = rnd.choice(CUSTOMERS)
            customer = (name, f"{local}{rnd.randint(1, 999)}@{rnd.choice(DOMAINS)}")
            thread = _Thread(
                subject=f"{_sentence(rnd, words)[:60].rstrip('.?!')} #{10000 + len(threads)}",
                customer=customer,
                portuguese=portuguese,
            )
            threads.append(thread)
            open_threads.append(thread)
            if len(open_threads) > 40:
                open_threads.pop(0)
        else:
            thread = rnd.choice(open_threads[-25:])
        yield _message(rnd, thread, n, date, logo), _flags(rnd)


def _flags(rnd: random.Random) -> str:
    flags = "S" if rnd.random() < 0.8 else ""
    if rnd.random() < 0.05:
        flags = "F" + flags
    if rnd.random() < 0.2:
        flags = "R" + flags
    return "".join(sorted(flags))


def _message(rnd: random.Random, thread: _Thread, n: int, date: dt.datetime, logo: bytes) -> bytes:
    words = WORDS_PT if thread.portuguese else WORDS_EN
    from_agent = bool(thread.ids) and len(thread.ids) % 2 == 1
    sender = AGENTS[rnd.randrange(2)] if from_agent else thread.customer
    recipient = thread.customer if from_agent else AGENTS[0]
    msgid = f"<{n}.{rnd.getrandbits(48):012x}@{sender[1].rpartition('@')[2]}>"
    text = "\n\n".join(_paragraphs(rnd, words, rnd.randint(1, 6)))
    greeting = ("Olá" if thread.portuguese else "Hello") + f" {recipient[0].split()[0]},"
    body_text = f"{greeting}\n\n{text}\n\n-- \n{sender[0]}\n"
    if thread.last_text:
        quoted = "\n".join("> " + line for line in thread.last_text[:1500].splitlines())
        body_text += f"\nOn {format_datetime(date)}, someone wrote:\n{quoted}\n"
    html_paras = "".join(f'<p style="margin:0 0 10px 0">{p}</p>\n' for p in text.split("\n\n"))
    with_logo = from_agent and rnd.random() < 0.5
    screenshot = rnd.randbytes(rnd.randint(40_000, 160_000)) if rnd.random() < 0.015 else None
    logo_tag = '<img src="cid:logo@shop.test" width="120" alt="Shop">' if with_logo else ""
    shot_tag = '<p><img src="cid:shot@mail.test" alt="screenshot"></p>' if screenshot else ""
    html = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{font-family:Arial,'
        "sans-serif;font-size:14px;color:#222} .sig{color:#666;font-size:12px}</style></head>"
        f"<body><div>{greeting}</div>\n{html_paras}{shot_tag}"
        f'<table class="sig"><tr><td>{logo_tag}</td><td>{sender[0]}<br>'
        "Customer care &middot; +55 11 5555-0100</td></tr></table>"
    )
    if thread.last_text:
        quoted_html = "<br>\n".join(thread.last_text[:1500].splitlines())
        html += f'<blockquote style="border-left:2px solid #ccc;padding-left:8px">{quoted_html}</blockquote>'
    html += "</body></html>\n"
    thread.last_text = body_text

    headers = [
        f"Return-Path: <{sender[1]}>",
        f"Received: from mx.{recipient[1].rpartition('@')[2]} by mail.shop.test with ESMTPS id "
        f"{rnd.getrandbits(40):010x}; {format_datetime(date)}",
        f"Message-ID: {msgid}",
        f"Date: {format_datetime(date)}",
        f"From: {formataddr(sender)}",  # quoted or encoded as mail programs do
        f"To: {formataddr(recipient)}",
    ]
    subject = thread.subject if not thread.ids else "Re: " + thread.subject
    headers.append(
        "Subject: " + (Header(subject, "utf-8").encode() if not subject.isascii() else subject)
    )
    if thread.ids and rnd.random() > 0.03:  # a few replies lost their references
        headers.append(f"In-Reply-To: {thread.ids[-1]}")
        refs = thread.ids if len(thread.ids) < 12 else thread.ids[:1] + thread.ids[-10:]
        headers.append("References: " + "\n ".join(refs))
    if rnd.random() < 0.1:
        headers.append(f"Cc: {formataddr(AGENTS[1])}")
    headers += ["MIME-Version: 1.0", "X-Mailer: Benchmark Mail 1.0"]
    thread.ids.append(msgid)

    boundary = f"=_{n}_{rnd.getrandbits(32):08x}"
    if thread.portuguese:
        text_part = (
            'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: '
            f"quoted-printable\n\n{_qp(body_text)}"
        )
        html_part = (
            'Content-Type: text/html; charset="utf-8"\nContent-Transfer-Encoding: '
            f"quoted-printable\n\n{_qp(html)}"
        )
    elif rnd.random() < 0.15:
        text_part = (
            'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: base64\n\n'
            + _b64(body_text.encode())
        )
        html_part = (
            'Content-Type: text/html; charset="utf-8"\nContent-Transfer-Encoding: base64\n\n'
            + _b64(html.encode())
        )
    else:
        charset = "iso-8859-1" if rnd.random() < 0.2 else "us-ascii"
        text_part = (
            f'Content-Type: text/plain; charset="{charset}"\nContent-Transfer-Encoding: '
            f"7bit\n\n{body_text}"
        )
        html_part = (
            f'Content-Type: text/html; charset="{charset}"\nContent-Transfer-Encoding: '
            f"7bit\n\n{html}"
        )
    alternative = (
        f'Content-Type: multipart/alternative; boundary="{boundary}a"\n\n'
        f"--{boundary}a\n{text_part}\n--{boundary}a\n{html_part}\n--{boundary}a--\n"
    )
    inline = []
    if with_logo:
        inline.append(("image/png", "logo.png", "logo@shop.test", logo))
    if screenshot:
        inline.append(("image/jpeg", "screenshot.jpg", "shot@mail.test", screenshot))
    body = alternative
    if inline:
        parts = [f"--{boundary}r\n{body}"]
        for ctype, fname, cid, data in inline:
            parts.append(
                f'--{boundary}r\nContent-Type: {ctype}; name="{fname}"\n'
                f"Content-Transfer-Encoding: base64\nContent-ID: <{cid}>\n"
                f'Content-Disposition: inline; filename="{fname}"\n\n{_b64(data)}'
            )
        body = (
            f'Content-Type: multipart/related; boundary="{boundary}r"; type="multipart/alternative"\n\n'
            + "\n".join(parts)
            + f"\n--{boundary}r--\n"
        )
    attachments = []
    if rnd.random() < 0.06:
        for _ in range(rnd.choice([1, 1, 1, 2])):
            size = int(min(2_000_000, max(15_000, rnd.lognormvariate(10.3, 0.8))))
            kind = rnd.choice(
                [
                    ("application/pdf", "pdf"),
                    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
                    ("application/zip", "zip"),
                ]
            )
            attachments.append((kind[0], f"document-{n}.{kind[1]}", rnd.randbytes(size)))
    if attachments:
        parts = [f"--{boundary}m\n{body}"]
        for ctype, fname, data in attachments:
            parts.append(
                f'--{boundary}m\nContent-Type: {ctype}; name="{fname}"\n'
                f'Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="{fname}"\n\n'
                + _b64(data)
            )
        body = (
            f'Content-Type: multipart/mixed; boundary="{boundary}m"\n\n'
            + "\n".join(parts)
            + f"\n--{boundary}m--\n"
        )
    return ("\n".join(headers) + "\n" + body).encode("utf-8")


def fill_maildir(server: DovecotServer, count: int) -> tuple[int, int]:
    """Write the generated mails into ``Maildir/cur`` (names sort in delivery order)."""
    cur = server.maildir() / "cur"
    total = 0
    base = 1_700_000_000
    for i, (raw, flags) in enumerate(generate_mailbox(count)):
        name = f"{base + i}.M{i:06d}P1.bench,S={len(raw)}:2,{flags}"
        (cur / name).write_bytes(raw)
        total += len(raw)
    mail = pwd.getpwnam("mail")
    for entry in os.scandir(cur):
        os.chown(entry.path, mail.pw_uid, mail.pw_gid)
    return count, total


def warm_up(server: DovecotServer) -> None:
    """Let Dovecot index the folder and read every file once, before anything is timed."""
    conn = imaplib.IMAP4("127.0.0.1", server.port)
    try:
        conn.login(server.user, server.password)
        conn.select("INBOX", readonly=True)
        typ, _ = conn.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE BODY.PEEK[])")
        if typ != "OK":
            raise RuntimeError("warm-up fetch failed")
    finally:
        conn.logout()


# -- mbsync ------------------------------------------------------------------------------------

MBSYNC_CONFIG = """\
IMAPAccount bench
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
SSLType None
AuthMechs LOGIN

IMAPStore bench-remote
Account bench

MaildirStore bench-local
Path {local}/
Inbox {local}/INBOX

Channel bench
Far :bench-remote:
Near :bench-local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
"""


def children_cpu() -> float:
    """CPU seconds of the child processes waited for so far (mbsync, the fetch worker)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def mbsync_once(server: DovecotServer, work: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one mbsync run into an empty Maildir."""
    local = work / "mbsync-maildir"
    shutil.rmtree(local, ignore_errors=True)
    local.mkdir()
    config = work / "mbsyncrc"
    config.write_text(
        MBSYNC_CONFIG.format(
            port=server.port, user=server.user, password=server.password, local=local
        )
    )
    start, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(
        ["mbsync", "-q", "-c", str(config), "-a"], capture_output=True, check=False
    )
    elapsed, cpu = time.perf_counter() - start, children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"mbsync failed: {done.stderr.decode(errors='replace')}")
    got = sum(1 for _ in (local / "INBOX" / "cur").iterdir()) + sum(
        1 for _ in (local / "INBOX" / "new").iterdir()
    )
    if got != COUNT[0]:
        raise RuntimeError(f"mbsync stored {got} messages, expected {COUNT[0]}")
    return elapsed, cpu


COUNT = [0]


# -- the console's sync ------------------------------------------------------------------------


class Sinks:
    """Makes a fresh, empty sink per run: the storage's MailStore when it exists."""

    def __init__(self, choice: str, work: Path, account: MailAccount) -> None:
        self.work = work
        self.account = account
        self.caches: list[Any] = []
        self.why = ""
        if choice == "memory":
            self.kind = "MemorySink"
            return
        try:
            importlib.import_module("omnidesk.storage.mail_store")
            self.kind = "MailStore"
        except Exception as exc:  # not written yet, or half-written right now
            if choice == "store":
                raise SystemExit(f"--sink store: cannot import MailStore: {exc!r}") from exc
            self.kind = "MemorySink"
            self.why = f"MailStore unavailable ({type(exc).__name__}: {exc})"

    async def new(self, n: int) -> MailSink:
        if self.kind == "MemorySink":
            from tests.services.mail.memory_sink import MemorySink

            return MemorySink(own_addresses=(self.account.address,))
        from omnidesk.storage import Cache
        from omnidesk.storage.mail_store import MailStore

        path = self.work / f"cache-{n}.sqlite"
        cache = await Cache.open(path)
        self.caches.append(cache)
        own = (self.account.address, *self.account.own_addresses)  # main address first
        store: MailSink = MailStore(cache, {self.account.id: own})
        return store

    async def close(self) -> None:
        for cache in self.caches:
            await cache.close()
        self.caches.clear()


class Watched:
    """A sink wrapper that tells the push measurement when a given UID was stored."""

    def __init__(self, inner: MailSink) -> None:
        self.inner = inner
        self.stored: dict[int, float] = {}
        self.arrived = asyncio.Event()

    async def folder_state(self, account_id: str, folder: str) -> FolderState | None:
        return await self.inner.folder_state(account_id, folder)

    async def save_folder_state(self, account_id: str, folder: str, state: FolderState) -> None:
        await self.inner.save_folder_state(account_id, folder, state)

    async def known_uids(self, account_id: str, folder: str) -> set[int]:
        return await self.inner.known_uids(account_id, folder)

    async def store_messages(
        self, account_id: str, folder: str, messages: list[ParsedMail]
    ) -> None:
        await self.inner.store_messages(account_id, folder, messages)
        now = time.perf_counter()
        for mail in messages:
            if mail.uid is not None:
                self.stored[mail.uid] = now
        self.arrived.set()

    async def apply_flags(self, account_id: str, folder: str, updates: list[FlagUpdate]) -> None:
        await self.inner.apply_flags(account_id, folder, updates)

    async def remove_uids(self, account_id: str, folder: str, uids: list[int]) -> None:
        await self.inner.remove_uids(account_id, folder, uids)

    async def forget_folder(self, account_id: str, folder: str) -> None:
        await self.inner.forget_folder(account_id, folder)


def bench_account(server: DovecotServer) -> MailAccount:
    return MailAccount(
        id="bench",
        address="support@shop.test",
        login=server.user,
        imap_host="127.0.0.1",
        imap_port=server.port,
        imap_security="none",
        own_addresses=("rita@shop.test",),
    )


@contextlib.contextmanager
def profiled(enabled: bool) -> Iterator[None]:
    """cProfile every thread (the event loop's and the sync's workers) while enabled."""
    if not enabled:
        yield
        return
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def per_thread(frame: Any, event: str, arg: Any) -> None:
        prof = cProfile.Profile()
        with lock:
            profiles.append(prof)
        sys.setprofile(None)
        prof.enable()

    main = cProfile.Profile()
    threading.setprofile(per_thread)
    main.enable()
    try:
        yield
    finally:
        main.disable()
        threading.setprofile(None)
        for prof in profiles:
            with contextlib.suppress(Exception):
                prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(main, stream=out)
        for prof in profiles:
            with contextlib.suppress(TypeError):
                stats.add(prof)
        stats.sort_stats("tottime").print_stats(35)
        stats.sort_stats("cumulative").print_stats(25)
        say(out.getvalue())


@dataclass
class FirstSync:
    wall: float
    cpu: float
    """This process (every thread) plus the fetch worker child."""
    progress: list[SyncProgress]
    sync: FolderSync


async def first_sync(account: MailAccount, password: str, sink: MailSink) -> FirstSync:
    progress: list[SyncProgress] = []
    sync = FolderSync(account, lambda: password, sink, progress=progress.append)
    start, cpu = time.perf_counter(), time.process_time() + children_cpu()
    result = await sync.sync("INBOX")
    elapsed = time.perf_counter() - start
    cpu = time.process_time() + children_cpu() - cpu
    if result.new != COUNT[0]:
        raise RuntimeError(f"first sync stored {result.new}, expected {COUNT[0]}")
    return FirstSync(elapsed, cpu, progress, sync)


async def push_latency(
    server: DovecotServer, account: MailAccount, sync: FolderSync, sink: Watched, rounds: int
) -> list[float]:
    async def on_change() -> None:
        await sync.sync("INBOX")

    watcher = FolderWatcher(account, lambda: server.password, "INBOX", on_change, timeout=30)
    task = asyncio.create_task(watcher.run())
    latencies: list[float] = []
    try:
        for i in range(rounds):
            async with asyncio.timeout(30):
                await watcher.idling.wait()
            await asyncio.sleep(0.3)
            uid = COUNT[0] + i + 1
            raw, _flags = next(generate_mailbox(1, seed=1000 + i))
            start = time.perf_counter()
            server.deliver(raw)
            async with asyncio.timeout(10):
                while uid not in sink.stored:
                    sink.arrived.clear()
                    await sink.arrived.wait()
            latencies.append(sink.stored[uid] - start)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return latencies


async def run(args: argparse.Namespace, server: DovecotServer, work: Path) -> dict[str, Any]:
    account = bench_account(server)
    sinks = Sinks(args.sink, work, account)
    say(f"sink: {sinks.kind}" + (f" -- {sinks.why}" if sinks.why else ""))
    mbsync_runs: list[tuple[float, float]] = []
    ours: list[FirstSync] = []
    load = os.getloadavg()[0]
    for n in range(args.runs):
        os.sync()  # neither client pays for the other's write-back
        mbsync_runs.append(mbsync_once(server, work))
        wall, cpu = mbsync_runs[-1]
        say(f"  run {n + 1}: mbsync {wall:.2f} s (CPU {cpu:.2f} s)")
        sink = await sinks.new(n)
        os.sync()
        run = await first_sync(account, server.password, sink)
        say(
            f"  run {n + 1}: console first sync {run.wall:.2f} s (CPU {run.cpu:.2f} s with the "
            f"fetch worker; {len(run.progress)} progress reports)"
        )
        if ours:
            await ours[-1].sync.aclose()
        ours.append(run)
        last_sink = sink
    if args.profile:  # this process only (the cache's thread included): not the fetch worker
        with profiled(True):
            sink = await sinks.new(args.runs)
            extra = await first_sync(account, server.password, sink)
        await extra.sync.aclose()
    sync, sink = ours[-1].sync, last_sink
    nochange: list[float] = []
    for _ in range(9):
        start = time.perf_counter()
        result = await sync.sync("INBOX")
        nochange.append(time.perf_counter() - start)
        if result.new or result.flag_changes or result.removed:
            raise RuntimeError(f"no-change sync found changes: {result}")
    await sync.aclose()
    watched = Watched(sink)
    push_sync = FolderSync(account, lambda: server.password, watched)
    try:
        pushes = await push_latency(server, account, push_sync, watched, rounds=5)
    finally:
        await push_sync.aclose()
    await sinks.close()
    first = statistics.median(r.wall for r in ours)
    mb = statistics.median(w for w, _c in mbsync_runs)
    return {
        "first_sync_s": round(first, 3),
        "mbsync_s": round(mb, 3),
        "ratio": round(first / mb, 3),
        "nochange_ms": round(statistics.median(nochange) * 1000, 1),
        "idle_push_ms": round(statistics.median(pushes) * 1000, 1),
        "first_sync_runs_s": [round(r.wall, 3) for r in ours],
        "mbsync_runs_s": [round(w, 3) for w, _c in mbsync_runs],
        "first_sync_cpu_s": round(statistics.median(r.cpu for r in ours), 3),
        "mbsync_cpu_s": round(statistics.median(c for _w, c in mbsync_runs), 3),
        "nochange_max_ms": round(max(nochange) * 1000, 1),
        "idle_push_runs_ms": [round(x * 1000, 1) for x in pushes],
        "progress_reports": len(ours[-1].progress),
        "load_avg_1m": round(load, 2),
        "sink": sinks.kind,
        **({"sink_note": sinks.why} if sinks.why else {}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sink", choices=["auto", "store", "memory"], default="auto")
    parser.add_argument("--profile", action="store_true", help="profile one extra first sync")
    args = parser.parse_args(argv)
    binary = dovecot_binary()
    if binary is None or shutil.which("mbsync") is None:
        raise SystemExit("needs dovecot-imapd and isync: apt-get install -y dovecot-imapd isync")
    if os.geteuid() != 0:
        raise SystemExit("run as root: the private Dovecot hands the mailbox to `mail`")
    COUNT[0] = args.messages
    work = Path(tempfile.mkdtemp(prefix="omnidesk-imap-bench-"))
    server = DovecotServer.create(binary)
    try:
        start = time.perf_counter()
        count, size = fill_maildir(server, args.messages)
        say(f"mailbox: {count:,} messages, {size / 1e6:.1f} MB, written in "
            f"{time.perf_counter() - start:.1f} s")  # fmt: skip
        server.start()
        start = time.perf_counter()
        warm_up(server)
        say(f"Dovecot indexed and served it once in {time.perf_counter() - start:.1f} s")
        figures = asyncio.run(run(args, server, work))
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    figures = {"messages": count, "mb": round(size / 1e6, 1), **figures}
    say(
        f"first sync      {figures['first_sync_s']:.2f} s into {figures['sink']} (median of "
        f"{args.runs})   mbsync {figures['mbsync_s']:.2f} s   ratio {figures['ratio']:.2f}"
        "   goal <= 1.0"
    )
    say(
        f"CPU             console {figures['first_sync_cpu_s']:.2f} s (both processes)   "
        f"mbsync {figures['mbsync_cpu_s']:.2f} s   (load average at start "
        f"{figures['load_avg_1m']:.2f} on {os.cpu_count()} cores)"
    )
    say(f"nothing new     {figures['nochange_ms']:.1f} ms (median of 9)   goal < 200 ms")
    say(f"IDLE push       {figures['idle_push_ms']:.0f} ms (median of 5)   goal < 1000 ms")
    say(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
