"""Tamper evidence and robust reading: hand-edited stores (sqlite3 directly) are refused with one exact line naming
the cell, by ``load_results``, ``leaderboard`` and ``verify``; a store in a read-only folder can be reported."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from types import SimpleNamespace
from pathlib import Path

import pandas as pd
import pytest

from plantseek.core.errors import StoreError
from plantseek.run.grid import expand, run_cells
from plantseek.run.suites import SUITES
import tampering
from plantseek.store.results import ResultStore, load_checked, load_results
from plantseek.store.schema import SCHEMA_VERSION

DIGEST = "digest mismatch (the row was changed after the scorer wrote it)"


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    """A real store: the smoke suite (2 tasks x random, magnitude x ticket, 0.1; 8 cells), scored once."""
    path = tmp_path_factory.mktemp("scored") / "s.db"
    with ResultStore(path) as store:
        run_cells(expand(SUITES.get("smoke")), store=store)
    return path


@pytest.fixture
def store(scored, tmp_path) -> Path:
    path = tmp_path / "s.db"
    shutil.copy(scored, path)
    return path


@pytest.fixture
def cli(capsys):
    """``python -m plantseek ARGS`` in this process (fast): its exit code, stdout and stderr."""
    from plantseek.cli import main

    def call(*args):
        capsys.readouterr()
        try:
            rc = main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            rc = exc.code
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=rc, stdout=out, stderr=err)

    return call


def cells(path: Path) -> list[dict]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM cells ORDER BY rowid")]
    conn.close()
    return rows


def edit(path: Path, sql: str, params=(), resign: bool = False) -> None:
    """Change the store as a tool would; ``resign``: then recompute every digest, ledger entry and the seal with the
    store's key (as someone who knows the rules and can read the file would)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute(sql, params)
    if resign:
        tampering.resign(conn)  # rows, ledger entries and seal
    conn.close()


def refusal(row: dict, reason: str) -> str:
    return (f"refused cell {row['cell_id']} (task {row['task']}, pruner {row['pruner']}, density "
            f"{row['density_spec']}, seed {row['seed']}): {reason}")


def test_every_row_is_signed_and_verify_accepts_a_clean_store(cli, store):
    rows = cells(store)
    assert len(rows) == 8 and all(r["digest"] for r in rows) and len({r["digest"] for r in rows}) == 8
    assert load_results(store)["verified"].all()
    r = cli("verify", "--store", str(store))
    assert r.returncode == 0 and r.stdout == "" and "8 ok cell(s) recomputed, 0 refused" in r.stderr


def test_an_edited_metric_is_refused_by_the_leaderboard(cli, store, tmp_path):
    row = cells(store)[2]
    edit(store, "UPDATE cells SET metrics_json = json_set(metrics_json, '$.recall', 1.0) WHERE cell_id = ?",
         (row["cell_id"],))
    with pytest.raises(StoreError) as info:
        load_results(store)
    assert str(info.value) == f"{store}: {refusal(row, DIGEST)}"
    r = cli("leaderboard", "--store", str(store), "--out", str(tmp_path / "lb"), "--no-plots")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f"plantseek: {refusal(row, DIGEST)}"]
    shown = pd.read_csv(tmp_path / "lb" / "results.csv")
    assert len(shown) == 7 and row["cell_id"] not in set(shown["cell_id"])
    assert "7 cells (7 ok, 0 failed); 1 refused (digest, format or recomputation mismatch; not shown)" in \
        (tmp_path / "lb" / "README.md").read_text()
    v = cli("verify", "--store", str(store))
    assert v.returncode == 1 and v.stdout.splitlines() == [refusal(row, DIGEST)]


def test_swapped_masks_are_caught_by_the_digest_and_if_re_signed_by_the_recomputation(cli, store, tmp_path):
    rows = [r for r in cells(store) if r["task"] == "circle" and r["density_spec"] == "0.1"]
    a, b = rows  # random and magnitude at density 0.1 on one instance: same size, different masks
    assert a["mask"] != b["mask"] and len(a["mask"]) == len(b["mask"])
    swap = "UPDATE cells SET mask = CASE cell_id WHEN ? THEN ? ELSE ? END WHERE cell_id IN (?, ?)"
    edit(store, swap, (a["cell_id"], b["mask"], a["mask"], a["cell_id"], b["cell_id"]))
    assert [x.cell_id for x in load_checked(store).refused] == [a["cell_id"], b["cell_id"]]
    edit(store, "SELECT 1", resign=True)  # whoever can write the file can re-sign it: the digests pass again
    assert load_checked(store).refused == []
    v = cli("verify", "--store", str(store))
    assert v.returncode == 1
    lines = v.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [refusal(a, "").split(":")[0], refusal(b, "").split(":")[0]]
    assert all(": recomputed values differ: " in line and "recall (stored " in line for line in lines)
    r = cli("leaderboard", "--store", str(store), "--out", str(tmp_path / "lb"), "--no-plots", "--verify")
    assert r.returncode == 0 and [s.removeprefix("plantseek: ") for s in r.stderr.splitlines()] == lines
    assert len(pd.read_csv(tmp_path / "lb" / "results.csv")) == 6


