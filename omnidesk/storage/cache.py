"""The local cache: SQLite (WAL) through SQLAlchemy/SQLModel, on its own thread.

One single-thread executor owns the connection; every public method is ``async`` and runs
its work there, so SQLite never blocks the GUI. Methods return domain objects and, when they
change something, a :class:`~omnidesk.changes.Changes`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import logging
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy.exc
from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.pool import StaticPool

from omnidesk.changes import NO_CHANGES, Changes
from omnidesk.domain import (
    CacheReport,
    Conversation,
    ConversationFilter,
    Draft,
    Message,
    OutboxItem,
    OutboxState,
    RelayEvent,
    SearchHit,
    utcnow,
)
from omnidesk.storage import convert
from omnidesk.storage.errors import (
    CacheCorrupt,
    CacheDiskFull,
    CacheError,
    CacheLocked,
    CacheNewerVersion,
)
from omnidesk.storage.schema import SCHEMA_VERSION, migrate
from omnidesk.storage.tables import ConversationRow, DraftRow, MessageRow, MetaRow, OutboxRow

log = logging.getLogger(__name__)
T = TypeVar("T")

_conv = ConversationRow.__table__  # type: ignore[attr-defined]
_msg = MessageRow.__table__  # type: ignore[attr-defined]
_outbox = OutboxRow.__table__  # type: ignore[attr-defined]
_draft = DraftRow.__table__  # type: ignore[attr-defined]
_meta = MetaRow.__table__  # type: ignore[attr-defined]

SQLITE_FULL = 13
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26


def _translate(exc: BaseException) -> CacheError | None:
    orig = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc
    if not isinstance(orig, sqlite3.Error):
        return None
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        code &= 0xFF
    text = str(orig)
    if code == SQLITE_FULL or "database or disk is full" in text:
        return CacheDiskFull(text)
    if code in (SQLITE_BUSY, SQLITE_LOCKED) or "locked" in text:
        return CacheLocked(text)
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB) or "not a database" in text or "malformed" in text:
        return CacheCorrupt(text)
    return None


def fts_query(text: str) -> str:
    """Turn what the agent typed into an FTS5 prefix query: every word must match."""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


class Cache:
    """The console's local store. Build it with :meth:`open`; close it with :meth:`close`."""

    def __init__(self, engine: Engine, executor: concurrent.futures.ThreadPoolExecutor) -> None:
        self._engine = engine
        self._executor = executor
        self._closed = False
        self.report = CacheReport(path=str(engine.url.database))

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        rebuild_on_problem: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> Cache:
        """Open (creating, migrating, or moving aside and rebuilding) the cache at ``path``.

        With ``rebuild_on_problem=False`` a corrupt or newer file raises instead.
        ``progress(done, total)`` is called from the cache thread during migrations.
        """
        executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="omnidesk-cache")
        loop = asyncio.get_running_loop()
        try:
            engine, report = await loop.run_in_executor(
                executor, _open_sync, path, rebuild_on_problem, progress
            )
        except BaseException:
            executor.shutdown(wait=False)
            raise
        cache = cls(engine, executor)
        cache.report = report
        return cache

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._engine.dispose)
        self._executor.shutdown(wait=True)

    # -- plumbing -----------------------------------------------------------------------------

    async def run_in_transaction(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` on the cache thread in one transaction (rolled back if it raises).

        For stores built over this cache (``MailStore``): they share its single writer thread,
        so SQLite never sees two writers and the GUI thread never waits on the file.
        """
        return await self._run(fn)

    async def _run(self, fn: Callable[[Connection], T]) -> T:
        if self._closed:
            raise CacheError("the cache is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._tx, fn)

    def _tx(self, fn: Callable[[Connection], T]) -> T:
        try:
            with self._engine.begin() as conn:
                return fn(conn)
        except (sqlalchemy.exc.DBAPIError, sqlite3.Error) as exc:
            translated = _translate(exc)
            if translated is not None:
                raise translated from exc
            raise

    # -- conversations ------------------------------------------------------------------------

    async def upsert_conversations(self, conversations: Sequence[Conversation]) -> Changes:
        def work(conn: Connection) -> Changes:
            _upsert_conversations(conn, conversations)
            return Changes(conversations=frozenset(c.id for c in conversations))

        return await self._run(work) if conversations else NO_CHANGES

    async def conversation(self, conversation_id: int) -> Conversation | None:
        def work(conn: Connection) -> Conversation | None:
            row = (
                conn.execute(select(_conv).where(_conv.c.id == conversation_id)).mappings().first()
            )
            return convert.conversation_from_mapping(row) if row else None

        return await self._run(work)

    async def conversations(
        self, flt: ConversationFilter | None = None, *, offset: int = 0, limit: int = 200
    ) -> list[Conversation]:
        flt = flt or ConversationFilter()

        def work(conn: Connection) -> list[Conversation]:
            q = select(_conv)
            if flt.channel_id:
                q = q.where(_conv.c.channel_id == flt.channel_id)
            if flt.status:
                q = q.where(_conv.c.status == flt.status.value)
            if flt.mine:
                q = q.where(_conv.c.assignee == (flt.me or ""))
            if flt.unassigned:
                q = q.where(_conv.c.assignee.is_(None))
            if flt.bot:
                q = q.where(_conv.c.mode == "bot")
            q = q.order_by(_conv.c.updated_at.desc(), _conv.c.id.desc()).offset(offset).limit(limit)
            return [convert.conversation_from_mapping(r) for r in conn.execute(q).mappings()]

        return await self._run(work)

    async def channels(self) -> list[tuple[str, str, str]]:
        """``(id, kind, name)`` of every channel seen in the cache."""

        def work(conn: Connection) -> list[tuple[str, str, str]]:
            rows = conn.exec_driver_sql(
                "SELECT channel_id, MIN(channel_kind), MIN(channel_name) FROM conversation "
                "GROUP BY channel_id ORDER BY 3"
            )
            return [(r[0], r[1], r[2]) for r in rows]

        return await self._run(work)

    async def unread_total(self) -> int:
        def work(conn: Connection) -> int:
            value = conn.exec_driver_sql("SELECT COALESCE(SUM(unread_count), 0) FROM conversation")
            return int(value.scalar_one())

        return await self._run(work)

    # -- messages -----------------------------------------------------------------------------

    async def upsert_messages(self, messages: Sequence[Message]) -> Changes:
        def work(conn: Connection) -> Changes:
            return _upsert_messages(conn, messages)

        return await self._run(work) if messages else NO_CHANGES

    async def messages(
        self,
        conversation_id: int,
        *,
        before: int | None = None,
        since: int | None = None,
        limit: int = 100,
    ) -> list[Message]:
        """The newest ``limit`` messages before ``before`` and from ``since`` on, ascending."""

        def work(conn: Connection) -> list[Message]:
            q = select(_msg).where(_msg.c.conversation_id == conversation_id)
            if before is not None:
                q = q.where(_msg.c.id < before)
            if since is not None:
                q = q.where(_msg.c.id >= since)
            q = q.order_by(_msg.c.id.desc()).limit(limit)
            rows = [convert.message_from_mapping(r) for r in conn.execute(q).mappings()]
            rows.reverse()
            return rows

        return await self._run(work)

    async def messages_by_id(self, ids: Iterable[int]) -> dict[int, Message]:
        wanted = list(set(ids))

        def work(conn: Connection) -> dict[int, Message]:
            q = select(_msg).where(_msg.c.id.in_(wanted))
            return {r["id"]: convert.message_from_mapping(r) for r in conn.execute(q).mappings()}

        return await self._run(work) if wanted else {}

    async def newest_message_id(self, conversation_id: int) -> int | None:
        def work(conn: Connection) -> int | None:
            value = conn.exec_driver_sql(
                "SELECT MAX(id) FROM message WHERE conversation_id = ?", (conversation_id,)
            ).scalar_one()
            return int(value) if value is not None else None

        return await self._run(work)

    async def search(self, text: str, *, limit: int = 50) -> list[SearchHit]:
        query = fts_query(text)
        if not query:
            return []

        def work(conn: Connection) -> list[SearchHit]:
            rows = conn.exec_driver_sql(
                # Newest hits first, straight from the index: FTS5 walks rowids backwards and
                # stops at the limit, so only the hits shown get a snippet and their joins.
                "SELECT m.id, m.conversation_id, hit.snip, "
                "COALESCE(NULLIF(c.contact_name, ''), c.contact_handle), m.created_at "
                "FROM (SELECT rowid, snippet(message_fts, 0, '', '', '…', 12) AS snip "
                "      FROM message_fts WHERE message_fts MATCH ? "
                "      ORDER BY rowid DESC LIMIT ?) AS hit "
                "JOIN message m ON m.id = hit.rowid "
                "LEFT JOIN conversation c ON c.id = m.conversation_id "
                "ORDER BY m.id DESC",
                (query, limit),
            )
            return [
                SearchHit(
                    conversation_id=r[1],
                    message_id=r[0],
                    snippet=r[2],
                    contact_name=r[3] or "",
                    created_at=convert.parse_ts(r[4]),
                )
                for r in rows
            ]

        return await self._run(work)

    # -- events -------------------------------------------------------------------------------

    async def event_cursor(self) -> int | None:
        value = await self.get_meta("event_cursor")
        return int(value) if value is not None else None

    async def apply_event(self, ev: RelayEvent) -> Changes:
        """Apply one relay event and advance the cursor, atomically; an old event is a no-op."""

        def work(conn: Connection) -> Changes:
            cursor = _get_meta(conn, "event_cursor")
            if cursor is not None and ev.id <= int(cursor):
                return NO_CHANGES
            changes = _upsert_messages(conn, ev.messages)
            if ev.conversations:
                _upsert_conversations(conn, ev.conversations)
                changes = changes | Changes(conversations=frozenset(c.id for c in ev.conversations))
            _set_meta(conn, "event_cursor", str(ev.id))
            return changes

        return await self._run(work)

    async def skip_event(self, event_id: int) -> None:
        """Move the cursor past an event that could not be applied."""

        def work(conn: Connection) -> None:
            cursor = _get_meta(conn, "event_cursor")
            if cursor is None or event_id > int(cursor):
                _set_meta(conn, "event_cursor", str(event_id))

        await self._run(work)

    async def get_meta(self, key: str) -> str | None:
        return await self._run(lambda conn: _get_meta(conn, key))

    async def set_meta(self, key: str, value: str) -> None:
        await self._run(lambda conn: _set_meta(conn, key, value))

    # -- drafts -------------------------------------------------------------------------------

    async def draft(self, conversation_id: int) -> Draft | None:
        def work(conn: Connection) -> Draft | None:
            q = select(_draft).where(_draft.c.conversation_id == conversation_id)
            r = conn.execute(q).mappings().first()
            return Draft(r["conversation_id"], r["text"], r["reply_to"]) if r else None

        return await self._run(work)

    async def save_draft(self, draft: Draft) -> Changes:
        def work(conn: Connection) -> Changes:
            if not draft.text and draft.reply_to is None:
                conn.execute(
                    _draft.delete().where(_draft.c.conversation_id == draft.conversation_id)
                )
            else:
                values = {
                    "conversation_id": draft.conversation_id,
                    "text": draft.text,
                    "reply_to": draft.reply_to,
                }
                stmt = insert(_draft).values(values)
                conn.execute(
                    stmt.on_conflict_do_update(index_elements=["conversation_id"], set_=values)
                )
            return Changes(drafts=frozenset({draft.conversation_id}))

        return await self._run(work)

    # -- outbox -------------------------------------------------------------------------------

    async def outbox_add(
        self, conversation_id: int, text: str, reply_to: int | None, *, client_id: str | None = None
    ) -> tuple[OutboxItem, Changes]:
        cid = client_id or str(uuid.uuid4())
        return await self._run(
            lambda conn: outbox_insert(conn, conversation_id, text, reply_to, cid)
        )

    async def outbox(self, conversation_id: int | None = None) -> list[OutboxItem]:
        """Replies not yet accepted by the relay (those being cancelled are left out)."""

        def work(conn: Connection) -> list[OutboxItem]:
            q = select(_outbox).where(_outbox.c.state != OutboxState.CANCELLING.value)
            if conversation_id is not None:
                q = q.where(_outbox.c.conversation_id == conversation_id)
            q = q.order_by(_outbox.c.seq)
            return [convert.outbox_from_mapping(r) for r in conn.execute(q).mappings()]

        return await self._run(work)

    async def outbox_claim_next(self) -> OutboxItem | None:
        """Mark the oldest queued relay reply as sending and return it (None when none is queued).

        Only positive conversations: queued mail replies (negative ids) belong to the mail
        sender (``MailStore.claim_next_mail``).
        """

        def work(conn: Connection) -> OutboxItem | None:
            q = (
                select(_outbox)
                .where(_outbox.c.state == OutboxState.QUEUED.value, _outbox.c.conversation_id > 0)
                .order_by(_outbox.c.seq)
                .limit(1)
            )
            row = conn.execute(q).mappings().first()
            if row is None:
                return None
            conn.execute(
                _outbox.update()
                .where(_outbox.c.seq == row["seq"])
                .values(state=OutboxState.SENDING.value)
            )
            item = convert.outbox_from_mapping(row)
            return OutboxItem(**{**_fields(item), "state": OutboxState.SENDING})

        return await self._run(work)

    async def outbox_requeue(self, client_id: str) -> Changes:
        """The relay could not be reached: queue it again (or drop it if cancelled meanwhile)."""
        return await self._outbox_set(client_id, OutboxState.QUEUED, None)

    async def outbox_failed(self, client_id: str, reason: str) -> Changes:
        return await self._outbox_set(client_id, OutboxState.FAILED, reason)

    async def outbox_retry(self, client_id: str) -> Changes:
        return await self._outbox_set(client_id, OutboxState.QUEUED, None)

    async def _outbox_set(self, client_id: str, state: OutboxState, error: str | None) -> Changes:
        def work(conn: Connection) -> Changes:
            q = select(_outbox.c.conversation_id, _outbox.c.state).where(
                _outbox.c.client_id == client_id
            )
            row = conn.execute(q).first()
            if row is None:
                return NO_CHANGES
            conv = row[0]
            if row[1] == OutboxState.CANCELLING.value:
                conn.execute(_outbox.delete().where(_outbox.c.client_id == client_id))
                return Changes(threads=frozenset({conv}), outbox=True)
            conn.execute(
                _outbox.update()
                .where(_outbox.c.client_id == client_id)
                .values(state=state.value, error=error)
            )
            return Changes(threads=frozenset({conv}), outbox=True)

        return await self._run(work)

    async def outbox_delivered(self, client_id: str, message: Message) -> Changes:
        """The relay accepted the reply: swap the outbox row for the server's message."""

        def work(conn: Connection) -> Changes:
            conn.execute(_outbox.delete().where(_outbox.c.client_id == client_id))
            return _upsert_messages(conn, [message]) | Changes(
                threads=frozenset({message.conversation_id}), outbox=True
            )

        return await self._run(work)

    async def outbox_cancel(self, client_id: str) -> Changes:
        """Drop a queued or failed reply.

        One being handed to the relay right now is marked ``cancelling``: dropped if that
        attempt fails, sent if the relay had already taken it.
        """

        def work(conn: Connection) -> Changes:
            q = select(_outbox.c.conversation_id, _outbox.c.state).where(
                _outbox.c.client_id == client_id
            )
            row = conn.execute(q).first()
            if row is None or row[1] == OutboxState.CANCELLING.value:
                return NO_CHANGES
            if row[1] == OutboxState.SENDING.value:
                conn.execute(
                    _outbox.update()
                    .where(_outbox.c.client_id == client_id)
                    .values(state=OutboxState.CANCELLING.value)
                )
            else:
                conn.execute(_outbox.delete().where(_outbox.c.client_id == client_id))
            return Changes(threads=frozenset({row[0]}), outbox=True)

        return await self._run(work)


# -- helpers running on the cache thread ------------------------------------------------------


def outbox_insert(
    conn: Connection, conversation_id: int, text: str, reply_to: int | None, client_id: str
) -> tuple[OutboxItem, Changes]:
    """Queue a reply (it supersedes the conversation's draft). Shared with ``MailStore``."""
    conn.execute(
        insert(_outbox).values(
            client_id=client_id,
            conversation_id=conversation_id,
            text=text,
            reply_to=reply_to,
            state=OutboxState.QUEUED.value,
            created_at=convert.ts(utcnow()),
        )
    )
    conn.execute(_draft.delete().where(_draft.c.conversation_id == conversation_id))
    row = conn.execute(select(_outbox).where(_outbox.c.client_id == client_id)).mappings().one()
    return convert.outbox_from_mapping(row), Changes(
        threads=frozenset({conversation_id}),
        outbox=True,
        drafts=frozenset({conversation_id}),
    )


def _fields(item: OutboxItem) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__slots__}


def _get_meta(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(_meta.c.value).where(_meta.c.key == key)).scalar_one_or_none()
    return str(value) if value is not None else None


def _set_meta(conn: Connection, key: str, value: str) -> None:
    stmt = insert(_meta).values(key=key, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def _upsert_conversations(conn: Connection, conversations: Sequence[Conversation]) -> None:
    for c in conversations:
        values = convert.conversation_to_dict(c)
        stmt = insert(_conv).values(values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))


def _upsert_messages(conn: Connection, messages: Sequence[Message]) -> Changes:
    if not messages:
        return NO_CHANGES
    for m in messages:
        values = convert.message_to_dict(m)
        stmt = insert(_msg).values(values)
        set_ = {k: v for k, v in values.items() if k != "id"}
        conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=set_))
    # Keep each conversation's preview on its newest message.
    convs: set[int] = set()
    newest: dict[int, Message] = {}
    for m in messages:
        if m.conversation_id not in newest or m.id > newest[m.conversation_id].id:
            newest[m.conversation_id] = m
    for conv_id, m in newest.items():
        row = conn.execute(
            select(_conv.c.last_message_json, _conv.c.updated_at).where(_conv.c.id == conv_id)
        ).first()
        if row is None:
            continue
        last_id = _last_id(row[0])
        if last_id is None or m.id >= last_id:
            update: dict[str, Any] = {
                "last_message_json": json.dumps(convert.message_to_dict(m), ensure_ascii=False)
            }
            stamp = convert.ts(m.created_at)
            if stamp > row[1]:
                update["updated_at"] = stamp
            conn.execute(_conv.update().where(_conv.c.id == conv_id).values(update))
            convs.add(conv_id)
    return Changes(
        conversations=frozenset(convs),
        messages=frozenset(m.id for m in messages),
        threads=frozenset(m.conversation_id for m in messages),
    )


def _last_id(last_json: str | None) -> int | None:
    if not last_json:
        return None
    value = json.loads(last_json).get("id")
    return int(value) if isinstance(value, int) else None


# -- opening, moving aside, recovering --------------------------------------------------------


def _make_engine(path: Path) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=StaticPool,
        connect_args={"check_same_thread": False, "timeout": 5},
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    return engine


def _probe(path: Path) -> int:
    """The file's schema version; raises CacheCorrupt when it is not a usable database."""
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(path)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            check = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise CacheCorrupt(str(exc)) from exc
    if check != "ok":
        raise CacheCorrupt(str(check))
    return version


def _move_aside(path: Path, reason: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.{reason}-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{reason}-{stamp}-{n}")
        n += 1
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


def _recover_outbox(old: Path) -> list[dict[str, Any]]:
    """Queued relay replies from a moved-aside file, when it can still be read.

    Mail replies are not recovered: their conversation ids are local to the lost file (the
    rebuilt cache numbers threads anew) and a half-sent mail must not go out blindly.
    """
    try:
        conn = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT client_id, conversation_id, text, reply_to, created_at FROM outbox "
                "WHERE state IN ('queued', 'sending', 'failed') AND conversation_id > 0 "
                "ORDER BY seq"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.warning("could not read the outbox of %s: %s", old, exc)
        return []
    return [
        {
            "client_id": r[0],
            "conversation_id": r[1],
            "text": r[2],
            "reply_to": r[3],
            "created_at": r[4],
            "state": OutboxState.QUEUED.value,
        }
        for r in rows
    ]


def _open_sync(
    path: Path, rebuild: bool, progress: Callable[[int, int], None] | None
) -> tuple[Engine, CacheReport]:
    path.parent.mkdir(parents=True, exist_ok=True)
    report = CacheReport(path=str(path))
    recovered: list[dict[str, Any]] = []
    try:
        version = _probe(path)
        if version > SCHEMA_VERSION:
            raise CacheNewerVersion(version, SCHEMA_VERSION)
    except (CacheCorrupt, CacheNewerVersion) as exc:
        if not rebuild:
            raise
        reason = "newer" if isinstance(exc, CacheNewerVersion) else "corrupt"
        moved = _move_aside(path, reason)
        recovered = _recover_outbox(moved)
        log.warning("cache %s unusable (%s); moved to %s and rebuilt", path, exc, moved)
        report = CacheReport(
            path=str(path),
            rebuilt=True,
            reason=reason,
            moved_to=str(moved),
            recovered_outbox=len(recovered),
            notes=[str(exc)],
        )
        version = 0
    engine = _make_engine(path)
    try:
        with engine.begin() as conn:
            if version < SCHEMA_VERSION:
                migrate(conn, version, progress)
            for row in recovered:
                conn.execute(insert(_outbox).values(row).on_conflict_do_nothing())
            # A reply cancelled while in flight is dropped (if the relay took it, the event
            # stream brings it back; a mail that went out comes back with the Sent folder).
            # One handed to the relay is resent with the same key. A mail left "sending" is
            # not: SMTP has no idempotency key, so the mail sender checks the Sent folder.
            conn.execute(_outbox.delete().where(_outbox.c.state == OutboxState.CANCELLING.value))
            conn.execute(
                _outbox.update()
                .where(_outbox.c.state == OutboxState.SENDING.value, _outbox.c.conversation_id > 0)
                .values(state=OutboxState.QUEUED.value)
            )
    except (sqlalchemy.exc.DBAPIError, sqlite3.Error) as exc:
        engine.dispose()
        translated = _translate(exc)
        if translated is not None:
            raise translated from exc
        raise
    return engine, report
