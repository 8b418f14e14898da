"""Dynamic sparse training (DST): train sparse from a random mask, periodically drop and regrow weights.

Shared by SET (Mocanu et al. 2018) and RigL (Evci et al. 2020); they differ only in the grow rule
(:data:`GROW_RULES`: ``random`` / ``gradient``). :func:`train_sparse` trains K networks (one per density) at once
as stacked tensors; every optimiser step is :func:`plantseek.train.sparse_step.train_step`.

* Start: the host's initial weights times the initial mask (pruned weights exactly zero).
* Training: the budget's optimiser, lr, schedule, batch size and epochs (one optimiser over the stacked
  tensors: Adam and SGD act elementwise, so each network's update is its own); each network its own data order
  (``torch.randperm`` per epoch from its generator, cut into batches, the rule of ``training.batches``).
* Mask update every ``update_every`` steps ΔT while ``step < end_fraction · T`` (T = total steps), in every layer
  separately: with ``n`` active weights and the annealed fraction
  ``f(t) = drop_fraction / 2 · (1 + cos(π t / (end_fraction · T)))``, ``c = round(f(t) · n)`` (at most the
  layer's inactive count) active weights of smallest |w| are dropped and ``c`` weights that were inactive
  before the update are grown: the largest grow scores (random draws for SET, |dense gradient| of the current
  batch for RigL; ties by position). Grown weights start at exactly zero and the optimiser state (Adam's
  moments, SGD's momentum) of dropped and grown weights is reset to zero. Each layer's count, hence the total,
  is unchanged by every update (exactly ``kept_count`` when the initial mask has it).
* The result is the final mask; the harness evaluates it on the host's *initial* weights (strong) and trains it
  from them (weak). The DST run's own trained weights are not handed on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

import torch

from plantseek.core.errors import ConfigError
from plantseek.core.registry import Registry
from plantseek.nets.interface import network_parameters
from plantseek.prune.layerwise import random_layerwise_mask
from plantseek.nets.masks import Mask
from plantseek.prune.schedules import BatchPruner, check_generators, derive_generator, model_dtype
from plantseek.train.config import TrainConfig, epoch_lr
from plantseek.train.loop import batches, make_optimizer
from plantseek.train.sparse_step import train_step

#: grow score of the inactive weights of one layer: (weight, dense gradient or None, generator) -> scores
GROW_RULES: Registry[Callable[[torch.Tensor, torch.Tensor | None, torch.Generator], torch.Tensor]] = Registry(
    "grow rule")


@GROW_RULES.register("random")
def random_grow(weight: torch.Tensor, grad: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(weight.shape, generator=generator, dtype=torch.float64)


@GROW_RULES.register("gradient")
def gradient_grow(weight: torch.Tensor, grad: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
    assert grad is not None
    return grad.detach().abs().double()


@dataclass(frozen=True)
class DSTConfig:
    grow: str = "random"
    drop_fraction: float = 0.3
    update_every: int = 100
    end_fraction: float = 0.75

    def __post_init__(self) -> None:
        GROW_RULES.get(self.grow)
        if not 0.0 < self.drop_fraction <= 1.0 or not 0.0 < self.end_fraction <= 1.0:
            raise ConfigError("drop_fraction and end_fraction must be in (0, 1]")
        if isinstance(self.update_every, bool) or not isinstance(self.update_every, int) or self.update_every < 1:
            raise ConfigError(f"update_every must be an integer >= 1, got {self.update_every!r}")


def annealed_fraction(step: int, total_steps: int, config: DSTConfig) -> float:
    """The cosine-annealed drop fraction at ``step``; 0 from ``end_fraction · total_steps`` on (no update)."""
    end = config.end_fraction * total_steps
    if step >= end:
        return 0.0
    return config.drop_fraction / 2 * (1 + math.cos(math.pi * step / end))


def _lowest(scores: torch.Tensor, c: int) -> torch.Tensor:
    """Flat indices of the ``c`` smallest scores (stable sort: ties by position, earlier first)."""
    return torch.sort(scores.flatten(), stable=True).indices[:c]


def drop_and_grow(mask: torch.Tensor, weight: torch.Tensor, grow_scores: torch.Tensor,
                  fraction: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One layer's update: ``(new_mask, dropped, grown)`` (boolean, the layer's shape). Drops the
    ``c = round(fraction · active)`` active weights of smallest |weight|, grows the ``c`` previously inactive ones
    of largest ``grow_scores``; ``c`` is capped by the number of inactive weights."""
    active = mask.bool()
    n_active = int(active.sum())
    c = min(int(math.floor(fraction * n_active + 0.5)), active.numel() - n_active)
    dropped = torch.zeros(active.numel(), dtype=torch.bool)
    grown = torch.zeros(active.numel(), dtype=torch.bool)
    if c > 0:
        inf = torch.tensor(math.inf, dtype=torch.float64)
        dropped[_lowest(torch.where(active, weight.detach().abs().double().cpu(), inf), c)] = True
        grown[_lowest(torch.where(active, inf, -grow_scores.double().cpu()), c)] = True
    dropped, grown = dropped.view(active.shape), grown.view(active.shape)
    return (active & ~dropped) | grown, dropped, grown


