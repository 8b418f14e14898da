"""Host biases: the paper's initialisation in every layer, no zero-bias leak, and the two function-preserving routes
that replace the target's zero biases (shifted biases; biases the ticket prunes)."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import kstest

import plantseek
from plantseek.families.mlp.network import bias_name, forward_state, weight_name
from plantseek.planted.audit import audit, zero_bias_detector_recall
from plantseek.families.mlp.planting import check_same_function, shiftable_units
from plantseek.planted.targets import TargetNetwork, preactivation_lower_bounds
from plantseek.planted.task import DataConfig, get_task

SMALL = DataConfig(n_samples=20)

TASKS = ("relu", "circle", "helix")


def bias_stds(widths):
    """sigma_l = prod_{k<=l} sqrt(2 / n_{k-1}) of the paper's initialisation, per layer."""
    out, s = [], 1.0
    for fan_in in widths[:-1]:
        s *= math.sqrt(2.0 / fan_in)
        out.append(s)
    return out


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("depth", [3, 4, 5, 6, 10])
def test_no_exactly_zero_bias_in_any_layer(task, depth):
    for seed in (0, 1):
        inst = plantseek.plant(task, depth=depth, width=100, seed=seed, noise=0.0)
        for l in range(inst.arch.n_layers):
            assert int((inst.initial_state[bias_name(l)] == 0).sum()) == 0, (task, depth, seed, l)
        assert all(e["zero_bias_share"] == 0 for e in audit(inst)["layers"][:-1])


KS_CASES = [(t, d) for t in TASKS for d in (3, 4, 5, 6, 10)]


def pooled_pvalues(task, depth, seeds=12):
    pools = {}
    for seed in range(seeds):
        inst = plantseek.plant(task, depth=depth, width=100, seed=seed, data=SMALL)
        for l, sigma in enumerate(bias_stds(inst.arch.widths)[:-1]):
            pools.setdefault(l, []).append(inst.initial_state[bias_name(l)].numpy() / sigma)
    return [kstest(np.concatenate(values), "norm").pvalue for values in pools.values()]


@pytest.mark.parametrize("task,depth", KS_CASES)
def test_hidden_biases_follow_the_paper_initialisation(task, depth):
    """Biases normalised by sigma_l, pooled over seeds per hidden layer, are standard normal (KS test): every hidden
    layer of every task, Circle's PL layer included (its always-active units t + B carry the host's own bias)."""
    for l, p in enumerate(pooled_pvalues(task, depth)):
        assert p > 0.01, (task, depth, l)


def test_the_ks_test_detects_small_planted_biases():
    # the test has power: Circle's depth-10 PL layer with its ticket biases shrunk 10x (what the two-sided y'
    # construction gave: mean |b| / sigma 0.08 against the host's 0.8) fails it
    pools = []
    for seed in range(12):
        inst = plantseek.plant("circle", depth=10, width=100, seed=seed, data=SMALL)
        b = inst.initial_state[bias_name(7)].numpy().copy()
        b[inst.placement[7].numpy()] /= 10
        pools.append(b / bias_stds(inst.arch.widths)[7])
    assert kstest(np.concatenate(pools), "norm").pvalue < 0.01


@pytest.mark.parametrize("task,depth", [("relu", 5), ("circle", 5), ("circle", 6), ("helix", 5)])
def test_zero_bias_detector_is_no_better_than_random(task, depth):
    recalls, densities = [], []
    for seed in range(6):
        inst = plantseek.plant(task, depth=depth, width=100, seed=seed, data=SMALL)
        recalls.append(zero_bias_detector_recall(inst, seed))
        densities.append(inst.ticket_density)
    # no zero biases: the detector is a random mask (expected recall = density; 6 seeds of a few hundred weights)
    assert np.mean(recalls) <= 3 * np.mean(densities) + 0.01


