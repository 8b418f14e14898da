"""The results store: one SQLite file, one row per cell, that never loses work.

A store is an embedded SQLite database (default ``results/plantseek.db``, see :mod:`plantseek.core.paths`) with a
``cells`` table keyed by :attr:`CellConfig.cell_id` and a ``meta`` table carrying the format marker
(``format = plantseek-results``, ``schema_version``; also ``PRAGMA application_id``).

Guarantees:

- **Crash safety.** Every :meth:`ResultStore.put` is one short transaction (WAL journal, ``synchronous=FULL``):
  a process killed at any moment (``kill -9``) loses at most the cell it was writing, never leaves a partial row,
  and the next open recovers the journal.
- **Concurrent writers.** Any number of processes may write one store at once: each write takes the write lock
  (``BEGIN IMMEDIATE``), waits up to 30 s for it (busy timeout) and is retried on "database is locked" for up to
  two minutes more. Every cell is recorded once.
- **A success is final.** A failed result never replaces a successful one; a success replaces a failure; a later
  failure replaces an earlier failure (its error is the newest). ``attempts`` counts every ``put`` of the cell.
  A row with status ``ok`` cannot carry an error (the table enforces it).
- **Never overwritten.** A new store is built in a temporary file and linked into place atomically, so the path
  holds either nothing or a complete store. A file that is not a plantseek store (a text file, another
  application's SQLite database, an empty, truncated or corrupt file) raises :class:`StoreError` and is left
  untouched.

Floats that are NaN are stored as NULL (SQLite has no NaN) and read back as NaN.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from plantseek.core.errors import StoreError
from plantseek.prune.masks import Mask, Shapes, unpack_mask
from plantseek.core.paths import default_store_path
from plantseek.run.records import COLUMNS, CellConfig, CellResult

FORMAT = "plantseek-results"
SCHEMA_VERSION = 1
APPLICATION_ID = 0x706C736B  # "plsk", in the SQLite header (bytes 68-71)
BUSY_TIMEOUT_S = 30.0  # SQLite waits this long for a lock before reporting "database is locked"
RETRY_S = 120.0  # ... after which a write or read is retried, with backoff, for this long

_SQLITE_MAGIC = b"SQLite format 3\x00"

FLOAT_FIELDS = (
    "density", "achieved_density", "strong_metric", "weak_metric", "ticket_metric", "dense_metric",
    "dense_weak_metric", "prune_seconds", "train_seconds",
)
PROVENANCE_FIELDS = ("plantseek_version", "git_commit", "torch_version", "platform")

#: Scalar recovery metrics (``plantseek.score.metrics.recovery_metrics``) that ``frame()`` always has as columns, missing
#: values as NaN/NA; any other scalar metric key becomes a column too, after these, in order of first appearance.
METRIC_COLUMNS = [
    "precision", "recall", "f1", "jaccard", "effective_density", "nominal_density", "contains_ticket",
    "layer_collapse", "ticket_neurons_recovered",
]
_BOOL_METRICS = {"contains_ticket", "layer_collapse"}  # boolean columns even when no cell has them
#: Columns of ``frame()`` after ``records.COLUMNS`` and before the metric columns.
EXTRA_COLUMNS = ["attempts", "task_options", "config_json"]

_CELL_COLUMNS = [
    ("cell_id", "TEXT PRIMARY KEY NOT NULL"),
    ("task", "TEXT NOT NULL"),
    ("depth", "INTEGER NOT NULL"),
    ("width", "INTEGER NOT NULL"),
    ("seed", "INTEGER NOT NULL"),
    ("pruner", "TEXT NOT NULL"),
    ("density_spec", "TEXT NOT NULL"),
    ("noise", "REAL"),
    ("task_options", "TEXT NOT NULL"),  # JSON, sorted keys
    ("config_json", "TEXT NOT NULL"),
    ("status", "TEXT NOT NULL CHECK (status IN ('ok', 'failed'))"),
    ("error", "TEXT NOT NULL"),
    ("protocol", "TEXT NOT NULL"),
    ("metric_name", "TEXT NOT NULL"),
    *[(f, "REAL") for f in FLOAT_FIELDS],
    ("metrics_json", "TEXT NOT NULL"),
    *[(f, "TEXT") for f in PROVENANCE_FIELDS],
    ("provenance_json", "TEXT NOT NULL"),
    ("created_at", "TEXT NOT NULL"),
    ("attempts", "INTEGER NOT NULL CHECK (attempts >= 1)"),
    ("mask", "BLOB"),  # last: reading the other columns need not walk its overflow pages
]
_NAMES = [name for name, _ in _CELL_COLUMNS]
_SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    "CREATE TABLE cells (\n    "
    + ",\n    ".join(f"{name} {decl}" for name, decl in _CELL_COLUMNS)
    + ",\n    CHECK (status = 'failed' OR error = '')\n)",  # a success never carries an error
]

T = TypeVar("T")


@dataclass(frozen=True)
class StoredCell:
    """One row of the store: the cell's configuration (``CellConfig.as_dict()``, as stored) and its result."""

    cell_id: str
    config: dict[str, Any]
    result: CellResult
    created_at: str  # UTC ISO 8601, when the stored result was recorded
    attempts: int  # how often the cell was put (run)


