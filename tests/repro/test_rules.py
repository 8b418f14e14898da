"""The decision rules of the reproduction report on hand-computed examples: the bootstrap interval against exact
bootstrap distributions and a normal-approximation closed form, the tolerance, the three-valued rules at their
borders, and three-valued logic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plantseek.repro import rules
from plantseek.repro.rules import (MIN_SEEDS, Stat, all3, any3, better, exceeds, interval, not3, oriented, paired,
                                   stat, tolerance, within)

SEEDS = range(6)


def per_seed(*values: float) -> dict[int, float]:
    return dict(enumerate(values))


def const(value: float, n: int = 6) -> dict[int, float]:
    return {s: value for s in range(n)}


def test_stat_is_mean_sample_sd_and_count_of_finite_values():
    s = stat([1.0, 2.0, 3.0, float("nan"), None])
    assert (s.mean, s.sd, s.n) == (2.0, 1.0, 3)  # sd = sqrt(((1-2)^2 + 0 + (3-2)^2) / 2) = 1
    one = stat([0.5])
    assert one.n == 1 and one.mean == 0.5 and math.isnan(one.sd)
    assert stat([]).empty and stat([]).text() == "— (n=0)"
    assert s.text() == "2 ± 1 (n=3)" and Stat(1.0, math.nan, 1).text() == "1 (n=1)"


def test_oriented_scale_is_accuracy_or_minus_log10_mse():
    assert oriented(0.9, True) == 0.9
    assert oriented(1e-3, False) == 3.0 and oriented(1e-5, False) == 5.0  # log10 of powers of ten is exact
    assert oriented(0.0, False) == 12.0  # floored at 1e-12
    assert math.isnan(oriented(float("inf"), False)) and math.isnan(oriented(-1.0, False))
    assert math.isnan(oriented(float("nan"), True))


def test_bootstrap_interval_of_two_values_is_their_range():
    # the bootstrap mean of {1, 3} is 1, 2, 3 with probability 1/4, 1/2, 1/4: its 2.5 % and 97.5 % quantiles are 1
    # and 3 exactly (each end carries ~2,500 of the 10,000 resamples)
    iv = interval([1.0, 3.0])
    assert (iv.estimate, iv.low, iv.high, iv.n) == (2.0, 1.0, 3.0, 2)


def test_bootstrap_interval_matches_the_exact_bootstrap_distribution():
    # values {0, 0, 0, 0, 6}: the resample mean is 6k/5 with k ~ Binomial(5, 1/5):
    # P(k >= 3) = 0.0579 > 0.025 > P(k >= 4) = 0.0067, P(k = 0) = 0.328 > 0.025: the 95 % interval is [0, 3.6]
    iv = interval([0.0, 0.0, 0.0, 0.0, 6.0])
    assert iv.estimate == pytest.approx(1.2) and iv.low == 0.0 and iv.high == pytest.approx(3.6, abs=1e-12)


def test_bootstrap_interval_agrees_with_the_normal_approximation_on_many_seeds():
    x = np.random.default_rng(7).normal(0.3, 2.0, size=400)
    half = 1.959964 * x.std(ddof=1) / math.sqrt(len(x))  # closed form: mean ± z * sd / sqrt(n)
    iv = interval(list(x))
    assert iv.estimate == pytest.approx(x.mean())
    assert iv.low == pytest.approx(x.mean() - half, abs=0.06 * half)
    assert iv.high == pytest.approx(x.mean() + half, abs=0.06 * half)


def test_bootstrap_is_seeded_and_drops_non_finite_values():
    values = [0.1, 0.5, -0.2, 0.3, 0.9, 0.05]
    assert interval(values) == interval(values)
    assert interval(values + [float("nan"), float("inf")]) == interval(values)
    assert interval(values, seed=1) != interval(values)  # the seed is what fixes it
    assert interval([]).n == 0 and math.isnan(interval([]).low)


def test_paired_differences_use_common_seeds_only():
    a, b = {0: 0.9, 1: 0.8, 2: 0.7, 5: 0.1}, {0: 0.5, 1: 0.5, 2: float("nan"), 3: 0.2}
    assert paired(a, b, True) == pytest.approx([0.4, 0.3])  # seed 2 is non-finite in b; 3 and 5 are unpaired
    assert paired({0: 1e-4}, {0: 1e-2}, False) == [2.0]  # a is two decades better


def test_tolerance_is_tau_times_the_dense_ticket_gap_on_the_oriented_scale():
    assert tolerance(const(0.75), const(1.0), True) == 0.25
    assert tolerance(const(1e-3), const(1e-5), False) == 2.0  # two decades
    assert tolerance(per_seed(1e-4, 1e-2), const(1e-5), False) == 2.0  # mean of -log10: (4 + 2) / 2 = 3
    assert tolerance(const(0.75), const(1.0), True, tau=2.0) == 0.5
    assert math.isnan(tolerance({}, const(1.0), True))
    assert rules.TAU == 1.0  # the stated rule (the report prints it)


def test_within_border_counts_as_a_ticket():
    dense, ticket = const(0.75), const(1.0)  # binary-exact: shortfall 0.25 = tolerance 0.25
    tol = tolerance(dense, ticket, True)
    d = within(const(0.5), dense, tol, True)
    assert d.holds is True and (d.interval.low, d.interval.high) == (0.25, 0.25)
    assert "≤ 0.25 accuracy → ticket" in d.text()
    assert within(const(0.49), dense, tol, True).holds is False  # the whole interval above the tolerance
    assert within(const(0.9), dense, tol, True).holds is True  # better than the dense host


def test_within_straddling_the_tolerance_is_undecided():
    dense = const(0.75)
    group = per_seed(0.75, 0.25, 0.75, 0.25, 0.75, 0.25)  # shortfall 0 or 0.5 per seed, mean 0.25
    d = within(group, dense, 0.25, True)
    assert d.holds is None and d.interval.low < 0.25 < d.interval.high
    assert "straddles" in d.text() and d.text().endswith("→ undecided")


def test_within_on_mse_is_in_decades():
    dense = const(1e-4)
    assert within(const(1e-3), dense, 2.0, False).holds is True  # one decade worse, tolerance two
    d = within(const(1e-3), dense, 0.5, False)
    assert d.holds is False and d.interval.low == pytest.approx(1.0) and "decades of MSE" in d.text()
    assert within(const(1e-5), dense, 0.0, False).holds is True  # better


def test_fewer_than_min_seeds_decide_nothing():
    n = MIN_SEEDS - 1
    d = within(const(0.1, n), const(0.9, n), 0.01, True)
    assert d.holds is None and f"fewer than {MIN_SEEDS} seeds" in d.text()
    assert within(const(0.1, MIN_SEEDS), const(0.9, MIN_SEEDS), 0.01, True).holds is False


def test_better_needs_the_whole_interval_beyond_the_tolerance():
    b = const(0.5)
    assert better(const(0.8), b, 0.25, True).holds is True
    assert better(const(0.75), b, 0.25, True).holds is False  # exactly the tolerance: not better
    assert better(const(0.2), b, 0.25, True).holds is False
    assert better(per_seed(0.5, 1.0, 0.5, 1.0, 0.5, 1.0), b, 0.25, True).holds is None
    assert better(const(1e-5), const(1e-3), 1.0, False).holds is True  # two decades lower MSE


def test_exceeds_a_share():
    assert exceeds(const(1.0)).holds is True
    assert exceeds(const(0.5)).holds is False
    assert exceeds(per_seed(0.0, 1.0, 0.0, 1.0, 0.0, 1.0)).holds is None
    assert exceeds(const(1.0, 3)).holds is None  # too few seeds


def test_margin_says_how_clearly_and_is_zero_when_undecided():
    dense, tol = const(0.75), 0.25
    assert within(const(0.7), dense, tol, True).margin == pytest.approx(0.8)  # (0.25 - 0.05) / 0.25
    assert within(const(0.25), dense, tol, True).margin == pytest.approx(1.0)  # (0.5 - 0.25) / 0.25
    assert within(per_seed(0.75, 0.25, 0.75, 0.25, 0.75, 0.25), dense, tol, True).margin == 0.0


@pytest.mark.parametrize("xs, all_, any_", [
    ([True, True], True, True), ([True, False], False, True), ([True, None], None, True),
    ([False, None], False, None), ([None, None], None, None), ([False, False], False, False), ([], True, False),
])
def test_three_valued_logic(xs, all_, any_):
    assert all3(xs) is all_ and any3(xs) is any_
    assert not3(None) is None and not3(True) is False
