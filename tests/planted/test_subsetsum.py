"""Found-in-random (subset-sum) instances and the multiplicity-aware recall."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from plantseek.core import seeding
from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig
from plantseek.score.metrics import recall
from plantseek.score.multi_ticket import TICKET_FOUND_RECALL, instance_ticket_metrics, multi_ticket_metrics
from plantseek.planted.subsetsum import best_subset

SMALL = DataConfig(n_samples=500)


def _inst(task="relu-subsetsum", seed=0, **options):
    return plant(task, depth=5, width=192, seed=seed, data=SMALL, **options)


def _error_bound(target, x, eps):
    """Per sample: the propagated bound on |host / scale - target| when every subset sum is within eps of its weight
    (pre-activation error <= |W| e + eps (|h|_1 + n e), relu 1-Lipschitz)."""
    h, e = x, np.zeros(len(x))
    for l, w in enumerate(target.weights):
        e = np.abs(w).sum(axis=1).max() * e + eps * (np.abs(h).sum(axis=1) + w.shape[1] * e)
        h = h @ w.T
        if l < len(target.weights) - 1:
            h = np.maximum(h, 0)
    return e


def test_best_subset_is_exact_against_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(100):
        v, goal = rng.normal(size=int(rng.integers(1, 11))), float(rng.normal())
        flags, err = best_subset(v, goal)
        brute = min(abs(sum(c) - goal) for r in range(len(v) + 1) for c in itertools.combinations(v, r))
        assert err == pytest.approx(brute, abs=1e-12)
        assert abs(v[flags].sum() - goal) == pytest.approx(err, abs=1e-12)


@pytest.mark.parametrize("task", ["relu-subsetsum", "abs-subsetsum"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_masked_random_host_approximates_target_within_epsilon(task, seed):
    inst = _inst(task, seed)
    eps = inst.task.options.epsilon
    assert inst.target.notes["subset_sum_max_error"] <= eps
    for split in (inst.data.train, inst.data.test):
        x = split.x
        out = (inst.arch.forward(inst.initial_state, x, inst.ticket) / inst.scales).numpy()
        ref = inst.target(x.numpy())
        assert (np.abs(out - ref).max(axis=1) <= _error_bound(inst.target, x.numpy(), eps) + 1e-12).all()
        assert np.abs(out - ref).max() < 0.05  # and far from a trivial bound: the function is there


@pytest.mark.parametrize("task", ["relu-subsetsum", "abs-subsetsum"])
def test_no_host_weight_differs_from_its_seeded_initialisation(task):
    inst = _inst(task, 4)
    fresh = inst.arch.init(seeding.generator(4, "host", *inst.arch.widths))
    assert set(fresh) == set(inst.initial_state)
    for k, v in fresh.items():
        assert inst.initial_state[k].dtype == v.dtype and torch.equal(inst.initial_state[k], v), k


def test_instances_are_bit_identical_per_seed_and_differ_across_seeds():
    a, b, c = _inst("abs-subsetsum", 7), _inst("abs-subsetsum", 7), _inst("abs-subsetsum", 8)
    for k in a.ticket:
        assert torch.equal(a.ticket[k], b.ticket[k])
    assert torch.equal(a.scales, b.scales)
    assert any(not torch.equal(a.ticket[k], c.ticket[k]) for k in a.ticket)


def test_ticket_is_a_valid_mask_with_exact_counts():
    inst = _inst("relu-subsetsum", 0)
    shapes = {**inst.arch.weight_shapes(), **inst.arch.bias_shapes()}
    assert {k: tuple(v.shape) for k, v in inst.ticket.items()} == shapes
    assert all(v.dtype == torch.bool for v in inst.ticket.values())
    assert not any(inst.ticket[n].any() for n in inst.arch.bias_shapes())  # every bias pruned
    per_layer = [int(inst.ticket[n].sum()) for n in inst.arch.weight_names()]
    assert inst.ticket_weights_per_layer == per_layer and inst.ticket_weights == sum(per_layer)
    # each fan-out unit kept has exactly one kept input edge and is summed by the next layer
    w0, w1 = inst.ticket["layers.0.weight"], inst.ticket["layers.1.weight"]
    assert per_layer[0] == per_layer[1] == int(w1.any(dim=0).sum())
    assert torch.equal(w0.any(dim=1), w1.any(dim=0))
    assert inst.ticket_density == pytest.approx(sum(per_layer) / inst.arch.n_prunable)


def test_copies_are_edge_disjoint_tickets_each_computing_the_target():
    inst = plant("relu-subsetsum", depth=5, width=192, seed=0, data=SMALL, copies=2)
    t0, t1 = inst.tickets
    assert sum(int((t0[n] & t1[n]).sum()) for n in inst.arch.weight_names()) == 0
    x = inst.data.test.x
    for t in (t0, t1):
        out = (inst.arch.forward(inst.initial_state, x, t) / inst.scales).numpy()
        assert np.abs(out - inst.target(x.numpy())).max() < 0.05


def test_multi_ticket_recall_equals_plain_recall_on_one_ticket():
    inst = _inst("abs-subsetsum", 0)
    g = torch.Generator().manual_seed(0)
    mask = {k: torch.rand(v.shape, generator=g) < 0.3 for k, v in inst.ticket.items()}
    m = multi_ticket_metrics(mask, inst.tickets, inst.arch.structure())
    assert m["best_recall"] == recall(mask, inst.ticket) and m["n_tickets"] == 1 and m["best_ticket"] == 0
    assert instance_ticket_metrics(mask, inst.tickets, inst.arch.structure()) == {}


def test_multi_ticket_recall_credits_a_mask_recovering_the_second_ticket():
    inst = plant("relu-subsetsum", depth=5, width=192, seed=1, data=SMALL, copies=2)
    second = inst.tickets[1]
    m = instance_ticket_metrics(second, inst.tickets, inst.arch.structure())
    assert recall(second, inst.ticket) == 0.0  # plain recall sees nothing
    assert m == {"best_recall": 1.0, "best_ticket": 1, "tickets_found": 1, "n_tickets": 2}
    both = {k: inst.tickets[0][k] | second[k] for k in second}
    assert instance_ticket_metrics(both, inst.tickets, inst.arch.structure())["tickets_found"] == 2
    # the second ticket without its first layer: recall 1 - n0 / n (counted here), below the threshold: not found
    part = {k: v.clone() for k, v in second.items()}
    part["layers.0.weight"][:] = False
    counts = [int(second[n].sum()) for n in inst.arch.weight_names()]
    expected = 1 - counts[0] / sum(counts)
    m = multi_ticket_metrics(part, inst.tickets)
    assert m["best_recall"] == pytest.approx(expected) and m["best_ticket"] == 1
    assert expected < TICKET_FOUND_RECALL and m["tickets_found"] == 0


def test_saved_instance_keeps_every_ticket(tmp_path):
    inst = plant("relu-subsetsum", depth=5, width=192, seed=2, data=SMALL, copies=2)
    inst.save(tmp_path / "i.pt")
    from plantseek.planted.instance import load_instance
    back = load_instance(tmp_path / "i.pt")
    assert len(back.tickets) == 2
    for a, b in zip(inst.tickets, back.tickets):
        assert all(torch.equal(a[k], b[k]) for k in a)
