"""A pruner may use the scientific stack inside its sandboxed worker: scipy's own OpenBLAS, loaded only after the
restriction, once aborted the worker (it could not start its thread pool there)."""

from __future__ import annotations

import json
from pathlib import Path

from plantseek.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_a_pruner_loading_scipy_blas_in_its_worker_runs(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = main(["evaluate", "--suite", "smoke", "--tasks", "relu", "--pruners",
                 "tests/pruners/uses_scipy.py:UsesScipy,magnitude", "--densities", "0.1", "--seeds", "0",
                 "--n-samples", "100", "--epochs", "0", "--no-store", "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0, rows
    by_name = {r["pruner"]: r for r in rows}
    assert by_name["uses-scipy"]["status"] == "ok" and by_name["uses-scipy"]["recall"] is not None
