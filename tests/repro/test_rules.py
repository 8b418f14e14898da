"""The decision rules of the reproduction report on hand-computed examples, borderline cases included."""

from __future__ import annotations

import math

import pytest

from plantseek.repro.rules import Stat, beats, matches, spread, stat


def test_stat_is_mean_sample_sd_and_count_of_finite_values():
    s = stat([1.0, 2.0, 3.0, float("nan"), None])
    assert (s.mean, s.sd, s.n) == (2.0, 1.0, 3)  # sd = sqrt(((1-2)^2 + 0 + (3-2)^2) / 2) = 1
    one = stat([0.5])
    assert one.n == 1 and one.mean == 0.5 and math.isnan(one.sd)
    assert stat([]).empty and stat([]).text() == "— (n=0)"
    assert s.text() == "2 ± 1 (n=3)"


def test_matches_accuracy_within_one_sd_of_the_reference():
    dense = Stat(0.95, 0.01, 3)
    assert matches(Stat(0.945, 0.005, 3), dense, True)  # 0.005 worse, sd 0.01
    assert not matches(Stat(0.90, 0.02, 3), dense, True)  # 0.05 worse, larger sd 0.02
    assert matches(Stat(0.99, 0.0, 3), dense, True)  # better always matches


def test_matches_borderline_exactly_one_sd_counts_as_a_ticket():
    # 0.75 and 0.5 are exact in binary: worse by exactly the reference's sd, 0.25
    assert matches(Stat(0.5, 0.125, 3), Stat(0.75, 0.25, 3), True)
    assert not matches(Stat(0.4990234375, 0.125, 3), Stat(0.75, 0.25, 3), True)  # a hair more than one sd
    assert not matches(Stat(0.5, 0.25, 3), Stat(0.75, 0.125, 3), True)  # the group's own sd does not count


def test_matches_mse_is_lower_better_and_a_wide_group_gains_nothing_from_its_spread():
    dense = Stat(1e-4, 5e-5, 3)
    assert matches(Stat(1.4e-4, 1e-5, 3), dense, False)  # 4e-5 worse <= 5e-5
    assert matches(Stat(1e-5, 1e-6, 3), dense, False)  # better
    assert not matches(Stat(0.1, 1e-3, 3), dense, False)
    # one good seed, two failed: mean 0.0334, sd 0.0577; worse by 0.0333 > 5e-5
    assert not matches(stat([1e-4, 0.05, 0.05]), dense, False)


def test_single_seed_has_no_spread_so_any_shortfall_fails():
    assert spread(Stat(1.0, math.nan, 1), Stat(1.0, math.nan, 1)) == 0.0
    assert not matches(Stat(0.949, math.nan, 1), Stat(0.95, math.nan, 1), True)
    assert matches(Stat(0.95, math.nan, 1), Stat(0.95, math.nan, 1), True)


def test_empty_groups_are_undecided():
    assert matches(stat([]), Stat(1, 0, 2), True) is None
    assert beats(Stat(1, 0, 2), stat([]), True) is None


@pytest.mark.parametrize("a, b, hib, expected", [
    (Stat(0.9, 0.01, 3), Stat(0.8, 0.05, 3), True, True),  # 0.1 better > 0.05
    (Stat(0.9, 0.1, 3), Stat(0.8, 0.05, 3), True, False),  # 0.1 better, not more than 0.1
    (Stat(0.8, 0.01, 3), Stat(0.9, 0.01, 3), True, False),
    (Stat(1e-4, 1e-5, 3), Stat(1e-2, 1e-3, 3), False, True),  # lower MSE is better
])
def test_beats(a, b, hib, expected):
    assert beats(a, b, hib) is expected
