"""The store's on-disk format: the ``cells`` table's columns, creating an empty store, recognising a store from its
header, and upgrading an older schema in place.

Schema versions:

- **1**: ``pruner`` holds the display label (``"P [shuffled]"`` for a sanity ablation of pruner P); no ``ablation``
  or ``higher_is_better`` column.
- **2**: ``pruner`` holds the pruner name only; ``ablation`` (``''`` for none, else ``"shuffled"`` or
  ``"reinit"``, from :attr:`plantseek.records.cells.CellConfig.ablation`) and ``higher_is_better`` (1/0 from the task;
  NULL when unknown) are columns of their own. A version-1 store is read as version 2 through
  :func:`plantseek.store.legacy.v1_columns`; opened for writing it is upgraded in place by :func:`upgrade`.
- **3**: ``pruner`` is the name a pruner declares (a submitted file's too), ``pruner_source`` the file
  reference it was loaded from (``''`` for a registered pruner) and ``pruner_code`` its code hash; ``digest`` is the
  HMAC-SHA256 of the row (:mod:`plantseek.store.integrity`) keyed by the store's secret (``meta`` key
  ``digest_key``). Rows written by older versions have no digest and read as *unverified*; a version-1 or -2 store
  is upgraded in place on its first write (its rows keep no digest).
- **4**: ``compute_json``, what the cell's pruner spent (:mod:`plantseek.records.compute`: counted training
  and score passes, FLOPs, dense training runs, the parent's wall-clock), a JSON object; NULL in rows written
  before version 4 (a version-1 to -3 store is upgraded in place on its first write; its rows keep NULL there,
  and their digests stay valid: a NULL ``compute_json`` is left out of the digested values).
- **5**: ``family``, the host family of the cell's task (:attr:`plantseek.planted.task.Task.family`), so
  the torch-free report needs no task code. Upgrading fills it from the task registry (``''`` for a task no longer
  registered); a store read without upgrading gets the same values when read. Not digested (it follows from
  ``task``), so rows signed before version 5 keep valid digests.
- **6** (current): ``engine``, the version of the training engine that trained the cell
  (:mod:`plantseek.train.engine`, also part of its ``cell_id``). NULL in rows written before version 6, which read as
  the first engine (:data:`plantseek.train.engine.FIRST_ENGINE`, the only one there was); a version-1 to -5 store
  is upgraded in place on its first write and its rows keep NULL there. Digested when not NULL (as
  ``compute_json``), so rows signed before version 6 keep valid digests.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import uuid
from datetime import datetime, timezone
from pathlib import Path

from plantseek.core.errors import StoreError
from plantseek.store.legacy import task_family, v1_columns

FORMAT = "plantseek-results"
SCHEMA_VERSION = 6
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6)
APPLICATION_ID = 0x706C736B  # "plsk", in the SQLite header (bytes 68-71)

_SQLITE_MAGIC = b"SQLite format 3\x00"

FLOAT_FIELDS = (
    "density", "achieved_density", "strong_metric", "weak_metric", "ticket_metric", "dense_metric",
    "dense_weak_metric", "prune_seconds", "train_seconds",
)
PROVENANCE_FIELDS = ("plantseek_version", "git_commit", "torch_version", "platform")

#: The columns that schema version 2 added, with their declarations (valid both in CREATE and in ALTER TABLE).
V2_COLUMNS = [
    ("ablation", "TEXT NOT NULL DEFAULT ''"),
    ("higher_is_better", "INTEGER CHECK (higher_is_better IN (0, 1))"),
]

#: The columns that schema version 3 added.
V3_COLUMNS = [
    ("pruner_source", "TEXT NOT NULL DEFAULT ''"),
    ("pruner_code", "TEXT NOT NULL DEFAULT ''"),
    ("digest", "TEXT"),
]

#: The columns that schema version 4 added.
V4_COLUMNS = [
    ("compute_json", "TEXT"),
]

#: The columns that schema version 5 added.
V5_COLUMNS = [
    ("family", "TEXT NOT NULL DEFAULT ''"),
]

#: The columns that schema version 6 added.
V6_COLUMNS = [
    ("engine", "INTEGER CHECK (engine IS NULL OR engine >= 1)"),
]

CELL_COLUMNS = [
    ("cell_id", "TEXT PRIMARY KEY NOT NULL"),
    ("task", "TEXT NOT NULL"),
    ("depth", "INTEGER NOT NULL"),
    ("width", "INTEGER NOT NULL"),
    ("seed", "INTEGER NOT NULL"),
    ("pruner", "TEXT NOT NULL"),
    V2_COLUMNS[0],
    ("density_spec", "TEXT NOT NULL"),
    ("noise", "REAL"),
    ("task_options", "TEXT NOT NULL"),  # JSON, sorted keys
    ("config_json", "TEXT NOT NULL"),
    ("status", "TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'diverged'))"),  # version 6 added 'diverged'
    ("error", "TEXT NOT NULL"),
    ("protocol", "TEXT NOT NULL"),
    ("metric_name", "TEXT NOT NULL"),
    V2_COLUMNS[1],
    *[(f, "REAL") for f in FLOAT_FIELDS],
    ("metrics_json", "TEXT NOT NULL"),
    *[(f, "TEXT") for f in PROVENANCE_FIELDS],
    ("provenance_json", "TEXT NOT NULL"),
    ("created_at", "TEXT NOT NULL"),
    ("attempts", "INTEGER NOT NULL CHECK (attempts >= 1)"),
    *V3_COLUMNS,
    *V4_COLUMNS,
    *V5_COLUMNS,
    *V6_COLUMNS,
    ("mask", "BLOB"),  # last in a new store: reading the other columns need not walk its overflow pages
]
NAMES = [name for name, _ in CELL_COLUMNS]
V5_NAMES = [name for name in NAMES if name not in dict(V6_COLUMNS)]
V4_NAMES = [name for name in V5_NAMES if name not in dict(V5_COLUMNS)]
V3_NAMES = [name for name in V4_NAMES if name not in dict(V4_COLUMNS)]
V2_NAMES = [name for name in V3_NAMES if name not in dict(V3_COLUMNS)]
V1_NAMES = [name for name in V2_NAMES if name not in dict(V2_COLUMNS)]


def names_of(version: int) -> list[str]:
    """The columns of ``cells`` in a store of schema ``version``."""
    return {1: V1_NAMES, 2: V2_NAMES, 3: V3_NAMES, 4: V4_NAMES, 5: V5_NAMES}.get(version, NAMES)

_SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    "CREATE TABLE cells (\n    "
    + ",\n    ".join(f"{name} {decl}" for name, decl in CELL_COLUMNS)
    + ",\n    CHECK (status != 'ok' OR error = '')\n)",  # a success never carries an error
]


def now() -> str:
    """The current UTC time as ISO 8601 with milliseconds (the store's timestamps)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def create(path: Path) -> None:
    """Build an empty store in a temporary file beside ``path`` and link it into place (never overwrites)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the results store's folder ({exc.strerror or exc})") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        _fill_new(tmp)
        try:
            os.link(tmp, path)  # atomic, and fails if anything (e.g. another process's new store) is there
        except FileExistsError:
            pass  # created by someone else meanwhile: open theirs
        except OSError:  # a file system without hard links
            if not os.path.lexists(path):
                os.replace(tmp, path)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"{path}: cannot create the results store ({exc})") from None
    finally:
        for p in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            try:
                p.unlink()
            except OSError:
                pass


def _fill_new(tmp: Path) -> None:
    """Write the current schema and the format marker into the new SQLite file ``tmp``."""
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("BEGIN")
        for stmt in _SCHEMA:
            conn.execute(stmt)
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
            ("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)), ("created_at", now()),
            ("digest_key", new_digest_key()),
        ])
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")  # persistent: every later connection uses the WAL
    finally:
        conn.close()


def check_header(path: Path) -> None:
    """Reject what is not a plantseek store from its first 100 bytes, before SQLite opens (and might write) it."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except IsADirectoryError:
        raise StoreError(f"{path}: is a directory, not a results store") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the results store ({exc.strerror or exc})") from None
    if not head:
        raise StoreError(f"{path}: not a plantseek results store (empty file); move it away or choose another path")
    if not head.startswith(_SQLITE_MAGIC):
        raise StoreError(f"{path}: not a plantseek results store (not an SQLite database); choose another path")
    if len(head) < 100:
        raise StoreError(f"{path}: corrupt results store (truncated to {len(head)} bytes)")
    app_id = int.from_bytes(head[68:72], "big")
    if app_id != APPLICATION_ID:
        owner = "no application id" if app_id == 0 else f"application id {app_id:#010x}"
        raise StoreError(f"{path}: not a plantseek results store (an SQLite database with {owner})")


def stored_version(conn: sqlite3.Connection) -> str | None:
    """The ``schema_version`` of the store's meta table, as stored (text), or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return None if row is None else row[0]


def new_digest_key() -> str:
    """A fresh per-store secret for the rows' digests (256 random bits, hex)."""
    return secrets.token_hex(32)


def upgrade(conn: sqlite3.Connection) -> bool:
    """Upgrade a version-1 to -5 store to the current version in place; the caller holds a write transaction
    (all or nothing). Returns False (and changes nothing) when another writer upgraded the store first. Cell ids
    are unchanged: they hash the configuration. Rows of a version-1 or -2 store get no digest (they stay
    *unverified*); a version-3 to -5 row keeps its digest (a NULL ``compute_json`` or ``engine`` is not digested,
    ``family`` never is). ``family`` is filled from the task registry (:func:`plantseek.store.legacy.task_family`);
    ``engine`` stays NULL (read as the first engine). Version 6 also widens the status constraint (``diverged``):
    the ``cells`` table is rebuilt with the same rows and values."""
    version = stored_version(conn)
    if version not in ("1", "2", "3", "4", "5"):
        return False
    if version == "1":
        _upgrade_v1(conn)
    old = int(version)
    added = ((V3_COLUMNS if old < 3 else []) + (V4_COLUMNS if old < 4 else []) + (V5_COLUMNS if old < 5 else [])
             + V6_COLUMNS)
    for name, decl in added:
        conn.execute(f"ALTER TABLE cells ADD COLUMN {name} {decl}")
    if old < 5:
        tasks = [row[0] for row in conn.execute("SELECT DISTINCT task FROM cells").fetchall()]
        conn.executemany("UPDATE cells SET family = ? WHERE task = ?", [(task_family(t), t) for t in tasks])
    _rebuild_cells(conn)
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('digest_key', ?)", (new_digest_key(),))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return True


def _rebuild_cells(conn: sqlite3.Connection) -> None:
    """``cells`` re-created with the current declarations (SQLite cannot alter a constraint), every row copied."""
    columns = ", ".join(row[1] for row in conn.execute("PRAGMA table_info(cells)").fetchall())
    conn.execute("ALTER TABLE cells RENAME TO cells_before_upgrade")
    conn.execute(_SCHEMA[1])
    conn.execute(f"INSERT INTO cells ({columns}) SELECT {columns} FROM cells_before_upgrade")
    conn.execute("DROP TABLE cells_before_upgrade")


def _upgrade_v1(conn: sqlite3.Connection) -> None:
    """Version 1 to 2: adds the ``ablation`` and ``higher_is_better`` columns and fills them and ``pruner`` from
    :func:`plantseek.store.legacy.v1_columns`."""
    for name, decl in V2_COLUMNS:
        conn.execute(f"ALTER TABLE cells ADD COLUMN {name} {decl}")
    rows = conn.execute("SELECT cell_id, pruner, config_json, metric_name FROM cells").fetchall()
    updates = []
    for cell_id, label, config_json, metric_name in rows:
        pruner, ablation, hib = v1_columns(label, config_json, metric_name)
        updates.append((pruner, ablation, None if hib is None else int(hib), cell_id))
    conn.executemany("UPDATE cells SET pruner = ?, ablation = ?, higher_is_better = ? WHERE cell_id = ?", updates)
