"""Layer-wise density rules (ERK, balanced, pyramidal) against hand-computed counts, and the random-* pruners."""

from __future__ import annotations

import math

import pytest
import torch

from plantseek.prune.contract import get_pruner
from plantseek.prune.layerwise import RATIO_RULES, layer_kept_counts, random_layerwise_mask
from plantseek.nets.masks import kept_count, mask_count

# three dense layers: 2 -> 4 -> 4 -> 1 (sizes 8, 16, 4; 28 weights)
SHAPES = {"a": (4, 2), "b": (4, 4), "c": (1, 4)}


def test_erk_counts_by_hand():
    # ERK factors (n_in + n_out) / (n_in n_out): a 6/8, b 8/16, c 5/4; eps * (6 + 8 + 5) = k.
    # density 0.5, k = 14: eps = 14/19; real counts 4.42, 5.89, 3.68; floors 4, 5, 3 (12); the two missing
    # weights go to the largest remainders (b .89, c .68): 4, 6, 4.
    assert layer_kept_counts("erk", 0.5, SHAPES) == {"a": 4, "b": 6, "c": 4}
    # density 0.75, k = 21: eps = 21/19 gives c density 1.25 * 21/19 > 1, so c is dense (4) and eps is re-solved
    # on a and b: 17 = eps (6 + 8), eps = 17/14; a 7.29, b 9.71; floors 7, 9 (+4 = 20); b gets the last one.
    assert layer_kept_counts("erk", 0.75, SHAPES) == {"a": 7, "b": 10, "c": 4}


def test_balanced_counts_by_hand():
    # every layer the same count: 14/3 = 4.67 > size of c (4): c dense, a and b share 10: 5 each
    assert layer_kept_counts("balanced", 0.5, SHAPES) == {"a": 5, "b": 5, "c": 4}
    assert layer_kept_counts("balanced", 6 / 28, SHAPES) == {"a": 2, "b": 2, "c": 2}


def test_pyramidal_densities_fall_with_depth_and_solve_the_total():
    real = RATIO_RULES.get("pyramidal")(SHAPES, 14)
    # d_l = q^l: 8 q + 16 q^2 + 4 q^3 = 14, solved independently by bisection here on the cubic
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 8 * mid + 16 * mid**2 + 4 * mid**3 < 14 else (lo, mid)
    assert real["a"] == pytest.approx(8 * lo, rel=1e-9) and real["c"] == pytest.approx(4 * lo**3, rel=1e-9)
    counts = layer_kept_counts("pyramidal", 0.5, SHAPES)
    assert sum(counts.values()) == 14
    assert counts["a"] / 8 > counts["b"] / 16 > counts["c"] / 4


@pytest.mark.parametrize("rule", ["erk", "balanced", "pyramidal"])
@pytest.mark.parametrize("density", [0.005, 0.01, 0.1, 0.5, 0.93, 1.0])
def test_totals_are_exact_and_within_layer_sizes(rule, density):
    shapes = {"l0": (100, 2), "l1": (100, 100), "l2": (100, 100), "l3": (4, 100)}
    counts = layer_kept_counts(rule, density, shapes)
    assert sum(counts.values()) == kept_count(density, 20600)
    assert all(0 <= counts[n] <= math.prod(s) for n, s in shapes.items())


def test_random_layerwise_mask_keeps_the_counts_and_depends_on_the_seed():
    shapes = {"l0": (20, 2), "l1": (20, 20), "l2": (3, 20)}
    counts = layer_kept_counts("erk", 0.2, shapes)
    m1 = random_layerwise_mask("erk", 0.2, shapes, torch.Generator().manual_seed(0))
    m2 = random_layerwise_mask("erk", 0.2, shapes, torch.Generator().manual_seed(1))
    assert {n: int(m.sum()) for n, m in m1.items()} == counts
    assert any(not torch.equal(m1[n], m2[n]) for n in shapes)


@pytest.mark.parametrize("name, rule", [("random-erk", "erk"), ("random-balanced", "balanced"),
                                        ("random-pyramidal", "pyramidal")])
def test_registered_random_layerwise_pruners(name, rule):
    from plantseek import plant
    from plantseek.planted.task import DataConfig
    from plantseek.train.config import TrainConfig

    inst = plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=100))
    mask = get_pruner(name).prune(inst.host(), inst.pruner_data(), 0.1, generator=torch.Generator().manual_seed(0),
                                  budget=TrainConfig(epochs=1))
    shapes = inst.arch.weight_shapes()
    assert {n: int(m.sum()) for n, m in mask.items()} == layer_kept_counts(rule, 0.1, shapes)
    assert mask_count(mask) == kept_count(0.1, inst.arch.n_prunable)
