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
    assert "0.000125* · 0.5" in row_a and "[" not in row_a
    row_b = next(line for line in lines if line.strip().startswith("b "))
    assert "0.5 · 0 " in row_b and "failed 1/1" in row_b
    assert "4.5e+10" not in text and "3e+09" not in text
    assert "1 cell(s) FAILED" in text
    assert lines[-1].endswith("python -m plantseek leaderboard --store r.db; figures: python -m plantseek plot "
                              "--store r.db")


def test_intervals_where_there_are_two_seeds_or_more():
    df = pd.DataFrame([_row(pruner="a", seed=s, weak_metric=w, recall=0.25) for s, w in enumerate([0.0, 1.0, 10.0])])
    text = compact_summary(df)
    assert "3.67 [0, 10]* · 0.25 [0.25, 0.25]" in text
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
    assert sorted(t.index) == ["random", "snip"] and list(t.columns)[0].startswith("ticket (")
    assert list(t.columns)[1:] == ["0.01", "0.1", "0.5", "1"]


def test_not_stored_results_point_at_a_store():
    text = compact_summary(pd.DataFrame([_row(pruner="a", weak_metric=0.5, recall=0.5)]), "")
    assert text.splitlines()[-1].endswith("run with a store to get the leaderboard and the plots.")


def _table_rows(text: str) -> dict[str, str]:
    """The method rows of a one-setting summary, by method name."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("method")) + 1
    rows = {}
    for line in lines[start:]:
        if not line.strip() or line.strip().startswith(("rows:", "collapsed:")):
            break
        rows[line.split()[0]] = line
    return rows


def test_rows_best_first_by_mean_rank_and_the_best_cell_of_each_column_marked():
    # accuracy (higher is better): ranks per column, by hand
    #   density 0.1: c 0.9 (1), a 0.8 (2), b 0.7 (3);  density 0.5: b 0.95 (1), c 0.9 (2), a 0.6 (3)
    #   mean ranks: c 1.5, b 2.0, a 2.5
    acc = {("a", "0.1"): 0.8, ("b", "0.1"): 0.7, ("c", "0.1"): 0.9,
           ("a", "0.5"): 0.6, ("b", "0.5"): 0.95, ("c", "0.5"): 0.9}
    df = pd.DataFrame([_row(pruner=m, density_spec=d, density=float(d), weak_metric=w, recall=0.5)
                       for (m, d), w in acc.items()])
    rows = _table_rows(compact_summary(df))
    assert list(rows) == ["c", "b", "a"]
    assert "0.9* ·" in rows["c"] and "0.95* ·" in rows["b"]
    assert sum(r.count("*") for r in rows.values()) == 2
    # the same numbers as MSEs (lower is better): the order reverses, the marks move to the smallest values
    mse = pd.DataFrame([_row(task="relu", metric_name="mse", pruner=m, density_spec=d, density=float(d),
                             weak_metric=w, recall=0.5) for (m, d), w in acc.items()])
    text = compact_summary(mse)
    rows = _table_rows(text)
    assert list(rows) == ["a", "b", "c"]
    assert "0.7* ·" in rows["b"] and "0.6* ·" in rows["a"]
    assert "* best weak mse of its density column" in text


def test_recall_keeps_three_significant_digits():
    df = pd.DataFrame([_row(pruner="a", weak_metric=0.5, recall=0.003), _row(pruner="b", weak_metric=0.4, recall=0.0),
                       _row(pruner="c", weak_metric=0.3, recall=0.12345)])
    rows = _table_rows(compact_summary(df))
    assert "· 0.003" in rows["a"] and rows["b"].rstrip().endswith("· 0") and "· 0.123" in rows["c"]


def test_collapsed_cells_are_labelled_and_the_constant_predictor_value_explained():
    const = 0.451  # what a constant network scores on this (made-up) circle instance
    df = pd.DataFrame([
        _row(pruner="a", seed=0, weak_metric=const, recall=0.01, layer_collapse=True),
        _row(pruner="a", seed=1, weak_metric=const, recall=0.02, layer_collapse=True),
        _row(pruner="b", seed=0, weak_metric=const, recall=0.1, layer_collapse=True),  # one seed of two collapsed
        _row(pruner="b", seed=1, weak_metric=0.9, recall=0.3, layer_collapse=False),
        _row(pruner="c", seed=0, weak_metric=const, recall=0.2, layer_collapse=False),  # a path, a constant output
        _row(pruner="c", seed=1, weak_metric=const, recall=0.2, layer_collapse=False),
        _row(pruner="d", seed=0, weak_metric=0.95, recall=0.6), _row(pruner="d", seed=1, weak_metric=0.97, recall=0.6),
    ])
    text = compact_summary(df)
    rows = _table_rows(text)
    assert rows["a"].rstrip().endswith("(collapsed)")
    assert "(collapsed 1/2)" in rows["b"]
    assert rows["c"].rstrip().endswith("(constant)")
    assert "collapsed" not in rows["d"] and "constant" not in rows["d"]
    legend = next(line for line in text.splitlines() if line.strip().startswith("collapsed:"))
    assert "no path from input to output" in legend and "weak accuracy 0.451 = the majority class's share" in legend


def test_no_collapse_no_collapse_legend():
    text = compact_summary(pd.DataFrame([_row(pruner="a", weak_metric=0.5, recall=0.5)]))
    assert "collapsed" not in text and "constant" not in text
