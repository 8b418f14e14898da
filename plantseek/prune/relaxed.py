"""Shared machinery of the mask searches that optimise a relaxed mask by gradient descent (continuous
sparsification, concrete ticket search, the Bernoulli supermask): the K densities of one call are searched side by
side as K stacked networks (one ``arch.forward_stacked`` pass per step, as edge-popup does), each with its own
generator for its data order and its noise.

* :func:`stacked_host`: the host's parameters as ``(K, *shape)`` tensors (frozen views, or trainable copies);
* :func:`search_steps`: per step, the ``(K, b)`` sample indices (each density's own permutation per epoch, batches
  of ``batch_size``, as :func:`plantseek.train.loop.batches`) with the step number;
* :func:`stacked_loss`: the sum over the K networks of the task loss on their batches;
* :func:`logit`: ``log(d / (1 - d))``, the logit whose sigmoid is the density ``d``;
* :class:`GradBalance`: the gradient balancing that holds a relaxed mask's expected density (CTS);
* :class:`LeanAdam`: torch's functional Adam without building an optimiser object (see there why);
* :func:`final_masks`: the exact requested density of each network by a global top-k of its scores
  (:func:`plantseek.nets.masks.select_top`, ties by position). Every relaxation ends so: an expected or soft
  density is not an exact count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import torch

from plantseek.nets.interface import network_parameters
from plantseek.nets.masks import Mask, select_top
from plantseek.train.loop import batches


def stacked_host(model: torch.nn.Module, k: int, trainable: bool = False) -> dict[str, torch.Tensor]:
    """The host's parameters stacked K times: frozen (expanded views) or trainable leaf copies."""
    params = network_parameters(model)
    if trainable:
        return {n: p.detach().expand(k, *p.shape).clone().requires_grad_(True) for n, p in params.items()}
    return {n: p.detach().expand(k, *p.shape) for n, p in params.items()}


def search_steps(n: int, batch_size: int, epochs: int,
                 generators: Sequence[torch.Generator]) -> Iterator[tuple[int, int, torch.Tensor]]:
    """``(epoch, step, idx)`` for every step: ``idx`` is ``(K, b)``, row k from generator k's permutation."""
    step = 0
    for epoch in range(epochs):
        for idxs in zip(*(batches(n, batch_size, g) for g in generators)):
            yield epoch, step, torch.stack(idxs)
            step += 1


def steps_per_epoch(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


def stacked_loss(data: Any, out: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``sum_k data.loss(out[k], y[idx[k]])``: each network's own task loss on its own batch."""
    return sum(data.loss(out[k], y[idx[k]]) for k in range(out.shape[0]))


def logit(density: float) -> float:
    """``log(d / (1 - d))`` (``sigmoid`` of it is ``d``); large for d = 1."""
    d = min(density, 1 - 1e-6)
    return math.log(d / (1 - d))


def final_masks(scores: Mapping[str, torch.Tensor], densities: Sequence[float]) -> list[Mask]:
    """Network k's mask: the top ``kept_count(densities[k])`` of its scores ``scores[name][k]``, globally."""
    return [select_top({n: s[k].detach().cpu() for n, s in scores.items()}, d) for k, d in enumerate(densities)]


@dataclass
class GradBalance:
    """Gradient balancing of a relaxed mask's density (concrete ticket search, ``baselines/cts.py``, where the rule
    is described): the multipliers ``lam`` (one per network) and the balanced gradients of the logits."""

    densities: Sequence[float]
    smoothing: float = 0.01
    band: float = 0.01
    lam: torch.Tensor | None = None

    def expected(self, logits: dict[str, torch.Tensor]) -> torch.Tensor:
        """Expected density ``mean(sigmoid(a))`` of each network, shape (K,)."""
        total = sum(a[0].numel() for a in logits.values())
        kept: torch.Tensor = sum(torch.sigmoid(a.detach()).flatten(1).sum(1)  # type: ignore[assignment]
                                 for a in logits.values())  # (sum() of tensors is typed Tensor | int)
        return kept / total

    def __call__(self, logits: dict[str, torch.Tensor], task: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        total = sum(a[0].numel() for a in logits.values())
        d = torch.tensor(self.densities, dtype=torch.float64)
        probs = [torch.sigmoid(a.detach()) for a in logits.values()]
        dens = [p * (1 - p) / (d.to(p.dtype).reshape(-1, *[1] * (p.dim() - 1)) * total) for p in probs]
        sq_t: torch.Tensor = sum((g.detach().double() ** 2).flatten(1).sum(1) for g in task)  # type: ignore[assignment]
        sq_s: torch.Tensor = sum((g.double() ** 2).flatten(1).sum(1) for g in dens)  # type: ignore[assignment]
        norm_t = torch.sqrt(sq_t)  # (the two sums above: sum() of tensors is typed Tensor | int)
        norm_s = torch.sqrt(sq_s).clamp_min(1e-300)
        error = (self.expected(logits).double() - d) / (d * self.band)
        target = error.clamp(-1, 1) * norm_t / norm_s
        self.lam = target if self.lam is None else (1 - self.smoothing) * self.lam + self.smoothing * target
        return [g + self.lam.to(g.dtype).reshape(-1, *[1] * (g.dim() - 1)) * s for g, s in zip(task, dens)]


class LeanAdam:
    """torch's Adam (the functional ``torch.optim.adam.adam``, single-tensor algorithm, default betas and eps) over a
    list of leaf tensors, without a ``torch.optim.Optimizer``: constructing a process's first Optimizer imports
    ``torch._dynamo`` (measured: 4-9 s on this machine), which every fresh prune worker would pay again."""

    def __init__(self, params: Sequence[torch.Tensor], lr: float) -> None:
        self.params, self.lr = list(params), lr
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = [torch.tensor(0.0) for _ in self.params]

    def step(self, grads: Sequence[torch.Tensor]) -> None:
        from torch.optim.adam import adam

        with torch.no_grad():
            adam(self.params, list(grads), self.exp_avg, self.exp_avg_sq, [], self.steps, amsgrad=False, beta1=0.9,
                 beta2=0.999, lr=self.lr, weight_decay=0.0, eps=1e-8, maximize=False)
