"""Grokking tasks (tasks/grokking.py) and the time to generalise (plantseek.train.curve, plantseek.run.generalise):
exact planted tickets checked against labels computed independently, seed bit-identity, the metric on hand-made
curves and a training run equal to the reference loop's."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from plantseek.core.errors import ConfigError
from plantseek.families.mlp.network import Architecture
from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig, get_task
from plantseek.run.generalise import generalisation_metrics
from plantseek.run.grid import expand
from plantseek.run.suites import SUITES
from plantseek.score.evaluation import strong_outputs
from plantseek.train.config import TrainConfig
from plantseek.train.curve import first_reaching, train_with_curve
from plantseek.train.loop import train_model
from tasks.grokking import relevant_bits

SMALL = DataConfig(n_samples=600)


def parity_by_hand(x: torch.Tensor, bits) -> torch.Tensor:
    """The label as the task defines it, computed bit by bit: 1 if an odd number of relevant bits are -1."""
    return torch.tensor([sum(int(row[i] < 0) for i in bits) % 2 for row in x.tolist()])


@pytest.mark.parametrize("depth", [3, 4, 5, 7])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_parity_ticket_is_exact_on_every_pattern_of_the_relevant_bits(depth, k):
    inst = plant("sparse-parity", depth=depth, width=24, seed=1, data=SMALL, n_bits=9, k=k)
    bits = relevant_bits(9, k)
    x = -torch.ones(2 ** k, 9, dtype=torch.float64)  # every pattern of the relevant bits, the others -1
    for row, pattern in enumerate(itertools.product([-1.0, 1.0], repeat=k)):
        x[row, bits] = torch.tensor(pattern, dtype=torch.float64)
    x = torch.cat([x, inst.data.test.x])
    out = strong_outputs(inst, inst.ticket, x)
    target = torch.from_numpy(inst.target(x.numpy()))
    assert torch.allclose(out, target, rtol=0, atol=1e-10 * float(target.abs().max()))
    # the target's logits are (1/2 - parity, parity - 1/2) exactly
    y = parity_by_hand(x, bits).double()
    assert torch.allclose(target, torch.stack([0.5 - y, y - 0.5], dim=1), atol=1e-12)
    assert (inst.data.test.y == parity_by_hand(inst.data.test.x, bits)).all()  # noise 0 by default


@pytest.mark.parametrize("depth,expected", [(3, 3 * 3 + 6), (4, 3 + 9 + 6), (5, 6 + 9 + 2), (8, 6 + 9 + 3 + 2)])
def test_parity_ticket_weight_counts(depth, expected):
    inst = plant("sparse-parity", depth=depth, width=16, seed=0, data=SMALL, n_bits=8, k=3)
    assert inst.ticket_weights == expected


@pytest.mark.parametrize("depth", [3, 4, 6])
def test_mod_add_ticket_is_exact_on_the_whole_table(depth):
    p = 5
    inst = plant("mod-add", depth=depth, width=p * p, seed=2, data=SMALL, p=p)
    x = inst.task.table()
    out = strong_outputs(inst, inst.ticket, x)
    target = torch.from_numpy(inst.target(x.numpy()))
    assert torch.allclose(out, target, rtol=0, atol=1e-10 * float(target.abs().max()))
    a, b = np.divmod(np.arange(p * p), p)
    onehot = torch.zeros(p * p, p, dtype=torch.float64)
    onehot[torch.arange(p * p), torch.from_numpy((a + b) % p)] = 1.0
    assert torch.allclose(target, onehot, atol=1e-12)  # one unit of 1/2 read with weight 2
    assert inst.ticket_weights == 3 * p * p + p * (depth - 3)
    assert len(inst.data.train) + len(inst.data.test) == p * p  # the whole table, split once
    both = torch.cat([inst.data.train.x, inst.data.test.x])
    assert torch.unique(both, dim=0).shape[0] == p * p


def test_mod_add_needs_a_host_as_wide_as_the_table():
    with pytest.raises(ConfigError):
        plant("mod-add", depth=3, width=20, seed=0, data=SMALL, p=5)


@pytest.mark.parametrize("task,opts", [("sparse-parity", {"n_bits": 10, "k": 3}), ("mod-add", {"p": 5})])
def test_instances_are_bit_identical_per_seed(task, opts):
    one, two, other = (plant(task, depth=4, width=25, seed=s, data=SMALL, **opts) for s in (3, 3, 4))
    for name in one.initial_state:
        assert torch.equal(one.initial_state[name], two.initial_state[name])
        assert torch.equal(one.ticket[name], two.ticket[name])
    assert torch.equal(one.data.train.x, two.data.train.x) and torch.equal(one.data.test.y, two.data.test.y)
    assert not torch.equal(one.data.train.x, other.data.train.x)


def test_label_noise_flips_the_given_share():
    task = get_task("sparse-parity", n_bits=6, k=2, noise=0.25)
    split = task.sample(20_000, torch.Generator().manual_seed(0))
    flipped = float((split.y != task.clean_labels(split.x)).double().mean())
    assert abs(flipped - 0.25) < 0.015


@pytest.mark.parametrize("bad", [{"k": 1}, {"k": 5, "n_bits": 4}, {"threshold": 0}, {"threshold": 1.5},
                                 {"eval_every": 0}, {"noise": 2.0}])
def test_bad_parity_options_are_one_config_error(bad):
    with pytest.raises(ConfigError):
        get_task("sparse-parity", **bad)


def test_first_reaching_on_hand_made_curves():
    curve = [(0, 0.5), (20, 0.7), (40, 0.95), (60, 0.9), (80, 1.0)]
    assert first_reaching(curve, 0.95) == 40.0  # the first crossing, not a later one
    assert first_reaching(curve, 0.96) == 80.0
    assert first_reaching(curve, 0.5) == 0.0
    assert math.isnan(first_reaching(curve, 1.01))  # never


def test_curve_training_equals_the_reference_loop_and_evaluates_on_schedule():
    arch = Architecture.mlp(4, 2, 3, 8)
    state = arch.init(torch.Generator().manual_seed(0))
    x = torch.randn(70, 4, generator=torch.Generator().manual_seed(1))
    y = (x[:, 0] > 0).long()
    mask = {n: torch.rand(s, generator=torch.Generator().manual_seed(2)) < 0.6 for n, s in arch.weight_shapes().items()}
    config = TrainConfig(epochs=3, batch_size=16)  # 5 steps per epoch, 15 steps
    loss = torch.nn.functional.cross_entropy
    seen = []
    reference = train_model(arch.build(state), mask, x, y, loss, config, torch.Generator().manual_seed(5))
    model = arch.build(state)
    curve = train_with_curve(model, mask, x, y, loss, config, torch.Generator().manual_seed(5),
                             lambda m: seen.append(1) or float(len(seen)), every=4)
    assert [s for s, _ in curve] == [0, 4, 8, 12, 15]
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert torch.equal(p, q), name  # evaluation changes nothing and draws nothing


def test_generalisation_metrics_ticket_at_step_zero_and_empty_for_other_tasks():
    suite = SUITES.get("grokking-default").with_overrides(tasks=["sparse-parity"], pruners=["random"],
                                                          densities=["0.5"])
    cell = expand(suite)[0]
    inst = plant("sparse-parity", depth=4, width=16, seed=0, data=SMALL, n_bits=8, k=3)
    dense = {n: torch.ones(s, dtype=torch.bool) for n, s in inst.arch.weight_shapes().items()}
    out = generalisation_metrics(inst, cell, [(inst.ticket, inst.initial_state, True),
                                              (dense, inst.initial_state, True)])
    assert out[0]["steps_to_generalise"] == 0.0 and out[0]["generalised"] == 1.0
    assert out[0]["steps_to_generalise_ticket"] == 0.0
    assert out[1]["steps_to_generalise"] == out[1]["steps_to_generalise_dense"] or (
        out[1]["steps_to_generalise"] is None and out[1]["steps_to_generalise_dense"] is None)
    assert out[0]["curve_steps"] == 10 * math.ceil(len(inst.data.train) / 32)
    circle = plant("circle", depth=4, width=24, seed=0, data=SMALL)
    assert generalisation_metrics(circle, cell, [(circle.ticket, circle.initial_state, True)]) == [{}]
