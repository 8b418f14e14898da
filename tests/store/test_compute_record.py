"""A cell's compute record in the store: written with the cell, covered by the digest, in ``load_results()``; a
version-3 store (no ``compute_json``) still loads and keeps its digests when upgraded."""

import json
import shutil
from pathlib import Path
import sqlite3

import pytest

from plantseek.store.schema import SCHEMA_VERSION
from plantseek.run.grid import expand, run_cells
from plantseek.records.cells import CellConfig, CellResult
from plantseek.run.suites import SUITES
from plantseek.store.results import ResultStore, load_checked, load_results


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Circle of the smoke suite (depth 4 width 20, 400 samples, 1 epoch) at density 0.1: magnitude and SNIP."""
    path = tmp_path_factory.mktemp("compute") / "s.db"
    suite = SUITES.get("smoke").with_overrides(tasks=["circle"], pruners=["magnitude", "snip"], densities=["0.1"])
    with ResultStore(path) as store:
        run_cells(expand(suite), store=store)
    return path


def test_the_workers_counts_come_back_and_are_converted_by_hand(scored):
    df = load_results(scored).set_index("pruner")
    assert (df["status"] == "ok").all()
    # widths (2, 20, 20, 4): 40 + 400 + 80 = 520 weights, 1040 FLOPs per sample's forward pass;
    # one dense run = 1 epoch x 360 training samples x 3 x 1040
    dense = 1 * 360 * 3 * 1040
    assert (df["dense_run_flops"] == dense).all() and (df["prune_parent_seconds"] > 0).all()
    mag, snip = df.loc["magnitude"], df.loc["snip"]
    assert mag["train_sample_passes"] == mag["score_forward_samples"] == mag["score_backward_samples"] == 0
    assert mag["prune_flops"] == mag["compute_dense_runs"] == 0
    # SNIP: one forward and one backward pass of its prune batch (256 of the 360 training samples)
    assert (snip["train_sample_passes"], snip["score_forward_samples"], snip["score_backward_samples"]) == (0, 256, 256)
    assert snip["prune_flops"] == 256 * 1040 + 256 * 2 * 1040
    assert snip["compute_dense_runs"] == pytest.approx(256 * 3 * 1040 / dense)


def test_the_digest_covers_the_compute_record(scored, tmp_path):
    path = tmp_path / "s.db"
    shutil.copy(scored, path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE cells SET compute_json = ? WHERE rowid = 1", (json.dumps({"prune_flops": 1.0}),))
    checked = load_checked(path)
    assert len(checked.refused) == 1 and "digest mismatch" in checked.refused[0].reason


def test_a_version_3_store_loads_and_keeps_its_digests_when_upgraded(scored, tmp_path):
    path = tmp_path / "s.db"
    shutil.copy(scored, path)
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("ALTER TABLE cells DROP COLUMN compute_json")
        conn.execute("ALTER TABLE cells DROP COLUMN family")
        conn.execute("ALTER TABLE cells DROP COLUMN engine")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    # the digests of these rows were computed with compute_json: recompute them as version 3 wrote them (no ledger)
    from plantseek.store.integrity import DIGESTED
    from tampering import without_ledger

    with sqlite3.connect(path, isolation_level=None) as conn:
        without_ledger(conn, [c for c in DIGESTED if c not in ("compute_json", "engine")])
    conn.close()
    old = load_results(path)
    assert old["verified"].all() and old["prune_flops"].isna().all()
    with ResultStore(path) as store:
        assert store.version == 3
        store.put(CellConfig(task="relu", depth=3, width=4, seed=0, pruner="random", density="0.5"),
                  CellResult("failed", "x", compute={"prune_parent_seconds": 2.5}))
        assert store.version == SCHEMA_VERSION
    new = load_results(path)
    assert new["verified"].all() and len(new) == len(old) + 1
    assert new["prune_parent_seconds"].iloc[-1] == 2.5 and new["prune_flops"].iloc[:-1].isna().all()


def test_a_version_4_store_gets_its_families_from_the_task_registry_and_keeps_its_digests(scored, tmp_path):
    path = tmp_path / "s.db"
    shutil.copy(scored, path)
    from plantseek.store.integrity import DIGESTED
    from tampering import without_ledger

    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("ALTER TABLE cells DROP COLUMN family")  # the digests never covered it
        conn.execute("ALTER TABLE cells DROP COLUMN engine")
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
        without_ledger(conn, [c for c in DIGESTED if c != "engine"])  # signed as version 4 signed (no engine)
    conn.close()
    old = load_results(path)
    assert old["verified"].all() and set(old["family"]) == {"MLP"}
    with ResultStore(path) as store:
        assert store.version == 4
        store.put(CellConfig(task="bars", depth=3, width=4, seed=0, pruner="random", density="0.5"),
                  CellResult("failed", "x"))
        assert store.version == SCHEMA_VERSION
    new = load_results(path)
    assert new["verified"].all() and new["cell_id"].tolist()[:-1] == old["cell_id"].tolist()
    assert new["family"].tolist() == old["family"].tolist() + ["conv"]


def test_the_committed_leaderboard_store_reads_with_families_and_verified_rows():
    store = Path(__file__).resolve().parents[2] / "leaderboard" / "plantseek.db"
    df = load_results(store)
    assert df["verified"].all()
    assert dict(df.groupby("task")["family"].first()) == {
        "bars": "conv", "circle": "MLP", "digits": "conv", "helix": "MLP", "recall": "attention", "relu": "MLP"}
