"""The ledger: which cells a store holds, and with which digests, bound by the store's key.

A row digest (:mod:`plantseek.store.integrity`) shows that a row was not edited; it cannot show that a row is
missing, that a row is there twice, or that a row came from another store. The ledger does:

- a table ``ledger (cell_id, digest)``: one entry per cell, the digest the scorer wrote into its row (for a row
  that predates digests, ``legacy:`` and the HMAC of its values when the ledger was started);
- ``meta`` key ``ledger_seal``: the sum modulo 2**256 of HMAC(key, [``"ledger"``, cell id, digest]) over every
  entry (64 hex digits). Adding, removing or changing an entry without the key breaks it.

Each write sets the row's digest, its entry and the seal in the write's own transaction (:func:`sign`); a row
written so carries the *chained* digest (:func:`plantseek.store.integrity.chained_digest`), so that a store whose
ledger was dropped is seen as such. A store written before the ledger existed gets one on its first write: its
rows are entered as they are then (:func:`start`).

Refused by :func:`row_reason` and :func:`store_problems`, without knowing the key: a row whose digest is NULL
or malformed (unless the row predates digests: a ``legacy:`` entry, or, in a store without a ledger, a
``digest`` column added by an upgrade rather than created with the table); a row renamed and re-signed with
the key but not re-entered (its digest is not its entry's); a deleted row (an entry without a row; with the entry
also deleted, the seal); a duplicated row (two rows with one cell id; a copy under another id has no entry); a
row from another store (its digest is not of this key, and it has no entry); rows that say they had a ledger in
a store that has none.

Out of reach: the key is in the file (``meta`` ``digest_key``), so whoever can write the file can re-sign rows,
entries and seal consistently, and a whole file replaced by an earlier copy of itself is consistent. For the
recovery metrics, ``plantseek verify`` recomputes them from the stored masks (:mod:`plantseek.run.recheck`), so
a re-signed metric that its mask does not give is still refused; a re-signed mask with matching metrics, or
re-signed timings, provenance or weak metrics, are not, nor re-signed metrics of a cell on a hidden instance (its
mask is never stored: only re-running the cell with the key checks them). Rows of a store that has no ledger
(written before it existed) are checked by their digests alone and reported as not in a ledger.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from plantseek.store.integrity import DIGESTED, chained_digest, digest_form, digest_problem, row_digest

LEGACY = "legacy:"
SEAL_KEY = "ledger_seal"
_MOD = 1 << 256
_TABLE = "CREATE TABLE ledger (cell_id TEXT PRIMARY KEY NOT NULL, digest TEXT NOT NULL)"


@dataclass(frozen=True)
class Ledger:
    """What a store holds about its rows besides the rows: the entries and seal (None: no ledger), and whether
    the ``digest`` column was created with the table (a store created at schema version 3 or later)."""

    entries: dict[str, str] | None
    seal: str | None
    digests_required: bool


def _term(key: str, cell_id: str, digest: str) -> int:
    mac = hmac.new(key.encode(), json.dumps(["ledger", cell_id, digest]).encode(), hashlib.sha256).digest()
    return int.from_bytes(mac, "big")


def seal_of(key: str, entries: Iterable[tuple[str, str]]) -> str:
    """The seal of ``(cell_id, digest)`` entries under ``key`` (64 hex digits)."""
    return f"{sum(_term(key, c, d) for c, d in entries) % _MOD:064x}"


def has_ledger(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger'").fetchone() is not None


def read(conn: sqlite3.Connection) -> Ledger:
    """The store's ledger (read in one statement each; the caller may hold a read transaction)."""
    columns = [r[1] for r in conn.execute("PRAGMA table_info(cells)")]
    required = "digest" in columns and "mask" in columns and columns.index("digest") < columns.index("mask")
    if not has_ledger(conn):
        return Ledger(None, None, required)
    entries = dict(conn.execute("SELECT cell_id, digest FROM ledger").fetchall())
    seal = conn.execute("SELECT value FROM meta WHERE key = ?", (SEAL_KEY,)).fetchone()
    return Ledger(entries, None if seal is None else seal[0], required)


