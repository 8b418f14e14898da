"""Opening a store's SQLite file: read-write, or read-only for the commands that only report.

A read-only connection uses the URI ``mode=ro``: SQLite never writes the database file through it (no upgrade,
no journal recovery written back). A WAL-mode database opened so still needs its ``-shm`` index, which SQLite
creates beside the file; in a folder that cannot be written, and when no ``-wal`` file is there (so every
committed transaction is in the database file itself), the file is opened ``immutable=1`` instead: SQLite then
reads it as a plain file, with no locking and no side files.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from typing import Any
from pathlib import Path

from plantseek.core.errors import StoreError

BUSY_TIMEOUT_S = 30.0  # SQLite waits this long for a lock before reporting "database is locked"


def _uri(path: Path, **params: str) -> str:
    query = urllib.parse.urlencode(params)
    return f"file:{urllib.parse.quote(str(path.resolve()))}?{query}"


def _configured(conn: sqlite3.Connection, readonly: bool) -> sqlite3.Connection:
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    if not readonly:
        conn.execute("PRAGMA synchronous = FULL")
    return conn


def _probe(conn: sqlite3.Connection) -> None:
    """Reading the schema makes SQLite open the file (and, for WAL, its -shm index) now rather than later."""
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """A connection to the store at ``path`` (autocommit; the caller opens transactions)."""
    kw: dict[str, Any] = dict(timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        if not readonly:
            return _configured(sqlite3.connect(str(path), **kw), readonly)
        conn = sqlite3.connect(_uri(path, mode="ro"), uri=True, **kw)
        try:
            _probe(conn)
            return _configured(conn, readonly)
        except sqlite3.OperationalError:
            conn.close()
            if not _unwritable_folder_without_wal(path):
                raise
        conn = sqlite3.connect(_uri(path, mode="ro", immutable="1"), uri=True, **kw)
        return _configured(conn, readonly)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the results store ({exc})") from None


def _unwritable_folder_without_wal(path: Path) -> bool:
    """True when the store's folder cannot be written (so no -shm can be made) and no -wal file holds commits."""
    wal = path.with_name(path.name + "-wal")
    if os.path.lexists(wal) and os.path.getsize(wal) > 0:
        return False
    return not os.access(path.parent, os.W_OK) or _read_only_mount(path.parent)


def _read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
