"""The recovery-vs-compute view: the ranking's compute column, the compute table, the compute figure (torch-free)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import synthetic_results  # noqa: E402

from plantseek.report.markdown import render_markdown  # noqa: E402
from plantseek.report.plots import figure_compute  # noqa: E402
from plantseek.frame.prepared import prepare  # noqa: E402
from plantseek.report.tables import compute_view, ranking  # noqa: E402


def frame():
    df = synthetic_results(tasks=("circle",), pruners=("random", "snip"), seeds=(0, 1), fail=False)
    costs = {("snip", 0): 0.5, ("snip", 1): 1.5}  # per seed, every density
    df["compute_dense_runs"] = [costs.get((p, s), 0.0) for p, s in zip(df["pruner"], df["seed"])]
    return df


def test_the_ranking_states_each_methods_mean_compute_in_dense_runs():
    rk = ranking(frame()).set_index("method")
    assert rk.loc["snip", "compute_dense_runs"] == 1.0 and rk.loc["random", "compute_dense_runs"] == 0.0
    md = render_markdown(frame())
    assert "compute (dense runs) |" in md


def test_the_compute_view_has_recall_weak_metric_and_compute_per_density():
    df = frame()
    view = compute_view(df)
    snip = view[view["method"] == "snip"]
    assert set(snip["density_spec"]) == set(df["density_spec"]) and (snip["compute_dense_runs_mean"] == 1.0).all()
    row = snip[snip["density_spec"] == "0.1"].iloc[0]
    cells = df[(df["pruner"] == "snip") & (df["density_spec"] == "0.1")]
    assert np.isclose(row["recall_mean"], cells["recall"].mean())
    assert np.isclose(row["weak_metric_mean"], cells["weak_metric"].mean())


def test_the_compute_figure_needs_recorded_compute():
    d = prepare(frame())
    assert figure_compute(d) is not None
    old = frame()
    old["compute_dense_runs"] = np.nan  # a store written before compute was recorded
    assert figure_compute(prepare(old)) is None
    free = d.assign(compute_dense_runs=0.0)  # no pruner spent anything: every point at the floor says nothing
    assert figure_compute(free) is None
    assert ranking(old)["compute_dense_runs"].isna().all()
    assert pd.isna(compute_view(old)["compute_dense_runs_mean"]).all()


def test_the_methods_table_prints_recall_weak_metric_and_compute_per_density():
    from plantseek.report.compute_table import compute_markdown

    md = compute_markdown(frame())
    lines = md.splitlines()
    head = next(line for line in lines if line.startswith("| method |"))
    assert "0.1: recall" in head and "0.1: compute (dense runs)" in head
    snip = next(line for line in lines if line.startswith("| snip |"))
    cells = [c.strip() for c in snip.strip("|").split("|")]
    assert cells[-1] == "10 / 10" and "1 ± 0.71" in cells  # compute 0.5 and 1.5 over two seeds: mean 1, std 0.71
