"""Friedman test, Nemenyi critical difference and rank stability, against Demšar (2006) and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from plantseek.stats.ranks import cliques, critical_difference, friedman, instance_ranks, nemenyi_q, rank_stability

# Demšar (2006), Table 5(a): q_0.05 of the Nemenyi test for k = 2..10 classifiers
DEMSAR_Q05 = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]


def test_nemenyi_q_matches_demsars_table():
    assert [nemenyi_q(k) for k in range(2, 11)] == pytest.approx(DEMSAR_Q05, abs=2e-3)


def test_critical_difference_of_demsars_example():
    # Demšar's section 3.2.2 example: k = 4 classifiers on N = 14 data sets, CD = 2.569 * sqrt(4 * 5 / (6 * 14))
    assert critical_difference(4, 14) == pytest.approx(2.569 * math.sqrt(20 / 84), abs=1e-3)
    assert critical_difference(4, 14) == pytest.approx(1.25, abs=5e-3)
    assert math.isnan(critical_difference(1, 10)) and math.isnan(critical_difference(3, 0))


def test_instance_ranks_one_is_best_and_ties_share():
    m = pd.DataFrame({"a": [3.0, 1.0], "b": [2.0, 1.0], "c": [1.0, 0.0]})
    assert instance_ranks(m).to_numpy().tolist() == [[1.0, 2.0, 3.0], [1.5, 1.5, 3.0]]


def demsar_chi2(mean_ranks, n: int) -> float:
    k = len(mean_ranks)
    return 12 * n / (k * (k + 1)) * (sum(r * r for r in mean_ranks) - k * (k + 1) ** 2 / 4)


def test_friedman_by_hand():
    # a always first, b second, c third on 4 instances: chi2 = 12*4/(3*4) * (1 + 4 + 9 - 12) = 8, p = exp(-8/2)
    m = pd.DataFrame({"a": [9.0, 8, 7, 6], "b": [5.0, 4, 3, 2], "c": [1.0, 0, -1, -2]})
    fr = friedman(m)
    assert fr.mean_ranks == {"a": 1.0, "b": 2.0, "c": 3.0}
    assert fr.statistic == pytest.approx(8.0) and fr.statistic == pytest.approx(demsar_chi2([1, 2, 3], 4))
    assert fr.p == pytest.approx(math.exp(-4.0))
    assert fr.cd == pytest.approx(critical_difference(3, 4))


def test_friedman_mixed_ranks_against_demsars_formula():
    rng = np.random.default_rng(1)
    m = pd.DataFrame(rng.normal(size=(10, 4)), columns=list("wxyz"))  # continuous: no ties
    fr = friedman(m)
    means = instance_ranks(m).mean(axis=0)
    assert fr.statistic == pytest.approx(demsar_chi2(means.tolist(), 10))
    assert list(fr.mean_ranks) == list(means.sort_values().index)


def test_no_friedman_test_with_two_methods_or_all_ties():
    fr = friedman(pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0]}))
    assert math.isnan(fr.p) and "2 method(s)" in fr.note and fr.mean_ranks == {"a": 1.0, "b": 2.0}
    tie = friedman(pd.DataFrame({"a": [1.0, 1.0], "b": [1.0, 1.0], "c": [1.0, 1.0]}))
    assert tie.p == 1.0 and tie.statistic == 0.0


def test_cliques_join_methods_closer_than_cd():
    ranks = {"a": 1.0, "b": 1.5, "c": 3.0, "d": 3.2}
    assert cliques(ranks, 1.0) == [("a", "b"), ("c", "d")]
    assert cliques(ranks, 2.5) == [("a", "b", "c", "d")]
    assert cliques(ranks, 1.6) == [("a", "b"), ("b", "c"), ("c", "d")]  # d - b = 1.7 >= 1.6
    assert cliques(ranks, 1.8) == [("a", "b"), ("b", "c", "d")]
    assert cliques(ranks, 0.1) == []


def test_rank_stability_of_a_dominant_method():
    m = pd.DataFrame({"a": [3.0, 3, 3, 3], "b": [2.0, 2, 2, 2], "c": [1.0, 1, 1, 1]})
    st = rank_stability(m, n_boot=200).set_index("method")
    assert st.loc["a", "p_first"] == 1.0 and st.loc["c", "p_place_3"] == 1.0
    assert (st.loc["b", "place_low"], st.loc["b", "place_high"]) == (2, 2)


def test_rank_stability_of_a_split_by_hand():
    # two instances, each won by a different method; resampling both: P(only the first) = P(only the second) = 1/4,
    # a tie (both placed first) 1/2; so each method is first with probability 3/4
    m = pd.DataFrame({"a": [1.0, 0.0], "b": [0.0, 1.0]})
    st = rank_stability(m, n_boot=4000, seed=5).set_index("method")
    assert st.loc["a", "p_first"] == pytest.approx(0.75, abs=0.03)
    assert st.loc["b", "p_first"] == pytest.approx(0.75, abs=0.03)
    assert st.loc["a", "p_place_2"] == pytest.approx(0.25, abs=0.03)
    assert rank_stability(m, n_boot=4000, seed=5).equals(rank_stability(m, n_boot=4000, seed=5))
