"""The engine's compaction (plantseek.train.compact): live units by hand, the choice per network from its mask
alone, the compacted training against the full-size dense path in float64 (<= 1e-10 relative) on Circle-, ReLU-
and Helix-shaped hosts with Adam (fused and single-tensor), SGD and prunable biases, and batch independence: a
network's trained bytes are the same alone, in a batch with any other networks, at any chunk size."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from plantseek.families.mlp.network import Architecture, bias_name, he_init, weight_name
from plantseek.planted.instance import plant
from plantseek.train.batched import train_masks_batched
from plantseek.train.compact import COMPACT_BELOW, compact_plan, cost_share, ladder_width, live_units
from plantseek.train.config import TrainConfig
from plantseek.train.engine import ENGINE, ENGINE_VARIABLE, active_engine, compacts
from plantseek.core.errors import ConfigError

CONFIG = TrainConfig(epochs=2, batch_size=16)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rel_diff(a, b) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).norm() / b[k].norm().clamp_min(1e-30)) for k in a)


def sparse_mask(arch: Architecture, density: float, g: torch.Generator, biases: bool = False):
    mask = {n: torch.rand(s, generator=g) < density for n, s in arch.weight_shapes().items()}
    if biases:
        mask.update({n: torch.rand(s, generator=g) < 0.5 for n, s in arch.bias_shapes().items()})
    return mask


def test_live_units_by_hand():
    arch = Architecture((2, 3, 3, 1))
    z = torch.zeros
    mask = {weight_name(0): z(3, 2, dtype=torch.bool), weight_name(1): z(3, 3, dtype=torch.bool),
            weight_name(2): z(1, 3, dtype=torch.bool)}
    mask[weight_name(2)][0, 1] = True  # output <- unit 1 of layer 2
    mask[weight_name(1)][1, 0] = True  # unit 1 of layer 2 <- unit 0 of layer 1: live
    mask[weight_name(1)][2, 2] = True  # unit 2 of layer 2 (no path to the output) <- unit 2 of layer 1: not live
    mask[weight_name(0)][2, 0] = True  # unit 2 of layer 1 <- input 0: still not live
    live = live_units(arch, mask)
    assert [v.tolist() for v in live] == [[True, True], [True, False, False], [False, True, False], [True]]


def test_the_plan_follows_the_mask_alone():
    arch = Architecture((2, 100, 100, 100, 4))
    g = gen(0)
    assert compact_plan(arch, None, CONFIG) is None
    assert compact_plan(arch, sparse_mask(arch, 0.5, g), CONFIG) is None  # every unit live: the full-size product
    plan = compact_plan(arch, sparse_mask(arch, 0.005, g), CONFIG)
    assert plan is not None and plan.arch.widths[0] == 2 and plan.arch.widths[-1] == 4
    assert set(plan.arch.widths[1:-1]) == {8} and cost_share(plan, arch) < COMPACT_BELOW
    assert compact_plan(arch, sparse_mask(arch, 0.005, g), CONFIG.replace(weight_decay=1e-4)) is None
    assert [ladder_width(n, 100) for n in (0, 8, 9, 17, 33, 65, 100)] == [8, 8, 16, 32, 64, 100, 100]
    inst = plant("circle", depth=5, width=100, seed=0)  # the ticket: 4, 2, 20 hidden units -> width 32
    assert compact_plan(inst.arch, inst.ticket, CONFIG).arch.widths == (2, 32, 32, 32, 4)


def test_the_engine_version_selects_compaction(monkeypatch):
    monkeypatch.delenv(ENGINE_VARIABLE, raising=False)
    assert active_engine() == ENGINE and compacts(ENGINE)
    monkeypatch.setenv(ENGINE_VARIABLE, "1")
    assert active_engine() == 1 and not compacts(1)
    monkeypatch.setenv(ENGINE_VARIABLE, "7")
    with pytest.raises(ConfigError, match="PLANTSEEK_ENGINE"):
        active_engine()


def problem(widths, kind, densities, n=90, biases=False, seed=0):
    g = gen(seed)
    arch = Architecture(widths)
    states = [he_init(arch, g) for _ in densities]
    masks = [sparse_mask(arch, d, g, biases) for d in densities]
    x = torch.rand(n, widths[0], generator=g, dtype=torch.float64) * 2 - 1
    if kind == "classification":
        y, loss = torch.randint(0, widths[-1], (n,), generator=g), F.cross_entropy
    else:
        y, loss = torch.randn(n, widths[-1], generator=g, dtype=torch.float64), F.mse_loss
    return arch, states, masks, x, y, loss


HOSTS = {"circle": ((2, 40, 40, 40, 4), "classification"), "relu": ((1, 40, 40, 40, 1), "regression"),
         "helix": ((1, 40, 40, 40, 3), "regression")}
DENSITIES = (0.01, 0.02, 0.04, 0.08, 0.6)  # compacted (several widths) and full-size
CONFIGS = {"adam": CONFIG, "adam-single-tensor": CONFIG.replace(adam_kernel="single-tensor"),
           "sgd-cosine": CONFIG.replace(optimizer="sgd", lr=0.05, schedule="cosine")}


@pytest.mark.parametrize("host", list(HOSTS))
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("biases", [False, True], ids=["weights", "prunable-biases"])
def test_compacted_training_equals_the_dense_path_in_float64(host, config, biases):
    widths, kind = HOSTS[host]
    arch, states, masks, x, y, loss = problem(widths, kind, DENSITIES, biases=biases)
    cfg = CONFIGS[config]
    plans = [compact_plan(arch, m, cfg) for m in masks]
    assert sum(p is not None for p in plans) >= 2 and plans[-1] is None  # both paths are exercised
    args = (arch, states, masks, x, y, loss, cfg)
    got = train_masks_batched(*args, [gen(i) for i in range(len(masks))], dtype=torch.float64, compact=True)
    want = train_masks_batched(*args, [gen(i) for i in range(len(masks))], dtype=torch.float64, compact=False)
    for g_, w_, m, s in zip(got, want, masks, states):
        assert rel_diff(g_, w_) <= 1e-10
        for name, keep in m.items():
            if name.endswith("weight"):
                assert torch.all(g_[name][~keep] == 0), "pruned weights stay exactly zero"
            else:  # a masked bias keeps its stored value, as in the dense path
                assert torch.equal(g_[name][~keep], s[name].to(torch.float64)[~keep])
    moved = []  # how far each compacted network moved from its start (a path of dead ReLUs may not move at all)
    for g_, m, s, p in zip(got, masks, states, plans):
        start = {k: v.to(torch.float64) * (m[k] if k.endswith("weight") else 1) for k, v in s.items()}
        if p is not None:
            moved.append(max(float((g_[k] - start[k]).abs().max()) for k in start))
    assert max(moved) > 1e-4  # the comparison is between trained networks


def test_inert_parameters_keep_their_start_values():
    arch, states, masks, x, y, loss = problem((2, 40, 40, 40, 4), "classification", (0.02,))
    [got] = train_masks_batched(arch, states, masks, x, y, loss, CONFIG, [gen(0)], dtype=torch.float64,
                                compact=True)
    live = live_units(arch, masks[0])
    assert not all(v.all() for v in live[1:-1])
    for l in range(arch.n_layers):
        dead = ~live[l + 1]
        start_w = states[0][weight_name(l)].to(torch.float64) * masks[0][weight_name(l)]
        assert torch.equal(got[weight_name(l)][dead], start_w[dead])
        assert torch.equal(got[bias_name(l)][dead], states[0][bias_name(l)].to(torch.float64)[dead])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_network_trains_to_the_same_bytes_alone_and_in_any_batch(dtype):
    densities = (0.01, 0.6, 0.02, 1.0, 0.005, 0.04, 0.01)
    arch, states, masks, x, y, loss = problem((2, 40, 40, 40, 4), "classification", densities, n=70)
    masks[3] = None  # a dense network beside the sparse ones
    xs = [x + 0.01 * i for i in range(len(masks))]  # every network its own data
    ys = [y] * len(masks)
    together = train_masks_batched(arch, states, masks, xs, ys, loss, CONFIG, [gen(i) for i in range(len(masks))],
                                   dtype=dtype)
    chunked = train_masks_batched(arch, states, masks, xs, ys, loss, CONFIG, [gen(i) for i in range(len(masks))],
                                  dtype=dtype, chunk=2)
    reordered = list(reversed(range(len(masks))))
    backwards = train_masks_batched(arch, [states[i] for i in reordered], [masks[i] for i in reordered],
                                    [xs[i] for i in reordered], ys, loss, CONFIG, [gen(i) for i in reordered],
                                    dtype=dtype)[::-1]
    for k in range(len(masks)):
        [alone] = train_masks_batched(arch, states[k], [masks[k]], xs[k], ys[k], loss, CONFIG, [gen(k)], dtype=dtype)
        for other in (together[k], chunked[k], backwards[k]):
            assert all(torch.equal(alone[n], other[n]) for n in alone), k


def test_a_shared_generator_is_drawn_in_network_order_across_compacted_and_full_networks():
    arch, states, masks, x, y, loss = problem((2, 40, 40, 40, 4), "classification", (0.6, 0.01, 0.6, 0.02))
    shared = gen(5)
    got = train_masks_batched(arch, states, masks, x, y, loss, CONFIG, [shared] * 4, dtype=torch.float64)
    ref_gen = gen(5)
    for k in range(4):  # the per-network order: all epochs of network 0, then network 1, ...
        [want] = train_masks_batched(arch, states[k], [masks[k]], x, y, loss, CONFIG, [ref_gen], dtype=torch.float64,
                                     compact=False)
        assert rel_diff(got[k], want) <= 1e-10
    assert torch.equal(torch.randperm(10, generator=shared), torch.randperm(10, generator=ref_gen))


def test_the_paper_circle_ticket_trains_compacted_like_the_dense_path():
    inst = plant("circle", depth=5, width=100, seed=0)
    tr = inst.data.train
    cfg = TrainConfig(epochs=1)
    n = 600
    got = train_masks_batched(inst.arch, inst.initial_state, [inst.ticket], tr.x[:n], tr.y[:n], inst.task.loss, cfg,
                              [gen(0)], dtype=torch.float64, compact=True)[0]
    want = train_masks_batched(inst.arch, inst.initial_state, [inst.ticket], tr.x[:n], tr.y[:n], inst.task.loss, cfg,
                               [gen(0)], dtype=torch.float64, compact=False)[0]
    assert rel_diff(got, want) <= 1e-10
