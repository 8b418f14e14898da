"""The overall ranking compares like with like, and sanity ablations pass or fail by a paired test (issue 24.7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plantseek.report.like_with_like import comparison_seeds
from plantseek.report.tables import ranking, sanity_table
from tests.report.test_leaderboard import _row


def _cells(method, task, spec, seeds, weak, recall=0.5, **kw):
    """One cell per seed; ``weak`` a number or a function of the seed."""
    metric = "accuracy" if task == "circle" else "mse"
    return [_row(pruner=method, task=task, density_spec=spec, density=float(spec), seed=s, metric_name=metric,
                 weak_metric=weak(s) if callable(weak) else weak, recall=recall, **kw) for s in seeds]


def board() -> pd.DataFrame:
    """A, B, C: 10 seeds on circle and relu at 0.1 and 0.01. A also ran seeds 10-24 on circle at 0.1, where it is the
    worst of all; S (a submission) ran seed 0 only, everywhere; M ran circle only (a method for some hosts)."""
    rows = []
    skill = {"A": 0.9, "B": 0.8, "C": 0.7}
    for task in ("circle", "relu"):
        for spec in ("0.1", "0.01"):
            for m, k in skill.items():
                rows += _cells(m, task, spec, range(10), k if task == "circle" else 1 - k, recall=k / 2)
            rows += _cells("S", task, spec, [0], 0.85 if task == "circle" else 0.15, recall=0.9)
            if task == "circle":
                rows += _cells("M", task, spec, range(10), 0.95, recall=0.1)
    rows += _cells("A", "circle", "0.1", range(10, 25), 0.1, recall=0.0)  # extra seeds: never in A's mean rank
    return pd.DataFrame(rows)


def test_a_comparisons_seeds_are_the_set_most_methods_hold_times_its_size():
    comp = pd.DataFrame({"_method": ["A"] * 25 + ["B"] * 10 + ["C"] * 10 + ["S"],
                         "seed": [*range(25), *range(10), *range(10), 0]})
    seeds, methods = comparison_seeds(comp)
    assert seeds == frozenset(range(10)) and methods == {"A", "B", "C"}  # 3 x 10 beats 1 x 25 and 4 x 1


def test_ranked_methods_share_every_cell_and_the_others_are_ranked_on_their_subset():
    rk = ranking(board()).set_index("method")
    main = rk[rk["position"].notna()]
    assert list(main.sort_values("position").index) == ["A", "B", "C"]  # A's extra bad seeds count for nothing
    assert (main["mean_rank"] == [1.0, 2.0, 3.0]).all() and (main["comparisons"] == 4).all()
    assert set(main["ranked_on"]) == {"4 of 4 comparisons, 10 seeds each"}
    s, m = rk.loc["S"], rk.loc["M"]
    assert np.isnan(s["position"]) and np.isnan(m["position"])  # never placed in the main order
    # S on seed 0 of all four comparisons: circle 0.85 is 2nd of 4 (A 0.9), relu 0.15 is 2nd of 4 (A 0.1)
    assert s["mean_rank"] == 2.0 and s["subset_place"] == 2.0 and s["comparisons"] == 4
    assert s["ranked_on"] == "common subset: 4 of 4 comparisons, 1 seed each; place 2 of 4 there"
    # M on circle only (2 of 4 comparisons, seeds 0-9): the best weak metric there
    assert m["mean_rank"] == 1.0 and m["ranked_on"].startswith("common subset: 2 of 4 comparisons, 10 seeds each")
    assert s["cells"] == 4 and rk.loc["A", "cells"] == 40 + 15  # counts are of all of a method's cells


def test_a_one_seed_method_is_never_ranked_against_ten_seed_methods_on_unequal_cells():
    rk = ranking(board())
    ranked = rk[rk["position"].notna()]
    assert "S" not in set(ranked["method"])
    # what the main order rests on: remove S and M from the board, the main ranks do not move
    alone = ranking(board().query("pruner not in ['S', 'M']")).set_index("method")
    assert alone["mean_rank"].to_dict() == ranked.set_index("method")["mean_rank"].to_dict()


def test_the_reader_chooses_the_quantity_ranked_on():
    rk = ranking(board(), by="recall").set_index("method")
    main = rk[rk["position"].notna()].sort_values("position")
    assert list(main.index) == ["A", "B", "C"]  # recall k / 2: the same order here
    df = board()
    df.loc[df["pruner"].eq("C"), "recall"] = 0.99  # C recovers the most ticket while training worst
    by_recall = ranking(df, by="recall")
    assert list(by_recall.dropna(subset=["position"])["method"]) == ["C", "A", "B"]
    assert list(ranking(df)["method"][:3]) == ["A", "B", "C"]
    with pytest.raises(ValueError, match="weak_metric, recall"):
        ranking(df, by="precision")


def _sanity(weak_p, weak_shuffled, task="circle"):
    rows = []
    for seed, (a, b) in enumerate(zip(weak_p, weak_shuffled)):
        rows += _cells("P", task, "0.1", [seed], a)
        rows += _cells("P", task, "0.1", [seed], b, ablation="shuffled")
        rows += _cells("P", task, "0.1", [seed], a, ablation="reinit")
    return sanity_table(pd.DataFrame(rows)).iloc[0]


def test_sanity_verdict_is_a_paired_test_by_hand():
    better = _sanity([0.9] * 8, [0.8 + 0.01 * i for i in range(8)])  # P better on all 8 seeds
    assert better["beats_shuffled"] == "yes" and better["shuffled_p"] == pytest.approx(2 / 2 ** 8)
    mse = _sanity([0.01 * (i + 1) for i in range(8)], [0.1 * (i + 1) for i in range(8)], task="relu")
    assert mse["beats_shuffled"] == "yes"  # lower MSE on every seed
    worse = _sanity([0.8 + 0.01 * i for i in range(8)], [0.9] * 8)
    assert worse["beats_shuffled"] == "no" and worse["shuffled_p"] == pytest.approx(2 / 2 ** 8)
    # ahead on the means (0.8 vs 0.75) but only by one large win: 7 of 8 seeds are losses
    one_win = _sanity([0.76] * 7 + [1.0], [0.77] * 7 + [0.0])
    assert one_win["weak_metric_mean"] > one_win["shuffled_weak_metric_mean"] and one_win["beats_shuffled"] == "no"
    few = _sanity([0.9] * 5, [0.1] * 5)
    assert few["beats_shuffled"] == "too few seeds" and few["shuffled_pairs"] == 5  # 2 / 2**5 > 0.05


def test_a_random_pruner_fails_its_sanity_ablation():
    """A random mask and its shuffle are exchangeable: over many seeded boards the test says "no" at most about
    5 % of the time (two-sided test, and a "yes" also needs P ahead: about 2.5 %)."""
    rng = np.random.default_rng(0)
    verdicts = [_sanity(rng.normal(0.7, 0.05, 10), rng.normal(0.7, 0.05, 10))["beats_shuffled"] for _ in range(80)]
    assert verdicts.count("yes") <= 6 and set(verdicts) <= {"yes", "no"}
