"""PHEW's masks are unions of input->output paths; early-bird stops when its masks stabilise."""

from __future__ import annotations

import pytest
import torch

from plantseek import plant
from plantseek.baselines.early_bird import EarlyBird, mask_distance, stop_index
from plantseek.planted.task import DataConfig
from plantseek.prune.contract import get_pruner
from plantseek.nets.masks import kept_count, mask_count
from plantseek.train.config import TrainConfig


@pytest.fixture(scope="module")
def instance():
    return plant("circle", depth=5, width=20, seed=0, data=DataConfig(n_samples=400))


def dangling_and_paths(mask, names):
    """(number of kept weights not on any input->output path, whether some input reaches some output), computed
    by forward and backward reachability over the kept weights, written independently of the pruner."""
    ws = [mask[n] for n in names]
    from_input = [torch.ones(ws[0].shape[1], dtype=torch.bool)]
    for w in ws:
        from_input.append((w & from_input[-1][None, :]).any(dim=1))
    to_output = [torch.ones(ws[-1].shape[0], dtype=torch.bool)]
    for w in reversed(ws):
        to_output.insert(0, (w & to_output[0][:, None]).any(dim=0))
    dangling = sum(int((w & ~(to_output[l + 1][:, None] & from_input[l][None, :])).sum()) for l, w in enumerate(ws))
    return dangling, bool(from_input[-1].any())


@pytest.mark.parametrize("density", ["ticket", 0.01, 0.1, 0.5])
def test_phew_masks_are_paths_with_no_dangling_weight(instance, density):
    d = instance.ticket_density if density == "ticket" else density
    mask = get_pruner("phew").prune(instance.host(), instance.pruner_data(), d,
                                    generator=torch.Generator().manual_seed(0), budget=TrainConfig(epochs=1))
    assert mask_count(mask) == kept_count(d, instance.arch.n_prunable)
    dangling, connected = dangling_and_paths(mask, list(instance.arch.weight_shapes()))
    assert connected and dangling == 0


@pytest.mark.parametrize("density", [0.01, 0.1])
def test_phew_on_a_conv_host_keeps_channel_paths_with_no_dangling_entry(density):
    """On a CNN a unit is a channel: every kept kernel (or head) entry joins a channel reached from the input to one
    that reaches an output; checked on the channel graph (an entry kept = its channel pair joined)."""
    from plantseek.families.conv.network import ConvArchitecture, ConvLayer
    from plantseek.nets.interface import NetworkModule

    arch = ConvArchitecture(1, 8, (ConvLayer(6, kernel=3, pool=2), ConvLayer(6, kernel=3)), 3)
    host = NetworkModule(arch, arch.init(torch.Generator().manual_seed(0)))
    mask = get_pruner("phew").prune(host, None, density, generator=torch.Generator().manual_seed(1), budget=None)
    assert mask_count(mask) == kept_count(density, arch.n_prunable)
    names = list(arch.weight_shapes())
    joined = {n: mask[n].flatten(2).any(dim=2) for n in names}
    dangling, connected = dangling_and_paths(joined, names)
    assert connected and dangling == 0


def test_the_path_checker_sees_a_dangling_weight():
    path = {"a": torch.tensor([[True, False], [False, False]]), "b": torch.tensor([[True, False]])}
    assert dangling_and_paths(path, ["a", "b"]) == (0, True)  # input 0 -> hidden 0 -> output 0
    cut = {"a": torch.tensor([[False, False], [True, False]]), "b": torch.tensor([[True, False]])}
    assert dangling_and_paths(cut, ["a", "b"]) == (2, False)
    broken = {"a": torch.tensor([[False, True], [True, False]]), "b": torch.tensor([[True, False]])}
    assert dangling_and_paths(broken, ["a", "b"]) == (1, True)  # a[1, 0] leads to a unit with no way out


def test_mask_distance_by_hand():
    a = {"w": torch.tensor([True, True, False, False])}
    b = {"w": torch.tensor([True, False, True, False])}
    assert mask_distance(a, a) == 0.0 and mask_distance(a, b) == pytest.approx(2 / 4)
    assert mask_distance(a, {"w": ~a["w"]}) == 1.0


def test_early_bird_stops_when_the_queue_of_distances_settles():
    # distances between consecutive masks; window 3, threshold 0.1
    assert stop_index([0.5, 0.3, 0.05, 0.08, 0.09, 0.01], 0.1, 3) == 4
    assert stop_index([0.5, 0.05, 0.05, 0.2, 0.05, 0.05], 0.1, 3) is None  # never three in a row
    assert stop_index([0.05, 0.05], 0.1, 3) is None  # the queue is not full yet
    assert stop_index([0.0] * 5, 0.1, 5) == 4


def test_early_bird_returns_the_mask_of_the_stopping_epoch(instance, monkeypatch):
    import plantseek.baselines.early_bird as eb

    # hand-made sequence of trained networks: the magnitude masks change for 3 epochs, then stay put
    pruner = EarlyBird(threshold=0.1, window=2)
    seen = []
    real = eb.select_top

    def spy(scores, density, **kw):
        seen.append(real(scores, density, **kw))
        return seen[-1]

    monkeypatch.setattr(eb, "select_top", spy)
    (mask,) = pruner.prune_batch(instance.host(), instance.pruner_data(), [0.1], budget=TrainConfig(epochs=10),
                                 generators=[torch.Generator().manual_seed(0)])
    stop = pruner.stopped[0]
    dists = pruner.distances[0]
    assert len(seen) == len(dists) + 1
    assert dists == [mask_distance(seen[i], seen[i + 1]) for i in range(len(seen) - 1)]
    if stop is None:
        assert len(seen) == 10 and all(torch.equal(mask[n], seen[-1][n]) for n in mask)
    else:
        assert stop == len(seen) - 1 and max(dists[-2:]) < 0.1 and stop_index(dists[:-1], 0.1, 2) is None
        assert all(torch.equal(mask[n], seen[stop][n]) for n in mask)


def test_early_bird_on_a_scripted_training_stops_once_masks_settle(instance, monkeypatch):
    """A hand-made training: epochs 1-3 give unrelated random weights, from epoch 4 on the same weights. With a
    queue of 2 the distances are (big, big, 0, 0): the rule fires after epoch 5, returning its mask."""
    from plantseek.train import loop as training

    arch, shapes = instance.arch, instance.arch.parameter_shapes()
    g = torch.Generator().manual_seed(5)
    script = [{n: torch.randn(s, generator=g) for n, s in shapes.items()} for _ in range(3)]
    script += [script[-1]] * 20
    calls = []

    def scripted(arch_, states, masks, *args, **kwargs):
        calls.append(len(masks))
        return [arch.build(script[len(calls) - 1]) for _ in masks]

    monkeypatch.setattr(training, "train_masks", scripted)
    pruner = EarlyBird(threshold=0.1, window=2)
    (mask,) = pruner.prune_batch(instance.host(), instance.pruner_data(), [0.1], budget=TrainConfig(epochs=10),
                                 generators=[torch.Generator().manual_seed(0)])
    assert len(calls) == 5 and pruner.stopped == [4]
    assert pruner.distances[0][0] > 0.5 and pruner.distances[0][2:] == [0.0, 0.0]
    expected = {n: script[3][n].abs() for n in instance.arch.weight_shapes()}
    flat = torch.cat([v.flatten() for v in expected.values()])
    threshold = torch.sort(flat, descending=True).values[kept_count(0.1, flat.numel()) - 1]
    assert all(torch.equal(mask[n], expected[n] >= threshold) for n in mask)