@pytest.mark.parametrize("sql,reason", [
    ("UPDATE cells SET weak_metric = 'abc' WHERE cell_id = ?", "weak_metric is not a number ('abc')"),
    ("UPDATE cells SET strong_metric = x'00' WHERE cell_id = ?", "strong_metric is not a number (b'\\x00')"),
    ("UPDATE cells SET metrics_json = '[1, 2]' WHERE cell_id = ?", "metrics_json is not a JSON object (a list)"),
    ("UPDATE cells SET metrics_json = '{\"recall\": ' WHERE cell_id = ?",
     "metrics_json is corrupt JSON (Expecting value: line 1 column 12 (char 11))"),
    ("UPDATE cells SET status = 'great' WHERE cell_id = ?", "unknown status 'great'"),
    ("UPDATE cells SET mask = 'all ones' WHERE cell_id = ?", "mask is not a blob (str)"),
    ("UPDATE cells SET seed = 'zero' WHERE cell_id = ?", "seed is not an integer ('zero')"),
])
def test_malformed_rows_give_one_line_naming_the_cell(cli, store, tmp_path, sql, reason):
    row = cells(store)[5]
    edit(store, sql, (row["cell_id"],))
    expected = refusal({**row, **({"seed": "zero"} if "seed" in reason else {})}, reason)
    with pytest.raises(StoreError) as info:
        load_results(store)
    assert str(info.value) == f"{store}: {expected}"
    with ResultStore(store, create=False, readonly=True) as s, pytest.raises(StoreError) as info:
        s.get(row["cell_id"])
    assert str(info.value) == f"{store}: {expected}"
    commands = [["leaderboard", "--out", str(tmp_path / "lb"), "--no-plots"]]
    if "weak_metric" in reason:  # plot draws figures: once is enough
        commands.append(["plot", "--out", str(tmp_path / "plots")])
    for command in commands:
        r = cli(*command, "--store", str(store))
        assert r.returncode == 0 and r.stderr.splitlines() == [f"plantseek: {expected}"], r.stderr
    v = cli("verify", "--store", str(store))
    assert v.returncode == 1 and v.stdout.splitlines() == [expected] and "Traceback" not in v.stderr


def test_a_re_signed_truncated_mask_is_refused_by_verify(cli, store):
    row = cells(store)[0]
    edit(store, "UPDATE cells SET mask = substr(mask, 1, 3) WHERE cell_id = ?", (row["cell_id"],), resign=True)
    v = cli("verify", "--store", str(store))
    need = len(row["mask"])
    assert v.returncode == 1 and v.stdout.splitlines() == [
        refusal(row, "corrupt mask (3 bytes do not fit the instance's layer shapes)")]
    assert need != 3


def test_a_re_signed_strong_metric_is_refused_by_verify(cli, store):
    row = next(r for r in cells(store) if r["status"] == "ok")
    better = row["strong_metric"] * 1.5 + 0.01
    edit(store, "UPDATE cells SET strong_metric = ? WHERE cell_id = ?", (better, row["cell_id"]), resign=True)
    v = cli("verify", "--store", str(store))
    assert v.returncode == 1 and len(v.stdout.splitlines()) == 1
    assert v.stdout.startswith(refusal(row, "recomputed values differ: strong_metric (stored "))


def test_a_row_whose_digest_was_removed_is_refused(cli, store, tmp_path):
    row = next(r for r in cells(store) if r["task"] == "relu")
    edit(store, "UPDATE cells SET digest = NULL WHERE cell_id = ?", (row["cell_id"],))
    reason = "no digest (the store recorded one when the cell was written: it was removed)"
    with pytest.raises(StoreError, match="it was removed"):
        load_results(store)
    r = cli("leaderboard", "--store", str(store), "--out", str(tmp_path / "lb"), "--no-plots")
    assert r.returncode == 0 and r.stderr.splitlines() == [f"plantseek: {refusal(row, reason)}"]
    v = cli("verify", "--store", str(store))
    assert v.returncode == 1 and v.stdout.splitlines() == [refusal(row, reason)]


def test_a_removed_digest_is_refused_in_a_store_written_before_the_ledger(cli, store):
    with sqlite3.connect(store, isolation_level=None) as conn:
        tampering.without_ledger(conn)
    conn.close()
    assert cli("verify", "--store", str(store)).returncode == 0  # a pre-ledger store verifies as before
    row = cells(store)[3]
    edit(store, "UPDATE cells SET digest = NULL WHERE cell_id = ?", (row["cell_id"],))
    v = cli("verify", "--store", str(store))
    assert v.returncode == 1 and v.stdout.splitlines() == [refusal(row, "no digest, in a store created with digests "
                                                                   "(schema version 3 or later): it was removed")]


