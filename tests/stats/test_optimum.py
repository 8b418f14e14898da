"""Distance to the optimum: the per-cell ratio (plantseek.score.known_optimum) and the group statistic."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from plantseek.score.known_optimum import known_optima, optimum_metrics
from plantseek.stats.optimum import distance_to_optimum, reaches


def test_ratio_of_a_hand_mask():
    mask = {"layers.0.weight": torch.tensor([[True, False], [True, True]]),
            "layers.0.bias": torch.tensor([True, True]),  # biases do not count
            "layers.1.weight": torch.tensor([[True, False]])}
    got = optimum_metrics("k", mask, {"k": {"nnz": 2, "metric": 0.9}})
    assert got == {"optimum_nnz": 2.0, "optimum_ratio": 2.0, "optimum_metric": 0.9}  # 4 kept / 2
    assert optimum_metrics("other", mask, {"k": {"nnz": 2, "metric": 0.9}}) == {}


def test_reaches_both_directions():
    assert reaches(0.95, 0.9, True) and not reaches(0.85, 0.9, True) and reaches(0.89, 0.9, True, 0.02)
    assert reaches(0.01, 0.02, False) and not reaches(0.03, 0.02, False)
    assert not reaches(math.nan, 0.9, True)


def test_group_statistic_on_hand_cells():
    # pruner A on seed 0: densities with 6 and 3 kept weights reach 0.9 (optimum 3 weights) -> ratio 1;
    # seed 1: only the 9-weight cell reaches -> ratio 3. Pruner B never reaches.
    rows = []
    for seed, cells in [(0, [(6, 0.95, 0.5), (3, 0.91, 0.25), (2, 0.5, 0.2)]), (1, [(9, 0.92, 0.75), (3, 0.6, 0.25)])]:
        for kept, metric, density in cells:
            rows.append(dict(task="circle", depth=3, width=6, pruner="A", seed=seed, status="ok", strong_metric=metric,
                             optimum_ratio=kept / 3, optimum_metric=0.9, higher_is_better=True,
                             achieved_density=density))
            rows.append(dict(task="circle", depth=3, width=6, pruner="B", seed=seed, status="ok", strong_metric=0.5,
                             optimum_ratio=kept / 3, optimum_metric=0.9, higher_is_better=True,
                             achieved_density=density))
    rows.append(dict(task="relu", depth=3, width=6, pruner="A", seed=0, status="ok", strong_metric=0.1,
                     optimum_ratio=math.nan, optimum_metric=math.nan, higher_is_better=False, achieved_density=0.1))
    out = distance_to_optimum(pd.DataFrame(rows)).set_index("pruner")
    assert len(out) == 2  # the relu cell has no optimum
    assert out.loc["A", "instances"] == 2 and out.loc["A", "reached"] == 2
    assert out.loc["A", "ratio"] == pytest.approx(2.0)  # mean of 1 and 3
    assert out.loc["A", "density"] == pytest.approx(0.5)  # mean of 0.25 and 0.75
    assert out.loc["B", "reached"] == 0 and math.isnan(out.loc["B", "ratio"])


def test_known_optima_reads_only_proven_checked_records(tmp_path):
    recs = [dict(instance_key="a", status="optimal", certified_nnz=5, check_satisfied=True, certified_test_metric=0.9,
                 metric_name="accuracy", samples_used=32),
            dict(instance_key="b", status="time_limit", certified_nnz=4, check_satisfied=True, samples_used=32),
            dict(instance_key="c", status="optimal", certified_nnz=4, check_satisfied=False, samples_used=32)]
    path = tmp_path / "certified.json"
    path.write_text(json.dumps({"format": "plantseek-certified", "version": 1, "records": recs}))
    got = known_optima(path)
    assert set(got) == {"a"} and got["a"]["nnz"] == 5
    assert known_optima(tmp_path / "missing.json") == {}


def test_committed_certified_results_are_found():
    import plantseek

    optima = known_optima()
    inst = plantseek.plant("relu", depth=3, width=6, seed=0)
    assert optima[inst.spec.key()]["nnz"] == 2  # the committed run: the ReLU path of 2 weights
