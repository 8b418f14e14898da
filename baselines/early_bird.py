"""Early-bird tickets (You, Li, Xu, Fu, Wang, Chen, Baraniuk, Wang & Lin 2020, "Drawing early-bird tickets:
towards more efficient training of deep networks", ICLR), adapted to unstructured masks.

Update rule: train the *dense* network with a large learning rate; after every epoch draw the global magnitude
mask at the requested density (:class:`plantseek.baselines.magnitude.Magnitude` with
:func:`plantseek.nets.masks.select_top`); keep the distances between consecutive masks in a FIFO queue of length
``window``; stop as soon as the queue is full and its largest distance is below ``threshold``, and return that
epoch's mask (the early-bird ticket). If the masks never settle within ``max(budget.epochs, 1)`` epochs, the last
epoch's mask is returned (``stopped[k]`` says which).

Adaptation: You et al. prune channels by batch-norm scaling factors; here weights by |w| (no batch norm), and the
mask distance is the normalised Hamming distance ``|a xor b| / (|a| + |b|)``: the fraction of kept weights that
changed (0: equal masks, 1: disjoint). Normalising by all weights instead, as for channel masks at moderate
density, would put every pair of masks at density 0.01 within 0.02 of each other and stop at once.

Hyper-parameters: ε = 0.1 and queue length 5 (You et al.'s); the large learning rate is **10 × the budget's**
with the budget's optimiser (Adam 1e-2, batch 32; changed: You et al. train with SGD at lr 0.1, momentum 0.9,
before the first decay, and SGD at 0.1 diverges to NaN on Helix and ReLU here, at 0.01 still on ReLU — measured).
Training goes through :func:`plantseek.train.loop.train_masks`, one epoch per call with all densities together
(so the optimiser state is reset at each epoch boundary: a change, to draw a mask every epoch with the harness's
trainer); each density trains its own dense network with its own data order, so a cell does not depend on the
others. Cost: at most ``budget.epochs`` (10) dense epochs per density, 6 when the ticket is drawn at the first
possible epoch (a trial on the default hosts: 6 epochs for most densities, 8–9 or all 10 for some on Circle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import torch

from plantseek.baselines.magnitude import Magnitude
from plantseek.nets.interface import network_parameters
from plantseek.prune.contract import PRUNERS, declared
from plantseek.nets.masks import Mask, mask_count, select_top
from plantseek.prune.schedules import BatchPruner, check_generators, derive_generator, full_mask, model_dtype
from plantseek.train import loop as training


def mask_distance(a: Mask, b: Mask) -> float:
    """Normalised Hamming distance ``|a xor b| / (|a| + |b|)`` (0 for equal masks, 1 for disjoint ones)."""
    changed = sum(int((a[n] ^ b[n]).sum()) for n in a)
    return changed / max(1, mask_count(a) + mask_count(b))


def stop_index(distances: Sequence[float], threshold: float, window: int) -> int | None:
    """The first ``i`` such that ``distances[i - window + 1 .. i]`` (a full queue) are all below ``threshold``;
    None if there is none. ``distances[i]`` is the distance between the masks of epochs ``i`` and ``i + 1``."""
    for i in range(window - 1, len(distances)):
        if max(distances[i - window + 1: i + 1]) < threshold:
            return i
    return None


@dataclass
class EarlyBird(BatchPruner):
    name: str = "early-bird"
    description: str = ("dense training at a large lr; the global magnitude mask of the first epoch at which "
                        "5 consecutive mask distances are < 0.1 (early-bird ticket)")
    threshold: float = 0.1
    window: int = 5
    lr_factor: float = 10.0
    protocol: ClassVar[str] = "single-shot"
    distances: list[list[float]] = field(default_factory=list, init=False, repr=False, compare=False)
    stopped: list[int | None] = field(default_factory=list, init=False, repr=False, compare=False)

    def prune_batch(self, model, data, densities: Sequence[float], *, generators: Sequence[torch.Generator],
                    budget) -> list[Mask]:
        ds = check_generators(densities, generators)
        config = budget.replace(epochs=1, lr=budget.lr * self.lr_factor)
        orders = [derive_generator(g) for g in generators]
        dense = full_mask(model)
        state = {n: p.detach().clone() for n, p in network_parameters(model).items()}
        states = {k: state for k, d in enumerate(ds) if d < 1.0}
        masks: list[Mask] = [dense for _ in ds]
        self.distances, self.stopped = [[] for _ in ds], [None for _ in ds]
        scorer = Magnitude()
        for _ in range(max(1, budget.epochs)):
            if not states:
                break
            active = list(states)
            trained = training.train_masks(model.arch, [states[k] for k in active], [dense] * len(active), data.x,
                                           data.y, data.loss, config, [orders[k] for k in active],
                                           dtype=model_dtype(model))
            for k, net in zip(active, trained):
                s = scorer.scores(net, data, generator=generators[k], budget=budget, mask=None)
                new = select_top(s, ds[k])
                if masks[k] is not dense:
                    self.distances[k].append(mask_distance(masks[k], new))
                masks[k] = new
                states[k] = {n: p.detach().clone() for n, p in network_parameters(net).items()}
                if stop_index(self.distances[k], self.threshold, self.window) is not None:
                    self.stopped[k] = len(self.distances[k])  # the epoch (0-based) whose mask is returned
                    del states[k]
        return masks


PRUNERS.register("early-bird")(declared(EarlyBird, tags={"modern"}, rank=12))
