"""The baseline pruners, each against an independent expectation, and the contract for every registered name."""

from __future__ import annotations

import math

import pytest
import torch

from plantseek.baselines.edge_popup import EdgePopup, _straight_through, epoch_densities
from plantseek.baselines.grasp import GraSP, hessian_gradient
from plantseek.baselines.magnitude import Magnitude
from plantseek.baselines.random_baseline import Random
from plantseek.baselines.snip import SNIP
from plantseek.baselines.synflow import SynFlow, synaptic_flow
from plantseek import plant
from plantseek.planted.instance import PrunerData
from plantseek.nets.masks import kept_count, layer_counts, mask_count, validate_mask
from plantseek.families.mlp.network import Architecture, MLP, build_model, he_init
from plantseek.nets.interface import network_parameters
from plantseek.prune.contract import PROTOCOLS, PRUNERS, check_pruner, get_pruner
from plantseek.prune.schedules import score_batch
from plantseek.planted.task import DataConfig
from plantseek.train.config import TrainConfig

EXPECTED_NAMES = {
    "random", "magnitude", "snip", "grasp", "synflow", "synflow-100", "magnitude-multishot", "snip-multishot",
    "grasp-multishot", "synflow-multishot", "edge-popup", "edge-popup-annealed",
    "random-local", "magnitude-local", "snip-local", "grasp-local", "synflow-local",
    "lrr", "magnitude-rewind-iterate", "random-erk", "random-balanced", "random-pyramidal", "early-bird", "phew",
    "set", "rigl", "colt", "worm", "ks-lottery", "layer-pruning", "frozen-edge-popup",
}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def model_from(weights, biases, dtype=torch.float64) -> MLP:
    weights = [torch.as_tensor(w, dtype=torch.float64) for w in weights]
    arch = Architecture(tuple([weights[0].shape[1]] + [w.shape[0] for w in weights]))
    state = {}
    for l, (w, b) in enumerate(zip(weights, biases)):
        state[f"layers.{l}.weight"] = torch.as_tensor(w, dtype=torch.float64)
        state[f"layers.{l}.bias"] = torch.as_tensor(b, dtype=torch.float64)
    return build_model(arch, state, dtype)


def random_model(widths, seed=0, dtype=torch.float64) -> MLP:
    arch = Architecture(tuple(widths))
    return build_model(arch, he_init(arch, gen(seed)), dtype)


def regression_data(n, d_in, d_out, seed=1, dtype=torch.float64) -> PrunerData:
    g = gen(seed)
    x = (torch.rand(n, d_in, generator=g, dtype=torch.float64) * 2 - 1).to(dtype)
    y = torch.randn(n, d_out, generator=g, dtype=torch.float64).to(dtype)
    return PrunerData(x, y, torch.nn.functional.mse_loss, "regression")


def classification_data(n, d_in, classes, seed=1, dtype=torch.float64) -> PrunerData:
    g = gen(seed)
    x = (torch.rand(n, d_in, generator=g, dtype=torch.float64) * 2 - 1).to(dtype)
    y = torch.randint(0, classes, (n,), generator=g)
    return PrunerData(x, y, torch.nn.functional.cross_entropy, "classification")


# --- an independent forward pass and loss gradient (no plantseek code) --------------------------------------

def plain_forward(ws, bs, x):
    h = x
    for l, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w.T + b
        if l < len(ws) - 1:
            h = h.clamp_min(0)
    return h


def plain_weights(model):
    ws = [layer.weight.detach().clone().double() for layer in model.layers]
    bs = [layer.bias.detach().clone().double() for layer in model.layers]
    return ws, bs


# --- magnitude --------------------------------------------------------------------------------------------

