"""`evaluate` against a store: kill -9 mid-grid and resume; two concurrent runs into one store."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import plantseek

GRID = ["--suite", "smoke", "--seeds", "0-3", "--pruners", "random,magnitude", "--no-progress"]
N_CELLS = 2 * 4 * 2 * 2  # tasks x seeds x pruners x densities


def evaluate(store, *extra, **kw):
    return subprocess.Popen([sys.executable, "-m", "plantseek", "evaluate", *GRID, "--store", str(store), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def stored_rows(store) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=30) as con:
            return con.execute("select count(*) from cells").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_minus_9_mid_grid_then_resume(tmp_path):
    store = tmp_path / "r.db"
    proc = evaluate(store)
    deadline = time.time() + 300
    while stored_rows(store) < 4 and time.time() < deadline:  # at least one group stored, grid not finished
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = stored_rows(store)
    assert 0 < before < N_CELLS
    df = plantseek.load_results(store)
    assert df["cell_id"].is_unique and (df["status"] == "ok").all()
    rerun = evaluate(store)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    m = re.search(r"(\d+) cells \((\d+) already in the store\), (\d+) to run", err)
    assert m and int(m.group(1)) == N_CELLS and int(m.group(2)) == before and int(m.group(3)) == N_CELLS - before
    df = plantseek.load_results(store)
    assert len(df) == N_CELLS and df["cell_id"].is_unique and (df["status"] == "ok").all()
    assert (df["attempts"] == 1).all()  # nothing that was stored ran again


def test_two_concurrent_runs_record_every_cell_once(tmp_path):
    store = tmp_path / "r.db"
    a, b = evaluate(store), evaluate(store, "--jobs", "1")
    for p in (a, b):
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    df = plantseek.load_results(store)
    assert len(df) == N_CELLS and df["cell_id"].is_unique and (df["status"] == "ok").all()
