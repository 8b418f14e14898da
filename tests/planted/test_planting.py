"""Planting: exactness of the planted ticket, reproducibility, hiding, and bad input."""

import subprocess
import sys

import pytest
import torch

import plantseek
from plantseek.planted.audit import ks_statistic
from plantseek.core.errors import ConfigError
from plantseek.score.evaluation import planted_scale_metric, strong_metric, target_metric
from plantseek.families.mlp.network import bias_name, forward_state, weight_name

CASES = [(t, d, 100) for t in ("relu", "circle", "helix") for d in (3, 4, 5, 6, 10)] + [("circle", 6, 1000)]


@pytest.mark.parametrize("task,depth,width", CASES)
def test_masked_host_computes_scaled_target(task, depth, width):
    inst = plantseek.plant(task, depth=depth, width=width, seed=3, noise=0.0)
    x = inst.data.test.x
    out = forward_state(inst.initial_state, x, inst.ticket)
    ref = inst.scales * torch.from_numpy(inst.target(x.numpy()))
    assert float((out - ref).norm() / ref.norm()) <= 1e-9
    assert torch.all(inst.scales > 0)
    # read out with the planted scales, the exact planted mask performs exactly as the target
    m = planted_scale_metric(inst, inst.ticket)
    assert m == pytest.approx(target_metric(inst), rel=1e-9, abs=1e-12)
    if task == "circle" and depth >= 4:
        assert m >= 0.98
    elif task == "helix":
        assert m <= 1e-4
    elif task == "relu":
        assert m <= 1e-8


def test_ticket_counts_and_metadata():
    for depth, count in [(3, 100), (4, 124), (5, 108), (6, 119)]:
        inst = plantseek.plant("circle", depth=depth, width=100, seed=0)
        assert inst.ticket_weights == count
        assert inst.ticket_density == pytest.approx(count / inst.arch.n_prunable)
    inst = plantseek.plant("relu", depth=7, width=50, seed=0)
    assert inst.ticket_weights == 6 and inst.ticket_weights_per_layer == [1] * 6


def test_planting_changes_only_ticket_parameters():
    from plantseek.core import seeding
    from plantseek.families.mlp.network import he_init

    inst = plantseek.plant("circle", depth=5, width=100, seed=7)
    host = he_init(inst.arch, seeding.generator(7, "host", *inst.arch.widths))
    for l in range(inst.arch.n_layers):
        w0, w1 = host[weight_name(l)], inst.initial_state[weight_name(l)]
        changed = w0 != w1
        assert torch.all(changed <= inst.ticket[weight_name(l)])  # only ticket weights were overwritten
        b0, b1 = host[bias_name(l)], inst.initial_state[bias_name(l)]
        ticket_rows = torch.zeros(b0.numel(), dtype=torch.bool)
        ticket_rows[inst.placement[l]] = True
        # a bias changes only at ticket neurons (every other host bias keeps the paper's initialisation)
        assert torch.all((b0 != b1) <= ticket_rows)
        # a ticket neuron whose bias the ticket prunes keeps its host bias
        pruned = ticket_rows & ~inst.ticket[bias_name(l)]
        assert torch.equal(b0[pruned], b1[pruned])


def test_metadata_reports_reference_counts_and_pruned_biases():
    meta = plantseek.plant("helix", depth=5, width=100, seed=1).metadata()
    assert meta["ticket_weights"] == 95 and meta["ticket_weights_reference"] == 124
    meta = plantseek.plant("circle", depth=5, width=100, seed=1).metadata()
    assert meta["ticket_weights_reference"] == meta["ticket_weights"] == 108
    assert meta["ticket_pruned_biases_per_layer"] == [4, 0, 0, 0]  # the |x| units


def test_placement_is_random_not_lowest_index():
    means = []
    for seed in range(8):
        inst = plantseek.plant("helix", depth=5, width=100, seed=seed)
        means.append(inst.placement[1].double().mean().item())
    # 30 PL neurons out of 100: lowest-free-index placement would give mean 14.5 every time
    assert min(means) > 25 and len(set(means)) > 4


def test_same_seed_bit_identical_in_two_processes(tmp_path):
    code = ("import sys, plantseek; plantseek.plant('circle', depth=6, width=100, seed=11)"
            ".save(sys.argv[1])")
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    for path in (a, b):
        subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    ia, ib = plantseek.load_instance(a), plantseek.load_instance(b)
    for name in ia.initial_state:
        assert torch.equal(ia.initial_state[name], ib.initial_state[name])
    for name in ia.ticket:
        assert torch.equal(ia.ticket[name], ib.ticket[name])
    assert torch.equal(ia.scales, ib.scales)
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(ia.data, split).x, getattr(ib.data, split).x)
        assert torch.equal(getattr(ia.data, split).y, getattr(ib.data, split).y)


def test_different_seeds_differ():
    a = plantseek.plant("circle", depth=5, width=100, seed=0)
    b = plantseek.plant("circle", depth=5, width=100, seed=1)
    assert not torch.equal(a.initial_state[weight_name(0)], b.initial_state[weight_name(0)])
    assert any(not torch.equal(pa, pb) for pa, pb in zip(a.placement[:-1], b.placement[:-1]))
    assert not torch.equal(a.data.train.x, b.data.train.x)


def test_save_load_roundtrip_is_bit_identical(tmp_path):
    inst = plantseek.plant("helix", depth=5, width=60, seed=2, noise=0.1)
    inst.save(tmp_path / "i.pt")
    back = plantseek.load_instance(tmp_path / "i.pt")
    assert back.spec == inst.spec and back.metadata() == inst.metadata()
    assert all(torch.equal(back.initial_state[k], v) for k, v in inst.initial_state.items())
    assert strong_metric(back, back.ticket) == strong_metric(inst, inst.ticket)


def test_data_splits_sizes_and_ranges():
    inst = plantseek.plant("circle", depth=5, width=100, seed=0)
    assert len(inst.data.train) == 9000 and len(inst.data.test) == 1000 and len(inst.data.val) == 1000
    assert inst.data.train.x.min() >= -1 and inst.data.train.x.max() <= 1


@pytest.mark.parametrize("kwargs,message", [
    (dict(task="nope", depth=5, width=100, seed=0), "unknown task 'nope'"),
    (dict(task="circle", depth=2, width=100, seed=0), "depth must be an integer >= 3"),
    (dict(task="helix", depth=5, width=20, seed=0), "narrower than the ticket's widest hidden layer (30"),
    (dict(task="relu", depth=5, width=10, seed=0, noise=-0.1), "noise must be a number >= 0"),
    (dict(task="relu", depth=5, width=10, seed=0, knots=3), "has no option(s) knots"),
])
def test_bad_input_is_a_config_error(kwargs, message):
    with pytest.raises(ConfigError) as info:
        plantseek.plant(**kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_ks_statistic_by_hand():
    assert ks_statistic([1, 2, 3], [1, 2, 3]) == 0
    assert ks_statistic([1, 2], [3, 4]) == 1
    assert ks_statistic([1, 3], [2, 4]) == pytest.approx(0.5)
