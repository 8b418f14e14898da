"""The network protocol: the MLP's implementation against hand-written computations, and a test-only architecture
(an MLP with a skip connection from the first hidden layer to the output) that goes through the registered pruners,
strong and weak evaluation, readout and the path metrics without any change to baselines/."""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from plantseek.baselines.synflow import synaptic_flow
from plantseek.families.mlp.network import Architecture, build_model, he_init
from plantseek.nets.interface import (HiddenUnits, Network, NetworkModule, Structure, count, dense_edges, masked,
                                     network_parameters, stack_forward)
from plantseek.planted.instance import PrunerData
from plantseek.planted.task import Split
from plantseek.prune.contract import get_pruner
from plantseek.nets.masks import kept_count, select_top, validate_mask
from plantseek.prune.schedules import score_batch
from plantseek.score.evaluation import model_metric, strong_metrics_batched, strong_outputs, strong_outputs_batched
from plantseek.score.metrics import collapsed_layers, effective_density, effective_mask, layer_collapse
from plantseek.train.config import TrainConfig
from plantseek.train.loop import train_masks
from plantseek.train.calibration import weak_start


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- the MLP's protocol against hand-written computations ----------------------------------------------------------

@pytest.mark.parametrize("widths", [(2, 7, 5, 3), (3, 20, 20, 20, 1), (1, 4, 2)])
def test_mlp_forward_is_a_chain_of_linear_layers(widths):
    arch = Architecture(widths)
    params = he_init(arch, gen(1))
    x = torch.rand(9, widths[0], generator=gen(2), dtype=torch.float64)
    mask = {n: torch.rand(s, generator=gen(3)) < 0.5 for n, s in arch.prunable_shapes().items()}
    h = x
    for l in range(arch.n_layers):
        h = F.linear(h, params[f"layers.{l}.weight"] * mask[f"layers.{l}.weight"].double(), params[f"layers.{l}.bias"])
        h = torch.relu(h) if l < arch.n_layers - 1 else h
    assert torch.equal(arch.forward(params, x, mask), h)
    stacked = {n: p.expand(2, *p.shape) for n, p in params.items()}
    both = {n: torch.stack([m.double(), torch.ones_like(m.double())]) for n, m in mask.items()}
    out = arch.forward_stacked(stacked, x.expand(2, *x.shape), both)
    torch.testing.assert_close(out[0], h, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out[1], arch.forward(params, x), rtol=1e-12, atol=1e-12)
    assert list(arch.parameter_shapes()) == [k for l in range(arch.n_layers)
                                             for k in (f"layers.{l}.weight", f"layers.{l}.bias")]
    assert arch.n_prunable == count(arch.prunable_shapes())


@pytest.mark.parametrize("widths,seed", [((2, 100, 100, 100, 4), 0), ((3, 50, 40, 30, 20, 3), 1), ((1, 9, 1), 2)])
def test_synflow_scores_equal_the_chain_product_of_absolute_weights(widths, seed):
    arch = Architecture(widths)
    model = build_model(arch, he_init(arch, gen(seed)), torch.float32)
    mask = {n: torch.rand(s, generator=gen(seed + 5)) < 0.6 for n, s in arch.prunable_shapes().items()}
    for m in (None, mask):
        ws = {n: (p.detach().double().abs() * (1 if m is None else m[n].double())).requires_grad_(True)
              for n, p in model.prunable().items()}
        h = torch.ones(1, widths[0], dtype=torch.float64)
        for w in ws.values():
            h = h @ w.T
        grads = torch.autograd.grad(h.sum(), list(ws.values()))
        expected = {n: (g * ws[n].detach()).abs() for n, g in zip(ws, grads)}
        got = synaptic_flow(model, m)
        assert all(torch.equal(got[n], expected[n]) for n in ws)


# --- a test-only architecture: an MLP with a skip connection ---------------------------------------------------------

