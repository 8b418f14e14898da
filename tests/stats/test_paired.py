"""Wilcoxon signed-rank tests, Holm correction and rank-biserial effect sizes, against hand-computed values and an
independent enumeration of the signed-rank null distribution."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from plantseek.stats.paired import NOT_SIGNIFICANT, holm, pairwise, rank_biserial, smallest_p, wilcoxon_pair


def exact_signed_rank_p(d) -> float:
    """Two-sided exact p of the signed-rank test by enumerating all 2**n sign patterns (no zeros; ties averaged)."""
    from scipy.stats import rankdata

    d = np.asarray(d, float)
    ranks = rankdata(np.abs(d))
    w_plus = ranks[d > 0].sum()
    sums = np.array([sum(r for r, s in zip(ranks, signs) if s) for signs in itertools.product((0, 1), repeat=len(d))])
    return min(1.0, 2 * min(np.mean(sums <= w_plus + 1e-9), np.mean(sums >= w_plus - 1e-9)))


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04: 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, max(0.06, 1 * 0.04) = 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([0.2, np.nan, 0.01])  # NaN is no test: m = 2
    assert out[0] == pytest.approx(0.2) and np.isnan(out[1]) and out[2] == pytest.approx(0.02)
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_rank_biserial_by_hand():
    assert rank_biserial([1, 2, 3, 4, 5, 6]) == 1.0
    assert rank_biserial([-1, -2]) == -1.0
    # ranks 1..6, negatives at ranks 2 and 4: (15 - 6) / 21
    assert rank_biserial([1, -2, 3, -4, 5, 6]) == pytest.approx(9 / 21)
    assert rank_biserial([0, 0, 1, -1]) == 0.0  # zeros dropped, tied ranks averaged
    assert np.isnan(rank_biserial([0.0, 0.0]))


def test_wilcoxon_matches_scipys_exact_test_without_ties():
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(7)
    for n in (3, 7, 12, 20):
        d = rng.normal(size=n)
        assert wilcoxon_pair(d, np.zeros(n))[1:] == pytest.approx(
            (wilcoxon(d, method="exact").statistic, wilcoxon(d, method="exact").pvalue))


def test_wilcoxon_against_hand_and_enumeration():
    n, w, p = wilcoxon_pair([1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 0])
    assert (n, w) == (6, 0.0) and p == pytest.approx(2 / 64)  # every sign positive: 2 * (1/2)**6
    _, w, p = wilcoxon_pair([1, -2, 3, -4, 5, 6], np.zeros(6))
    assert w == 6.0 and p == pytest.approx(14 / 64 * 2)  # 14 of 64 sign patterns have W <= 6
    rng = np.random.default_rng(3)
    for _ in range(5):
        d = rng.permutation(np.arange(1, 9)) * rng.choice([-1, 1], 8) + rng.uniform(0, 0.1, 8)
        assert wilcoxon_pair(d, np.zeros(8))[2] == pytest.approx(exact_signed_rank_p(d))
    for _ in range(5):  # ties: still the exact law
        d = rng.choice([-2.0, -1.0, 1.0, 2.0, 3.0], 9)
        assert wilcoxon_pair(d, np.zeros(9))[2] == pytest.approx(exact_signed_rank_p(d))
    # all six differences tied: exactly 2 / 64 (a normal approximation would say 0.014)
    assert wilcoxon_pair(np.full(6, 0.4), np.zeros(6))[2] == pytest.approx(2 / 64)
    n, w, p = wilcoxon_pair([1.0, 2.0], [1.0, 2.0])
    assert n == 0 and np.isnan(w) and np.isnan(p)
    assert smallest_p(5) == pytest.approx(0.0625) and smallest_p(6) == pytest.approx(0.03125)


def _matrix() -> pd.DataFrame:
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    return pd.DataFrame({"A": a + 10, "B": np.full(6, 10.0), "C": a + 10 - np.array([0, 4, 0, 8, 0, 0])})


def test_a_difference_that_holm_does_not_keep_is_not_a_win():
    # A beats B on all 6 instances (p = 1/32) but with 3 pairs Holm multiplies the smallest p by 3: 0.094 > 0.05
    pairs = pairwise(_matrix()).set_index(["method_a", "method_b"])
    ab = pairs.loc[("A", "B")]
    assert ab["p"] == pytest.approx(1 / 32) and ab["p_holm"] == pytest.approx(3 / 32)
    assert ab["effect"] == 1.0 and not ab["significant"] and ab["verdict"] == NOT_SIGNIFICANT
    ac = pairs.loc[("A", "C")]  # differences 0, 4, 0, 8, 0, 0: two nonzero, exact p = 2 * 1/4
    assert (ac["n"], ac["n_nonzero"], ac["p"]) == (6, 2, pytest.approx(0.5))
    assert ac["median_difference"] == 0.0 and ac["verdict"] == NOT_SIGNIFICANT


def test_two_methods_a_consistent_difference_is_a_win():
    pairs = pairwise(_matrix()[["B", "A"]])
    r = pairs.iloc[0]
    assert (r["method_a"], r["method_b"]) == ("B", "A")
    assert r["p_holm"] == pytest.approx(1 / 32) and r["significant"]
    assert r["effect"] == -1.0 and r["verdict"] == "A better"
