"""Prunable biases (the paper's protocol: ``budget.prunable_biases``): every baseline's bias score against an
independent computation on a tiny network, joint ranking of weights and biases, exact validation of bias entries,
and what the flag leaves unchanged (weights-only scores without it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plantseek.baselines.grasp import GraSP
from plantseek.baselines.magnitude import Magnitude
from plantseek.baselines.random_baseline import Random
from plantseek.baselines.snip import SNIP
from plantseek.baselines.synflow import SynFlow
from plantseek.core.errors import ConfigError, MaskError
from plantseek.families.mlp.network import Architecture, build_model
from plantseek.planted.instance import PrunerData
from plantseek.prune.contract import get_pruner
from plantseek.nets.masks import (kept_count, mask_count, parameter_density, prunable_parameter_shapes, select_top,
                                   validate_pruned_mask)
from plantseek.prune.schedules import Iterative, score_batch
from plantseek.train.config import TrainConfig, pruning_budget

PAPER = TrainConfig(epochs=1, prunable_biases=True)
WEIGHTS_ONLY = TrainConfig(epochs=1)
W1 = [[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]]  # 2 -> 3
B1 = [0.3, -0.2, 0.1]
W2 = [[1.0, -0.5, 0.2]]  # 3 -> 1
B2 = [-0.4]


def tiny_model(dtype=torch.float64):
    arch = Architecture((2, 3, 1))
    state = {"layers.0.weight": torch.tensor(W1, dtype=torch.float64), "layers.0.bias": torch.tensor(B1,
             dtype=torch.float64), "layers.1.weight": torch.tensor(W2, dtype=torch.float64),
             "layers.1.bias": torch.tensor(B2, dtype=torch.float64)}
    return build_model(arch, state, dtype)


def tiny_data(n=40, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.randn(n, 1, generator=g, dtype=torch.float64)
    return PrunerData(x, y, torch.nn.functional.mse_loss, "regression")


def scores_of(pruner, budget, seed=0, data=None):
    return pruner.scores(tiny_model(), data or tiny_data(), generator=torch.Generator().manual_seed(seed),
                         budget=budget, mask=None)


def flat_loss(theta, x, y):
    """The tiny network's MSE written out by hand from a flat vector (W1, b1, W2, b2): a second implementation."""
    w1, b1, w2, b2 = theta[:6].reshape(3, 2), theta[6:9], theta[9:12].reshape(1, 3), theta[12:13]
    out = torch.relu(x @ w1.T + b1) @ w2.T + b2
    return ((out - y) ** 2).mean()


def flat_theta():
    return torch.tensor(sum(W1, []) + B1 + sum(W2, []) + B2, dtype=torch.float64)


def unflat(v):
    return {"layers.0.weight": v[:6].reshape(3, 2), "layers.0.bias": v[6:9], "layers.1.weight": v[9:12].reshape(1, 3),
            "layers.1.bias": v[12:13]}


def test_magnitude_scores_biases_by_absolute_value_only_when_they_are_prunable():
    s = scores_of(Magnitude(), PAPER)
    assert list(s) == ["layers.0.weight", "layers.1.weight", "layers.0.bias", "layers.1.bias"]  # prunable order
    np.testing.assert_allclose(s["layers.0.bias"].numpy(), [0.3, 0.2, 0.1])
    np.testing.assert_allclose(s["layers.1.bias"].numpy(), [0.4])
    assert list(scores_of(Magnitude(), WEIGHTS_ONLY)) == ["layers.0.weight", "layers.1.weight"]


