"""SET and RigL: exact counts at every update, the drop and grow rules by hand, zero-started grown weights."""

from __future__ import annotations

import math

import pytest
import torch

from plantseek import plant
from plantseek.planted.task import DataConfig
from plantseek.prune.contract import get_pruner
from plantseek.prune.dynamic import DSTConfig, DynamicSparse, annealed_fraction, drop_and_grow, update_masks
from plantseek.prune.layerwise import layer_kept_counts
from plantseek.nets.masks import kept_count, mask_count
from plantseek.train.config import TrainConfig


def test_drop_smallest_magnitude_and_grow_largest_gradient_by_hand():
    mask = torch.tensor([[True, True, True], [False, False, False]])
    weight = torch.tensor([[0.5, -0.1, 0.3], [0.0, 0.0, 0.0]])
    grad = torch.tensor([[9.0, 9.0, 9.0], [0.2, -0.9, 0.4]])  # active entries' gradients must not matter
    new, dropped, grown = drop_and_grow(mask, weight, grad.abs(), 1 / 3)  # round(1/3 * 3) = 1 swap
    assert dropped.tolist() == [[False, True, False], [False, False, False]]
    assert grown.tolist() == [[False, False, False], [False, True, False]]
    assert new.tolist() == [[True, False, True], [False, True, False]]
    new2, dropped2, grown2 = drop_and_grow(mask, weight, grad.abs(), 2 / 3)  # two swaps
    assert dropped2.tolist() == [[False, True, True], [False, False, False]]
    assert grown2.tolist() == [[False, False, False], [False, True, True]]
    assert int(new2.sum()) == 3


def test_just_dropped_weights_are_not_regrown_and_the_count_is_capped():
    mask = torch.tensor([True, True, True, False])
    new, dropped, grown = drop_and_grow(mask, torch.tensor([1.0, 2.0, 3.0, 0.0]), torch.tensor([5.0, 5, 5, 0]), 1.0)
    assert int(dropped.sum()) == int(grown.sum()) == 1 and bool(grown[3]) and bool(dropped[0])


def test_cosine_annealing_of_the_drop_fraction():
    cfg = DSTConfig(drop_fraction=0.3, end_fraction=0.75)
    assert annealed_fraction(0, 1000, cfg) == pytest.approx(0.3)
    assert annealed_fraction(375, 1000, cfg) == pytest.approx(0.15)
    assert annealed_fraction(750, 1000, cfg) == 0.0 and annealed_fraction(900, 1000, cfg) == 0.0


def test_update_resets_grown_and_dropped_weights_and_optimizer_state():
    w = torch.tensor([[[0.5, -0.1, 0.3, 0.0]]], requires_grad=True)  # K = 1 network, one (1, 4) layer
    masks = {"w": torch.tensor([[[1.0, 1.0, 1.0, 0.0]]])}
    opt = torch.optim.Adam([w], lr=0.1)
    w.grad = torch.ones_like(w)
    opt.step()
    with torch.no_grad():
        w.mul_(masks["w"])
    grads = {"w": torch.tensor([[[0.0, 0.0, 0.0, 7.0]]])}
    update_masks({"w": w}, masks, grads, opt, 1 / 3, "gradient", [torch.Generator().manual_seed(0)])
    assert masks["w"].tolist() == [[[1.0, 0.0, 1.0, 1.0]]]
    assert w[0, 0, 1].item() == 0.0 and w[0, 0, 3].item() == 0.0  # dropped and grown weights are zero
    for key in ("exp_avg", "exp_avg_sq"):
        state = opt.state[w][key]
        assert state[0, 0, 1].item() == 0.0 and state[0, 0, 3].item() == 0.0 and state[0, 0, 0].item() != 0.0


@pytest.fixture(scope="module")
def instance():
    return plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=400))


@pytest.mark.parametrize("name, grow", [("set", "random"), ("rigl", "gradient")])
def test_exact_count_at_every_update(name, grow, instance):
    registered = get_pruner(name)
    assert registered.dst.grow == grow and registered.init_rule == "erk"
    # the registered configuration, updating every 5 steps (the small instance has 12 steps per epoch)
    pruner = DynamicSparse(DSTConfig(grow=grow, drop_fraction=0.3, update_every=5), init_rule="erk", name=name)
    densities = [0.1, 0.3]
    masks = pruner.prune_batch(instance.host(), instance.pruner_data(), densities, budget=TrainConfig(epochs=2),
                               generators=[torch.Generator().manual_seed(i) for i in range(2)])
    shapes = instance.arch.weight_shapes()
    n = instance.arch.n_prunable
    steps = 2 * math.ceil(400 * 0.9 / 32)  # updates every 5 steps while step < 0.75 T
    assert len(pruner.history[0]) == len([s for s in range(1, steps + 1) if s % 5 == 0 and s < 0.75 * steps])
    for k, d in enumerate(densities):
        counts = layer_kept_counts("erk", d, shapes)
        assert pruner.history[k], "no update happened"
        for m in pruner.history[k] + [masks[k]]:
            assert {l: int(m[l].sum()) for l in shapes} == counts
            assert mask_count(m) == kept_count(d, n)
    start = pruner.prune_batch(instance.host(), instance.pruner_data(), [0.1], budget=TrainConfig(epochs=0),
                               generators=[torch.Generator().manual_seed(0)])[0]  # the initial ERK mask alone
    assert any(not torch.equal(start[l], masks[0][l]) for l in shapes)  # the updates moved weights


def test_train_step_returns_the_dense_gradient_and_keeps_pruned_weights_at_zero():
    """RigL grows by the gradient at pruned positions too: train_step's dense gradient equals the gradient of the
    loss of the masked network with respect to its (zero) pruned weights, computed here with plain autograd."""
    from plantseek.families.mlp.network import Architecture, he_init
    from plantseek.train.sparse_step import train_step

    arch = Architecture((2, 5, 3))
    state = {n: v.float() for n, v in he_init(arch, torch.Generator().manual_seed(0)).items()}
    g = torch.Generator().manual_seed(1)
    masks = {n: (torch.rand((1, *s), generator=g) < 0.5).float() for n, s in arch.prunable_shapes().items()}
    x, y = torch.randn(8, 2, generator=g), torch.randint(0, 3, (8,), generator=g)
    effective = {n: (v * masks[n][0] if n in masks else v).clone().requires_grad_(True) for n, v in state.items()}
    loss = torch.nn.functional.cross_entropy(arch.forward(effective, x), y)
    expected = torch.autograd.grad(loss, [effective[n] for n in masks])
    params = {n: effective[n].detach()[None].clone().requires_grad_(True) for n in state}
    opt = torch.optim.SGD(list(params.values()), lr=0.1)
    grads = train_step(arch, params, masks, x, y, torch.arange(8)[None], torch.nn.functional.cross_entropy, opt,
                       dense_grads=True)
    for n, e in zip(masks, expected):
        assert torch.allclose(grads[n][0], e, atol=1e-7)
        assert bool((e[masks[n][0] == 0] != 0).any())  # pruned positions do get a gradient
        assert bool((params[n][0][masks[n][0] == 0] == 0).all())  # and stay at zero after the step
        active = masks[n][0] == 1
        assert torch.allclose(params[n][0][active], (effective[n] - 0.1 * e)[active].detach(), atol=1e-7)
