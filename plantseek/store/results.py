"""The results store: one SQLite file, one row per cell, that never loses work.

:class:`ResultStore` holds a ``cells`` table keyed by :attr:`CellConfig.cell_id` and a ``meta`` table with the
format marker; the columns and schema versions are :mod:`plantseek.store.schema`, the DataFrame view
:mod:`plantseek.store.frame`. Guarantees (each tested): crash safety (one short WAL transaction per put), any number
of concurrent writers, a success is final, a store is never overwritten by a non-store, old schema versions stay
readable and upgrade on the first write, every row carries a digest (:mod:`plantseek.store.integrity`), and
read-only opening never writes; a sealed ledger (:mod:`plantseek.store.ledger`) refuses deleted, duplicated, foreign
and re-signed rows. NaN floats are stored as NULL. The guarantees in full: ``docs/design/store.md``.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from plantseek.core.errors import StoreError
from plantseek.core.paths import default_store_path
from plantseek.records.cells import CellConfig, CellResult
from plantseek.store import ledger, schema
from plantseek.store.connect import BUSY_TIMEOUT_S, connect
from plantseek.store.integrity import Refusal, digest_problem, row_problem
from plantseek.store.legacy import task_family, v1_columns
from plantseek.store.reading import Checked, check_rows
from plantseek.store.rows import cell_row
from plantseek.store.schema import FLOAT_FIELDS, NAMES, READABLE_VERSIONS, SCHEMA_VERSION, names_of

if TYPE_CHECKING:
    import pandas as pd

    from plantseek.core.types import Mask
    from plantseek.nets.masks import Shapes

__all__ = ["BUSY_TIMEOUT_S", "Checked", "ResultStore", "StoredCell", "load_checked", "load_results"]
RETRY_S = 120.0  # ... after which a write or read is retried, with backoff, for this long

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
    reported at once rather than at the first read of a damaged page. ``readonly`` opens the file read-only
    (never created, upgraded or written; :meth:`put` raises). Usable as a context manager; safe to use
    from threads and after ``fork`` (a child process opens its own connection).
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = True, check: bool = True,
                 readonly: bool = False) -> None:
        self.path = Path(default_store_path() if path is None else path).expanduser()
        self.readonly = readonly
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._key: str | None = None  # the digest key (meta digest_key), set by _validate
        self.version = SCHEMA_VERSION  # the schema version of the file, set by _validate
        if not os.path.lexists(self.path):
            if not create or readonly:
                raise StoreError(f"{self.path}: no such results store")
            schema.create(self.path)
        schema.check_header(self.path)
        try:
            self._retry(lambda conn: self._validate(conn, check), write=False)
        except BaseException:
            self.close()
            raise

    # --- reading -------------------------------------------------------------------------------------------------
    def finished_ids(self) -> set[str]:
        """Ids of the cells that are done (status ``ok`` or ``diverged``): a re-run skips exactly these."""
        return {r[0] for r in self._read("SELECT cell_id FROM cells WHERE status IN ('ok', 'diverged')")}

    def failed_ids(self) -> set[str]:
        return {r[0] for r in self._read("SELECT cell_id FROM cells WHERE status = 'failed'")}

    def status_of(self, cell_id: str) -> str | None:
        """``"ok"``, ``"failed"``, ``"diverged"``, or None when the cell is not in the store."""
        rows = self._read("SELECT status FROM cells WHERE cell_id = ?", (cell_id,))
        return rows[0][0] if rows else None

    def __len__(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM cells")[0][0])

    def get(self, cell_id: str) -> StoredCell | None:
        """The stored cell (configuration, result with its packed mask), or None when it is not in the store."""
        rows = self._cells(NAMES, "WHERE cell_id = ?", (cell_id,))
        if not rows:
            return None
        d = rows[0]
        problem = row_problem(d) or digest_problem(self._key, d)
        if problem:
            raise StoreError(f"{self.path}: {Refusal.of(d, problem).line()}")
        hib = d["higher_is_better"]
        result = CellResult(
            status=d["status"], error=d["error"], metric_name=d["metric_name"], protocol=d["protocol"],
            higher_is_better=None if hib is None else bool(hib), **{f: _nan(d[f]) for f in FLOAT_FIELDS},
            metrics=self._json(d["metrics_json"], cell_id), mask=None if d["mask"] is None else bytes(d["mask"]),
            provenance=self._json(d["provenance_json"], cell_id),
            compute=self._json(d["compute_json"] or "{}", cell_id), family=d["family"])
        return StoredCell(cell_id=cell_id, config=self._json(d["config_json"], cell_id), result=result,
                          created_at=d["created_at"], attempts=int(d["attempts"]))

    def mask(self, cell_id: str, shapes: "Shapes") -> "Mask":
        """The cell's mask ``{name: BoolTensor}``, unpacked with the layer ``shapes`` (in pack order).

        The only part of the store that needs torch, imported here so that reading results never does."""
        from plantseek.nets.masks import unpack_mask

        rows = self._read("SELECT status, mask, config_json FROM cells WHERE cell_id = ?", (cell_id,))
        if not rows:
            raise StoreError(f"{self.path}: no cell {cell_id} in the results store")
        status, blob, config_json = rows[0]
        if blob is None:
            hidden = '"instances": "hidden"' in str(config_json)  # the configuration's sorted-keys JSON
            why = ("a cell on a hidden instance: its mask is withheld; re-run it with the leaderboard key" if hidden
                   else f"status {status}")
            raise StoreError(f"{self.path}: cell {cell_id} has no stored mask ({why})")
        need = (sum(math.prod(s) for s in shapes.values()) + 7) // 8
        if len(blob) != need:
            raise StoreError(f"{self.path}: the mask of cell {cell_id} has {len(blob)} bytes, the given shapes "
                             f"need {need}")
        return unpack_mask(bytes(blob), shapes)

    def frame(self, include_masks: bool = False) -> pd.DataFrame:
        """All cells as a pandas DataFrame, one row per cell in insertion order; see :func:`load_results`.
        Raises StoreError (one line naming the first cell) when any row is refused; :meth:`checked` does not."""
        checked = self.checked(include_masks)
        checked.raise_if_refused(self.path)
        return checked.frame

    def checked(self, include_masks: bool = False) -> Checked:
        """All well-formed cells whose digest matches (or that have none) as a DataFrame, and the refused ones."""
        rows = self._cells(NAMES, "ORDER BY rowid")
        return check_rows(rows, self._key, include_masks, self.path, ledger=self._retry(ledger.read, write=False))

    def _cells(self, cols: list[str], tail: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows of ``cells`` as dicts of the (current) columns ``cols``, also from an older store: columns it lacks
        read as their defaults (no digest), and in a version-1 store ``pruner``, ``ablation`` and
        ``higher_is_better`` come from :func:`plantseek.store.legacy.v1_columns`."""
        have = set(names_of(self.version))
        need = [c for c in cols if c in have]
        if self.version < 2:
            need += [c for c in ("pruner", "config_json", "metric_name") if c not in need]
        if self.version < 5 and "family" in cols and "task" not in need:
            need.append("task")
        out = []
        for r in self._read(f"SELECT {', '.join(need)} FROM cells {tail}", params):
            d = dict(zip(need, r))
            if self.version < 2:
                d["pruner"], d["ablation"], d["higher_is_better"] = v1_columns(d["pruner"], d["config_json"],
                                                                             d["metric_name"])
            if self.version < 5 and "family" in cols:
                d["family"] = task_family(d["task"])
            out.append({c: d.get(c, _MISSING_DEFAULTS.get(c)) for c in cols})
        return out

    # --- writing -------------------------------------------------------------------------------------------------
    def put(self, config: CellConfig, result: CellResult, *, replace: bool = False) -> str:
        """Record one cell's result in its own transaction; returns what happened.

        ``"new"``: first result of the cell. ``"replaced"``: the stored result was a failure (or ``replace=True``
        and both are successes) and this one took its place. ``"kept"``: the stored result is a success and stays
        (this result failed, or ``replace`` is False). ``attempts`` is incremented in every case.
        """
        if self.readonly:
            raise StoreError(f"{self.path}: the results store was opened read-only")
        row = cell_row(config, result)
        cell_id = row["cell_id"]
        if self.version < SCHEMA_VERSION:
            self._retry(schema.upgrade, write=True)  # a no-op when another writer upgraded it first
            self.version = SCHEMA_VERSION
            self._key = self._retry(_digest_key, write=False)

        def write(conn: sqlite3.Connection) -> str:
            if self._key:
                ledger.start(conn, self._key)  # a store written before the ledger existed gets one (a no-op after)
            old = conn.execute("SELECT status FROM cells WHERE cell_id = ?", (cell_id,)).fetchone()
            if old is None:
                names = list(row) + ["attempts"]
                conn.execute(f"INSERT INTO cells ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                             [*row.values(), 1])
                _sign(conn, self._key, cell_id)
                return "new"
            if old[0] == "ok" and (row["status"] != "ok" or not replace):
                conn.execute("UPDATE cells SET attempts = attempts + 1 WHERE cell_id = ?", (cell_id,))
                return "kept"
            sets = ", ".join(f"{k} = ?" for k in row if k != "cell_id")
            conn.execute(f"UPDATE cells SET {sets}, attempts = attempts + 1 WHERE cell_id = ?",
                         [v for k, v in row.items() if k != "cell_id"] + [cell_id])
            _sign(conn, self._key, cell_id)
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

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never use a connection inherited through fork
            self._conn, self._pid = connect(self.path, self.readonly), os.getpid()
        return self._conn

    def _validate(self, conn: sqlite3.Connection, check: bool) -> None:
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "meta" not in tables or "cells" not in tables:
                raise StoreError(f"{self.path}: not a plantseek results store (tables: "
                                 f"{', '.join(sorted(tables)) or 'none'}; expected meta and cells)")
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("format") != schema.FORMAT:
                raise StoreError(f"{self.path}: not a plantseek results store (format {meta.get('format')!r})")
            version = meta.get("schema_version")
            if version not in [str(v) for v in READABLE_VERSIONS]:
                newer = str(version).isdigit() and int(str(version)) > SCHEMA_VERSION
                raise StoreError(f"{self.path}: results store schema version {version} is not supported (this "
                                 f"plantseek reads versions {', '.join(map(str, READABLE_VERSIONS))}"
                                 f"{'; upgrade plantseek' if newer else ''})")
            self.version = int(version)
            self._key = meta.get("digest_key")
            have = {r[1] for r in conn.execute("PRAGMA table_info(cells)")}
            missing = [c for c in names_of(self.version) if c not in have]
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

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
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


def load_results(path: str | Path | None = None, *, include_masks: bool = False) -> pd.DataFrame:
    """All cells of the store at ``path`` (default ``results/plantseek.db``) as a pandas DataFrame.

    One row per cell, in the order cells were first stored. Columns, in order:

    - ``records.COLUMNS``: ``cell_id task depth width seed pruner density_spec noise status error protocol
      metric_name density achieved_density strong_metric weak_metric ticket_metric dense_metric dense_weak_metric
      prune_seconds train_seconds plantseek_version git_commit torch_version platform created_at``
      (``density_spec`` is the configured density string, ``density`` the resolved number; ``noise`` is NaN when
      the task's default was used; ``created_at`` is a UTC ISO 8601 string; missing floats are NaN);
      ``pruner`` is the pruner's name only (a sanity ablation is in ``ablation``);
    - ``ablation`` (``""``, ``"shuffled"`` or ``"reinit"``: the cell scores pruner ``pruner``'s mask shuffled
      within each layer or on a re-initialised host), ``higher_is_better`` (nullable boolean: the task metric's
      direction, NA when unknown), ``attempts`` (int), ``task_options`` (JSON text, sorted keys),
      ``config_json`` (the full configuration, the text ``cell_id`` hashes), ``pruner_source``, ``pruner_code``,
      ``verified`` (bool: the row's digest matched), ``engine`` (int: the training engine that trained the cell,
      :mod:`plantseek.train.engine`; cells stored before schema version 6 read as the first engine, 1);
    - one column per scalar metric: always :data:`plantseek.store.frame.METRIC_COLUMNS`, then any other scalar key
      in order of first appearance (a key that collides with a column above is prefixed ``metric_``); floats as
      float64 (NaN when missing), booleans as pandas' nullable ``boolean`` (NA when missing);
    - ``metrics_json``: the non-scalar metric entries (e.g. ``per_layer``, ``collapsed_layers``) as JSON text;
    - the pruner's compute (:data:`plantseek.records.compute.COMPUTE_KEYS`, float64, NaN when not recorded):
      ``train_sample_passes score_forward_samples score_backward_samples prune_flops dense_run_flops
      compute_dense_runs prune_parent_seconds``;
    - ``mask`` (packed bytes or None) only with ``include_masks=True``.

    Raises StoreError when the file is missing, foreign or corrupt, or when a row is refused (a digest that does
    not match, a malformed value: :mod:`plantseek.store.integrity`; :func:`load_checked` returns those instead);
    never creates or modifies a store (it is opened read-only).
    """
    checked = load_checked(path, include_masks=include_masks)
    checked.raise_if_refused(checked.path)
    return checked.frame


def load_checked(path: str | Path | None = None, *, include_masks: bool = False) -> Checked:
    """The store's accepted cells as :func:`load_results`'s DataFrame, with the refused cells beside it."""
    p = Path(default_store_path() if path is None else path).expanduser()
    if not os.path.lexists(p):
        raise StoreError(f"{p}: no such results store")
    with ResultStore(p, create=False, readonly=True) as store:
        return store.checked(include_masks=include_masks)



# --- helpers ---------------------------------------------------------------------------------------------------
#: Values of the columns a store of an older schema lacks.
_MISSING_DEFAULTS: dict[str, Any] = {"pruner_source": "", "pruner_code": "", "digest": None, "compute_json": None,
                                     "family": "", "engine": None}


def _digest_key(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'digest_key'").fetchone()
    return None if row is None else row[0]


def _sign(conn: sqlite3.Connection, key: str | None, cell_id: str) -> None:
    """Set the digest of the row just written, from its values as SQLite stored them, and its ledger entry (same
    transaction)."""
    if not key:
        raise StoreError("the results store has no digest key; it cannot be written")
    ledger.sign(conn, key, cell_id)  # the row's chained digest, its ledger entry and the seal


def _nan(v: Any) -> float:
    return math.nan if v is None else float(v)


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
