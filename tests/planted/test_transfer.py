"""The transfer task (tasks/transfer.py) and transfer scores (plantseek.score.transfer): both heads' instances share the
planted trunk bit for bit, each ticket is exact, and the scores of a hand-made mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plantseek.core.errors import ConfigError
from plantseek.nets.interface import bias_name, weight_name
from plantseek.perf.transfer import main as transfer_main
from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig, get_task
from plantseek.score.evaluation import strong_metric, strong_outputs
from plantseek.score.transfer import transfer_scores
from tasks.transfer import trunk

SMALL = DataConfig(n_samples=600)


def pair(depth: int, seed: int = 0):
    return [plant("transfer", depth=depth, width=24, seed=seed, data=SMALL, head=h, noise=0.0) for h in "ab"]


@pytest.mark.parametrize("depth", [3, 4, 6])
def test_each_head_ticket_is_exact(depth):
    for inst in pair(depth):
        o = inst.task.options
        w, b, heads = trunk(o)
        x = inst.data.test.x
        by_hand = np.maximum(x.numpy() @ w.T + b, 0.0) @ heads[o.head]  # the label, computed without the task
        out = strong_outputs(inst, inst.ticket, x)[:, 0]
        assert torch.allclose(out, torch.from_numpy(by_hand), rtol=0, atol=1e-10)
        assert torch.equal(inst.data.test.y[:, 0], torch.from_numpy(by_hand))  # noise 0
        assert inst.ticket_weights == o.features * o.inputs + o.features * (depth - 3) + o.features


@pytest.mark.parametrize("depth", [3, 5])
def test_the_heads_share_the_planted_trunk_bit_for_bit(depth):
    a, b = pair(depth, seed=3)
    last = a.arch.n_layers - 1
    for l in range(last):
        for name in (weight_name(l), bias_name(l)):
            assert torch.equal(a.initial_state[name], b.initial_state[name]), name
            assert torch.equal(a.ticket[name], b.ticket[name]), name
    assert not torch.equal(a.initial_state[weight_name(last)], b.initial_state[weight_name(last)])
    assert torch.equal(a.data.train.x, b.data.train.x)  # the same inputs, different labels
    assert not torch.equal(a.data.train.y, b.data.train.y)


def test_instances_are_bit_identical_per_seed():
    one, two = (plant("transfer", depth=4, width=24, seed=7, data=SMALL) for _ in range(2))
    for name in one.initial_state:
        assert torch.equal(one.initial_state[name], two.initial_state[name])
    assert torch.equal(one.data.train.y, two.data.train.y)


def test_transfer_scores_of_a_hand_made_mask():
    a, b = pair(4)
    ticket = b.ticket
    mask = {n: torch.zeros_like(ticket[n]) for n in b.arch.weight_shapes()}
    trunk0 = torch.nonzero(ticket[weight_name(0)])
    keep = trunk0[:12]  # 12 of the 16 first-layer trunk weights (8 features x 2 inputs)
    mask[weight_name(0)][keep[:, 0], keep[:, 1]] = True
    mask[weight_name(2)] = ticket[weight_name(2)].clone()  # the whole head
    n_trunk = int(ticket[weight_name(0)].sum() + ticket[weight_name(1)].sum())
    got = transfer_scores(mask, b, shared_layers=2)
    assert got["shared_recall"] == pytest.approx(12 / n_trunk)
    assert got["head_recall"] == 1.0
    assert got["recall_b"] == pytest.approx((12 + 8) / b.ticket_weights)
    full = transfer_scores({n: a.ticket[n] for n in b.arch.weight_shapes()}, b, shared_layers=2)
    assert full["shared_recall"] == 1.0 and full["head_recall"] == 1.0  # A's ticket holds B's (same positions)
    assert full["strong_b"] == pytest.approx(strong_metric(b, b.ticket))


def test_transfer_command_refuses_a_store_without_transfer_cells(tmp_path, capsys):
    assert transfer_main(["--store", str(tmp_path / "none.db")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_bad_head_is_one_config_error():
    with pytest.raises(ConfigError):
        get_task("transfer", head="c")
