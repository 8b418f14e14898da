"""SNIP (Lee et al. 2019): connection sensitivity |g ⊙ θ| on a prune batch.

``g`` is the gradient of the task loss with respect to the weights, on one prune batch of ``batch_size`` (256)
training samples drawn without replacement with the pruner's generator (all samples if there are fewer; see
:func:`plantseek.prune.schedules.score_batch`). The score is computed on the masked network in the model's dtype.
With prunable biases (the budget's ``prunable_biases``) a bias scores ``|g ⊙ b|`` with ``g = ∂L/∂b``, ranked with
the weights (the reference code's gradient with respect to the bias mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.prune.schedules import (ScorePruner, device_mask, leaf_state, prepare_batch, prunable_parameters,
                                       score_batch)
from plantseek.prune.variants import register_score_pruner


def loss_gradient(model, data, x, y, mask=None, temperature: float = 1.0, budget=None) -> tuple[dict, dict]:
    """``(state, g)``: a leaf copy of the parameters and the gradient of ``data.loss(model(x, mask) / T, y)`` with
    respect to the prunable ones (the weights; the biases too when ``budget`` makes them prunable; any other
    parameter is a constant)."""
    state = leaf_state(model, budget=budget)
    x, y = prepare_batch(model, x, y)
    out = model.arch.forward(state, x, device_mask(mask, x.device))
    loss = data.loss(out / temperature, y)
    names = list(prunable_parameters(model, budget))
    grads = torch.autograd.grad(loss, [state[n] for n in names])
    return state, dict(zip(names, grads))


@dataclass
class SNIP(ScorePruner):
    """Scores |g ⊙ θ| (the normalisation of the original paper does not change the ranking)."""

    name: str = "snip"
    description: str = "connection sensitivity |g ⊙ θ| on a prune batch of 256 training samples"
    batch_size: int = 256

    def score(self, model, data, *, generator, budget, mask):
        x, y = score_batch(data, generator, self.batch_size)
        state, g = loss_gradient(model, data, x, y, mask, budget=budget)
        return {n: (g[n] * state[n].detach()).abs() for n in g}


register_score_pruner(SNIP, name="snip", tags={"paper"}, rank=2,
                      variants=("local", "multishot", "multishot-revival"))