class ResultStore:
    """A results store at ``path`` (created with its folders if missing, unless ``create=False``).

    ``check`` runs SQLite's ``quick_check`` on open (reads the whole file once) so that a corrupt store is
    reported at once rather than at the first read of a damaged page. Usable as a context manager; safe to use
    from threads and after ``fork`` (a child process opens its own connection).
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = True, check: bool = True) -> None:
        self.path = Path(default_store_path() if path is None else path).expanduser()
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        if not os.path.lexists(self.path):
            if not create:
                raise StoreError(f"{self.path}: no such results store")
            _create(self.path)
        _check_header(self.path)
        try:
            self._retry(lambda conn: self._validate(conn, check), write=False)
        except BaseException:
            self.close()
            raise

    # --- reading -------------------------------------------------------------------------------------------------
    def finished_ids(self) -> set[str]:
        """Ids of the cells that succeeded (status ``ok``): a re-run skips exactly these."""
        return {r[0] for r in self._read("SELECT cell_id FROM cells WHERE status = 'ok'")}

    def failed_ids(self) -> set[str]:
        return {r[0] for r in self._read("SELECT cell_id FROM cells WHERE status = 'failed'")}

    def status_of(self, cell_id: str) -> str | None:
        """``"ok"``, ``"failed"``, or None when the cell is not in the store."""
        rows = self._read("SELECT status FROM cells WHERE cell_id = ?", (cell_id,))
        return rows[0][0] if rows else None

    def __len__(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM cells")[0][0])

    def get(self, cell_id: str) -> StoredCell | None:
        """The stored cell (configuration, result with its packed mask), or None when it is not in the store."""
        rows = self._read(f"SELECT {', '.join(_NAMES)} FROM cells WHERE cell_id = ?", (cell_id,))
        if not rows:
            return None
        d = dict(zip(_NAMES, rows[0]))
        result = CellResult(
            status=d["status"], error=d["error"], metric_name=d["metric_name"], protocol=d["protocol"],
            **{f: _nan(d[f]) for f in FLOAT_FIELDS},
            metrics=self._json(d["metrics_json"], cell_id), mask=None if d["mask"] is None else bytes(d["mask"]),
            provenance=self._json(d["provenance_json"], cell_id),
        )
        return StoredCell(cell_id=cell_id, config=self._json(d["config_json"], cell_id), result=result,
                          created_at=d["created_at"], attempts=int(d["attempts"]))

    def mask(self, cell_id: str, shapes: Shapes) -> Mask:
        """The cell's mask ``{name: BoolTensor}``, unpacked with the layer ``shapes`` (in pack order)."""
        rows = self._read("SELECT status, mask FROM cells WHERE cell_id = ?", (cell_id,))
        if not rows:
            raise StoreError(f"{self.path}: no cell {cell_id} in the results store")
        status, blob = rows[0]
        if blob is None:
            raise StoreError(f"{self.path}: cell {cell_id} has no stored mask (status {status})")
        need = (sum(math.prod(s) for s in shapes.values()) + 7) // 8
        if len(blob) != need:
            raise StoreError(f"{self.path}: the mask of cell {cell_id} has {len(blob)} bytes, the given shapes "
                             f"need {need}")
        return unpack_mask(bytes(blob), shapes)

    def frame(self, include_masks: bool = False):
        """All cells as a pandas DataFrame, one row per cell in insertion order; see :func:`load_results`."""
        cols = list(COLUMNS) + EXTRA_COLUMNS + ["metrics_json"] + (["mask"] if include_masks else [])
        rows = self._read(f"SELECT {', '.join(cols)} FROM cells ORDER BY rowid")
        return _build_frame(cols, rows, include_masks, self.path)

    # --- writing -------------------------------------------------------------------------------------------------
    def put(self, config: CellConfig, result: CellResult, *, replace: bool = False) -> str:
        """Record one cell's result in its own transaction; returns what happened.

        ``"new"``: first result of the cell. ``"replaced"``: the stored result was a failure (or ``replace=True``
        and both are successes) and this one took its place. ``"kept"``: the stored result is a success and stays
        (this result failed, or ``replace`` is False). ``attempts`` is incremented in every case.
        """
        row = _row(config, result)
        cell_id = row["cell_id"]

        def write(conn: sqlite3.Connection) -> str:
            old = conn.execute("SELECT status FROM cells WHERE cell_id = ?", (cell_id,)).fetchone()
            if old is None:
                names = list(row) + ["attempts"]
                conn.execute(f"INSERT INTO cells ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                             [*row.values(), 1])
                return "new"
            if old[0] == "ok" and (row["status"] != "ok" or not replace):
                conn.execute("UPDATE cells SET attempts = attempts + 1 WHERE cell_id = ?", (cell_id,))
                return "kept"
            sets = ", ".join(f"{k} = ?" for k in row if k != "cell_id")
            conn.execute(f"UPDATE cells SET {sets}, attempts = attempts + 1 WHERE cell_id = ?",
                         [v for k, v in row.items() if k != "cell_id"] + [cell_id])
            return "replaced"

        return self._retry(write, write=True)

    # --- connection ----------------------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never use a connection inherited through fork
            try:
                conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot open the results store ({exc})") from None
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _validate(self, conn: sqlite3.Connection, check: bool) -> None:
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "meta" not in tables or "cells" not in tables:
                raise StoreError(f"{self.path}: not a plantseek results store (tables: "
                                 f"{', '.join(sorted(tables)) or 'none'}; expected meta and cells)")
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("format") != FORMAT:
                raise StoreError(f"{self.path}: not a plantseek results store (format {meta.get('format')!r})")
            version = meta.get("schema_version")
            if version != str(SCHEMA_VERSION):
                newer = str(version).isdigit() and int(version) > SCHEMA_VERSION
                raise StoreError(f"{self.path}: results store schema version {version} is not supported (this "
                                 f"plantseek reads version {SCHEMA_VERSION}{'; upgrade plantseek' if newer else ''})")
            have = {r[1] for r in conn.execute("PRAGMA table_info(cells)")}
            missing = [c for c in _NAMES if c not in have]
            if missing:
                raise StoreError(f"{self.path}: corrupt results store (table cells lacks {', '.join(missing)})")
            if check:
                problems = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
                if problems != ["ok"]:
                    raise StoreError(f"{self.path}: corrupt results store (quick_check: {problems[0]})")
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise  # transient: retried by the caller
            raise StoreError(f"{self.path}: corrupt or unreadable results store ({exc})") from None

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._retry(lambda conn: conn.execute(sql, params).fetchall(), write=False)

    def _json(self, text: str, cell_id: str) -> Any:
        try:
            return json.loads(text)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{self.path}: corrupt JSON in cell {cell_id} ({exc})") from None

    def _retry(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run ``fn`` (in a write transaction when ``write``), retrying while the database is locked."""
        deadline = time.monotonic() + RETRY_S
        delay = 0.01
        while True:
            with self._lock:
                conn = self._connection()
                try:
                    if not write:
                        return fn(conn)
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        out = fn(conn)
                        conn.execute("COMMIT")
                        return out
                    except BaseException:
                        _rollback(conn)
                        raise
                except sqlite3.OperationalError as exc:
                    if not (_is_busy(exc) and time.monotonic() < deadline):
                        raise self._error(exc, write) from None
                except sqlite3.DatabaseError as exc:
                    raise self._error(exc, write) from None
            time.sleep(delay)
            delay = min(2 * delay, 1.0)

    def _error(self, exc: sqlite3.Error, write: bool) -> StoreError:
        what = "write to" if write else "read"
        return StoreError(f"{self.path}: cannot {what} the results store ({exc})")


def load_results(path: str | Path | None = None, *, include_masks: bool = False):
    """All cells of the store at ``path`` (default ``results/plantseek.db``) as a pandas DataFrame.

    One row per cell, in the order cells were first stored. Columns, in order:

    - ``records.COLUMNS``: ``cell_id task depth width seed pruner density_spec noise status error protocol
      metric_name density achieved_density strong_metric weak_metric ticket_metric dense_metric dense_weak_metric
      prune_seconds train_seconds plantseek_version git_commit torch_version platform created_at``
      (``density_spec`` is the configured density string, ``density`` the resolved number; ``noise`` is NaN when
      the task's default was used; ``created_at`` is a UTC ISO 8601 string; missing floats are NaN);
    - ``attempts`` (int), ``task_options`` (JSON text, sorted keys), ``config_json`` (the full configuration, the
      text ``cell_id`` hashes);
    - one column per scalar metric: always :data:`METRIC_COLUMNS`, then any other scalar key in order of first
      appearance (a key that collides with a column above is prefixed ``metric_``); floats as float64 (NaN when
      missing), booleans as pandas' nullable ``boolean`` (NA when missing);
    - ``metrics_json``: the non-scalar metric entries (e.g. ``per_layer``, ``collapsed_layers``) as JSON text;
    - ``mask`` (packed bytes or None) only with ``include_masks=True``.

    Raises StoreError when the file is missing, foreign or corrupt; never creates or modifies a store.
    """
    p = Path(default_store_path() if path is None else path).expanduser()
    if not os.path.lexists(p):
        raise StoreError(f"{p}: no such results store")
    with ResultStore(p, create=False) as store:
        return store.frame(include_masks=include_masks)


# --- helpers ---------------------------------------------------------------------------------------------------
def _create(path: Path) -> None:
    """Build an empty store in a temporary file beside ``path`` and link it into place (never overwrites)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the results store's folder ({exc.strerror or exc})") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("BEGIN")
            for stmt in _SCHEMA:
                conn.execute(stmt)
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                ("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)), ("created_at", _now()),
            ])
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode = WAL")  # persistent: every later connection uses the WAL
        finally:
            conn.close()
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


def _check_header(path: Path) -> None:
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


def _row(config: CellConfig, result: CellResult) -> dict[str, Any]:
    """The column values of one cell; raises StoreError for anything that cannot be recorded faithfully."""
    if not isinstance(config, CellConfig):
        raise StoreError(f"put() needs a CellConfig, got {type(config).__name__}")
    if not isinstance(result, CellResult):
        raise StoreError(f"put() needs a CellResult, got {type(result).__name__}")
    cell_id = config.cell_id
    if result.status not in ("ok", "failed"):
        raise StoreError(f"cell {cell_id}: status must be 'ok' or 'failed', got {result.status!r}")
    error = "" if result.error is None else str(result.error)
    if result.status == "ok" and error:
        raise StoreError(f"cell {cell_id}: status 'ok' with an error ({' '.join(error.split())}); a failure is "
                         "never stored as a success")
    mask = result.mask
    if mask is not None:
        if not isinstance(mask, (bytes, bytearray, memoryview)):
            raise StoreError(f"cell {cell_id}: mask must be bytes (plantseek.prune.masks.pack_mask), got "
                             f"{type(mask).__name__}")
        mask = bytes(mask)
    for name in ("metrics", "provenance"):
        if not isinstance(getattr(result, name), Mapping):
            raise StoreError(f"cell {cell_id}: {name} must be a dict, got {type(getattr(result, name)).__name__}")
    floats = {}
    for f in FLOAT_FIELDS:
        v = getattr(result, f)
        try:
            v = None if v is None else float(v)
        except (TypeError, ValueError):
            raise StoreError(f"cell {cell_id}: {f} must be a number, got {v!r}") from None
        floats[f] = None if v is None or math.isnan(v) else v
    try:
        depth, width, seed = int(config.depth), int(config.width), int(config.seed)
    except (TypeError, ValueError):
        raise StoreError(f"cell {cell_id}: depth, width and seed must be integers") from None
    options = dict(config.task_options)
    prov = dict(result.provenance)
    return {
        "cell_id": cell_id,
        "task": config.task,
        "depth": depth,
        "width": width,
        "seed": seed,
        "pruner": config.label,  # the pruner, with a sanity ablation in brackets
        "density_spec": str(config.density),
        "noise": _scalar_or_none(options.get("noise")),
        "task_options": json.dumps(options, sort_keys=True, default=str),
        "config_json": json.dumps(config.as_dict(), sort_keys=True, default=str),  # the whole configuration
        "status": result.status,
        "error": error,
        "protocol": result.protocol or "",
        "metric_name": result.metric_name or "",
        **floats,
        "metrics_json": _dumps(dict(result.metrics), "metrics", cell_id),
        "mask": mask,
        **{f: None if prov.get(f) is None else str(prov[f]) for f in PROVENANCE_FIELDS},
        "provenance_json": _dumps(prov, "provenance", cell_id),
        "created_at": _now(),
    }


def _build_frame(cols: list[str], rows: list[tuple], include_masks: bool, path: Path):
    import pandas as pd

    base = list(COLUMNS) + EXTRA_COLUMNS
    records, metric_values = [], []
    keys: dict[str, None] = dict.fromkeys(METRIC_COLUMNS)
    others: list[str] = []
    for r in rows:
        d = dict(zip(cols, r))
        try:
            metrics = json.loads(d["metrics_json"])
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{path}: corrupt JSON in cell {d['cell_id']} ({exc})") from None
        scalars = {k: v for k, v in metrics.items() if _is_scalar(v)}
        keys.update(dict.fromkeys(scalars))
        metric_values.append(scalars)
        rest = {k: v for k, v in metrics.items() if k not in scalars}
        others.append(json.dumps(rest) if rest else "{}")
        if include_masks and d["mask"] is not None:
            d["mask"] = bytes(d["mask"])
        records.append(d)
    taken = set(base) | {"metrics_json", "mask"}
    names = {}
    for k in keys:
        name = k
        while name in taken:
            name = f"metric_{name}"
        names[k] = name
        taken.add(name)
    df = pd.DataFrame(records, columns=base)
    for c in ("depth", "width", "seed", "attempts"):
        df[c] = df[c].astype("int64")
    for c in FLOAT_FIELDS:
        df[c] = df[c].astype("float64")
    try:
        df["noise"] = df["noise"].astype("float64")
    except (TypeError, ValueError):
        pass  # a non-numeric noise option: left as stored
    metric_cols = {names[k]: _metric_series([m.get(k) for m in metric_values], df.index, k in _BOOL_METRICS)
                   for k in keys}
    tail = {"metrics_json": pd.Series(others, index=df.index, dtype=object)}
    if include_masks:
        tail["mask"] = pd.Series([d["mask"] for d in records], index=df.index, dtype=object)
    return pd.concat([df, pd.DataFrame(metric_cols, index=df.index), pd.DataFrame(tail, index=df.index)], axis=1)


def _metric_series(values: list, index, boolean: bool):
    import pandas as pd

    present = [v for v in values if v is not None]
    if (present or boolean) and all(isinstance(v, bool) for v in present):
        return pd.Series(pd.array(values, dtype="boolean"), index=index)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if present and len(present) == len(values) and all(isinstance(v, int) for v in present):
            return pd.Series(values, index=index, dtype="int64")
        return pd.Series([math.nan if v is None else float(v) for v in values], index=index, dtype="float64")
    return pd.Series(values, index=index, dtype=object)


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _scalar_or_none(v: Any) -> Any:
    if v is None or isinstance(v, (int, float, str)):
        return v
    return str(v)


def _dumps(obj: dict, what: str, cell_id: str) -> str:
    try:
        return json.dumps(obj, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cell {cell_id}: {what} cannot be stored as JSON ({exc})") from None


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):  # numpy / torch scalars and arrays
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o, key=str)
    return str(o)


def _nan(v: Any) -> float:
    return math.nan if v is None else float(v)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass
