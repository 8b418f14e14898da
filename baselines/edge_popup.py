"""Edge-popup (Ramanujan et al. 2020): strong tickets from learned scores on frozen weights and biases.

Every weight and every bias of the host gets a score; the forward pass uses the host's *frozen initial*
parameters restricted to the top-|score| entries of each layer, and the scores learn through a straight-through
gradient (the top-k step is treated as the identity on |score|). The weights and biases are never changed.

* Per layer (local) selection: exactly ``layer_counts(density, sizes)`` weights per layer (the exact total
  ``kept_count(density)``), and for the biases the top fraction ``density`` of each layer, at least one
  (``kept_count(density, n_out)``). The returned mask has an entry per maskable bias (``layers.{l}.bias`` for the
  MLP); density counts weights only. With prunable biases (the budget's ``prunable_biases``, the paper's protocol)
  density counts weights and biases, and every weight and bias tensor keeps its ``layer_counts`` share of the
  exact total ``kept_count(density, weights + biases)`` (largest remainders). Final masks are chosen with
  :func:`plantseek.nets.masks.select_top` (ties by position); during training ``torch.topk`` picks the same sets
  up to exact ties of scores. The host is reached through the network protocol (:mod:`plantseek.nets.interface`):
  its parameters, ``fan_in`` for the initial scores, and ``forward_stacked`` with straight-through masks for the K
  score sets.
* Training: SGD momentum 0.9, weight decay 5e-4 (on the scores), lr 0.1 with a per-epoch cosine schedule,
  batch 32, ``budget.epochs`` epochs (10 by default). Scores start ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (the
  Kaiming-uniform initialisation of the original code), drawn from the pruner's generator.
* Objective: the task loss (cross-entropy or MSE) of the masked host's **raw outputs**, with no softmax or other
  readout. (The harness evaluates the mask on the host's initial weights with the scale-corrected readout of
  :mod:`plantseek.score.evaluation`; the planted output scales are not known to a pruner.)
* ``edge-popup-annealed`` keeps density**(i/E) in epoch i = 1..E and ends at the requested density.

:meth:`EdgePopup.prune_batch` trains the score sets of several densities of one instance together (one stacked
forward pass per step; each density keeps its own generator for the initial scores and the data order);
:meth:`EdgePopup.prune` is ``prune_batch`` with one density. ``history[k]`` lists, for the k-th density of the last
call, the per-layer kept counts (weights and biases) of the mask in force at the end of each epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import torch

from plantseek.nets.masks import (Mask, kept_count, layer_counts, prunable_parameter_shapes, select_top)
from plantseek.nets.interface import network_parameters
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import BatchPruner, check_generators, derive_generator, model_device, model_dtype
from plantseek.train.config import TrainConfig, biases_prunable, epoch_lr
from plantseek.train.loop import batches, make_optimizer


def epoch_densities(density: float, epochs: int, anneal: bool) -> list[float]:
    """The density in force in each epoch: ``density**(i/E)`` in epoch i = 1..E when annealing, else
    ``density`` throughout (the last epoch always uses ``density`` itself)."""
    if not anneal:
        return [density] * epochs
    return [density if i == epochs else density ** (i / epochs) for i in range(1, epochs + 1)]


def _top_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """0/1 mask (in ``scores``' dtype) of the ``k`` largest entries of a 1-D tensor."""
    m = torch.zeros_like(scores)
    if k >= scores.numel():
        return m.fill_(1)
    m[torch.topk(scores, k, sorted=False).indices] = 1
    return m


@dataclass
class EdgePopup(BatchPruner):
    """Edge-popup: learned scores, straight-through top-k per layer, frozen weights and biases."""

    name: str = "edge-popup"
    description: str = "learned scores on frozen weights and biases, top-k per layer (straight-through)"
    anneal: bool = False
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 32
    protocol: ClassVar[str] = "strong"
    history: list[list[dict[str, int]]] = field(default_factory=list, init=False, repr=False, compare=False)

    def train_config(self, budget) -> TrainConfig:
        return TrainConfig(epochs=budget.epochs, batch_size=self.batch_size, lr=self.lr, optimizer="sgd",
                           momentum=self.momentum, weight_decay=self.weight_decay, schedule="cosine")

    def prune_batch(self, model, data, densities: Sequence[float], *, generators: Sequence[torch.Generator],
                    budget) -> list[Mask]:
        ds = check_generators(densities, generators)
        config = self.train_config(budget)
        arch = model.arch
        dtype, device = model_dtype(model), model_device(model)
        frozen = {n: p.detach().expand(len(ds), *p.shape) for n, p in network_parameters(model).items()}

        # initial scores and data order, per density from its own generator
        scores = _initial_scores(arch, [derive_generator(g) for g in generators], device, dtype)
        order_gens = [derive_generator(g) for g in generators]
        weight_names = list(arch.prunable_shapes())
        optimizer = make_optimizer([scores[n] for n in weight_names] +
                                   [s for n, s in scores.items() if n not in weight_names], config)

        x = data.x.to(device=device, dtype=dtype)
        y = data.y.to(device=device, dtype=dtype) if data.y.is_floating_point() else data.y.to(device)
        schedule = [epoch_densities(d, config.epochs, self.anneal) for d in ds]
        self.history = [[] for _ in ds]
        for epoch in range(config.epochs):
            for group in optimizer.param_groups:
                group["lr"] = epoch_lr(config, epoch)
            counts = [_kept_counts(arch, s[epoch], biases_prunable(budget)) for s in schedule]
            for idxs in zip(*(batches(x.shape[0], config.batch_size, g) for g in order_gens)):
                idx = torch.stack(idxs).to(device)
                out = arch.forward_stacked(frozen, x[idx], _straight_through(self.effective_scores(scores), counts))
                loss = sum(data.loss(out[k], y[idx[k]]) for k in range(len(ds)))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            for k in range(len(ds)):
                self.history[k].append({n: int(_top_mask(s[k].detach().abs().reshape(-1), counts[k][n]).sum())
                                        for n, s in scores.items()})
        scores = self.effective_scores(scores)
        if biases_prunable(budget):
            order = prunable_parameter_shapes(arch, True)  # the order of _kept_counts (its largest remainders)
            return [select_top({n: scores[n][k].detach().abs().cpu() for n in order}, d, scope="local")
                    for k, d in enumerate(ds)]
        return [_final_mask(scores, k, d, weight_names) for k, d in enumerate(ds)]

    def effective_scores(self, scores: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The (K, *shape) scores the top-k selection ranks (the learned ones here; a variant may pin some entries,
        e.g. :class:`plantseek.baselines.frozen_edge_popup.FrozenEdgePopup`)."""
        return scores


def _initial_scores(arch, generators: Sequence[torch.Generator], device, dtype) -> dict[str, torch.Tensor]:
    """Stacked (K, *shape) leaf scores of every scored parameter (the prunable weights and the maskable biases,
    in parameter order), each network's drawn from its generator: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    scored = {**arch.prunable_shapes(), **arch.bias_shapes()}
    names = [n for n in arch.parameter_shapes() if n in scored]
    per_net = [{n: (torch.rand(scored[n], generator=g, dtype=torch.float64) * 2 - 1) * (1.0 / math.sqrt(arch.fan_in(n)))
                for n in names} for g in generators]
    return {n: torch.stack([net[n] for net in per_net]).to(device, dtype).requires_grad_(True) for n in names}


def _kept_counts(arch, density: float, prunable_biases: bool = False) -> dict[str, int]:
    """Kept entries per scored parameter: ``layer_counts`` over the weights, ``kept_count`` per bias; with prunable
    biases ``layer_counts`` over weights and biases together (in parameter order)."""
    if prunable_biases:
        return layer_counts(density, {n: math.prod(s) for n, s in prunable_parameter_shapes(arch, True).items()})
    counts = layer_counts(density, {n: math.prod(s) for n, s in arch.prunable_shapes().items()})
    return {**counts, **{n: kept_count(density, math.prod(s)) for n, s in arch.bias_shapes().items()}}


def _straight_through(scores: dict[str, torch.Tensor], counts: list[dict[str, int]]) -> dict[str, torch.Tensor]:
    """The (K, *shape) masks of the top-|score| entries: 0/1 in the forward pass, the identity on |score| in the
    backward pass (straight-through)."""
    masks = {}
    for n, s in scores.items():
        a = s.abs()
        m = torch.stack([_top_mask(a[k].detach().reshape(-1), counts[k][n]) for k in range(len(counts))])
        masks[n] = m.reshape(a.shape) + a - a.detach()
    return masks


def _final_mask(scores: dict[str, torch.Tensor], k: int, density: float, weight_names: list[str]) -> Mask:
    """Network ``k``'s mask: the weights selected per layer with ``select_top``, then each bias's top fraction."""
    mask = select_top({n: scores[n][k].detach().abs().cpu() for n in weight_names}, density, scope="local")
    for n, s in scores.items():
        if n not in weight_names:
            mask[n] = select_top({"b": s[k].detach().abs().cpu()}, density)["b"]
    return mask


PRUNERS.register("edge-popup")(declared(EdgePopup, tags={"paper"}, rank=0))


@PRUNERS.register("edge-popup-annealed")
@declared(tags={"paper"}, rank=1)
def _edge_popup_annealed() -> EdgePopup:
    return EdgePopup(name="edge-popup-annealed", anneal=True,
                     description="edge-popup keeping density**(i/E) in epoch i, ending at the requested density")