def test_synflow_product_network_includes_the_absolute_biases():
    # by hand: R = sum_k |W2_k.| (|W1| 1 + |b1|) + |b2|; dR/db1_j = sum_k |W2_kj|; dR/dW2_kj = sum_i |W1_ji| + |b1_j|
    a1, c1, a2, c2 = np.abs(W1), np.abs(B1), np.abs(W2), np.abs(B2)
    down = a2.sum(axis=0)  # flow from hidden unit j to the output
    up = a1.sum(axis=1)  # flow into hidden unit j from the inputs (without its bias)
    s = scores_of(SynFlow(), PAPER)
    np.testing.assert_allclose(s["layers.0.weight"].numpy(), a1 * down[:, None])
    np.testing.assert_allclose(s["layers.0.bias"].numpy(), c1 * down)
    np.testing.assert_allclose(s["layers.1.weight"].numpy(), a2 * (up + c1)[None, :])
    np.testing.assert_allclose(s["layers.1.bias"].numpy(), c2)
    # calibrated (weights only): biases zeroed in the product network, as before
    s = scores_of(SynFlow(), WEIGHTS_ONLY)
    assert list(s) == ["layers.0.weight", "layers.1.weight"]
    np.testing.assert_allclose(s["layers.1.weight"].numpy(), a2 * up[None, :])
    np.testing.assert_allclose(s["layers.0.weight"].numpy(), a1 * down[:, None])


def test_snip_scores_biases_by_gradient_times_bias():
    data = tiny_data()
    x, y = score_batch(data, torch.Generator().manual_seed(0), SNIP().batch_size)
    theta = flat_theta().requires_grad_(True)
    (g,) = torch.autograd.grad(flat_loss(theta, x, y), theta)
    expected = unflat((g * theta.detach()).abs())
    s = scores_of(SNIP(), PAPER, data=data)
    for name, value in expected.items():
        torch.testing.assert_close(s[name], value, rtol=1e-10, atol=1e-14)


def test_grasp_scores_biases_by_bias_times_hessian_gradient_over_weights_and_biases():
    data, t = tiny_data(), GraSP().temperature
    x, y = score_batch(data, torch.Generator().manual_seed(0), GraSP().batch_size)
    theta = flat_theta()

    def loss(v):  # the loss of the outputs divided by the temperature (regression: raw outputs)
        w1, b1, w2, b2 = v[:6].reshape(3, 2), v[6:9], v[9:12].reshape(1, 3), v[12:13]
        out = torch.relu(x @ w1.T + b1) @ w2.T + b2
        return torch.nn.functional.mse_loss(out / t, y)

    hessian = torch.autograd.functional.hessian(loss, theta)  # 13 x 13: weights and biases together
    g = torch.autograd.functional.jacobian(loss, theta)
    expected = unflat(theta * (hessian @ g))
    s = scores_of(GraSP(), PAPER, data=data)
    for name, value in expected.items():
        torch.testing.assert_close(s[name], value, rtol=1e-8, atol=1e-16)
    # weights only: H and g over the weights alone
    idx = list(range(6)) + list(range(9, 12))
    hw = hessian[np.ix_(idx, idx)] @ g[idx]
    s = scores_of(GraSP(), WEIGHTS_ONLY, data=data)
    torch.testing.assert_close(s["layers.1.weight"].reshape(-1), theta[9:12] * hw[6:], rtol=1e-8, atol=1e-16)


def test_random_draws_bias_scores_after_the_weights():
    g = torch.Generator().manual_seed(11)
    expected = {n: torch.rand(shape, generator=g, dtype=torch.float64)
                for n, shape in [("layers.0.weight", (3, 2)), ("layers.1.weight", (1, 3)), ("layers.0.bias", (3,)),
                                 ("layers.1.bias", (1,))]}
    s = scores_of(Random(), PAPER, seed=11)
    assert list(s) == list(expected)
    for name, value in expected.items():
        assert torch.equal(s[name], value)


def test_weights_and_biases_are_ranked_together():
    # magnitudes in order: 2.0, 1.5, 1.0, 1.0, 0.75, 0.5, 0.5 (weights), then the bias 0.4 (layers.1.bias), then the
    # bias 0.3, the weight 0.25, ...: at 8 of 13 the bias b2 is kept, no bias of layer 0 is
    mask = Magnitude().prune(tiny_model(), tiny_data(), 8 / 13, generator=torch.Generator(), budget=PAPER)
    assert mask_count(mask) == kept_count(8 / 13, 13) == 8
    assert mask["layers.1.bias"].tolist() == [True] and not mask["layers.0.bias"].any()
    kept = sorted(float(v) for n, m in mask.items() for v in tiny_model().state_dict()[n][m].abs())
    assert kept == [0.4, 0.5, 0.5, 0.75, 1.0, 1.0, 1.5, 2.0]


