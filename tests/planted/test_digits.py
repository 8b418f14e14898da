"""The digits task: the shipped trained target (its recorded sha256 and accuracy, its bit-identical regeneration), the
fixed real-data split, planting it into wider hosts (exact, the ticket's strong accuracy = the target's), seeds."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import plantseek
from plantseek.core.errors import ConfigError
from plantseek.planted.instance import load_instance
from plantseek.planted.task import DataConfig
from plantseek.nets.masks import kept_count
from plantseek.score.evaluation import planted_scale_metric, target_metric
from plantseek.tasks import digits_target as stored

RECORD = json.loads(stored.TARGET_FILE.with_suffix(".json").read_text())


def test_shipped_target_matches_its_record():
    assert hashlib.sha256(stored.TARGET_FILE.read_bytes()).hexdigest() == RECORD["file_sha256"]
    target = stored.load_target()
    _, (x_test, y_test) = stored.digits_split()
    logits = target(x_test.numpy())  # the ConvTarget's own float64 forward, not the regeneration's accuracy helper
    assert float(np.mean(logits.argmax(axis=1) == y_test.numpy())) == RECORD["test_accuracy"]
    assert RECORD["test_accuracy"] >= 0.95 and RECORD["dense_test_accuracy"] >= RECORD["test_accuracy"]
    assert target.n_weights == RECORD["kept_weights"] == kept_count(0.01, target.arch.n_prunable)
    assert target.n_weights_per_layer() == RECORD["kept_weights_per_layer"]
    assert all(np.all(b != 0) for b in target.biases)  # planting then overwrites no host bias with a zero
    weights = [w[w != 0] for w in target.weights]
    assert all(np.array_equal(w.astype(np.float32).astype(np.float64), w) for w in weights)  # float32 values


def test_encoding_round_trips(tmp_path):
    g = torch.Generator().manual_seed(3)
    params = {n: torch.randn(s, generator=g) * (torch.rand(s, generator=g) < 0.1)
              for n, s in stored.geometry((2, 3, 4)).parameter_shapes().items()}
    blob = stored.encode(params)
    assert blob == stored.encode({n: p.clone() for n, p in params.items()})  # same inputs, same bytes
    (tmp_path / "t.npz").write_bytes(blob)
    back = stored.decode(tmp_path / "t.npz")
    assert all(torch.equal(back[n], params[n].double()) for n in params)


@pytest.mark.slow
def test_regeneration_is_bit_identical(tmp_path):
    out = tmp_path / "target.npz"
    subprocess.run([sys.executable, "-m", "plantseek.tasks.digits_target", "--out", str(out)], check=True,
                   env=os.environ.copy(), capture_output=True)
    assert out.read_bytes() == stored.TARGET_FILE.read_bytes()
    assert json.loads(out.with_suffix(".json").read_text()) == RECORD


def test_fixed_split_of_the_real_digits():
    from sklearn.datasets import load_digits

    (x, y), (x_test, y_test) = stored.digits_split()
    assert (x.shape, x_test.shape) == ((1437, 1, 8, 8), (360, 1, 8, 8))
    images = load_digits().images / 16.0
    rows = {tuple(a.ravel()) for a in images}
    both = torch.cat([x, x_test]).flatten(1).numpy()
    assert len({tuple(r) for r in both}) == len(rows) and {tuple(r) for r in both} <= rows  # a partition of them
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert sorted(torch.cat([y, y_test]).tolist()) == sorted(load_digits().target.tolist())


def test_instance_data_noise_and_sample_count():
    clean = plantseek.plant("digits", depth=5, width=32, seed=0, data=DataConfig(n_samples=500))
    noisy = plantseek.plant("digits", depth=5, width=32, seed=0, noise=0.3)
    (x, _), (x_test, y_test) = stored.digits_split()
    assert len(clean.data.train) == 450 and torch.equal(clean.data.train.x, x[:450])  # n_train = 500 - 50
    assert len(noisy.data.train) == 1437 and len(noisy.data.val) == 0
    assert 0.25 < float((noisy.data.train.x - x).std()) < 0.35  # pixel noise on the training images only
    assert torch.equal(noisy.data.test.x, x_test) and torch.equal(clean.data.test.y, y_test)


@pytest.mark.parametrize("width", [32, 40, 64])
def test_planted_target_is_exact_and_keeps_its_accuracy(width):
    inst = plantseek.plant("digits", depth=5, width=width, seed=width)
    assert inst.arch.widths == (1, width, 2 * width, 4 * width, 10)
    x = inst.data.test.x
    want = torch.from_numpy(inst.target(x.numpy()))
    out = inst.arch.forward(inst.initial_state, x, inst.ticket) / inst.scales
    assert float((out - want).abs().max() / want.abs().max()) <= 1e-9
    assert inst.ticket_weights == RECORD["kept_weights"]
    assert planted_scale_metric(inst, inst.ticket) == target_metric(inst) == RECORD["test_accuracy"]


def test_same_seed_same_instance_in_two_processes_and_seeds_differ(tmp_path):
    path = tmp_path / "digits.pt"
    code = (f"import plantseek; plantseek.plant('digits', depth=5, width=40, seed=7, noise=0.1).save({str(path)!r})")
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())
    other, here = load_instance(path), plantseek.plant("digits", depth=5, width=40, seed=7, noise=0.1)
    for name in here.initial_state:
        assert torch.equal(other.initial_state[name], here.initial_state[name])
        assert torch.equal(other.ticket[name], here.ticket[name])
    assert torch.equal(other.data.train.x, here.data.train.x) and torch.equal(other.scales, here.scales)
    third = plantseek.plant("digits", depth=5, width=40, seed=8, noise=0.1)
    assert not torch.equal(third.initial_state["layers.1.weight"], here.initial_state["layers.1.weight"])
    assert all(not torch.equal(a, b) for a, b in zip(third.placement[:3], here.placement[:3]))


@pytest.mark.parametrize("kwargs, message", [(dict(depth=4, width=32), "depth must be 5"),
                                             (dict(depth=5, width=16), "fewer than the ticket's 32")])
def test_bad_host_is_a_one_line_error(kwargs, message):
    with pytest.raises(ConfigError, match=message) as info:
        plantseek.plant("digits", seed=0, **kwargs)
    assert "\n" not in str(info.value)
