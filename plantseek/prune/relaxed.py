"""Shared machinery of the mask searches that optimise a relaxed mask by gradient descent (continuous
sparsification, concrete ticket search, the Bernoulli supermask): the K densities of one call are searched side by
side as K stacked networks (one ``arch.forward_stacked`` pass per step, as edge-popup does), each with its own
generator for its data order and its noise.

* :func:`stacked_host`: the host's parameters as ``(K, *shape)`` tensors (frozen views, or trainable copies);
* :func:`search_steps`: per step, the ``(K, b)`` sample indices (each density's own permutation per epoch, batches
  of ``batch_size``, as :func:`plantseek.train.loop.batches`) with the step number;
* :func:`stacked_loss`: the sum over the K networks of the task loss on their batches;
* :func:`logit`: ``log(d / (1 - d))``, the logit whose sigmoid is the density ``d``;
* :func:`final_masks`: the exact requested density of each network by a global top-k of its scores
  (:func:`plantseek.prune.masks.select_top`, ties by position). Every relaxation ends so: an expected or soft
  density is not an exact count.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Mapping, Sequence

import torch

from plantseek.nets.protocol import network_parameters
from plantseek.prune.masks import Mask, select_top
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


def per_network(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """A ``(K, 1, ..., 1)`` tensor of one value per network, broadcasting against ``like`` (``(K, *shape)``)."""
    return torch.tensor(values, dtype=like.dtype, device=like.device).reshape(-1, *[1] * (like.dim() - 1))


def final_masks(scores: Mapping[str, torch.Tensor], densities: Sequence[float]) -> list[Mask]:
    """Network k's mask: the top ``kept_count(densities[k])`` of its scores ``scores[name][k]``, globally."""
    return [select_top({n: s[k].detach().cpu() for n, s in scores.items()}, d) for k, d in enumerate(densities)]