def test_zero_bias_detector_finds_a_zero_bias_ticket():
    # the detector works: on a host whose ticket units alone have zero biases it recovers the ticket's weights
    inst = plantseek.plant("relu", depth=5, width=100, seed=0, data=SMALL)
    for l in range(inst.arch.n_layers - 1):
        inst.initial_state[bias_name(l)][inst.placement[l]] = 0.0
    assert zero_bias_detector_recall(inst) >= 0.5 > 100 * inst.ticket_density


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("depth", [3, 4, 5, 6])
def test_planted_target_computes_the_task_target(task, depth):
    inst = plantseek.plant(task, depth=depth, width=100, seed=4, data=SMALL)
    target = get_task(task).target(depth)
    assert check_same_function(target, inst.target) <= 1e-12
    x = np.random.default_rng(1).uniform(-1, 1, size=(20000, target.widths[0]))
    scale = max(1.0, float(np.abs(target(x)).max()))
    size = max(scale, *(np.abs(b).max() for b in inst.target.biases))
    assert np.abs(target(x) - inst.target(x)).max() <= 1e-12 * size
    # route (a) replaced every zero bias of an always-active hidden unit
    for l, floor in enumerate(shiftable_units(target)):
        assert np.all(inst.target.biases[l][~np.isnan(floor)] != 0)


def test_relu_ticket_prunes_the_first_bias_and_shifts_the_rest():
    inst = plantseek.plant("relu", depth=5, width=100, seed=2, noise=0.0)
    kept = [bool(inst.ticket[bias_name(l)][inst.placement[l]].item()) for l in range(4)]
    # relu(x1) changes sign: its bias is pruned; the next units are always active: shifted; the output is corrected
    assert kept == [False, True, True, True]
    assert [int(inst.ticket[bias_name(l)].sum()) for l in range(4)] == [0, 1, 1, 1]
    assert inst.ticket_weights_per_layer == [1, 1, 1, 1]
    x = inst.data.test.x
    exact = forward_state(inst.initial_state, x, inst.ticket)
    ref = inst.scales * torch.relu(x)
    assert float((exact - ref).norm() / ref.norm()) <= 1e-9
    # a weight-only mask keeps the random bias of relu(x1): it cannot reproduce the ticket
    weights_only = {n: m for n, m in inst.ticket.items() if n.endswith(".weight")}
    off = forward_state(inst.initial_state, x, weights_only)
    assert float((off - ref).norm() / ref.norm()) > 1e-3


def test_shiftable_units_by_hand():
    relu = shiftable_units(get_task("relu").target(5))
    assert [list(~np.isnan(f)) for f in relu] == [[False], [True], [True], [False]]
    helix = shiftable_units(get_task("helix").target(6))
    assert [int((~np.isnan(f)).sum()) for f in helix] == [0, 1, 0, 3, 0]  # PL unit relu(z - 0); identity layers
    circle = shiftable_units(get_task("circle").target(6))
    # |x| units change sign; the holding units, the mirror's x' and y' + B are always active; the PL unit relu(x')
    assert [int((~np.isnan(f)).sum()) for f in circle] == [0, 2, 2, 1, 0]
    depth4 = shiftable_units(get_task("circle").target(4))
    assert [list(~np.isnan(f)) for f in depth4[:1]] == [[True, False, True, False]]  # x_i + 1; relu(-x_i)


def test_lower_bounds_exact_in_one_input_and_sound_in_two():
    t = TargetNetwork([np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])], [np.array([0.0, 0.5]), np.zeros(1)])
    lo = preactivation_lower_bounds(t)  # relu(x) + relu(0.5 - x) >= 0.5 (at x = 0.5 ... 0): exact
    assert lo[0].tolist() == [-1.0, -0.5] and lo[1][0] == pytest.approx(0.5)
    t2 = TargetNetwork([np.array([[1.0, -1.0]])], [np.array([0.5])])
    assert preactivation_lower_bounds(t2)[0].tolist() == [-1.5]


def test_audit_reports_the_bias_mechanism():
    inst = plantseek.plant("circle", depth=6, width=100, seed=0, data=SMALL)
    layers = audit(inst)["layers"]
    assert [e["pruned_bias_units"] for e in layers[:-1]] == [4, 0, 0, 0]  # the |x| units
    assert all(e["zero_bias_share"] == 0 for e in layers[:-1])
    assert weight_name(0) in inst.ticket and bias_name(0) in inst.ticket