@dataclass(frozen=True)
class SkipMLP:
    """x -> h1 = relu(W_in x + b_in) -> h2 = relu(W_mid h1 + b_mid) -> out = W_out h2 + W_skip h1 + b_out."""

    d_in: int = 3
    h1: int = 5
    h2: int = 4
    d_out: int = 2

    @property
    def input_shape(self):
        return (self.d_in,)

    @property
    def n_prunable(self) -> int:
        return count(self.prunable_shapes())

    def parameter_shapes(self):
        return {"in.weight": (self.h1, self.d_in), "in.bias": (self.h1,), "mid.weight": (self.h2, self.h1),
                "mid.bias": (self.h2,), "out.weight": (self.d_out, self.h2), "skip.weight": (self.d_out, self.h1),
                "out.bias": (self.d_out,)}

    def prunable_shapes(self):
        return {n: s for n, s in self.parameter_shapes().items() if n.endswith("weight")}

    def bias_shapes(self):
        return {n: s for n, s in self.parameter_shapes().items() if n.endswith("bias")}

    def fan_in(self, name: str) -> int:
        return {"in": self.d_in, "mid": self.h1, "out": self.h2, "skip": self.h1}[name.split(".")[0]]

    def structure(self) -> Structure:
        groups = {"input": self.d_in, "h1": self.h1, "h2": self.h2, "output": self.d_out}
        edges = {"in.weight": dense_edges("input", "h1", self.h1, self.d_in),
                 "mid.weight": dense_edges("h1", "h2", self.h2, self.h1),
                 "out.weight": dense_edges("h2", "output", self.d_out, self.h2),
                 "skip.weight": dense_edges("h1", "output", self.d_out, self.h1)}
        return Structure(groups, ("input",), ("output",), edges)

    def forward(self, params, x, mask=None):
        p = masked(params, mask)
        h1 = torch.relu(F.linear(x, p["in.weight"], p["in.bias"]))
        h2 = torch.relu(F.linear(h1, p["mid.weight"], p["mid.bias"]))
        return F.linear(h2, p["out.weight"], p["out.bias"]) + F.linear(h1, p["skip.weight"])

    def forward_stacked(self, params, x, mask=None):
        return stack_forward(self.forward, params, x, mask)

    def init(self, generator):
        return {n: torch.randn(s, generator=generator, dtype=torch.float64) * math.sqrt(2.0 / self.fan_in(n))
                for n, s in self.parameter_shapes().items()}

    def build(self, params, dtype=torch.float32):
        return NetworkModule(self, params, dtype)

    def output_parameters(self):
        return ["out.weight", "skip.weight", "out.bias"]

    def forward_flops(self):
        return 2 * self.n_prunable

    def hidden_units(self):
        return [HiddenUnits((("in.weight", 0), ("in.bias", 0)), (("mid.weight", 1), ("skip.weight", 1))),
                HiddenUnits((("mid.weight", 0), ("mid.bias", 0)), (("out.weight", 1),))]


def plain_skip(p, x):
    """The toy's function written out independently (matrix products, no plantseek code)."""
    h1 = (x @ p["in.weight"].T + p["in.bias"]).clamp_min(0)
    h2 = (h1 @ p["mid.weight"].T + p["mid.bias"]).clamp_min(0)
    return h2 @ p["out.weight"].T + h1 @ p["skip.weight"].T + p["out.bias"]


