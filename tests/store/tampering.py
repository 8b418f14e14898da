"""Changing a store's file as someone with ``sqlite3`` would, for the tamper tests: re-signing rows with the key
read from ``meta`` (rows only, or rows, ledger and seal), and making a store look as one written before the ledger
existed (no ledger, plain digests)."""

from __future__ import annotations

import sqlite3

from plantseek.store.integrity import DIGESTED, chained_digest, row_digest
from plantseek.store.ledger import SEAL_KEY, seal_of


def key_of(conn: sqlite3.Connection) -> str:
    return conn.execute("SELECT value FROM meta WHERE key = 'digest_key'").fetchone()[0]


def resign(conn: sqlite3.Connection, ledger: bool = True) -> None:
    """Recompute every row's digest with the store's key (the chained rule); with ``ledger``, also every ledger
    entry and the seal: what someone who knows every rule and reads the key can do."""
    key = key_of(conn)
    digests = []
    for values in conn.execute(f"SELECT {', '.join(DIGESTED)} FROM cells").fetchall():
        row = dict(zip(DIGESTED, values))
        digests.append((chained_digest(key, row), row["cell_id"]))
    conn.executemany("UPDATE cells SET digest = ? WHERE cell_id = ?", digests)
    if ledger:
        conn.execute("DELETE FROM ledger")
        conn.executemany("INSERT OR REPLACE INTO ledger (digest, cell_id) VALUES (?, ?)", digests)
        seal = seal_of(key, conn.execute("SELECT cell_id, digest FROM ledger").fetchall())
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (seal, SEAL_KEY))


def without_ledger(conn: sqlite3.Connection, columns: list[str] | None = None) -> None:
    """Make the store what plantseek wrote before the ledger: no ledger, no seal, every digest by the plain rule
    (over ``columns``, default every digested column)."""
    key = key_of(conn)
    cols = columns or DIGESTED
    conn.execute("DROP TABLE IF EXISTS ledger")
    conn.execute("DELETE FROM meta WHERE key = ?", (SEAL_KEY,))
    for values in conn.execute(f"SELECT {', '.join(cols)} FROM cells WHERE digest IS NOT NULL").fetchall():
        row = dict(zip(cols, values))
        conn.execute("UPDATE cells SET digest = ? WHERE cell_id = ?", (row_digest(key, row), row["cell_id"]))