def test_local_selection_keeps_each_parameter_tensors_share():
    scores = scores_of(Magnitude(), PAPER)
    mask = select_top(scores, 0.5, scope="local")
    # W1, W2, b1, b2 (prunable order): 6 x 0.5 = 3, 3 x 0.5, 3 x 0.5, 1 x 0.5: floors 3, 1, 1, 0; the 2 left of
    # kept_count(0.5, 13) = 7 go to the remainders 0.5, earlier tensor first
    assert {n: int(m.sum()) for n, m in mask.items()} == {"layers.0.weight": 3, "layers.1.weight": 2,
                                                          "layers.0.bias": 2, "layers.1.bias": 0}


def test_multi_round_schedules_never_revive_pruned_biases():
    pruner = Iterative(SynFlow(), rounds=4)
    mask = pruner.prune(tiny_model(), tiny_data(), 0.3, generator=torch.Generator(), budget=PAPER)
    assert mask_count(mask) == kept_count(0.3, 13)
    for before, after in zip(pruner.history, pruner.history[1:]):
        assert all(not (after[n] & ~before[n]).any() for n in before)
    assert set(pruner.history[0]) == set(prunable_parameter_shapes(tiny_model().arch, True))


def test_validation_requires_every_bias_entry_and_counts_it_exactly():
    arch = tiny_model().arch
    full = {n: torch.zeros(s, dtype=torch.bool) for n, s in prunable_parameter_shapes(arch, True).items()}
    full["layers.0.bias"][0] = True
    full["layers.0.weight"][0, 0] = True  # 2 of 13 kept
    assert mask_count(validate_pruned_mask(full, arch, 2 / 13, True)) == 2
    with pytest.raises(MaskError, match=r"keeps 2 of 13 prunable parameters \(weights and biases\), expected "
                                        r"exactly 3"):
        validate_pruned_mask(full, arch, 3 / 13, True)
    with pytest.raises(MaskError, match="missing prunable parameter"):
        validate_pruned_mask({n: m for n, m in full.items() if n != "layers.1.bias"}, arch, 2 / 13, True)
    with pytest.raises(MaskError, match="dtype"):
        validate_pruned_mask({**full, "layers.1.bias": torch.zeros(1)}, arch, 2 / 13, True)
    with pytest.raises(MaskError, match="shape"):
        validate_pruned_mask({**full, "layers.1.bias": torch.zeros(2, dtype=torch.bool)}, arch, 2 / 13, True)
    # weights only: bias entries optional and not counted (1 of 9 weights kept)
    assert mask_count(validate_pruned_mask(full, arch, 1 / 9, False)) == 2
    assert parameter_density(full, prunable_parameter_shapes(arch, True)) == 2 / 13


def test_a_scorer_without_bias_scores_fails_in_one_line_when_biases_are_prunable():
    class WeightsOnly(Magnitude):
        def score(self, model, data, *, generator, budget, mask):
            return {n: p.detach().abs() for n, p in model.prunable().items()}

    with pytest.raises(Exception, match="no tensor of shape .* for layers.0.bias .the budget makes the biases"):
        WeightsOnly().prune(tiny_model(), tiny_data(), 0.5, generator=torch.Generator(), budget=PAPER)


def test_every_registered_paper_pruner_returns_a_valid_mask_with_biases(tiny_relu):
    for name in ("random", "magnitude", "snip", "grasp", "synflow", "synflow-100", "grasp-local", "edge-popup"):
        mask = get_pruner(name).prune(tiny_relu.host(), tiny_relu.pruner_data(), 0.1,
                                      generator=torch.Generator().manual_seed(0), budget=PAPER)
        validate_pruned_mask(mask, tiny_relu.arch, 0.1, True)


def test_the_budget_flag_follows_the_protocol_and_is_validated():
    assert pruning_budget(TrainConfig(), "paper").prunable_biases is True
    assert pruning_budget(TrainConfig(), "calibrated") == TrainConfig()
    with pytest.raises(ConfigError, match="prunable_biases"):
        TrainConfig(prunable_biases=1)


@pytest.fixture(scope="module")
def tiny_relu():
    from plantseek import plant
    from plantseek.planted.task import DataConfig

    return plant("relu", depth=4, width=12, seed=0, data=DataConfig(n_samples=300))
