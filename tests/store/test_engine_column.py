"""The training engine's version (plantseek.train.engine): part of every cell's identity, stored per cell (schema
version 6), read back by load_results(), older stores read as the first engine and upgraded without losing digests,
and never mixed with another engine's cells on the page."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3

import pandas as pd
import pytest

from plantseek.frame.prepared import prepare
from plantseek.records.cells import CellConfig, CellResult, provenance
from plantseek.report.provenance import provenance_line
from plantseek.store.results import ResultStore, load_checked, load_results
from plantseek.store.schema import SCHEMA_VERSION
from plantseek.train.engine import ENGINE, ENGINE_VARIABLE, ENGINES, FIRST_ENGINE
from tampering import resign


def cell(i: int, task: str = "bars", width: int = 4, **kw) -> CellConfig:
    """A cell of a conv host (the current engine is its engine; an MLP cell's is 2, see below)."""
    return CellConfig(task=task, depth=3, width=width, seed=i, pruner="random", density="0.5", **kw)


def result(i: int, engine: int | None = None) -> CellResult:
    prov = {"plantseek_version": "0", "git_commit": "c", "torch_version": "t", "platform": "p"}
    if engine is not None:
        prov["engine"] = engine
    return CellResult(status="ok", metric_name="mse", higher_is_better=False, density=0.5, achieved_density=0.5,
                      weak_metric=0.1 + i, strong_metric=0.2, ticket_metric=0.0, provenance=prov)


def test_the_current_engine_is_known_and_in_the_provenance(monkeypatch):
    monkeypatch.delenv(ENGINE_VARIABLE, raising=False)
    assert ENGINE in ENGINES and FIRST_ENGINE == ENGINES[0] and ENGINE == max(ENGINES)
    assert provenance()["engine"] == ENGINE


def test_the_engine_is_part_of_the_cell_id(monkeypatch):
    c = cell(0)  # a conv host: every engine version trains it differently (engine 3 stacks it)
    ids = {}
    for engine in ENGINES:
        monkeypatch.setenv(ENGINE_VARIABLE, str(engine))
        ids[engine] = c.cell_id
        assert c.identity().get("engine") == (None if engine == FIRST_ENGINE else engine)
        assert provenance()["engine"] == engine
    assert len(set(ids.values())) == len(ENGINES)  # every engine version gives the cell a new id
    monkeypatch.delenv(ENGINE_VARIABLE)
    assert c.cell_id == ids[ENGINE]
    # the first engine's ids hash no version: they are the ids cells had before the version existed
    monkeypatch.setenv(ENGINE_VARIABLE, str(FIRST_ENGINE))
    text = json.dumps(c.identity(), sort_keys=True, default=str)
    assert "engine" not in text and ids[FIRST_ENGINE] == hashlib.sha256(text.encode()).hexdigest()[:20]


def test_an_mlp_cell_keeps_the_engine_that_last_changed_how_mlps_train(monkeypatch, tmp_path):
    """Engine 3 trains MLPs exactly as engine 2 (it changed conv and attention hosts only): an MLP cell's id and its
    stored engine stay 2, a conv cell's move to 3."""
    mlp, conv = cell(0, task="relu"), cell(0)
    monkeypatch.setenv(ENGINE_VARIABLE, "2")
    before = mlp.cell_id, conv.cell_id
    monkeypatch.setenv(ENGINE_VARIABLE, "3")
    assert mlp.identity()["engine"] == 2 and mlp.cell_id == before[0]
    assert conv.identity()["engine"] == 3 and conv.cell_id != before[1]
    with ResultStore(tmp_path / "s.db") as store:
        store.put(mlp, result(0))
        store.put(conv, dataclasses.replace(result(1), family="conv"))
    assert load_results(tmp_path / "s.db")["engine"].tolist() == [2, 3]


def test_rows_store_their_engine_and_the_frame_reads_it(tmp_path):
    path = tmp_path / "s.db"
    with ResultStore(path) as store:
        store.put(cell(0), result(0))  # provenance without an engine: this code's
        store.put(cell(1), result(1, engine=FIRST_ENGINE))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT engine FROM cells ORDER BY rowid").fetchall() == [(ENGINE,), (FIRST_ENGINE,)]
    conn.close()
    df = load_results(path)
    assert df["engine"].tolist() == [ENGINE, FIRST_ENGINE] and str(df["engine"].dtype) == "int64"
    assert df["verified"].all()


def test_an_edited_engine_is_refused(tmp_path):
    path = tmp_path / "s.db"
    with ResultStore(path) as store:
        store.put(cell(0), result(0))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE cells SET engine = ?", (ENGINE + 1,))
    conn.close()
    checked = load_checked(path)
    assert len(checked.refused) == 1 and "digest mismatch" in checked.refused[0].reason


def test_a_bad_engine_in_the_provenance_is_not_stored(tmp_path):
    from plantseek.core.errors import StoreError
    with ResultStore(tmp_path / "s.db") as store:
        with pytest.raises(StoreError, match="engine"):
            store.put(cell(0), dataclasses.replace(result(0), provenance={"engine": "fast"}))


def _as_version_5(path) -> None:
    """Make the store one written by schema version 5: no ``engine`` column, rows signed without it."""
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("UPDATE cells SET engine = NULL")
        resign(conn)  # a NULL engine is not digested: these are the digests version 5 wrote
        conn.execute("ALTER TABLE cells DROP COLUMN engine")
        conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
        conn.execute("PRAGMA user_version = 5")
    conn.close()


def test_a_version_5_store_reads_as_the_first_engine_and_upgrades_keeping_its_digests(tmp_path):
    path = tmp_path / "s.db"
    with ResultStore(path) as store:
        store.put(cell(0), result(0))
        store.put(cell(1), result(1))
    _as_version_5(path)
    before = path.read_bytes()
    old = load_results(path)
    assert path.read_bytes() == before  # reading never upgrades
    assert old["engine"].tolist() == [FIRST_ENGINE] * 2 and old["verified"].all()
    with ResultStore(path) as store:
        assert store.version == 5
        assert store.put(cell(2), result(2)) == "new"
        assert store.version == SCHEMA_VERSION == 6
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT engine FROM cells ORDER BY rowid").fetchall() == [(None,), (None,), (ENGINE,)]
    conn.close()
    new = load_results(path)
    assert new["verified"].all() and new["cell_id"].tolist()[:2] == old["cell_id"].tolist()
    assert new["engine"].tolist() == [FIRST_ENGINE, FIRST_ENGINE, ENGINE]


def test_cells_of_two_engines_are_never_one_setting_and_the_page_names_the_engines(tmp_path):
    path = tmp_path / "s.db"
    with ResultStore(path) as store:
        for i in range(2):
            store.put(cell(i), result(i, engine=FIRST_ENGINE))
            store.put(cell(i, n_samples=9_999), result(i, engine=FIRST_ENGINE + 1))  # stands for a re-run
    df = load_results(path)
    df["cell_id"] = range(len(df))
    d = prepare(df)
    assert d.groupby("_sid")["_engine"].nunique().eq(1).all() and d["_sid"].nunique() == 2
    assert sorted(d["_setting"].str.extract(r"engine (\d+)")[0].astype(int).unique()) == [1, 2]
    assert f"training engine {FIRST_ENGINE}, {FIRST_ENGINE + 1}" in provenance_line(df)
    one = prepare(df[df["engine"].eq(FIRST_ENGINE)])
    assert not one["_setting"].str.contains("engine").any()  # one engine: labels as before
    assert (prepare(df.drop(columns="engine"))["_engine"] == FIRST_ENGINE).all()  # a frame without the column
    assert isinstance(d, pd.DataFrame)


def test_only_a_setting_that_mixes_engines_names_them(tmp_path):
    """MLP settings of engine 2 beside a conv setting of engine 3 keep their labels; a conv setting holding cells of
    engines 2 and 3 is split in two, each named."""
    path = tmp_path / "s.db"
    with ResultStore(path) as store:
        for i in range(2):
            store.put(cell(i, task="relu"), result(i, engine=2))
            store.put(cell(i, task="bars", width=5), result(i, engine=3))
            store.put(cell(i, task="bars"), result(i, engine=2))
            store.put(cell(i, task="bars", n_samples=9_999), result(i, engine=3))  # the same setting, re-run
    df = load_results(path)
    df["cell_id"] = range(len(df))
    d = prepare(df)
    labels = d.groupby("_sid")["_setting"].first()
    assert len(labels) == 4 and d.groupby("_sid")["_engine"].nunique().eq(1).all()
    named = sorted(label for label in labels if "engine" in label)
    assert len(named) == 2 and all(label.startswith("bars · depth 3 · width 4") for label in named)
    assert {label[-8:] for label in named} == {"engine 2", "engine 3"}
    assert not any("engine" in label for label in labels if not label.startswith("bars · depth 3 · width 4"))


def test_a_row_is_verified_against_the_id_of_the_engine_that_trained_it(monkeypatch, tmp_path):
    """A conv cell stored by engine 2 keeps its engine-2 id; verify (the recomputation) checks it against that id,
    not against the id the cell would have under the engine of the verifying process."""
    from plantseek.run.grid import expand, run_cells
    from plantseek.run.recheck import recheck_rows, stored_engine
    from plantseek.run.suites import SUITES

    conv = cell(0)
    monkeypatch.setenv(ENGINE_VARIABLE, "2")
    old_id = conv.cell_id
    monkeypatch.delenv(ENGINE_VARIABLE)
    assert conv.cell_id != old_id and conv.cell_id_at(2) == old_id and conv.cell_id_at(None) == conv.cell_id
    assert stored_engine({"engine": None}) == FIRST_ENGINE and stored_engine({"engine": 2}) == 2

    suite = SUITES.get("conv-default").with_overrides(tasks=["bars"], pruners=["random"], densities=["0.5"],
                                                      seeds=[0])
    path = tmp_path / "s.db"
    monkeypatch.setenv(ENGINE_VARIABLE, "2")  # the worker processes inherit it
    with ResultStore(path) as store:
        run_cells(expand(suite), store=store, jobs=1)
    monkeypatch.delenv(ENGINE_VARIABLE)
    rows = [r for r in load_checked(path).rows if r["status"] == "ok"]
    assert rows and {r["engine"] for r in rows} == {2}
    refused, withheld = recheck_rows(rows)
    assert refused == [] and withheld == 0