def test_magnitude_keeps_largest_absolute_weights_by_hand():
    model = model_from([[[0.5, -3.0], [0.1, 2.0]], [[-0.2, 4.0]]], [[0, 0], [0]])
    # |w| = 0.5 3.0 0.1 2.0 | 0.2 4.0 ; 3 of 6 kept: 4.0, 3.0, 2.0
    mask = Magnitude().prune(model, None, 0.5, generator=gen(0), budget=TrainConfig())
    assert mask["layers.0.weight"].tolist() == [[False, True], [False, True]]
    assert mask["layers.1.weight"].tolist() == [[False, True]]
    # 4 of 6: adds 0.5
    mask = Magnitude().prune(model, None, 4 / 6, generator=gen(0), budget=TrainConfig())
    assert mask["layers.0.weight"].tolist() == [[True, True], [False, True]]
    # local, density 0.5: layer 0 keeps 2 of 4 (3.0, 2.0), layer 1 keeps 1 of 2 (4.0)
    local = Magnitude(scope="local").prune(model, None, 0.5, generator=gen(0), budget=TrainConfig())
    assert local["layers.0.weight"].tolist() == [[False, True], [False, True]]
    assert local["layers.1.weight"].tolist() == [[False, True]]


# --- random -----------------------------------------------------------------------------------------------

def test_random_masks_are_seed_deterministic_and_differ_across_seeds():
    model = random_model((3, 10, 10, 2), dtype=torch.float32)
    p = Random()
    a = p.prune(model, None, 0.3, generator=gen(7), budget=TrainConfig())
    b = p.prune(model, None, 0.3, generator=gen(7), budget=TrainConfig())
    c = p.prune(model, None, 0.3, generator=gen(8), budget=TrainConfig())
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a)
    assert mask_count(a) == kept_count(0.3, model.arch.n_prunable)
    # the scores ignore the weights: same seed, other weights -> same mask
    other = random_model((3, 10, 10, 2), seed=5, dtype=torch.float32)
    d = p.prune(other, None, 0.3, generator=gen(7), budget=TrainConfig())
    assert all(torch.equal(a[n], d[n]) for n in a)


# --- SNIP -------------------------------------------------------------------------------------------------

def test_snip_scores_equal_abs_theta_times_finite_difference_gradient():
    model = random_model((2, 4, 3, 2), seed=3)
    data = regression_data(40, 2, 2)
    pruner = SNIP(batch_size=16)
    scores = pruner.score(model, data, generator=gen(11), budget=TrainConfig(), mask=None)
    x, y = score_batch(data, gen(11), 16)
    assert x.shape[0] == 16
    ws, bs = plain_weights(model)

    def loss():
        return ((plain_forward(ws, bs, x) - y) ** 2).mean()

    eps = 1e-6
    for l, w in enumerate(ws):
        g = torch.zeros_like(w)
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                old = w[i, j].item()
                w[i, j] = old + eps
                up = loss()
                w[i, j] = old - eps
                down = loss()
                w[i, j] = old
                g[i, j] = (up - down) / (2 * eps)
        torch.testing.assert_close(scores[f"layers.{l}.weight"], (g * w).abs(), rtol=1e-6, atol=1e-9)


def test_snip_on_masked_network_gives_pruned_weights_zero_score():
    model = random_model((2, 5, 2), seed=4)
    data = classification_data(30, 2, 2)
    mask = {"layers.0.weight": torch.rand(5, 2, generator=gen(1)) > 0.5,
            "layers.1.weight": torch.ones(2, 5, dtype=torch.bool)}
    scores = SNIP().score(model, data, generator=gen(0), budget=TrainConfig(), mask=mask)
    assert bool((scores["layers.0.weight"][~mask["layers.0.weight"]] == 0).all())


