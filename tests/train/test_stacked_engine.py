"""Engine 3's stacked training (plantseek.train.stacked) is batch-independent: a conv or attention network trains to
the same bytes alone, among other networks, in any position, in any chunk, with its own or a shared training set; a
stacked kernel that rounds by the number of networks is caught by the probe and trained against the reference."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from plantseek.families.conv.network import ConvArchitecture, ConvLayer
from plantseek.planted.task import get_task
from plantseek.train.config import TrainConfig
from plantseek.train.stacked import stack_plan, train_masks_stacked


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as in the grid's worker processes


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


HOSTS = {
    "conv": lambda: get_task("bars", image_size=12).host_architecture(4, 12),  # conv-default's bars host
    "attention": lambda: get_task("recall").host_architecture(3, 16),
}


def problem(arch, n: int = 70, seed: int = 0):
    """Inputs, labels, four random masks (one dense) and their generators' seeds."""
    x = torch.randn(n, *arch.input_shape, generator=gen(seed + 1))
    y = torch.randint(0, 4, (n,), generator=gen(seed + 2))
    masks = [{name: torch.rand(s, generator=gen(seed + 10 + i)) < d for name, s in arch.prunable_shapes().items()}
             for i, d in enumerate((0.05, 0.3, 0.8))] + [None]
    return x, y, masks


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)


CONFIG = TrainConfig(epochs=2, batch_size=16, lr=1e-2)


@pytest.mark.parametrize("host", list(HOSTS))
def test_a_network_trains_to_the_same_bytes_alone_and_in_any_stack(host):
    """Pairs (the CPU's default stack), stacks of three and four, one network per stack (padded where the probe says
    so), in either order."""
    arch = HOSTS[host]()
    init = arch.init(gen(0))
    x, y, masks = problem(arch)
    loss = torch.nn.functional.cross_entropy

    def train(order, **kw):
        out = train_masks_stacked(arch, init, [masks[i] for i in order], x, y, loss, CONFIG,
                                  [gen(100 + i) for i in order], **kw)
        return dict(zip(order, out))

    alone = {i: train([i])[i] for i in range(4)}
    for order, kw in (([0, 1, 2, 3], {}), ([3, 2, 1, 0], {}), ([2, 0], {}), ([0, 1, 2, 3], {"chunk": 3}),
                      ([1, 3, 0, 2], {"chunk": 1}), ([3, 1, 2, 0], {"chunk": 4})):
        got = train(order, **kw)
        for i in order:
            assert same(got[i], alone[i]), (host, order, kw, i)
    # the trained networks moved, and pruned weights are exactly zero
    for i, m in enumerate(masks):
        assert any(not torch.equal(alone[i][n], init[n].float()) for n in init)
        if m is not None:
            assert all(bool((alone[i][n][~m[n]] == 0).all()) for n in m)


def test_networks_of_different_instances_train_as_with_their_own_data_alone():
    arch = HOSTS["conv"]()
    inits = [arch.init(gen(s)) for s in (0, 1)]
    (x0, y0, masks), (x1, y1, _) = problem(arch, seed=0), problem(arch, seed=50)
    loss = torch.nn.functional.cross_entropy
    both = train_masks_stacked(arch, inits, masks[:2], [x0, x1], [y0, y1], loss, CONFIG, [gen(7), gen(8)])
    first = train_masks_stacked(arch, inits[0], masks[:1], x0, y0, loss, CONFIG, [gen(7)])[0]
    second = train_masks_stacked(arch, [inits[1]], masks[1:2], [x1], [y1], loss, CONFIG, [gen(8)])[0]
    assert same(both[0], first) and same(both[1], second)


@dataclass(frozen=True)
class RoundsByStack(ConvArchitecture):
    """A conv host whose stacked forward pass rounds differently once more than two networks are stacked (as a
    kernel that chose another algorithm for larger stacks would)."""

    def forward_stacked(self, params, x, mask=None, **options):
        out = super().forward_stacked(params, x, mask, **options)
        return out * (1 + 1e-3) if x.shape[0] > 2 else out


def test_a_stack_that_rounds_by_its_size_is_caught_and_trained_against_the_reference():
    arch = RoundsByStack(1, 8, (ConvLayer(4, 3, 1, 1, 2), ConvLayer(4, 3, 1, 1, 4)), 4)
    assert stack_plan(arch, 2, 16, torch.float32, ()) == "stack"  # the reference itself
    assert stack_plan(arch, 3, 16, torch.float32, ()) == "pairs"
    init = arch.init(gen(0))
    x, y, masks = problem(arch)
    loss = torch.nn.functional.cross_entropy
    together = train_masks_stacked(arch, init, masks[:3], x, y, loss, CONFIG, [gen(1), gen(2), gen(3)], chunk=3)
    pair = train_masks_stacked(arch, init, masks[:2], x, y, loss, CONFIG, [gen(1), gen(2)])
    assert same(together[0], pair[0]) and same(together[1], pair[1])
    # without the probe (exact=False, as on a GPU) the stack of three rounds its own way
    loose = train_masks_stacked(arch, init, masks[:3], x, y, loss, CONFIG, [gen(1), gen(2), gen(3)], chunk=3,
                                exact=False)
    assert not same(loose[0], pair[0])


def test_a_shared_generator_is_drawn_network_after_network_across_chunks():
    """One generator object serving two networks: each draws as the per-network path would (all epochs of the first
    network, then the second), whatever the chunks."""
    arch = HOSTS["attention"]()
    init = arch.init(gen(0))
    x, y, masks = problem(arch)
    loss = torch.nn.functional.cross_entropy
    shared = gen(9)
    one_chunk = train_masks_stacked(arch, init, masks[:2], x, y, loss, CONFIG, [shared, shared])
    shared = gen(9)
    two_chunks = train_masks_stacked(arch, init, masks[:2], x, y, loss, CONFIG, [shared, shared], chunk=1)
    assert all(same(a, b) for a, b in zip(one_chunk, two_chunks))
    g = gen(9)
    first = train_masks_stacked(arch, init, masks[:1], x, y, loss, CONFIG, [g])[0]
    second = train_masks_stacked(arch, init, masks[1:2], x, y, loss, CONFIG, [g])[0]
    assert same(one_chunk[0], first) and same(one_chunk[1], second)


class Unhashable(ConvArchitecture):
    """A plug-in's architecture that cannot be a cache key."""

    __hash__ = None  # type: ignore[assignment]


def test_an_architecture_that_cannot_be_hashed_is_probed_without_the_cache():
    arch = Unhashable(1, 8, (ConvLayer(4, 3, 1, 1, 2), ConvLayer(4, 3, 1, 1, 4)), 4)
    with pytest.raises(TypeError):
        hash(arch)
    init = arch.init(gen(0))
    x, y, masks = problem(arch)
    loss = torch.nn.functional.cross_entropy
    pair = train_masks_stacked(arch, init, masks[:2], x, y, loss, CONFIG, [gen(1), gen(2)])
    alone = train_masks_stacked(arch, init, masks[:1], x, y, loss, CONFIG, [gen(1)])
    assert same(pair[0], alone[0])