def start(conn: sqlite3.Connection, key: str) -> None:
    """Create the ledger of a store that has none, entering every row as it is now (in the caller's write
    transaction). A no-op when the store has one."""
    if has_ledger(conn):
        return
    conn.execute(_TABLE)
    entries = []
    for values in conn.execute(f"SELECT {', '.join(DIGESTED)}, digest FROM cells").fetchall():
        row = dict(zip(DIGESTED + ["digest"], values))
        digest = row["digest"] if row["digest"] is not None else LEGACY + row_digest(key, row)
        entries.append((str(row["cell_id"]), str(digest)))
    conn.executemany("INSERT OR IGNORE INTO ledger (cell_id, digest) VALUES (?, ?)", entries)
    _set_seal(conn, seal_of(key, conn.execute("SELECT cell_id, digest FROM ledger").fetchall()))


def sign(conn: sqlite3.Connection, key: str, cell_id: str) -> None:
    """Set the chained digest of the row just written (from its values as SQLite stored them), its entry and the
    seal, in the caller's write transaction (the ledger must exist: :func:`start`)."""
    values = conn.execute(f"SELECT {', '.join(DIGESTED)} FROM cells WHERE cell_id = ?", (cell_id,)).fetchone()
    digest = chained_digest(key, dict(zip(DIGESTED, values)))
    conn.execute("UPDATE cells SET digest = ? WHERE cell_id = ?", (digest, cell_id))
    old = conn.execute("SELECT digest FROM ledger WHERE cell_id = ?", (cell_id,)).fetchone()
    stored = conn.execute("SELECT value FROM meta WHERE key = ?", (SEAL_KEY,)).fetchone()
    try:
        total = int(stored[0], 16) if stored else 0
    except ValueError:
        total = 0  # a damaged seal stays wrong (verify reports it); writing goes on
    total += _term(key, cell_id, digest) - (_term(key, cell_id, old[0]) if old else 0)
    conn.execute("INSERT OR REPLACE INTO ledger (cell_id, digest) VALUES (?, ?)", (cell_id, digest))
    _set_seal(conn, f"{total % _MOD:064x}")


def _set_seal(conn: sqlite3.Connection, seal: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (SEAL_KEY, seal))


def copies(rows: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many rows carry each cell id."""
    return Counter(str(r.get("cell_id")) for r in rows)


def row_reason(key: str | None, ledger: Ledger, row: Mapping[str, Any], n_copies: int = 1) -> str:
    """``""`` when the row's digest and its ledger entry agree (or it predates both), else why it is refused."""
    if n_copies > 1:
        return f"duplicated: {n_copies} rows carry this cell id"
    problem = digest_problem(key, row)
    digest = row.get("digest")
    entry = None if ledger.entries is None else ledger.entries.get(str(row.get("cell_id")))
    if ledger.entries is not None and entry is None and key:
        foreign = problem.startswith("digest mismatch")
        return ("not in this store's ledger, and its digest was not made with this store's key (a row copied "
                "from another store)" if foreign else "not in this store's ledger (a row added by hand)")
    if problem:
        return problem
    if digest is None:
        return _no_digest(key, ledger, row, entry)
    if ledger.entries is None:
        if key and digest_form(key, row) == "chained":
            return "written with a ledger, but the store has none (it was removed)"
        return ""
    if not hmac.compare_digest(str(entry), digest):
        return "re-signed: its digest is not the one the store recorded when the cell was written"
    return ""


def _no_digest(key: str | None, ledger: Ledger, row: Mapping[str, Any], entry: str | None) -> str:
    if ledger.entries is None:
        return ("no digest, in a store created with digests (schema version 3 or later): it was removed"
                if ledger.digests_required else "")
    if entry is None or not entry.startswith(LEGACY):
        return "no digest (the store recorded one when the cell was written: it was removed)"
    if not key or not hmac.compare_digest(entry, LEGACY + row_digest(key, row)):
        return "no digest, and changed since the store's ledger recorded it"
    return ""


def store_problems(key: str | None, ledger: Ledger, rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line each for what is wrong with the store as a whole: deleted cells, a broken seal."""
    if ledger.entries is None:
        return []
    if not key:
        return ["the store has a ledger but no digest key, so the ledger cannot be checked"]
    held = {str(r.get("cell_id")) for r in rows}
    out = [f"cell {c}: deleted (the store's ledger records it, the store does not hold it)"
           for c in ledger.entries if c not in held]
    if ledger.seal is None:
        out.append("the ledger has no seal (removed)")
    elif not hmac.compare_digest(str(ledger.seal), seal_of(key, ledger.entries.items())):
        out.append("the ledger's seal does not match its entries (entries added, removed or changed without the "
                   "store's key)")
    return out