# --- GraSP ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_grasp_hg_equals_finite_difference_hessian_vector_product(kind):
    model = random_model((2, 5, 4, 3), seed=2)
    data = classification_data(32, 2, 3) if kind == "classification" else regression_data(32, 2, 3)
    T = 200.0
    x, y = data.x, data.y
    theta, g, hg = hessian_gradient(model, data, x, y, None, T)
    ws, bs = plain_weights(model)

    def grad_at(weights):
        weights = [w.clone().requires_grad_(True) for w in weights]
        out = plain_forward(weights, bs, x) / T
        if kind == "classification":
            loss = torch.nn.functional.cross_entropy(out, y)
        else:
            loss = ((out - y) ** 2).mean()
        return torch.autograd.grad(loss, weights)

    g_ref = grad_at(ws)
    names = [f"layers.{l}.weight" for l in range(len(ws))]
    for n, gr in zip(names, g_ref):
        torch.testing.assert_close(g[n], gr, rtol=1e-10, atol=1e-14)
    # H g by central differences of the gradient along v = g
    v = list(g_ref)
    norm = math.sqrt(sum(float((vi ** 2).sum()) for vi in v))
    eps = 1e-4 / norm
    plus = grad_at([w + eps * vi for w, vi in zip(ws, v)])
    minus = grad_at([w - eps * vi for w, vi in zip(ws, v)])
    scale = max(float(hg[n].abs().max()) for n in names)
    for n, p, m in zip(names, plus, minus):
        torch.testing.assert_close(hg[n], (p - m) / (2 * eps), rtol=1e-5, atol=1e-6 * scale)
    # GraSP's score is θ ⊙ Hg and the pruner keeps its LARGEST values (removes the largest -θ ⊙ Hg)
    scores = GraSP(batch_size=32).score(model, data, generator=gen(0), budget=TrainConfig(), mask=None)
    for n in names:
        torch.testing.assert_close(scores[n], theta[n] * hg[n])
    mask = GraSP(batch_size=32).prune(model, data, 0.25, generator=gen(0), budget=TrainConfig())
    flat = torch.cat([(theta[n] * hg[n]).reshape(-1) for n in names])
    k = kept_count(0.25, flat.numel())
    threshold = flat.sort(descending=True).values[k - 1]
    for n in names:
        assert torch.equal(mask[n], theta[n] * hg[n] >= threshold)


# --- SynFlow ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("masked", [False, True])
def test_synflow_conservation(masked):
    model = random_model((3, 7, 6, 5, 2), seed=5)
    mask = None
    if masked:
        mask = {n: torch.rand(p.shape, generator=gen(2)) > 0.3 for n, p in model.prunable().items()}
    scores = SynFlow().score(model, None, generator=gen(0), budget=TrainConfig(), mask=mask)
    names = list(model.prunable())
    # R computed independently: absolute (masked) weights, no biases, all-ones input
    h = torch.ones(1, 3, dtype=torch.float64)
    for n, p in model.prunable().items():
        w = p.detach().abs() * (mask[n].double() if masked else 1.0)
        h = h @ w.T
    R = float(h.sum())
    for n in names:
        assert scores[n].dtype == torch.float64
        assert float(scores[n].sum()) == pytest.approx(R, rel=1e-12)
        if masked:
            assert bool((scores[n][~mask[n]] == 0).all())
    # per hidden neuron: incoming score sum == outgoing score sum
    for a, b in zip(names, names[1:]):
        incoming = scores[a].sum(dim=1)  # rows of layer a = its output neurons
        outgoing = scores[b].sum(dim=0)  # columns of layer b = its input neurons
        torch.testing.assert_close(incoming, outgoing, rtol=1e-12, atol=1e-12 * R)


def test_synflow_100_is_nested_schedule_ending_at_density():
    model = random_model((3, 8, 8, 2), seed=6, dtype=torch.float32)
    p = get_pruner("synflow-100")
    mask = p.prune(model, None, 0.1, generator=gen(0), budget=TrainConfig())
    assert len(p.history) == 100
    assert mask_count(mask) == kept_count(0.1, model.arch.n_prunable)
    for a, b in zip(p.history, p.history[1:]):
        assert all(bool((b[n] & ~a[n]).sum() == 0) for n in a)
    # round 1 is single-shot SynFlow at density 0.1**(1/100)
    first = SynFlow().prune(model, None, 0.1 ** (1 / 100), generator=gen(0), budget=TrainConfig())
    assert all(torch.equal(first[n], p.history[0][n]) for n in first)


