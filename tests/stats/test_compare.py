"""`compare`: paired differences, intervals and tests between two methods, by hand and through the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plantseek.stats.compare import compare_sides, tally
from plantseek.stats.paired import NOT_SIGNIFICANT


def side(recall, weak, *, hib=False, ok=None, setting="relu · depth 4", spec="0.1"):
    n = len(recall)
    return pd.DataFrame({"_setting": setting, "density_spec": spec, "seed": range(n), "_hib": hib,
                         "_ok": [True] * n if ok is None else ok, "recall": recall, "weak_metric": weak})


def test_a_constant_lead_by_hand():
    b = side(np.linspace(0.1, 0.5, 8), np.full(8, 1e-2))
    a = side(b.recall + 0.1, b.weak_metric / 10)  # recall +0.1 on every seed; MSE ten times smaller
    t = compare_sides(a, b, ("A", "B")).set_index("quantity")
    assert t.loc["recall", "difference"] == pytest.approx(0.1)
    assert (t.loc["recall", "ci_low"], t.loc["recall", "ci_high"]) == pytest.approx((0.1, 0.1))
    assert t.loc["recall", "p"] == pytest.approx(2 / 2 ** 8)  # exact signed-rank: all 8 differences positive
    assert t.loc["weak_metric", "scale"] == "log10 ratio" and t.loc["weak_metric", "difference"] == pytest.approx(1)
    assert t.loc["recall", "p_holm"] == pytest.approx(2 * 2 / 2 ** 8)  # Holm over the two rows: both p equal
    assert list(t["verdict"]) == ["A better", "A better"]
    assert tally(t, ("A", "B")) == "A better in 2, B better in 0, no significant difference in 0 of 2 comparisons"


def test_pairs_are_by_seed_and_skip_cells_that_are_not_ok():
    b = side([0.2, 0.3, 0.4, 0.5], [1.0, 1.0, 1.0, 1.0])
    a = side([0.3, 0.3, 0.9, 0.9], [1.0, 1.0, 1.0, 1.0], ok=[True, True, False, False])
    t = compare_sides(a, b, ("A", "B")).set_index("quantity")
    assert t.loc["recall", "n"] == 2 and t.loc["recall", "mean_a"] == pytest.approx(0.3)
    assert t.loc["recall", "verdict"] == NOT_SIGNIFICANT  # two pairs can never reach p < 0.05


def test_noise_is_not_a_lead():
    rng = np.random.default_rng(0)
    b = side(rng.uniform(0, 1, 10), rng.uniform(0.1, 1, 10), hib=True)
    a = side(b.recall.to_numpy()[::-1].copy(), b.weak_metric.to_numpy()[::-1].copy(), hib=True)
    t = compare_sides(a, b, ("A", "B"))
    assert set(t["verdict"]) == {NOT_SIGNIFICANT}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from plantseek.cli import main

    path = tmp_path_factory.mktemp("compare") / "s.db"
    assert main(["evaluate", "--suite", "smoke", "--tasks", "relu", "--pruners", "random,magnitude", "--densities",
                 "0.1", "--seeds", "0-2", "--n-samples", "100", "--epochs", "0", "--store", str(path),
                 "--no-progress"]) == 0
    return str(path)


def test_cli_compares_two_pruners_and_refuses_bad_names(store, capsys):
    from plantseek.cli import main

    assert main(["compare", "--store", store, "--pruners", "magnitude,random", "--json"]) == 0
    out = capsys.readouterr()
    rows = [pd.Series(__import__("json").loads(line)) for line in out.out.splitlines()]
    assert {r["quantity"] for r in rows} == {"recall", "weak_metric"} and all(r["n"] == 3 for r in rows)
    assert "comparisons" in out.err
    assert main(["compare", "--store", store, "--pruners", "magnitude,snip"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("plantseek: error: no cells of pruner 'snip'") and len(err.strip().splitlines()) == 1
    assert main(["compare", "--store", store, "--pruners", "magnitude"]) == 2
    assert "two names" in capsys.readouterr().err
    assert main(["compare", "--store", store, "--against", store, "--pruners", "magnitude"]) == 0
    assert "no significant difference in 2 of 2" in capsys.readouterr().err  # a store against itself: equal
