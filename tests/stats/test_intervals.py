"""Bootstrap confidence intervals over seeds, against exact bootstrap distributions enumerated by hand."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plantseek.stats.intervals import NO_INTERVAL, NO_VALUE, bootstrap_interval, seed_intervals

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from test_leaderboard import _row  # noqa: E402


def exact_bootstrap_means(values) -> np.ndarray:
    """Every equally likely resample (with replacement) of ``values``, as its mean: the exact bootstrap law."""
    return np.array([np.mean(s) for s in itertools.product(values, repeat=len(values))])


def test_one_seed_gives_no_interval_and_says_so():
    iv = bootstrap_interval([0.7])
    assert iv.mean == 0.7 and iv.n == 1 and not iv.has_interval
    assert np.isnan(iv.low) and np.isnan(iv.high) and iv.note == NO_INTERVAL == "n = 1: no interval"


def test_no_value_and_non_finite_values_are_left_out():
    assert bootstrap_interval([]).note == NO_VALUE
    iv = bootstrap_interval([np.nan, 0.5, np.inf])
    assert iv.n == 1 and iv.note == NO_INTERVAL


def test_identical_values_give_the_degenerate_interval():
    iv = bootstrap_interval([0.25, 0.25, 0.25])
    assert (iv.low, iv.high, iv.n) == (0.25, 0.25, 3)


def test_three_values_interval_is_the_exact_bootstraps_extremes():
    # exact law: 27 resamples; mean 0 (all zeros) and mean 10 (all tens) each have probability 1/27 > 2.5 %
    means = exact_bootstrap_means([0.0, 1.0, 10.0])
    assert np.mean(means == 0) == pytest.approx(1 / 27)
    iv = bootstrap_interval([0.0, 1.0, 10.0])
    assert iv.mean == pytest.approx(11 / 3)
    assert (iv.low, iv.high) == (0.0, 10.0)


def test_four_values_interval_matches_the_exact_bootstrap_quantiles():
    values = [1.0, 2.0, 4.0, 8.0]
    means = exact_bootstrap_means(values)  # 256 equally likely resamples
    iv = bootstrap_interval(values)
    # 9999 random resamples: the percentile ends lie between the exact law's 1.5 % and 3.5 % (96.5 %, 98.5 %) points
    assert np.quantile(means, 0.015) <= iv.low <= np.quantile(means, 0.035)
    assert np.quantile(means, 0.965) <= iv.high <= np.quantile(means, 0.985)
    assert bootstrap_interval(values) == iv  # seeded: the same interval on every call


def test_seed_intervals_per_setting_method_density():
    rows = [_row(pruner="a", seed=s, weak_metric=w, recall=r) for s, (w, r) in enumerate([(0.0, 0.1), (1.0, 0.1),
                                                                                          (10.0, 0.1)])]
    rows += [_row(pruner="b", seed=0, weak_metric=0.5, recall=0.2)]
    rows += [_row(pruner="b", seed=1, status="failed", error="boom", weak_metric=np.nan)]
    iv = seed_intervals(pd.DataFrame(rows)).set_index(["method", "quantity"])
    a = iv.loc[("a", "weak_metric")]
    assert (a["n"], a["ci_low"], a["ci_high"], a["note"]) == (3, 0.0, 10.0, "")
    assert (iv.loc[("a", "recall"), "ci_low"], iv.loc[("a", "recall"), "ci_high"]) == pytest.approx((0.1, 0.1))
    b = iv.loc[("b", "weak_metric")]  # the failed seed does not count: one value, no interval
    assert b["n"] == 1 and b["note"] == NO_INTERVAL and np.isnan(b["ci_low"])


def test_the_same_interval_as_scipys_percentile_bootstrap():
    from scipy.stats import bootstrap

    rng = np.random.default_rng(11)
    for n in (2, 3, 5, 25):
        v = rng.normal(size=n)
        ci = bootstrap((v,), np.mean, method="percentile", n_resamples=9999, vectorized=True,
                       rng=np.random.default_rng(0)).confidence_interval
        iv = bootstrap_interval(v)
        assert (iv.low, iv.high) == pytest.approx((ci.low, ci.high), rel=1e-12, abs=1e-15)
