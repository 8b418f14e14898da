"""COLT (Hossain, Rakib, Elahi, Mohammed & Rahman 2023, "COLT: Cyclic Overlapping Lottery Tickets for Faster
Pruning of Convolutional Neural Networks", arXiv 2212.12770): tickets from the overlap of masks found on
partitions of the training data, cycled in fewer rounds than iterative magnitude pruning (IMP).

Rule (``colt``): split the training split into ``partitions`` (2) disjoint, equally large parts; repeat ``rounds``
(5) times: train one copy of the host per partition from the **initial** weights with the current mask
(``epochs_per_round`` = 2 epochs on that partition, the budget's optimiser, lr and batch size; rewinding as IMP),
rank each copy's surviving weights by magnitude |w|, and keep the **overlap** of the partitions' top sets at this
round's density ``density**(r/rounds)``: the overlap of top-``m`` sets is the set of weights whose *worst* rank
over the partitions is below ``m`` (:func:`overlap_scores`), and ``m`` is the smallest size whose overlap holds the
round's count, so the round keeps exactly ``kept_count(density**(r/rounds))`` weights (the last of them by their
worst rank, then position). Pruned weights are never revived.

Changes for small networks: COLT splits CIFAR's classes into two groups; the planted tasks include regressions
(ReLU, Helix) and Circle has 4 classes, so the split here is a seeded random split of the samples (class-balanced
in expectation), the remainder of an odd split dropped. COLT prunes a fixed fraction per cycle until the accuracy
drops; here the density schedule of the multi-shot protocol ends at the requested density. Cost: 5 rounds x 2
partitions x 2 epochs on half the data = 10 dense-epoch equivalents per density (IMP, ``magnitude-multishot``: 50).
``history[k]`` holds the mask of every round for the k-th density of the last call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import torch

from plantseek.nets.interface import network_parameters
from plantseek.nets.masks import Mask, select_top
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import (BatchPruner, check_generators, derive_generator, full_mask, model_dtype,
                                       prunable_parameters)
from plantseek.train import loop as training


def overlap_scores(scores: Sequence[dict[str, torch.Tensor]], allowed: Mask) -> dict[str, torch.Tensor]:
    """``-max_p rank_p(w)``: minus the worst rank of each weight over the partitions' scores (rank 0 = the largest
    score among the ``allowed`` weights of that partition; ties by position). The top ``k`` of these are the overlap
    of the partitions' top-``m`` sets for the smallest ``m`` that holds ``k`` weights (ties at the boundary by
    position)."""
    names = list(allowed)
    keep = torch.cat([allowed[n].reshape(-1) for n in names])
    worst = torch.zeros(keep.numel(), dtype=torch.float64)
    for s in scores:
        flat = torch.cat([s[n].detach().double().reshape(-1).cpu() for n in names])
        flat = torch.where(keep, flat, torch.tensor(-torch.inf, dtype=torch.float64))
        rank = torch.empty(flat.numel(), dtype=torch.float64)
        rank[torch.sort(flat, descending=True, stable=True).indices] = torch.arange(flat.numel(), dtype=torch.float64)
        worst = torch.maximum(worst, rank)
    out, start = {}, 0
    for n in names:
        size = allowed[n].numel()
        out[n] = -worst[start: start + size].reshape(allowed[n].shape)
        start += size
    return out


def partitions(n: int, parts: int, generator: torch.Generator) -> list[torch.Tensor]:
    """``parts`` disjoint index sets of ``n // parts`` samples each, from a seeded permutation."""
    perm = torch.randperm(n, generator=generator)
    size = n // parts
    return [perm[p * size: (p + 1) * size] for p in range(parts)]


@dataclass
class Colt(BatchPruner):
    name: str = "colt"
    description: str = ("cyclic overlapping lottery tickets: 5 rounds of {train from the initial weights on each of "
                        "2 data halves (2 epochs), keep the overlap of their magnitude masks}")
    partitions: int = 2
    rounds: int = 5
    epochs_per_round: int = 2
    protocol: ClassVar[str] = "multi-shot"
    history: list[list[Mask]] = field(default_factory=list, init=False, repr=False, compare=False)

    def prune_batch(self, model, data, densities: Sequence[float], *, generators: Sequence[torch.Generator],
                    budget) -> list[Mask]:
        ds = check_generators(densities, generators)
        split_gens = [derive_generator(g) for g in generators]
        train_gens = [[[derive_generator(g) for _ in range(self.partitions)] for _ in range(self.rounds)]
                      for g in generators]
        initial = {n: p.detach().clone() for n, p in network_parameters(model).items()}
        masks: list[Mask] = [full_mask(model, budget) for _ in ds]
        self.history = [[] for _ in ds]
        active = [k for k, d in enumerate(ds) if d < 1.0]
        parts = {k: partitions(data.x.shape[0], self.partitions, split_gens[k]) for k in active}
        config = budget.replace(epochs=self.epochs_per_round, prunable_biases=False)
        for r in range(1, self.rounds + 1):
            if not active:
                break
            jobs = [(k, p) for k in active for p in range(self.partitions)]
            trained = training.train_masks(
                model.arch, initial, [masks[k] for k, _ in jobs], [data.x[parts[k][p]] for k, p in jobs],
                [data.y[parts[k][p]] for k, p in jobs], data.loss, config,
                [train_gens[k][r - 1][p] for k, p in jobs], dtype=model_dtype(model))
            for i, k in enumerate(active):
                nets = trained[i * self.partitions: (i + 1) * self.partitions]
                scores = [{n: p.detach().abs() for n, p in prunable_parameters(net, budget).items()} for net in nets]
                masks[k] = select_top(overlap_scores(scores, masks[k]), ds[k] ** (r / self.rounds),
                                      allowed=masks[k])
                self.history[k].append(masks[k])
        return masks


PRUNERS.register("colt")(declared(Colt, tags={"ticket-literature"}, rank=23))
