"""The cache's exception hierarchy.

::

    CacheError
    ├── CacheEnvironmentError   the machine is the problem: tell the agent
    │   ├── CacheDiskFull       SQLite could not write: the disk (or quota) is full
    │   └── CacheLocked         another process holds the cache
    └── CacheUnusable           the file cannot be used as it is (moved aside and rebuilt)
        ├── CacheCorrupt        not a database, or damaged
        └── CacheNewerVersion   written by a newer Omnidesk; this version refuses it

Anything else escaping storage is our bug and is logged with a traceback.
"""

from __future__ import annotations


class CacheError(Exception):
    """Base of every error the cache raises on purpose."""


class CacheEnvironmentError(CacheError):
    """The environment (disk, other processes) stopped the cache from working."""


class CacheDiskFull(CacheEnvironmentError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("The disk is full: the local cache could not be saved. " + detail)


class CacheLocked(CacheEnvironmentError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("The local cache is in use by another program. " + detail)


class CacheUnusable(CacheError):
    """The cache file cannot be opened as it is."""


class CacheCorrupt(CacheUnusable):
    pass


class CacheNewerVersion(CacheUnusable):
    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"The local cache was written by a newer Omnidesk (format {found}; "
            f"this version reads up to {supported})."
        )
        self.found = found
        self.supported = supported
