"""LRR and weight rewinding: where every round's training starts, and that no pruned weight is revived."""

from __future__ import annotations

import pytest
import torch

from plantseek import plant
from plantseek.baselines.magnitude import Magnitude
from plantseek.nets.interface import network_parameters
from plantseek.planted.task import DataConfig
from plantseek.nets.masks import kept_count, mask_count
from plantseek.prune.rewinding import Rewinding
from plantseek.train import loop as training
from plantseek.train.config import TrainConfig

BUDGET = TrainConfig(epochs=1)


@pytest.fixture(scope="module")
def instance():
    return plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=200))


def recorded(monkeypatch):
    """Wrap the harness trainer: record each call's start states, masks and returned weights."""
    calls = []
    real = training.train_masks

    def spy(arch, initial_state, masks, *args, **kwargs):
        nets = real(arch, initial_state, masks, *args, **kwargs)
        starts = initial_state if isinstance(initial_state, list) else [initial_state] * len(masks)
        calls.append(([{n: v.clone() for n, v in s.items()} for s in starts], list(masks),
                      [{n: p.detach().clone() for n, p in network_parameters(net).items()} for net in nets]))
        return nets

    monkeypatch.setattr(training, "train_masks", spy)
    return calls


def same(a, b):
    return all(torch.equal(a[n].float(), b[n].float()) for n in a)


def test_lrr_retrains_from_the_current_weights_and_never_revives(instance, monkeypatch):
    calls = recorded(monkeypatch)
    pruner = Rewinding(Magnitude(), rewind="learning-rate", rounds=3, epochs_per_round=1)
    host = instance.host()
    initial = {n: p.detach().clone() for n, p in network_parameters(host).items()}
    d = 0.05
    (mask,) = pruner.prune_batch(host, instance.pruner_data(), [d], generators=[torch.Generator().manual_seed(0)],
                                 budget=BUDGET)
    assert len(calls) == 3
    assert same(calls[0][0][0], initial)  # round 1 starts at the initial weights
    for r in (1, 2):  # round r+1 starts from the weights round r returned (trained, pruned ones zero)
        assert same(calls[r][0][0], calls[r - 1][2][0])
        assert not same(calls[r][0][0], initial)
    history = pruner.history[0]
    for r, m in enumerate(history):
        assert mask_count(m) == kept_count(d ** ((r + 1) / 3), instance.arch.n_prunable)
        before = calls[r][1][0]  # the mask that round trained with
        assert all(not bool((m[n] & ~before[n]).any()) for n in m)  # never revived
        # the kept weights are the largest |w| of the trained survivors (independent re-selection)
        trained = calls[r][2][0]
        kept = torch.cat([trained[n].abs()[m[n]] for n in m])
        dropped = torch.cat([trained[n].abs()[before[n] & ~m[n]] for n in m])
        assert kept.min() >= dropped.max()
    assert same(mask, history[-1])

def test_weight_rewinding_restarts_every_round_from_the_early_iterate(instance, monkeypatch):
    calls = recorded(monkeypatch)
    pruner = Rewinding(Magnitude(), rewind="iterate", rounds=2, epochs_per_round=1, rewind_epochs=1)
    host = instance.host()
    initial = {n: p.detach().clone() for n, p in network_parameters(host).items()}
    pruner.prune_batch(host, instance.pruner_data(), [0.1], generators=[torch.Generator().manual_seed(0)],
                       budget=BUDGET)
    assert len(calls) == 3  # the dense iterate, then two rounds
    iterate_start, iterate_masks, iterate = calls[0]
    assert same(iterate_start[0], initial) and all(bool(m.all()) for m in iterate_masks[0].values())
    assert not same(iterate[0], initial)
    assert same(calls[1][0][0], iterate[0]) and same(calls[2][0][0], iterate[0])


def test_prune_equals_prune_batch_per_density(instance):
    pruner = Rewinding(Magnitude(), rewind="learning-rate", rounds=2, epochs_per_round=1)
    data = instance.pruner_data()
    batch = pruner.prune_batch(instance.host(), data, [0.05, 0.2], budget=BUDGET,
                               generators=[torch.Generator().manual_seed(3), torch.Generator().manual_seed(4)])
    alone = pruner.prune(instance.host(), data, 0.2, generator=torch.Generator().manual_seed(4), budget=BUDGET)
    assert same(batch[1], alone)