@pytest.fixture(scope="module")
def toy():
    arch = SkipMLP()
    params = arch.init(gen(0))
    g = gen(1)
    x = torch.rand(64, arch.d_in, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.randn(64, arch.d_out, generator=g, dtype=torch.float64)
    return arch, params, x, y


def test_toy_implements_the_protocol(toy):
    arch, params, x, _ = toy
    assert isinstance(arch, Network)
    model = arch.build(params, torch.float64)
    assert list(network_parameters(model)) == list(arch.parameter_shapes())
    torch.testing.assert_close(model(x), plain_skip(params, x))


def prune(name, arch, params, x, y, density, seed=3):
    model = arch.build(params, torch.float32)
    data = PrunerData(x.float(), y.float(), F.mse_loss, "regression")
    mask = get_pruner(name).prune(model, data, density, generator=gen(seed), budget=TrainConfig(epochs=1))
    return validate_mask(mask, arch.prunable_shapes(), kept_count(density, arch.n_prunable), arch.bias_shapes())


def test_random_on_the_toy_draws_layer_by_layer(toy):
    arch, params, x, y = toy
    mask = prune("random", arch, params, x, y, 0.3)
    g = gen(3)
    scores = {n: torch.rand(s, generator=g, dtype=torch.float64) for n, s in arch.prunable_shapes().items()}
    assert all(torch.equal(mask[n], m) for n, m in select_top(scores, 0.3).items())


def test_magnitude_on_the_toy_keeps_the_largest_weights(toy):
    arch, params, x, y = toy
    mask = prune("magnitude", arch, params, x, y, 0.4)
    w = {n: params[n].float().abs() for n in arch.prunable_shapes()}
    kept = torch.cat([w[n][mask[n]] for n in w])
    dropped = torch.cat([w[n][~mask[n]] for n in w])
    assert kept.min() >= dropped.max()


def test_snip_on_the_toy_is_the_connection_sensitivity(toy):
    arch, params, x, y = toy
    mask = prune("snip", arch, params, x, y, 0.25, seed=4)
    xb, yb = score_batch(PrunerData(x.float(), y.float(), F.mse_loss, "regression"), gen(4), 256)
    leaves = {n: p.float().clone().requires_grad_(n in arch.prunable_shapes()) for n, p in params.items()}
    names = list(arch.prunable_shapes())
    grads = torch.autograd.grad(F.mse_loss(plain_skip(leaves, xb), yb), [leaves[n] for n in names])
    scores = {n: (g * leaves[n].detach()).abs() for n, g in zip(names, grads)}
    expected = select_top(scores, 0.25)
    # float32 rounding may swap near-ties at the threshold; the selection must agree almost everywhere
    agree = sum(int((expected[n] == mask[n]).sum()) for n in names)
    assert agree >= arch.n_prunable - 2


def test_synflow_on_the_toy_conserves_flow_through_the_skip_dag(toy):
    arch, params, x, y = toy
    model = arch.build(params, torch.float32)
    s = synaptic_flow(model)
    a = {n: params[n].float().double().abs() for n in arch.prunable_shapes()}
    # R = 1ᵀ(|W_out||W_mid||W_in| + |W_skip||W_in|)1, computed independently
    r = float((a["out.weight"] @ a["mid.weight"] @ a["in.weight"] + a["skip.weight"] @ a["in.weight"]).sum())
    assert float(s["in.weight"].sum()) == pytest.approx(r, rel=1e-12)  # all flow leaves the inputs
    assert float(s["out.weight"].sum() + s["skip.weight"].sum()) == pytest.approx(r, rel=1e-12)  # and arrives
    torch.testing.assert_close(s["in.weight"].sum(1), s["mid.weight"].sum(0) + s["skip.weight"].sum(0))  # h1
    torch.testing.assert_close(s["mid.weight"].sum(1), s["out.weight"].sum(0))  # h2
    mask = prune("synflow", arch, params, x, y, 0.5)
    assert mask.keys() >= set(arch.prunable_shapes())


def test_strong_and_weak_evaluation_on_the_toy(toy):
    arch, params, x, y = toy
    masks = [prune(n, arch, params, x, y, 0.5) for n in ("random", "magnitude")]
    scales = torch.tensor([1e-3, 1e-5], dtype=torch.float64)
    task = SimpleNamespace(kind="regression", metric=lambda out, t: float(((out - t) ** 2).mean()))
    inst = SimpleNamespace(arch=arch, initial_state=params, scales=scales, task=task,
                           data=SimpleNamespace(train=Split(x, y), test=Split(x, y)))
    for m in masks:
        expected = plain_skip({n: p * m[n].double() if n in m else p for n, p in params.items()}, x) / scales
        torch.testing.assert_close(strong_outputs(inst, m, x), expected, rtol=1e-12, atol=1e-9)
    batched = strong_outputs_batched(inst, masks + [None], x)
    torch.testing.assert_close(batched[2], plain_skip(params, x) / scales)
    def least_squares_readout(z):  # numpy, output by output, with an intercept
        columns = []
        for k in range(z.shape[1]):
            design = np.stack([z[:, k].numpy(), np.ones(z.shape[0])], axis=1)
            coef, *_ = np.linalg.lstsq(design, y[:, k].numpy(), rcond=None)
            columns.append(design @ coef)
        return torch.from_numpy(np.stack(columns, axis=1))

    want = [task.metric(least_squares_readout(b * scales), y) for b in batched[:2]]
    assert strong_metrics_batched(inst, masks) == pytest.approx(want, rel=1e-9)
    # weak: calibrated and balanced start (same function up to the folded factors), then training
    start = weak_start(params, masks[0], x, y, "regression", arch=arch)
    before = arch.forward(params, x, masks[0])
    alpha = (before * y).sum(0) / (before * before).sum(0)
    torch.testing.assert_close(arch.forward(start, x, masks[0]), before * alpha, rtol=1e-9, atol=1e-12)
    config = TrainConfig(epochs=3, batch_size=8, lr=1e-2)
    nets = train_masks(arch, [start, start], masks, x, y, F.mse_loss, config, [gen(7), gen(8)])
    loop = train_masks(arch, [start, start], masks, x, y, F.mse_loss, config, [gen(7), gen(8)], engine="loop")
    for net, ref, m in zip(nets, loop, masks):
        assert all(torch.equal(a, b) for a, b in zip(net.parameters(), ref.parameters()))
        assert all(bool((p[~m[n]] == 0).all()) for n, p in net.prunable().items())
        trained = model_metric(inst, net, m)
        assert trained < task.metric(arch.build(start)(x.float(), m).detach().double(), y)


def test_path_metrics_on_the_skip_dag(toy):
    arch = toy[0]
    st = arch.structure()
    empty = {n: torch.zeros(s, dtype=torch.bool) for n, s in arch.prunable_shapes().items()}
    skip_only = {**empty, "in.weight": empty["in.weight"].clone(), "skip.weight": empty["skip.weight"].clone(),
                 "mid.weight": empty["mid.weight"].clone(), "out.weight": empty["out.weight"].clone()}
    skip_only["in.weight"][0, 0] = True  # input 0 -> h1 unit 0
    skip_only["skip.weight"][0, 0] = True  # h1 unit 0 -> output 0: a path through the skip only
    skip_only["mid.weight"][1, 0] = True  # h1 unit 0 -> h2 unit 1, which leads nowhere
    skip_only["out.weight"][0, 2] = True  # h2 unit 2 (never reached) -> output 0
    assert not layer_collapse(skip_only, st) and collapsed_layers(skip_only, st) == []
    eff = effective_mask(skip_only, st)
    assert [int(eff[n].sum()) for n in arch.prunable_shapes()] == [1, 0, 0, 1]
    assert effective_density(skip_only, st) == pytest.approx(2 / arch.n_prunable)
    cut = {n: m.clone() for n, m in empty.items()}
    cut["mid.weight"][0, 0] = cut["out.weight"][0, 0] = True  # h1 -> h2 -> output, but nothing enters h1
    assert layer_collapse(cut, st) and effective_density(cut, st) == 0.0
    assert collapsed_layers(cut, st) == [0, 3]  # in.weight (signal dies, empty) and skip.weight (empty)
