"""Continuous sparsification (Savarese, Silva & Maire 2020, "Winning the Lottery with Continuous Sparsification",
NeurIPS): a soft mask ``sigmoid(beta * s)`` learned with the weights, hardened by annealing ``beta``.

Update rule (K densities side by side as stacked networks, :mod:`plantseek.prune.relaxed`):

* every prunable weight ``w`` gets a mask parameter ``s`` (``s0 = 0`` at the start); the network computes with
  ``w * sigmoid(beta * s)``; ``w`` and ``s`` are trained together on the task loss plus the penalty
  ``lam * sum(sigmoid(beta * s))`` (an l1 on the soft mask, pulling it towards sparsity);
* within a round ``beta`` grows exponentially from 1 to ``beta_T = 200`` (``beta = 200**(t/T)`` at step t of T), so
  the soft mask tends to the hard mask ``1[s > 0]`` (:func:`soft_mask`);
* after each round: ``beta`` back to 1, ``s <- min(beta * s, s0)`` (the removed weights keep their large negative
  scores, the kept ones restart at ``s0``) and the weights are rewound to the host's initial values;
* **exact density**: the method's own ticket is ``1[s > 0]``, whose density is whatever the penalty produced; the
  harness needs exactly ``kept_count(d)`` weights, so the final mask is the top ``kept_count(d)`` of ``s`` (global,
  ties by position; :func:`plantseek.prune.relaxed.final_masks`).

Hyper-parameters: ``beta_T = 200``, ``s0 = 0`` and the per-round reset as in the paper. Changed for these small
networks and the default suite's time: 3 rounds of 1 epoch (batch 128) instead of 5 rounds of 85 epochs; Adam with
the budget's learning rate (1e-3) for the weights and lr 0.01 for ``s`` (the paper: SGD 0.1 for both on CIFAR
ResNets, where the mask gradients are far larger); ``lam = 1e-5`` per weight (the paper's 1e-8..1e-10 are for
networks of millions of weights; the final top-k makes the exact value matter little). The weak ticket is trained
by the harness from the host's initial weights (the paper rewinds to an early iterate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import torch

from plantseek.prune.contract import PRUNERS, declared
from plantseek.nets.masks import Mask
from plantseek.prune.relaxed import (LeanAdam, final_masks, search_steps, stacked_host, stacked_loss,
                                     steps_per_epoch)
from plantseek.prune.schedules import BatchPruner, check_generators, derive_generator, prepare_batch


def soft_mask(s: torch.Tensor, beta: float) -> torch.Tensor:
    """``sigmoid(beta * s)``: tends to the hard mask ``1[s > 0]`` as ``beta`` grows (1/2 where ``s = 0``)."""
    return torch.sigmoid(beta * s)


def beta_at(step: int, steps: int, beta_final: float) -> float:
    """``beta_final ** (step / steps)``: 1 at the start of a round, ``beta_final`` at its end."""
    return beta_final ** (step / max(1, steps))


@dataclass
class ContinuousSparsification(BatchPruner):
    """Soft masks ``sigmoid(beta s)`` trained with the weights, beta annealed, rounds with reset, final top-k."""

    name: str = "continuous-sparsification"
    description: str = "soft masks sigmoid(beta s) learned with the weights, beta annealed to 200, 3 rounds, top-k"
    rounds: int = 3
    epochs_per_round: int = 1
    batch_size: int = 128
    beta_final: float = 200.0
    s_init: float = 0.0
    penalty: float = 1e-5
    mask_lr: float = 0.01
    protocol: ClassVar[str] = "single-shot"
    history: list[list[int]] = field(default_factory=list, init=False, repr=False, compare=False)

    def prune_batch(self, model, data, densities: Sequence[float], *, generators: Sequence[torch.Generator],
                    budget) -> list[Mask]:
        """``history[k]``: network k's count of ``s > 0`` (its own hard ticket) at the end of every round."""
        ds = check_generators(densities, generators)
        arch, k = model.arch, len(ds)
        names = list(arch.prunable_shapes())
        x, y = prepare_batch(model, data.x, data.y)
        scores = {n: torch.full((k, *arch.prunable_shapes()[n]), self.s_init, dtype=x.dtype).requires_grad_(True)
                  for n in names}
        order = [derive_generator(g) for g in generators]
        self.history = [[] for _ in ds]
        for r in range(self.rounds):
            beta = self._round(arch, data, stacked_host(model, k, trainable=True), scores, x, y, order, budget)
            for j in range(k):
                self.history[j].append(sum(int((scores[n][j] > 0).sum()) for n in names))
            if r < self.rounds - 1:  # the next round restarts the kept weights' scores at s0
                with torch.no_grad():
                    for s in scores.values():
                        s.copy_(torch.minimum(beta * s, torch.full_like(s, self.s_init)))
        return final_masks(scores, ds)

    def _round(self, arch, data, weights, scores, x, y, order, budget) -> float:
        """One round from the initial weights, ``beta`` from 1 to ``beta_final``; returns the last ``beta``."""
        steps = self.epochs_per_round * steps_per_epoch(x.shape[0], self.batch_size)
        params = list(weights.values()) + list(scores.values())
        optimizers = [LeanAdam(weights.values(), budget.lr), LeanAdam(scores.values(), self.mask_lr)]
        beta = 1.0
        for _, step, idx in search_steps(x.shape[0], self.batch_size, self.epochs_per_round, order):
            beta = beta_at(step, steps - 1, self.beta_final)
            masks = {n: soft_mask(s, beta) for n, s in scores.items()}
            loss = stacked_loss(data, arch.forward_stacked(weights, x[idx], masks), y, idx)
            loss = loss + self.penalty * sum(m.sum() for m in masks.values())
            grads = torch.autograd.grad(loss, params)
            optimizers[0].step(grads[: len(weights)])
            optimizers[1].step(grads[len(weights):])
        return beta


PRUNERS.register("continuous-sparsification")(declared(ContinuousSparsification, tags={"modern"}, rank=22))
