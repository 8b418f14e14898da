"""Bernoulli supermask: a strong-ticket search by stochastic binary gates on the frozen initial weights (Zhou, Lan,
Liu & Yosinski 2019, "Deconstructing Lottery Tickets: Zeros, Signs, and the Supermask", NeurIPS, section 5), with the
density held by concrete ticket search's gradient balancing (``baselines/cts.py``). Registered instead of IteRand.

**Why not IteRand** (Chijiwa et al. 2021): IteRand is edge-popup that periodically *re-randomises the pruned
weights*; its ticket is the mask together with the re-drawn weights. The benchmark's contract is a mask on the
host's initial weights: the harness evaluates every mask (strong and weak) on the planted host exactly as it was
initialised, and the planted ticket is a set of *initial* weights. A re-randomised network is another host, in
which the planted ticket no longer exists (recall would compare a mask against weights that were replaced), and
returning its weights would let a pruner write its own network. IteRand cannot be evaluated honestly here.

Update rule (weights and biases frozen; one logit ``a`` per prunable weight; K densities side by side as stacked
networks, :mod:`plantseek.prune.relaxed`):

* forward pass with the sampled binary gates ``m ~ Bernoulli(sigmoid(a))`` (``m = 1[u < sigmoid(a)]``, ``u``
  uniform from the pruner's generator); backward pass straight through the sampling (``dm/da := sigmoid'(a)``), as
  in Zhou et al.;
* objective: the task loss of the masked host's raw outputs (no training: a strong ticket);
* density: the logits start at ``logit(d)`` and move along the balanced gradient of concrete ticket search
  (:class:`plantseek.prune.relaxed.GradBalance`), so the expected density ``mean(sigmoid(a))`` stays at ``d``;
  the final mask is the top ``kept_count(d)`` logits (global), the exact density.

Hyper-parameters: as ``cts`` (Adam lr 0.1 with cosine decay, 3 epochs of batch 256), chosen for these small
networks and the default suite's time; Zhou et al. train supermasks with SGD over many epochs and no density
target (their masks' density is whatever the training reaches), so the balancing is the change that makes a
requested density reachable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from plantseek.baselines.cts import ConcreteTicketSearch
from plantseek.prune.contract import PRUNERS, declared


def bernoulli_straight_through(logits: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """``1[noise < sigmoid(a)]`` in the forward pass; the gradient of ``sigmoid(a)`` in the backward pass."""
    p = torch.sigmoid(logits)
    return (noise < p).to(p.dtype) + (p - p.detach())  # exactly 0 or 1 forward


@dataclass
class BernoulliSupermask(ConcreteTicketSearch):
    """Sampled binary gates with a straight-through gradient, density balanced; a strong ticket."""

    name: str = "supermask"
    description: str = "Bernoulli supermask: sampled binary gates on the frozen weights, straight-through, balanced"
    protocol: ClassVar[str] = "strong"

    def gate(self, logits: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return bernoulli_straight_through(logits, noise)


PRUNERS.register("supermask")(declared(BernoulliSupermask, tags={"modern"}, rank=24))
