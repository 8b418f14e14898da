"""WORM (Vasudev 2024, "The EarlyBird Gets the WORM: Heuristically Accelerating EarlyBird Convergence", NeurIPS
ENLSP workshop, PMLR 262): the early-bird search with the gradients of the static unimportant weights truncated.

Rule (``worm``), my reading of the paper: the early-bird search of :mod:`plantseek.baselines.early_bird` (dense
training at 10 x the budget's lr; after every epoch the global magnitude mask at the requested density; a FIFO queue
of the last ``window`` = 5 normalised Hamming distances between consecutive masks; stop as soon as the queue is full
and all its distances are below ε = 0.1, returning that epoch's mask) with WORM's heuristic: the weights left out of
**both** of the last two masks (:func:`static_weights`, the "unchanging groups of unimportant neurons" near the end
of the search) get their gradients truncated during the next epoch: they receive no update (the optimiser's step is
undone on them, so Adam's running moments cannot move them either) and stay at their current values, so that
training relies on the other weights and the mask settles sooner. A weight that re-enters the mask is released.

Adaptations: as for early-bird, weights by |w| instead of channels by batch-norm factors (no batch norm here), and
the truncation is per weight instead of per channel. The training loop is written here (truncation needs a hook
into each step; :func:`plantseek.train.loop.train_masks` has none): one network per density, through the network
protocol's ``forward`` (any host), with the budget's optimiser at 10 x lr (``torch.optim`` Adam or SGD of
:func:`plantseek.train.loop.make_optimizer`, not the fused flat kernel), batch size and per-epoch data order from
the density's generator; the optimiser state persists across epochs (early-bird resets it at each epoch boundary:
a difference). At most ``max(budget.epochs, 1)`` epochs; ``stopped[k]`` is the epoch whose mask was returned (None:
never settled, the last mask). ``frozen[k]`` counts the truncated weights in each epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import torch

from plantseek.baselines.early_bird import mask_distance, stop_index
from plantseek.nets.interface import network_parameters
from plantseek.nets.masks import Mask, prunable_parameter_shapes, select_top
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import BatchPruner, check_generators, derive_generator, full_mask, prepare_batch
from plantseek.train.config import biases_prunable, epoch_lr
from plantseek.train.loop import batches, make_optimizer


def static_weights(previous: Mask, current: Mask) -> Mask:
    """The weights pruned in both masks: WORM truncates their gradients in the next epoch."""
    return {n: ~previous[n] & ~current[n] for n in current}


def worm_stop(masks: Sequence[Mask], threshold: float, window: int) -> int | None:
    """The epoch (index into ``masks``, one mask per epoch) at which the search stops: the first whose queue of
    the last ``window`` consecutive distances is full and all below ``threshold``; None if none."""
    distances = [mask_distance(a, b) for a, b in zip(masks, masks[1:])]
    i = stop_index(distances, threshold, window)
    return None if i is None else i + 1


def train_epoch(arch, state: dict[str, torch.Tensor], static: Mask, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                y: torch.Tensor, loss, batch_size: int, order: torch.Generator) -> None:
    """One epoch of training ``state`` (leaf tensors) in place through ``arch.forward``, the ``static`` entries
    truncated: their gradients are zeroed and, after every step, their values restored (they do not move)."""
    pinned = {n: m.to(state[n].device) for n, m in static.items()}
    held = {n: state[n].detach()[m].clone() for n, m in pinned.items()}
    for idx in batches(x.shape[0], batch_size, order):
        optimizer.zero_grad(set_to_none=True)
        loss(arch.forward(state, x[idx]), y[idx]).backward()
        for n, m in pinned.items():
            if state[n].grad is not None:
                state[n].grad[m] = 0.0
        optimizer.step()
        with torch.no_grad():
            for n, m in pinned.items():
                state[n][m] = held[n]


@dataclass
class Worm(BatchPruner):
    name: str = "worm"
    description: str = ("early-bird search (dense training at 10x lr, per-epoch magnitude masks, stop when 5 "
                        "consecutive mask distances are < 0.1) with the gradients of weights pruned in the last two "
                        "masks truncated (WORM)")
    threshold: float = 0.1
    window: int = 5
    lr_factor: float = 10.0
    protocol: ClassVar[str] = "single-shot"
    distances: list[list[float]] = field(default_factory=list, init=False, repr=False, compare=False)
    stopped: list[int | None] = field(default_factory=list, init=False, repr=False, compare=False)
    frozen: list[list[int]] = field(default_factory=list, init=False, repr=False, compare=False)

    def prune_batch(self, model, data, densities: Sequence[float], *, generators: Sequence[torch.Generator],
                    budget) -> list[Mask]:
        ds = check_generators(densities, generators)
        self.distances, self.stopped, self.frozen = [[] for _ in ds], [None for _ in ds], [[] for _ in ds]
        masks = [full_mask(model, budget) if d == 1.0 else self._search(model, data, d, derive_generator(g), budget, k)
                 for k, (d, g) in enumerate(zip(ds, generators))]
        return masks

    def _search(self, model, data, density: float, order: torch.Generator, budget, k: int) -> Mask:
        config = budget.replace(lr=budget.lr * self.lr_factor)
        arch = model.arch
        state = {n: p.detach().clone().requires_grad_(True) for n, p in network_parameters(model).items()}
        weights = list(prunable_parameter_shapes(arch, biases_prunable(budget)))
        optimizer = make_optimizer(list(state.values()), config)
        x, y = prepare_batch(model, data.x, data.y)
        masks: list[Mask] = []
        static: Mask = {n: torch.zeros(state[n].shape, dtype=torch.bool) for n in weights}
        for epoch in range(max(1, budget.epochs)):
            for group in optimizer.param_groups:
                group["lr"] = epoch_lr(config, epoch)
            self.frozen[k].append(sum(int(s.sum()) for s in static.values()))
            train_epoch(arch, state, static, optimizer, x, y, data.loss, config.batch_size, order)
            new = select_top({n: state[n].detach().abs().cpu() for n in weights}, density)
            if masks:
                self.distances[k].append(mask_distance(masks[-1], new))
                static = static_weights(masks[-1], new)
            masks.append(new)
            if stop_index(self.distances[k], self.threshold, self.window) is not None:
                self.stopped[k] = len(masks) - 1
                break
        return masks[-1]


PRUNERS.register("worm")(declared(Worm, tags={"ticket-literature"}, rank=22))