@pytest.mark.parametrize("value", ["", "abc", "G" * 64, "0" * 63])
def test_a_malformed_digest_is_refused(cli, store, value):
    row = cells(store)[4]
    edit(store, "UPDATE cells SET digest = ? WHERE cell_id = ?", (value, row["cell_id"]))
    v = cli("verify", "--store", str(store))
    assert v.returncode == 1 and len(v.stdout.splitlines()) == 1
    assert v.stdout.startswith(refusal(row, "malformed digest ("))


def test_reports_open_the_store_read_only(store):
    before = (store.read_bytes(), store.stat().st_mtime_ns)
    with ResultStore(store, create=False, readonly=True) as s:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            s._connection().execute("CREATE TABLE sneaky (x)")  # SQLite itself refuses: opened with mode=ro
        with pytest.raises(StoreError, match="opened read-only"):
            s.put(*_any_cell())
    load_results(store)
    assert (store.read_bytes(), store.stat().st_mtime_ns) == before


def _any_cell():
    from plantseek.records.cells import CellConfig, CellResult

    return CellConfig(task="relu", depth=3, width=4, seed=0, pruner="random", density="0.5"), CellResult("failed", "x")


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder on a tmpfs remounted read-only (a real read-only file system: root is not exempt)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root in a mount namespace that allows it)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_a_store_in_a_read_only_folder_can_be_reported_and_verified(cli, store, read_only_folder, tmp_path):
    shutil.copy(store, read_only_folder / "s.db")
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_folder)], check=True)
    path = read_only_folder / "s.db"
    with pytest.raises(OSError):
        (read_only_folder / "probe").write_text("x")  # really read-only, even for root
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    r = cli("leaderboard", "--store", str(path), "--out", str(tmp_path / "lb"), "--no-plots")
    assert r.returncode == 0 and "8 cells (8 ok, 0 failed)" in r.stdout, r.stderr
    p = cli("plot", "--store", str(path), "--out", str(tmp_path / "plots"))
    assert p.returncode == 0, p.stderr
    v = cli("verify", "--store", str(path))
    assert v.returncode == 0, v.stderr
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(os.listdir(read_only_folder)) == ["s.db"]


def test_verify_usage_errors_exit_2(cli, tmp_path):
    r = cli("verify", "--bogus")
    assert r.returncode == 2 and r.stderr.startswith("plantseek: error: unrecognized arguments")
    r = cli("verify", "--store", str(tmp_path / "none.db"))
    assert r.returncode == 2 and r.stderr.strip() == f"plantseek: error: no results store at {tmp_path / 'none.db'} " \
                                                     "(run cells first, or pass --store PATH)"


def test_unknown_config_fields_are_refused_by_verify(cli, store):
    row = cells(store)[1]
    config = json.loads(row["config_json"])
    config["secret_sauce"] = 1
    edit(store, "UPDATE cells SET config_json = ? WHERE cell_id = ?", (json.dumps(config), row["cell_id"]),
         resign=True)
    v = cli("verify", "--store", str(store))
    assert v.returncode == 1 and v.stdout.splitlines() == [
        refusal(row, "configuration: unknown configuration field(s) secret_sauce")]


def test_a_version_2_store_is_read_unverified_and_upgraded_on_first_write(store):
    conn = sqlite3.connect(store, isolation_level=None)
    for column in ("pruner_source", "pruner_code", "digest", "compute_json", "family", "engine"):
        conn.execute(f"ALTER TABLE cells DROP COLUMN {column}")
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.execute("DELETE FROM meta WHERE key IN ('digest_key', 'ledger_seal')")
    conn.execute("DROP TABLE ledger")
    conn.close()
    old = load_results(store)
    assert len(old) == 8 and not old["verified"].any() and set(old["pruner_source"]) == {""}
    with ResultStore(store) as s:
        assert s.version == 2
        s.put(*_any_cell())
        assert s.version == SCHEMA_VERSION
    new = load_results(store)
    assert new["verified"].tolist() == [False] * 8 + [True]
    assert new["cell_id"].tolist()[:8] == old["cell_id"].tolist()


def test_rows_that_predate_digests_stay_unverified_and_are_refused_once_changed(cli, store):
    test_a_version_2_store_is_read_unverified_and_upgraded_on_first_write(store)  # 8 rows without a digest, 1 with
    v = cli("verify", "--store", str(store))
    assert v.returncode == 0 and "0 refused, 8 without a digest (unverified)" in v.stderr, v.stderr
    row = cells(store)[2]
    edit(store, "UPDATE cells SET weak_metric = 0.5 WHERE cell_id = ?", (row["cell_id"],))
    v = cli("verify", "--store", str(store))
    assert v.returncode == 1 and v.stdout.splitlines() == [
        refusal(row, "no digest, and changed since the store's ledger recorded it")]
