"""The results store: round trips, success-is-final, foreign files, concurrent writers, kill -9."""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import torch

from plantseek.store.schema import SCHEMA_VERSION
from plantseek.core import paths
from plantseek.core.errors import StoreError
from plantseek.nets.masks import pack_mask
from plantseek.records.cells import COLUMNS, CellConfig, CellResult, provenance
from plantseek.store.frame import METRIC_COLUMNS
from plantseek.store.results import ResultStore, load_results

# --- cells with known contents (also used by the writer subprocesses) -------------------------------------------
def cell(i: int) -> CellConfig:
    return CellConfig(task="circle", depth=4, width=8, seed=i, pruner="magnitude", density="0.25",
                      task_options=(("noise", 0.01),))


def fake_mask(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * 3  # 96 bytes, different per cell


def ok_result(i: int) -> CellResult:
    return CellResult(
        status="ok", metric_name="accuracy", density=0.25, achieved_density=0.25, strong_metric=0.5 + i / 10_000,
        weak_metric=0.75, ticket_metric=0.99, dense_metric=0.6, dense_weak_metric=0.9, prune_seconds=0.01 * i,
        train_seconds=1.5, protocol="weight-access", family="MLP",
        metrics={"recall": i / 1000, "precision": 0.5, "contains_ticket": i % 2 == 0, "layer_collapse": False,
                 "collapsed_layers": [], "per_layer": {"recall": [1.0, i / 1000]}},
        mask=fake_mask(i), provenance={"plantseek_version": "0.1.0", "git_commit": "abc", "torch_version": "2.x",
                                       "platform": "test", "python_version": "3"},
    )


def failed_result(msg: str = "pruner crashed: ValueError: boom") -> CellResult:
    return CellResult(status="failed", error=msg, metric_name="accuracy", density=0.25, prune_seconds=0.5)


def assert_is_ok_result(store: ResultStore, i: int) -> None:
    """The stored row of cell ``i`` is complete and exactly what the writer put."""
    got = store.get(cell(i).cell_id)
    assert got is not None, i
    want = ok_result(i)
    assert got.result == want, i
    assert got.config == json.loads(json.dumps(cell(i).as_dict()))
    assert got.attempts >= 1 and got.created_at


def write_cells(path: Path, first: int, last: int, resume: bool, go=None) -> None:
    """A writer process: put ok_result(i) for i in [first, last) (with ``resume``: only those the store has not
    finished, as the harness does). Runs in a forked child (cheap: torch is already imported), with its own
    connection."""
    if go is not None:
        go.wait(60)
    store = ResultStore(path)
    done = store.finished_ids() if resume else set()
    for i in range(first, last):
        if cell(i).cell_id not in done:
            store.put(cell(i), ok_result(i))
    store.close()


def start_writer(*args):
    proc = multiprocessing.get_context("fork").Process(target=write_cells, args=args, daemon=True)
    proc.start()
    return proc


# --- round trip -------------------------------------------------------------------------------------------------
def test_round_trip_of_config_result_and_mask(tmp_path):
    shapes = {"layers.0.weight": (8, 2), "layers.1.weight": (8, 8), "layers.2.weight": (3, 8)}
    g = torch.Generator().manual_seed(0)
    mask = {n: torch.rand(s, generator=g) < 0.3 for n, s in shapes.items()}
    config = CellConfig(task="relu", depth=4, width=8, seed=3, pruner="baselines/x.py:Mine", density="ticket",
                        pruner_code="f" * 64)
    prov = provenance()
    result = CellResult(status="ok", metric_name="mse", density=0.123, achieved_density=0.123,
                        strong_metric=1e-3, weak_metric=float("nan"), ticket_metric=0.0, dense_metric=2.5,
                        dense_weak_metric=float("inf"), prune_seconds=0.25, train_seconds=3.0, protocol="data",
                        metrics={"f1": 0.8, "contains_ticket": True, "per_layer": {"recall": [0.5, 1.0]}},
                        mask=pack_mask(mask), provenance=prov)
    path = tmp_path / "deep" / "er" / "store.db"
    with ResultStore(path) as store:  # creates the folders
        assert store.put(config, result) == "new"
    assert path.is_file()

    with ResultStore(path) as store:
        got = store.get(config.cell_id)
        assert got.cell_id == config.cell_id
        assert got.config == json.loads(json.dumps(config.published().as_dict()))  # the file name, not its folder
        assert got.attempts == 1
        r = got.result
        assert math.isnan(r.weak_metric) and r.dense_weak_metric == math.inf
        for f in ("status", "error", "metric_name", "density", "achieved_density", "strong_metric", "ticket_metric",
                  "dense_metric", "prune_seconds", "train_seconds", "protocol", "metrics", "mask", "provenance"):
            assert getattr(r, f) == getattr(result, f), f
        back = store.mask(config.cell_id, shapes)
        assert list(back) == list(shapes)
        for n in shapes:
            assert back[n].dtype == torch.bool and torch.equal(back[n], mask[n])
        with pytest.raises(StoreError, match="bytes"):
            store.mask(config.cell_id, {"layers.0.weight": (9, 9)})
        with pytest.raises(StoreError, match="no cell"):
            store.mask("0" * 20, shapes)

    df = load_results(path)
    row = df.iloc[0]
    assert row.cell_id == config.cell_id and row.task == "relu" and row.density_spec == "ticket"
    assert (row.depth, row.width, row.seed) == (4, 8, 3) and math.isnan(row.noise)
    assert row.plantseek_version == prov["plantseek_version"] and row.git_commit == prov["git_commit"]
    assert row.torch_version == torch.__version__ and row.platform == prov["platform"]


def test_empty_store(tmp_path):
    with ResultStore(tmp_path / "s.db") as store:
        assert store.finished_ids() == set() and store.failed_ids() == set() and len(store) == 0
        assert store.status_of(cell(0).cell_id) is None and store.get(cell(0).cell_id) is None
        df = store.frame()
    assert len(df) == 0 and list(df.columns[: len(COLUMNS)]) == COLUMNS


def test_format_marker(tmp_path):
    path = tmp_path / "s.db"
    ResultStore(path).close()
    conn = sqlite3.connect(path)
    assert dict(conn.execute("SELECT key, value FROM meta"))["format"] == "plantseek-results"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x706C736B
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_default_paths():
    assert paths.default_store_path() == Path("results/plantseek.db")
    assert paths.leaderboard_dir() == Path("leaderboard")
    assert paths.default_store_path("/x") == Path("/x/results/plantseek.db")


# --- success is final -------------------------------------------------------------------------------------------
def test_success_is_final(tmp_path):
    with ResultStore(tmp_path / "s.db") as store:
        c = cell(7)
        assert store.put(c, ok_result(7)) == "new"
        assert store.put(c, failed_result()) == "kept"
        assert store.status_of(c.cell_id) == "ok" and c.cell_id in store.finished_ids()
        got = store.get(c.cell_id)
        assert got.result == ok_result(7) and got.attempts == 2
        # a second success does not silently overwrite the first, unless asked
        other = ok_result(8)
        assert store.put(c, other) == "kept"
        assert store.get(c.cell_id).result == ok_result(7)
        assert store.put(c, other, replace=True) == "replaced"
        assert store.get(c.cell_id).result == other and store.get(c.cell_id).attempts == 4
        # even with replace=True a failure never replaces a success
        assert store.put(c, failed_result(), replace=True) == "kept"
        assert store.status_of(c.cell_id) == "ok" and len(store) == 1


def test_failure_then_success_replaces(tmp_path):
    with ResultStore(tmp_path / "s.db") as store:
        c = cell(1)
        assert store.put(c, failed_result("first")) == "new"
        assert store.status_of(c.cell_id) == "failed"
        assert store.finished_ids() == set() and store.failed_ids() == {c.cell_id}
        assert store.put(c, failed_result("second")) == "replaced"
        assert store.get(c.cell_id).result.error == "second"
        assert store.put(c, ok_result(1)) == "replaced"
        got = store.get(c.cell_id)
        assert got.result == ok_result(1) and got.result.error == "" and got.attempts == 3
        assert store.finished_ids() == {c.cell_id} and store.failed_ids() == set()


def test_a_failure_is_never_recorded_as_success(tmp_path):
    with ResultStore(tmp_path / "s.db") as store:
        with pytest.raises(StoreError, match="never stored as a success"):
            store.put(cell(0), CellResult(status="ok", error="Traceback: boom"))
        with pytest.raises(StoreError, match="status must be"):
            store.put(cell(0), CellResult(status="done"))
        with pytest.raises(StoreError, match="mask must be bytes"):
            store.put(cell(0), CellResult(status="ok", mask={"a": torch.ones(2, dtype=torch.bool)}))
        assert len(store) == 0
    # the table itself refuses an ok row with an error, whoever writes it
    conn = sqlite3.connect(tmp_path / "s.db")
    cols = [r[1] for r in conn.execute("PRAGMA table_info(cells)")]
    values = {c: "x" for c in cols} | {"status": "ok", "error": "boom", "attempts": 1}
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(f"INSERT INTO cells ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                     list(values.values()))
    conn.close()


# --- foreign and corrupt files ----------------------------------------------------------------------------------
def _other_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, loss REAL)")
    conn.executemany("INSERT INTO runs (loss) VALUES (?)", [(0.5,), (0.25,)])
    conn.commit()
    conn.close()


def _other_app_sqlite(path: Path) -> None:
    _other_sqlite(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.close()


def _truncated_store(path: Path) -> None:
    with ResultStore(path) as store:
        for i in range(60):
            store.put(cell(i), ok_result(i))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _newer_store(path: Path) -> None:
    ResultStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()


FOREIGN = {
    "text": (lambda p: p.write_text("task,pruner,recall\ncircle,magnitude,0.5\n"), "not an SQLite database"),
    "garbage": (lambda p: p.write_bytes(bytes(range(256)) * 7), "not an SQLite database"),
    "empty": (lambda p: p.write_bytes(b""), "empty file"),
    "short": (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 20), "truncated"),
    "other-sqlite": (_other_sqlite, "not a plantseek results store"),
    "other-app-sqlite": (_other_app_sqlite, "application id"),
    "truncated-store": (_truncated_store, "corrupt"),
    "newer-store": (_newer_store, "upgrade plantseek"),
}


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_foreign_or_corrupt_file_is_refused_and_left_alone(tmp_path, kind):
    make, message = FOREIGN[kind]
    path = tmp_path / "results.db"
    make(path)
    before = path.read_bytes()
    for attempt in (lambda: ResultStore(path), lambda: ResultStore(path, create=False), lambda: load_results(path)):
        with pytest.raises(StoreError, match=message) as info:
            attempt()
        text = str(info.value)
        assert "\n" not in text and str(path) in text
    assert path.read_bytes() == before
    left = {p.name: p.stat().st_size for p in tmp_path.iterdir() if p.name != "results.db"}
    if kind in ("truncated-store", "newer-store"):  # SQLite opened it (the header is fine; load_results reads
        # read-only, and a read-only reader of a WAL store leaves its empty -wal and its -shm index in place)
        left.pop("results.db-shm", None)
        assert left.pop("results.db-wal", 0) == 0
    assert left == {}  # nothing else written beside it (no temp files, no journal)


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        ResultStore(tmp_path)
    with pytest.raises(StoreError, match="no such results store"):
        load_results(tmp_path / "nope.db")
    with pytest.raises(StoreError, match="no such results store"):
        ResultStore(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()


# --- load_results -----------------------------------------------------------------------------------------------
def test_load_results_columns_and_flattened_metrics(tmp_path):
    path = tmp_path / "s.db"
    with ResultStore(path) as store:
        store.put(cell(0), ok_result(0))
        store.put(cell(1), failed_result())
        plain = CellConfig(task="relu", depth=3, width=4, seed=0, pruner="random", density="0.5")
        store.put(plain, CellResult(status="ok", metric_name="mse", metrics={"recall": 1.0, "custom": "x",
                                                                             "density": 0.7}))
    df = load_results(path)
    assert list(df.columns[: len(COLUMNS)]) == COLUMNS
    extra = ["ablation", "higher_is_better", "attempts", "task_options", "config_json", "pruner_source",
             "pruner_code", "verified", "engine"]
    n = len(COLUMNS) + len(extra)
    assert list(df.columns[len(COLUMNS): n]) == extra
    assert list(df.columns[n: n + len(METRIC_COLUMNS)]) == METRIC_COLUMNS
    assert df["verified"].tolist() == [True, True, True]  # every row written now carries a matching digest
    compute = ["train_sample_passes", "score_forward_samples", "score_backward_samples", "prune_flops",
               "dense_run_flops", "compute_dense_runs", "prune_parent_seconds", "prune_cpu_seconds",
               "worker_prune_seconds", "self_reported"]  # plantseek.records.compute: parent-measured, self-reported
    assert list(df.columns[-13:]) == ["custom", "metric_density", "metrics_json"] + compute
    assert "mask" not in df.columns and len(df) == 3
    assert list(df.cell_id) == [cell(0).cell_id, cell(1).cell_id, plain.cell_id]  # insertion order

    ok, failed, other = (df.iloc[i] for i in range(3))
    assert ok.status == "ok" and ok.error == "" and ok.recall == 0.0 and ok.precision == 0.5
    assert bool(ok.contains_ticket) is True and bool(ok.layer_collapse) is False
    assert json.loads(ok.metrics_json) == {"collapsed_layers": [], "per_layer": {"recall": [1.0, 0.0]}}
    assert ok.noise == 0.01 and json.loads(ok.task_options) == {"noise": 0.01} and ok.density_spec == "0.25"
    assert ok.strong_metric == 0.5 and ok.attempts == 1
    assert failed.status == "failed" and failed.error.startswith("pruner crashed")
    assert math.isnan(failed.recall) and math.isnan(failed.strong_metric) and failed.prune_seconds == 0.5
    assert df.contains_ticket.isna().tolist() == [False, True, True]
    assert json.loads(failed.metrics_json) == {}
    assert other.custom == "x" and other.metric_density == 0.7 and other.density_spec == "0.5"
    assert math.isnan(other.noise) and math.isnan(other.density)
    assert str(df.contains_ticket.dtype) == "boolean" and df.recall.dtype == "float64"
    assert df.depth.dtype == "int64" and df.strong_metric.dtype == "float64"
    assert df.created_at.str.endswith("+00:00").all()

    masks = load_results(path, include_masks=True)
    assert masks.columns[-1] == "mask"
    assert masks["mask"].tolist() == [fake_mask(0), None, None]


# --- durability and concurrency ---------------------------------------------------------------------------------
def test_two_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "new" / "store.db"  # neither writer finds a store: both race to create it too
    go = multiprocessing.get_context("fork").Event()
    procs = [start_writer(path, 0, 200, False, go), start_writer(path, 150, 350, False, go)]  # 150..199: both
    go.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with ResultStore(path) as store:
        assert store.finished_ids() == {cell(i).cell_id for i in range(350)}
        df = store.frame()
        assert len(df) == 350 and df.cell_id.is_unique
        # every one of the 400 puts was counted: the shared cells twice, the others once
        attempts = df.set_index("cell_id").attempts
        assert attempts.sum() == 400
        assert (attempts[[cell(i).cell_id for i in range(150, 200)]] == 2).all()
        for i in range(350):
            assert_is_ok_result(store, i)
    assert [p.name for p in path.parent.iterdir()] == ["store.db"]  # the loser's temporary file is gone


def test_writer_killed_mid_stream_loses_only_cells_in_flight(tmp_path):
    path = tmp_path / "store.db"
    ResultStore(path).close()
    n = 0
    for round_ in range(3):  # kill, resume, kill again, ...
        proc = start_writer(path, 0, 1_000_000, True)  # far more than it writes before it is killed
        with ResultStore(path) as watcher:
            while len(watcher) < n + 30:  # wait until it has committed 30 new cells
                assert proc.is_alive()
                time.sleep(0.002)
        seen = len(watcher)
        os.kill(proc.pid, signal.SIGKILL)  # at whatever point it is, most likely inside a transaction
        proc.join(30)
        assert proc.exitcode == -signal.SIGKILL

        with ResultStore(path) as store:  # opens fine, quick_check passes
            stored = store.finished_ids()
            n = len(stored)
            # one sequential writer: the stored cells are a prefix, with every cell seen committed
            assert stored == {cell(i).cell_id for i in range(n)} and n >= seen
            assert len(store) == n and store.failed_ids() == set()
            for i in range(n):
                assert_is_ok_result(store, i)

    # re-running (as the harness does: skip finished cells) puts exactly the missing ones
    with ResultStore(path) as store:
        done = store.finished_ids()
        todo = [i for i in range(n + 5) if cell(i).cell_id not in done]
        assert todo == list(range(n, n + 5))
        for i in todo:
            assert store.put(cell(i), ok_result(i)) == "new"
    df = load_results(path)
    assert len(df) == n + 5 and set(df.attempts) == {1}


def test_store_survives_fork(tmp_path):
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    path = tmp_path / "s.db"
    store = ResultStore(path)
    store.put(cell(0), ok_result(0))
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's connection
        code = 0
        try:
            store.put(cell(1), ok_result(1))
            store.close()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    store.put(cell(2), ok_result(2))
    assert store.finished_ids() == {cell(i).cell_id for i in range(3)}
    store.close()


# --- schema version 2: the ablation and the metric direction as columns; version-1 stores ----------------------------
V1_STORE = Path(__file__).resolve().parent / "data" / "v1.db"  # a schema-version-1 store (36 cells, made at fa3b712)


def test_ablation_and_direction_are_stored_columns(tmp_path):
    path = tmp_path / "s.db"
    shuffled = CellConfig(task="relu", depth=3, width=4, seed=0, pruner="snip", density="0.5", ablation="shuffled")
    plain = CellConfig(task="relu", depth=3, width=4, seed=0, pruner="snip", density="0.5")
    with ResultStore(path) as store:
        store.put(shuffled, CellResult(status="ok", metric_name="mse", higher_is_better=False))
        store.put(plain, CellResult(status="ok", metric_name="mse", higher_is_better=False))
        store.put(cell(0), failed_result())  # direction unknown
        assert store.get(shuffled.cell_id).result.higher_is_better is False
        assert store.get(cell(0).cell_id).result.higher_is_better is None
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT cell_id, pruner, ablation, higher_is_better FROM cells ORDER BY rowid").fetchall()
    assert dict(conn.execute("SELECT key, value FROM meta"))["schema_version"] == str(SCHEMA_VERSION)
    conn.close()
    assert rows == [(shuffled.cell_id, "snip", "shuffled", 0), (plain.cell_id, "snip", "", 0),
                    (cell(0).cell_id, "magnitude", "", None)]
    df = load_results(path)
    assert list(df.pruner) == ["snip", "snip", "magnitude"] and list(df.ablation) == ["shuffled", "", ""]
    assert str(df.higher_is_better.dtype) == "boolean"
    assert df.higher_is_better.tolist()[:2] == [False, False] and df.higher_is_better.isna().tolist()[2]


def _v1_copy(tmp_path) -> Path:
    """A copy of the version-1 test store, plus one ablation cell written as version 1 wrote it (the label
    "P [shuffled]" in ``pruner``, the ablation only inside ``config_json``)."""
    path = tmp_path / "v1.db"
    path.write_bytes(V1_STORE.read_bytes())
    conn = sqlite3.connect(path)
    names = [r[1] for r in conn.execute("PRAGMA table_info(cells)")]
    assert "ablation" not in names and "higher_is_better" not in names
    row = dict(zip(names, conn.execute("SELECT * FROM cells WHERE metric_name = 'mse' LIMIT 1").fetchone()))
    config = json.loads(row["config_json"])
    config["ablation"] = "shuffled"
    row.update(cell_id="f" * 20, pruner=f"{config['pruner']} [shuffled]", config_json=json.dumps(config))
    conn.execute(f"INSERT INTO cells ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    conn.commit()
    conn.close()
    return path


def test_version_1_store_is_read_without_being_modified(tmp_path):
    path = _v1_copy(tmp_path)
    before = path.read_bytes()
    df = load_results(path)
    assert path.read_bytes() == before  # never rewritten by reading (the committed leaderboard store stays as is)
    shuffled = df[df.cell_id == "f" * 20].iloc[0]
    assert shuffled.ablation == "shuffled" and "[" not in shuffled.pruner and not shuffled.higher_is_better
    assert not df.pruner.str.contains("[", regex=False).any()
    assert set(zip(df.metric_name, df.higher_is_better)) == {("accuracy", True), ("mse", False)}
    with ResultStore(path, create=False) as store:
        assert store.version == 1
        got = store.get("f" * 20)
        assert got.config["ablation"] == "shuffled" and got.result.higher_is_better is False
    committed = load_results(V1_STORE)
    assert len(committed) == len(df) - 1 and set(committed.ablation) == {""}


def test_version_1_store_is_upgraded_in_place_on_first_write(tmp_path):
    path = _v1_copy(tmp_path)
    old = load_results(path)
    with ResultStore(path) as store:
        assert store.version == 1
        assert store.put(cell(0), ok_result(0)) == "new"
        assert store.version == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    assert dict(conn.execute("SELECT key, value FROM meta"))["schema_version"] == str(SCHEMA_VERSION)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    stored = conn.execute("SELECT pruner, ablation, higher_is_better FROM cells WHERE cell_id = ?",
                          ("f" * 20,)).fetchone()
    conn.close()
    assert stored[1] == "shuffled" and "[" not in stored[0] and stored[2] == 0
    new = load_results(path)
    assert list(new.cell_id[:-1]) == list(old.cell_id)  # cell ids unchanged
    cols = ["pruner", "ablation", "higher_is_better", "weak_metric", "recall"]
    assert new.iloc[:-1][cols].reset_index(drop=True).equals(old[cols].reset_index(drop=True))
    assert not new.verified.iloc[:-1].any() and new.verified.iloc[-1]  # old rows: unverified; the new one signed
    with ResultStore(path) as store:  # reopening an upgraded store: current version, nothing to do
        assert store.version == SCHEMA_VERSION and len(store) == len(old) + 1
