"""The cache's schema version and migrations.

``PRAGMA user_version`` holds the version. Each entry of ``MIGRATIONS`` brings the file from
``version - 1`` to ``version``; a file whose version is above ``SCHEMA_VERSION`` is refused.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from omnidesk.storage.tables import cache_registry

SCHEMA_VERSION = 3

_V1_TABLES = ("conversation", "message", "outbox", "draft", "meta")
_V2_TABLES = (
    "mail_thread", "mail_message", "mail_copy", "mail_folder", "mail_part", "mail_outbox",
)  # fmt: skip
_V3_TABLES = ("mail_seen_pending",)

_FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5("
    "body, content='message', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS message_ai AFTER INSERT ON message BEGIN "
    "INSERT INTO message_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER IF NOT EXISTS message_ad AFTER DELETE ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS message_au AFTER UPDATE OF body ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO message_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE INDEX IF NOT EXISTS ix_conversation_order ON conversation (updated_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS ix_message_thread ON message (conversation_id, id)",
]


_MAIL = [
    # A queued mail reply's MIME goes with its outbox row, whoever deletes it (cancel, sent).
    "CREATE TRIGGER IF NOT EXISTS outbox_mail_ad AFTER DELETE ON outbox BEGIN "
    "DELETE FROM mail_outbox WHERE client_id = old.client_id; END",
    "CREATE INDEX IF NOT EXISTS ix_mail_message_gc ON mail_message (account_id, gc_folder) "
    "WHERE gc_folder IS NOT NULL",
]


def _create(conn: Connection, names: tuple[str, ...]) -> None:
    """Create these tables as they are declared now (each migration names its own)."""
    tables = [cache_registry.metadata.tables[name] for name in names]
    cache_registry.metadata.create_all(conn, tables=tables)


def _v1(conn: Connection) -> None:
    _create(conn, _V1_TABLES)
    for ddl in _FTS:
        conn.exec_driver_sql(ddl)


def _v2(conn: Connection) -> None:
    """Email: its own tables; mail shows through ``conversation``/``message`` (negative ids)."""
    _create(conn, _V2_TABLES)
    for ddl in _MAIL:
        conn.exec_driver_sql(ddl)


def _v3(conn: Connection) -> None:
    """Mails read here whose ``\\Seen`` the server still lacks survive a restart."""
    _create(conn, _V3_TABLES)
    conn.exec_driver_sql(
        "CREATE TRIGGER IF NOT EXISTS mail_message_seen_ad AFTER DELETE ON mail_message BEGIN "
        "DELETE FROM mail_seen_pending WHERE mail_id = old.id; END"
    )


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1, 2: _v2, 3: _v3}


def migrate(
    conn: Connection, found: int, progress: Callable[[int, int], None] | None = None
) -> None:
    """Run every migration after ``found``, each in the caller's transaction."""
    for version in range(found + 1, SCHEMA_VERSION + 1):
        if progress:
            progress(version - found, SCHEMA_VERSION - found)
        MIGRATIONS[version](conn)
        conn.exec_driver_sql(f"PRAGMA user_version = {version}")
