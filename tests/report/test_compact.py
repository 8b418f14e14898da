"""The compact summary ``evaluate`` ends with: per setting, methods x densities, weak metric and recall, intervals
only where n >= 2, the ticket's reference, and a pointer to the leaderboard and plots."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import _row, synthetic_results  # noqa: E402

from plantseek.report.compact import compact_summary, setting_table  # noqa: E402


def test_one_seed_means_only_and_the_strong_metric_is_left_out():
    df = pd.DataFrame([
        _row(task="relu", metric_name="mse", pruner="a", density_spec="0.1", weak_metric=1.25e-4, recall=0.5,
             strong_metric=4.5e10, ticket_metric=1e-4),
        _row(task="relu", metric_name="mse", pruner="b", density_spec="0.1", weak_metric=0.5, recall=0.0,
             strong_metric=3e9, ticket_metric=1e-4),
        _row(task="relu", metric_name="mse", pruner="b", density_spec="0.5", density=0.5, status="failed",
             error="boom", weak_metric=np.nan)])
    text = compact_summary(df, "r.db")
    lines = text.splitlines()
    assert lines[0].startswith("== relu · depth 5 · width 100")
    assert "weak mse (lower is better) · recall; planted ticket: strong mse 0.0001;" in lines[1]
    assert "1 seed(s) (n = 1: no interval)" in lines[1]
    row_a = next(line for line in lines if line.strip().startswith("a "))
    assert "0.000125 · 0.50" in row_a and "[" not in row_a
    row_b = next(line for line in lines if line.strip().startswith("b "))
    assert "0.5 · 0.00" in row_b and "failed 1/1" in row_b
    assert "4.5e+10" not in text and "3e+09" not in text
    assert "1 cell(s) FAILED" in text
    assert lines[-1].endswith("python -m plantseek leaderboard --store r.db; figures: python -m plantseek plot "
                              "--store r.db")


def test_intervals_where_there_are_two_seeds_or_more():
    df = pd.DataFrame([_row(pruner="a", seed=s, weak_metric=w, recall=0.25) for s, w in enumerate([0.0, 1.0, 10.0])])
    text = compact_summary(df)
    assert "3.67 [0, 10] · 0.25 [0.25, 0.25]" in text
    assert "[low, high] = 95 % bootstrap CI over seeds" in text
    assert "leaderboard; figures: python -m plantseek plot" in text


def test_a_table_per_setting_methods_by_densities_without_ablations_or_leak_detectors():
    df = synthetic_results(tasks=("circle", "relu"), pruners=("random", "snip"), seeds=(0,), fail=False)
    extra = df[df["pruner"] == "random"].assign(ablation="shuffled")
    leak = df[df["pruner"] == "random"].assign(pruner="leak-zero-bias")
    text = compact_summary(pd.concat([df, extra, leak], ignore_index=True))
    assert text.count("\n== ") + text.startswith("== ") == 2
    assert "Not tabled here: 20 cell(s) of sanity ablations and leak detectors (leak-zero-bias, random [shuffled])" \
        in text
    from plantseek.frame.prepared import prepare
    from plantseek.report.tables import summary_table

    s = summary_table(prepare(df))
    t = setting_table(s[s["task"] == "circle"], {})
    assert list(t.index) == ["random", "snip"] and list(t.columns)[0].startswith("ticket (")
    assert list(t.columns)[1:] == ["0.01", "0.1", "0.5", "1"]


def test_not_stored_results_point_at_a_store():
    text = compact_summary(pd.DataFrame([_row(pruner="a", weak_metric=0.5, recall=0.5)]), "")
    assert text.splitlines()[-1].endswith("run with a store to get the leaderboard and the plots.")