def _reset_state(optimizer: torch.optim.Optimizer, param: torch.Tensor, k: int, where: torch.Tensor) -> None:
    for value in optimizer.state.get(param, {}).values():
        if isinstance(value, torch.Tensor) and value.shape == param.shape:
            value[k][where] = 0


def update_masks(params: dict, masks: dict, grads: dict | None, optimizer, fraction: float, grow: str,
                 generators: Sequence[torch.Generator]) -> None:
    """Drop and grow in every layer of every network (in place on the stacked ``params``, ``masks`` and the
    optimiser state)."""
    rule = GROW_RULES.get(grow)
    for n, m in masks.items():
        for k, g in enumerate(generators):
            w = params[n][k]
            scores = rule(w, None if grads is None else grads[n][k], g)
            new, dropped, grown = drop_and_grow(m[k], w, scores, fraction)
            with torch.no_grad():
                m[k].copy_(new.to(m.dtype))
                w.mul_(m[k])
                _reset_state(optimizer, params[n], k, dropped | grown)


def _optimizer(params: list[torch.Tensor], config: TrainConfig) -> torch.optim.Optimizer:
    """The budget's optimiser over the stacked tensors (torch's fused Adam kernel when the budget asks for it)."""
    if config.fused_adam:
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    return make_optimizer(params, config)


def train_sparse(arch: Any, initial: dict[str, torch.Tensor], masks: Sequence[Mask], data: Any,
                 config: TrainConfig, dst: DSTConfig, order_generators: Sequence[torch.Generator],
                 grow_generators: Sequence[torch.Generator], dtype: torch.dtype = torch.float32,
                 history: list | None = None) -> list[Mask]:
    """Dynamic sparse training of one network per initial mask; returns the final masks (CPU, bool).
    ``history`` (a list), when given, receives the K masks after every mask update."""
    k_nets = len(masks)
    weights = list(arch.prunable_shapes())
    stacked = {n: torch.stack([m[n] for m in masks]).to(dtype) for n in weights}
    params = {n: torch.stack([p.detach().to(dtype)] * k_nets).clone() for n, p in initial.items()}
    for n in weights:
        params[n].mul_(stacked[n])
    for p in params.values():
        p.requires_grad_(True)
    optimizer = _optimizer(list(params.values()), config)
    x = data.x.to(dtype)
    y = data.y.to(dtype) if data.y.is_floating_point() else data.y
    total = config.epochs * math.ceil(x.shape[0] / config.batch_size)
    step = 0
    for epoch in range(config.epochs):
        for group in optimizer.param_groups:
            group["lr"] = epoch_lr(config, epoch)
        for idxs in zip(*(batches(x.shape[0], config.batch_size, g) for g in order_generators)):
            step += 1
            fraction = annealed_fraction(step, total, dst) if step % dst.update_every == 0 else 0.0
            grads = train_step(arch, params, stacked, x, y, torch.stack(idxs), data.loss, optimizer,
                               dense_grads=fraction > 0 and dst.grow == "gradient")
            if fraction > 0:
                update_masks(params, stacked, grads, optimizer, fraction, dst.grow, grow_generators)
                if history is not None:
                    history.append([{n: stacked[n][k].bool().clone() for n in weights} for k in range(k_nets)])
    return [{n: stacked[n][k].bool().clone() for n in weights} for k in range(k_nets)]


@dataclass
class DynamicSparse(BatchPruner):
    """A DST pruner: an initial random mask with the layer-wise rule ``init_rule`` (:mod:`plantseek.prune.layerwise`),
    trained by :func:`train_sparse` under ``dst`` with the budget (``budget.epochs`` epochs, its optimiser, lr and
    batch size); returns the final mask. From each density's generator: the initial mask's draws, then one
    generator for the data order, then one for the grow rule. ``history[k]``: the masks after every update for the
    k-th density of the last call."""

    dst: DSTConfig = DSTConfig()
    init_rule: str = "erk"
    name: str = "dst"
    description: str = ""
    protocol: ClassVar[str] = "single-shot"
    history: list[list[Mask]] = field(default_factory=list, init=False, repr=False, compare=False)

    def prune_batch(self, model, data, densities: Sequence[float], *, generators: Sequence[torch.Generator],
                    budget) -> list[Mask]:
        ds = check_generators(densities, generators)
        shapes = {n: tuple(p.shape) for n, p in model.prunable().items()}
        masks = [random_layerwise_mask(self.init_rule, d, shapes, g) for d, g in zip(ds, generators)]
        orders = [derive_generator(g) for g in generators]
        grows = [derive_generator(g) for g in generators]
        active = [k for k, d in enumerate(ds) if d < 1.0]
        self.history = [[] for _ in ds]
        if not active:
            return masks
        steps: list = []
        final = train_sparse(model.arch, {n: p.detach() for n, p in network_parameters(model).items()},
                             [masks[k] for k in active], data, budget, self.dst, [orders[k] for k in active],
                             [grows[k] for k in active], model_dtype(model), history=steps)
        for j, k in enumerate(active):
            masks[k] = final[j]
            self.history[k] = [update[j] for update in steps]
        return masks


__all__ = ["GROW_RULES", "DSTConfig", "annealed_fraction", "drop_and_grow", "update_masks", "train_sparse",
           "DynamicSparse"]
