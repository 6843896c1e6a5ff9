"""The console's local cache (SQLModel on SQLite). Imports nothing above ``domain``."""

from __future__ import annotations

from omnidesk.storage.cache import Cache, fts_query
from omnidesk.storage.errors import (
    CacheCorrupt,
    CacheDiskFull,
    CacheEnvironmentError,
    CacheError,
    CacheLocked,
    CacheNewerVersion,
    CacheUnusable,
)
from omnidesk.storage.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "Cache",
    "CacheCorrupt",
    "CacheDiskFull",
    "CacheEnvironmentError",
    "CacheError",
    "CacheLocked",
    "CacheNewerVersion",
    "CacheUnusable",
    "fts_query",
]
