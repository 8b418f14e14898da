"""The ledger (:mod:`plantseek.store.ledger`): every tamper that does not need the store's key to be consistent is
refused by ``verify`` (exit 1, one line each): a removed digest, a row renamed and re-signed, a deleted row (with
or without its entry), a duplicated row, a row copied from another store, a dropped ledger. Re-signing with the key
everywhere is out of the ledger's reach (the recomputation covers recovery metrics: ``test_integrity.py``)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

import tampering
from plantseek.run.grid import expand, run_cells
from plantseek.run.suites import SUITES
from plantseek.store.ledger import has_ledger
from plantseek.store.results import ResultStore, load_checked
from test_integrity import cells, cli, refusal, scored  # noqa: F401 (fixtures)


@pytest.fixture
def store(scored, tmp_path) -> Path:  # noqa: F811
    path = tmp_path / "s.db"
    shutil.copy(scored, path)
    return path


def sql(path: Path, *statements: str, resign: str = "") -> None:
    """Run ``statements`` on the store's file; ``resign``: ``"rows"`` re-signs the row digests with the key,
    ``"all"`` also the ledger and its seal."""
    conn = sqlite3.connect(path, isolation_level=None)
    for s in statements:
        conn.execute(s)
    if resign:
        tampering.resign(conn, ledger=resign == "all")
    conn.close()


def verify(cli, path: Path):  # noqa: F811
    r = cli("verify", "--store", str(path))
    assert "Traceback" not in r.stderr
    return r


def test_a_new_store_has_a_ledger_and_a_clean_one_verifies(cli, store):  # noqa: F811
    conn = sqlite3.connect(store)
    assert has_ledger(conn) and conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0] == 8
    conn.close()
    r = verify(cli, store)
    assert r.returncode == 0 and r.stdout == "", r.stdout


def test_a_renamed_pruner_re_signed_is_refused(cli, store):  # noqa: F811
    row = cells(store)[1]
    sql(store, f"UPDATE cells SET pruner = 'better' WHERE cell_id = '{row['cell_id']}'", resign="rows")
    r = verify(cli, store)
    assert r.returncode == 1 and r.stdout.splitlines() == [refusal({**row, "pruner": "better"}, "re-signed: its "
                                                                   "digest is not the one the store recorded when "
                                                                   "the cell was written")]


def test_a_deleted_row_is_refused(cli, store):  # noqa: F811
    row = cells(store)[6]
    sql(store, f"DELETE FROM cells WHERE cell_id = '{row['cell_id']}'")
    r = verify(cli, store)
    assert r.returncode == 1 and r.stdout.splitlines() == [
        f"refused store {store}: cell {row['cell_id']}: deleted (the store's ledger records it, the store does not "
        "hold it)"]
    assert "1 problem(s) with the store as a whole" in r.stderr


def test_a_deleted_row_and_its_entry_break_the_seal(cli, store):  # noqa: F811
    row = cells(store)[6]
    sql(store, f"DELETE FROM cells WHERE cell_id = '{row['cell_id']}'",
        f"DELETE FROM ledger WHERE cell_id = '{row['cell_id']}'")
    r = verify(cli, store)
    assert r.returncode == 1 and r.stdout.splitlines() == [
        f"refused store {store}: the ledger's seal does not match its entries (entries added, removed or changed "
        "without the store's key)"]


def test_a_duplicated_row_is_refused(cli, store):  # noqa: F811
    row = cells(store)[2]
    # a table without the primary key (as a tool rebuilding it might make), holding the row twice
    sql(store, "CREATE TABLE c2 AS SELECT * FROM cells", "DROP TABLE cells", "ALTER TABLE c2 RENAME TO cells",
        f"INSERT INTO cells SELECT * FROM cells WHERE cell_id = '{row['cell_id']}'")
    r = verify(cli, store)
    assert r.returncode == 1 and r.stdout.splitlines() == [refusal(row, "duplicated: 2 rows carry this cell id")] * 2


def test_a_copy_under_another_cell_id_is_refused(cli, store):  # noqa: F811
    row = cells(store)[2]
    cols = [c for c in row if c != "cell_id"]
    sql(store, f"INSERT INTO cells (cell_id, {', '.join(cols)}) SELECT 'ffffffffffffffffffff', {', '.join(cols)} "
        f"FROM cells WHERE cell_id = '{row['cell_id']}'", resign="rows")
    r = verify(cli, store)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [refusal({**row, "cell_id": "ffffffffffffffffffff"},
                                             "not in this store's ledger (a row added by hand)")]


def test_a_row_copied_from_another_store_is_refused(cli, store, tmp_path):  # noqa: F811
    other = tmp_path / "other.db"
    from plantseek.run.grid import expand as _expand

    with ResultStore(other) as s:
        run_cells(_expand(SUITES.get("smoke"))[:1], store=s)
    conn = sqlite3.connect(other)
    conn.row_factory = sqlite3.Row
    foreign = dict(conn.execute("SELECT * FROM cells").fetchone())
    conn.close()
    sql(store, f"DELETE FROM cells WHERE cell_id = '{foreign['cell_id']}'",
        f"DELETE FROM ledger WHERE cell_id = '{foreign['cell_id']}'")  # the same cell, scored elsewhere
    conn = sqlite3.connect(store, isolation_level=None)
    conn.execute(f"INSERT INTO cells ({', '.join(foreign)}) VALUES ({', '.join('?' * len(foreign))})",
                 list(foreign.values()))
    conn.close()
    checked = load_checked(store)
    assert [r.reason for r in checked.refused] == [
        "not in this store's ledger, and its digest was not made with this store's key (a row copied from another "
        "store)"]
    r = verify(cli, store)
    assert r.returncode == 1 and r.stdout.splitlines()[0] == refusal(foreign, checked.refused[0].reason)


def test_a_dropped_ledger_is_seen(cli, store):  # noqa: F811
    sql(store, "DROP TABLE ledger", "DELETE FROM meta WHERE key = 'ledger_seal'")
    r = verify(cli, store)
    assert r.returncode == 1 and len(r.stdout.splitlines()) == 8
    assert all(line.endswith("written with a ledger, but the store has none (it was removed)")
               for line in r.stdout.splitlines())


def test_re_signing_everything_with_the_key_is_out_of_the_ledgers_reach(cli, store):  # noqa: F811
    row = cells(store)[1]
    sql(store, f"UPDATE cells SET pruner = 'better' WHERE cell_id = '{row['cell_id']}'", resign="all")
    assert load_checked(store).refused == [] and load_checked(store).problems == []


def test_a_store_written_before_the_ledger_verifies_as_before_and_gets_one_on_its_first_write(cli, store):  # noqa: F811
    conn = sqlite3.connect(store, isolation_level=None)
    tampering.without_ledger(conn)
    conn.close()
    r = verify(cli, store)
    assert r.returncode == 0 and "8 written before the store had a ledger" in r.stderr, r.stderr
    with ResultStore(store) as s:
        run_cells(expand(SUITES.get("smoke"))[:1], store=s)
        s.put(*_failed_cell())
    conn = sqlite3.connect(store)
    assert conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0] == 9
    conn.close()
    r = verify(cli, store)
    assert r.returncode == 0 and "written before" not in r.stderr, r.stderr


def _failed_cell():
    from plantseek.records.cells import CellConfig, CellResult

    return CellConfig(task="relu", depth=3, width=4, seed=0, pruner="random", density="0.5"), CellResult("failed", "x")


def test_verify_shows_progress(cli, store):  # noqa: F811
    r = verify(cli, store)
    assert "verify: checking digests and ledger of" in r.stderr
    assert "verify: recomputing" in r.stderr and "8/8" in r.stderr, r.stderr
