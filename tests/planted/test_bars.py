"""The hand-made conv task ``bars`` (tasks/bars.py): data, ticket accuracy and density, exactness of the planted
conv ticket at three host sizes, reproducibility across processes, instance files, the leak audit, bad options."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import plantseek
from plantseek.core.errors import ConfigError
from plantseek.planted.audit import audit
from plantseek.planted.task import DataConfig, get_task
from plantseek.score.evaluation import planted_scale_metric, target_metric, ticket_metric

SMALL = DataConfig(n_samples=600)


def test_images_hold_one_bar_of_the_labelled_orientation():
    task = get_task("bars", noise=0.0, image_size=12, bar_length=5, n_classes=4)
    split = task.sample(200, torch.Generator().manual_seed(0))
    assert split.x.shape == (200, 1, 12, 12) and split.y.shape == (200,)
    assert bool((split.x.sum((1, 2, 3)) == 5).all()) and set(split.x.unique().tolist()) == {0.0, 1.0}
    directions = {0: (0, 1), 1: (-1, 1), 2: (-1, 0), 3: (-1, -1)}  # (row, column) step of 0, 45, 90, 135 degrees
    for img, label in zip(split.x[:, 0], split.y.tolist()):
        rows, cols = torch.nonzero(img, as_tuple=True)
        order = torch.argsort(cols * 100 - rows) if label != 2 else torch.argsort(-rows)
        steps = {(int(a), int(b)) for a, b in zip(torch.diff(rows[order]), torch.diff(cols[order]))}
        dy, dx = directions[label]
        assert steps in ({(dy, dx)}, {(-dy, -dx)}), (label, steps)
    assert np.bincount(split.y.numpy(), minlength=4).min() > 30


@pytest.mark.parametrize("noise,floor", [(0.0, 0.98), (None, 0.9)])
def test_ticket_accuracy_and_density(noise, floor):
    options = {} if noise is None else {"noise": noise}
    inst = plantseek.plant("bars", depth=4, width=32, seed=1, data=DataConfig(n_samples=1000), **options)
    assert inst.ticket_density <= 0.005 and inst.ticket_weights == 4 * (5 + 2)
    acc = target_metric(inst)
    assert acc >= floor and planted_scale_metric(inst, inst.ticket) == acc
    assert ticket_metric(inst) >= floor
    if noise == 0.0:
        assert acc == 1.0


@pytest.mark.parametrize("depth,width", [(3, 4), (4, 12), (5, 40)])
def test_masked_host_computes_scale_times_target(depth, width):
    inst = plantseek.plant("bars", depth=depth, width=width, seed=2, data=SMALL, image_size=10)
    x = inst.data.test.x
    out = inst.arch.forward(inst.initial_state, x, inst.ticket) / inst.scales
    want = torch.from_numpy(inst.target(x))
    assert float((out - want).abs().max() / want.abs().max()) <= 1e-9
    assert inst.ticket_weights_per_layer == [4 * 5] + [4] * (depth - 2)
    assert all(bool(inst.ticket[n].any()) for n in inst.arch.bias_shapes())  # every ticket bias kept (nonzero)


def test_same_seed_bit_identical_in_two_processes_and_seeds_differ(tmp_path):
    code = ("import sys, plantseek; from plantseek.planted.task import DataConfig; "
            "plantseek.plant('bars', depth=4, width=16, seed=5, data=DataConfig(n_samples=300)).save(sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.pt")], check=True)  # another process
    ia = plantseek.load_instance(tmp_path / "a.pt")
    ib = plantseek.plant("bars", depth=4, width=16, seed=5, data=DataConfig(n_samples=300))  # this one
    for name in ia.initial_state:
        assert torch.equal(ia.initial_state[name], ib.initial_state[name])
        assert torch.equal(ia.ticket[name], ib.ticket[name])
    assert torch.equal(ia.scales, ib.scales) and torch.equal(ia.data.train.x, ib.data.train.x)
    assert all(np.array_equal(p, q) for p, q in zip(ia.target.weights, ib.target.weights))
    assert ia.arch == ib.arch and target_metric(ia) == target_metric(ib)
    other = plantseek.plant("bars", depth=4, width=16, seed=6, data=DataConfig(n_samples=300))
    assert not torch.equal(other.initial_state["layers.0.weight"], ia.initial_state["layers.0.weight"])
    assert not torch.equal(other.placement[0], ia.placement[0])
    assert not torch.equal(other.data.train.x, ia.data.train.x)


def test_leak_audit_runs_on_a_conv_instance():
    inst = plantseek.plant("bars", depth=5, width=32, seed=3, data=SMALL)
    report = audit(inst)
    assert len(report["layers"]) == inst.arch.n_layers and 0 <= report["max_ks"] <= 1
    hidden = report["layers"][:-1]
    assert all(e["zero_bias_neurons"] == 0 for e in hidden)  # the host keeps its initialisation
    assert all(0.0 <= e["placement_mean"] <= 1.0 for e in hidden)
    assert 0.0 <= report["zero_bias_detector_recall"] <= 1.0


@pytest.mark.parametrize("options,message", [
    ({"bar_length": 4}, "odd"), ({"bar_length": 3, "n_classes": 8}, "cannot tell 8 orientations"),
    ({"image_size": 4}, "image_size"), ({"n_classes": 1}, "n_classes"), ({"noise": -1}, "pixel noise"),
])
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ConfigError, match=message) as info:
        get_task("bars", **options)
    assert "\n" not in str(info.value)


def test_a_host_narrower_than_the_ticket_is_a_one_line_error():
    with pytest.raises(ConfigError, match="fewer than the ticket"):
        plantseek.plant("bars", depth=4, width=3, seed=0, data=SMALL)