def test_synflow_stays_finite_where_float32_overflows():
    model = random_model((2, 200, 200, 200, 200, 200, 200, 200, 200, 200, 2), seed=0, dtype=torch.float32)
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.mul_(40.0)  # products of |W| beyond float32's range
    scores = synaptic_flow(model)
    assert all(bool(torch.isfinite(s).all()) for s in scores.values())


# --- edge-popup -------------------------------------------------------------------------------------------

def test_edge_popup_straight_through_gradient():
    """d loss / d score = sign(score) * weight * d loss / d (effective weight), for kept and pruned entries."""
    model = random_model((2, 3, 2), seed=1)
    weights = [l.weight.detach() for l in model.layers]
    biases = [l.bias.detach() for l in model.layers]
    sw = [torch.randn(1, *w.shape, generator=gen(l), dtype=torch.float64).requires_grad_()
          for l, w in enumerate(weights)]
    sb = [torch.randn(1, b.shape[0], generator=gen(9 + l), dtype=torch.float64).requires_grad_()
          for l, b in enumerate(biases)]
    wc, bc = [[3, 2]], [[2, 1]]
    x = torch.rand(1, 5, 2, generator=gen(3), dtype=torch.float64)
    names = [(f"layers.{l}.weight", f"layers.{l}.bias") for l in range(2)]
    scores = {n: s for l, (wn, bn) in enumerate(names) for n, s in ((wn, sw[l]), (bn, sb[l]))}
    counts = [{n: c for l, (wn, bn) in enumerate(names) for n, c in ((wn, wc[0][l]), (bn, bc[0][l]))}]
    frozen = {n: p.detach().unsqueeze(0) for n, p in network_parameters(model).items()}
    out = model.arch.forward_stacked(frozen, x, _straight_through(scores, counts))
    out.sum().backward()
    # independent: effective parameters as leaves
    eff_w, eff_b = [], []
    for l in range(2):
        mw = torch.zeros(weights[l].numel(), dtype=torch.float64)
        mw[sw[l][0].detach().abs().reshape(-1).argsort(descending=True)[: wc[0][l]]] = 1
        mb = torch.zeros(biases[l].numel(), dtype=torch.float64)
        mb[sb[l][0].detach().abs().argsort(descending=True)[: bc[0][l]]] = 1
        eff_w.append((weights[l] * mw.reshape(weights[l].shape)).requires_grad_())
        eff_b.append((biases[l] * mb).requires_grad_())
    ref = plain_forward(eff_w, eff_b, x[0])
    torch.testing.assert_close(out[0], ref)
    ref.sum().backward()
    for l in range(2):
        torch.testing.assert_close(sw[l].grad[0], sw[l].detach()[0].sign() * weights[l] * eff_w[l].grad)
        torch.testing.assert_close(sb[l].grad[0], sb[l].detach()[0].sign() * biases[l] * eff_b[l].grad)


@pytest.fixture(scope="module")
def instance():
    return plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=400))


def test_edge_popup_freezes_weights_and_keeps_exact_counts_per_layer(instance):
    model = instance.host()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = instance.pruner_data()
    p = EdgePopup()
    budget = TrainConfig(epochs=2)
    density = 0.13
    mask = p.prune(model, data, density, generator=gen(0), budget=budget)
    assert all(torch.equal(model.state_dict()[k], before[k]) for k in before)
    sizes = {n: math.prod(s) for n, s in instance.arch.weight_shapes().items()}
    counts = layer_counts(density, sizes)
    for n in sizes:
        assert int(mask[n].sum()) == counts[n]
    for n, (width,) in instance.arch.bias_shapes().items():
        assert int(mask[n].sum()) == kept_count(density, width)
    validate_mask(mask, instance.arch.weight_shapes(), kept_count(density, instance.arch.n_prunable),
                  instance.arch.bias_shapes())
    assert len(p.history[0]) == 2
    for epoch in p.history[0]:
        assert all(epoch[n] == counts[n] for n in sizes)
    # prune is prune_batch with one density; the scores learn (trained mask differs from the initial one)
    again = p.prune_batch(model, data, [density], generators=[gen(0)], budget=budget)[0]
    assert all(torch.equal(mask[n], again[n]) for n in mask)


