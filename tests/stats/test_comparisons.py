"""The comparisons of a results frame: paired instances, orientation, completeness, one seed, the pipeline."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plantseek.stats.blocks import instance_matrix
from plantseek.stats.paired import NOT_SIGNIFICANT
from plantseek.stats.comparisons import comparison, comparisons

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from test_leaderboard import _row  # noqa: E402


def frame(values: dict[str, list[float]], task="relu", metric="mse", spec="0.1") -> pd.DataFrame:
    """One cell per (pruner, seed) with the given weak metrics (recall = weak metric too)."""
    return pd.DataFrame([_row(task=task, metric_name=metric, pruner=p, seed=s, density_spec=spec, weak_metric=v,
                              recall=v) for p, vs in values.items() for s, v in enumerate(vs)])


def test_matrix_orients_lower_is_better_and_pairs_by_seed():
    m = instance_matrix(frame({"a": [0.1, 0.2], "b": [0.3, 0.1]}), "single-shot")
    assert list(m.columns) == ["a", "b"] and list(m.index.get_level_values("seed")) == [0, 1]
    assert m.to_numpy().tolist() == [[-0.1, -0.3], [-0.2, -0.1]]  # MSE negated: higher = better
    rec = instance_matrix(frame({"a": [0.1, 0.2], "b": [0.3, 0.1]}), "single-shot", "recall")
    assert rec.to_numpy().tolist() == [[0.1, 0.3], [0.2, 0.1]]
    with pytest.raises(ValueError):
        instance_matrix(frame({"a": [0.1]}), "single-shot", "prune_seconds")


def test_matrix_drops_incomplete_instances_ablations_leak_detectors_and_full_density():
    df = frame({"a": [0.1, 0.2, 0.3], "b": [0.3, 0.1]})  # b lacks seed 2
    extra = [_row(task="relu", metric_name="mse", pruner="a", ablation="shuffled", seed=0, weak_metric=9.0),
             _row(task="relu", metric_name="mse", pruner="leak-zero-bias", seed=0, weak_metric=9.0),
             _row(task="relu", metric_name="mse", pruner="a", seed=0, density_spec="1", density=1.0, weak_metric=9.0),
             _row(task="relu", metric_name="mse", pruner="b", seed=2, status="failed", error="x", weak_metric=np.nan)]
    m = instance_matrix(pd.concat([df, pd.DataFrame(extra)], ignore_index=True), "single-shot")
    assert list(m.columns) == ["a", "b"] and len(m) == 2 and m.attrs["incomplete"] == 1
    assert 9.0 not in m.to_numpy() and -9.0 not in m.to_numpy()


def test_one_seed_still_compares_across_settings_and_densities():
    rows = []
    for task, metric in (("circle", "accuracy"), ("relu", "mse")):
        for spec in ("0.01", "0.1", "0.5"):
            for p, v in (("a", 0.9), ("b", 0.5), ("c", 0.1)):
                w = v if metric == "accuracy" else 1 - v
                rows.append(_row(task=task, metric_name=metric, pruner=p, density_spec=spec, density=float(spec),
                                 weak_metric=w, recall=v))
    (c,) = [x for x in comparisons(pd.DataFrame(rows)) if x.task == ""]
    assert (c.instances, c.seeds) == (6, 1)
    assert c.friedman.mean_ranks == {"a": 1.0, "b": 2.0, "c": 3.0}  # a best in accuracy and in MSE alike
    assert c.friedman.p == pytest.approx(np.exp(-12 * 6 / 12 * 2 / 2))  # chi2 = 12, 2 df
    ab = c.pairs.set_index(["method_a", "method_b"]).loc[("a", "b")]
    assert ab["p"] == pytest.approx(1 / 32) and ab["p_holm"] == pytest.approx(3 / 32)
    assert ab["verdict"] == NOT_SIGNIFICANT  # six instances and three pairs: not enough for a win
    assert {x.task for x in comparisons(pd.DataFrame(rows))} == {"", "circle", "relu"}


def test_a_protocol_with_one_method_has_no_comparison_and_friedman_not_rejecting_joins_all():
    df = frame({"a": [0.1, 0.2, 0.3], "b": [0.2, 0.1, 0.3], "c": [0.3, 0.3, 0.1]})
    (c,) = comparisons(df)
    assert c.friedman.p > 0.05 and c.cliques == [tuple(c.friedman.mean_ranks)]
    assert comparisons(frame({"a": [0.1, 0.2]})) == []
    assert comparison(df, "single-shot", task="relu").instances == 3