def test_edge_popup_learns_a_mask_that_lowers_the_training_loss():
    """On the ReLU task (whose raw host outputs are not tiny) the learned mask beats its initial scores'."""
    inst = plant("relu", depth=4, width=20, seed=0, data=DataConfig(n_samples=400))
    model, data = inst.host(), inst.pruner_data()
    p = EdgePopup()
    masks, losses = [], []
    for epochs in (0, 2):
        masks.append(p.prune(model, data, 0.5, generator=gen(1), budget=TrainConfig(epochs=epochs)))
        with torch.no_grad():
            losses.append(float(data.loss(model(data.x, masks[-1]), data.y)))
    assert any(not torch.equal(masks[0][n], masks[1][n]) for n in masks[0])
    assert losses[1] < 0.5 * losses[0]


def test_edge_popup_annealed_reaches_final_density(instance):
    model, data = instance.host(), instance.pruner_data()
    p = get_pruner("edge-popup-annealed")
    assert p.anneal and p.protocol == "strong"
    density, epochs = 0.05, 4
    assert epoch_densities(density, epochs, True) == [density ** (i / epochs) for i in (1, 2, 3)] + [density]
    masks = p.prune_batch(model, data, [density, 0.5], generators=[gen(0), gen(1)],
                          budget=TrainConfig(epochs=epochs))
    sizes = {n: math.prod(s) for n, s in instance.arch.weight_shapes().items()}
    for k, d in enumerate([density, 0.5]):
        per_epoch = [sum(h[n] for n in sizes) for h in p.history[k]]
        assert per_epoch == [kept_count(e, instance.arch.n_prunable) for e in epoch_densities(d, epochs, True)]
        assert per_epoch[0] > per_epoch[-1] == kept_count(d, instance.arch.n_prunable)
        assert mask_count({n: masks[k][n] for n in sizes}) == kept_count(d, instance.arch.n_prunable)


# --- every registered pruner ------------------------------------------------------------------------------

def test_registered_names():
    assert EXPECTED_NAMES <= set(PRUNERS.names())


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_registered_pruner_returns_valid_masks(name, instance):
    pruner = check_pruner(get_pruner(name), name)
    assert pruner.name == name
    assert pruner.protocol in PROTOCOLS
    assert isinstance(pruner.description, str) and pruner.description and "\n" not in pruner.description
    assert callable(PRUNERS.get(name))
    data = instance.pruner_data()
    x_before, y_before = data.x.clone(), data.y.clone()
    budget = TrainConfig(epochs=1)
    densities = [instance.ticket_density, 0.01, 1.0]
    n = instance.arch.n_prunable
    host = instance.host()
    before = {k: v.clone() for k, v in host.state_dict().items()}
    batch = getattr(pruner, "prune_batch", None)
    if callable(batch):
        masks = batch(host, data, densities, generators=[gen(i) for i in range(len(densities))], budget=budget)
        assert len(masks) == len(densities)
    else:
        masks = [pruner.prune(host, data, d, generator=gen(i), budget=budget) for i, d in enumerate(densities)]
    for d, m in zip(densities, masks):
        validate_mask(m, instance.arch.weight_shapes(), kept_count(d, n), instance.arch.bias_shapes())
    assert all(torch.equal(host.state_dict()[k], before[k]) for k in before)
    assert torch.equal(data.x, x_before) and torch.equal(data.y, y_before)
    if pruner.protocol == "multi-shot":
        return  # prune == prune_batch and determinism of the multi-shot schedule: tests/prune/test_pruning.py
    # deterministic given the generator (and, for edge-popup, prune == prune_batch's first mask)
    again = pruner.prune(instance.host(), data, densities[0], generator=gen(0), budget=budget)
    assert all(torch.equal(again[k], masks[0][k]) for k in again)
