"""SynFlow (Tanaka et al. 2020): data-free synaptic flow ``|θ ⊙ ∂R/∂θ|``.

``R = 1ᵀ (∏_l |W_l|) 1``: the masked network with absolute weights, biases zeroed, fed an all-ones input
(ReLUs are then the identity, so R is exactly this product). For any architecture of the network protocol
(:mod:`plantseek.nets.interface`) R is the sum of the outputs of ``arch.forward`` with the prunable weights
replaced by their masked absolute values, every other parameter (the biases) set to zero, on
``ones(1, *arch.input_shape)``; for the MLP that is the product above, bit for bit. Computed in float64 (products
of many layers overflow lower precisions on wide/deep hosts). Scores of each layer sum to R (conservation), and
for every hidden neuron the scores of its incoming weights sum to those of its outgoing weights (on a DAG: the
scores of the weights leaving the inputs, and of those entering the outputs, each sum to R).

**Prunable biases** (the budget's ``prunable_biases``, the paper's protocol): as in the reference code (Tanaka
et al.'s, whose ``linearize`` takes the absolute value of every parameter), the product network keeps the biases as
``|b|`` (masked by their mask entries) instead of zeroing them, so R also counts the flow from every bias to the
outputs; a bias scores ``|b ⊙ ∂R/∂b|``, ranked with the weights. Conservation then holds with the biases as extra
sources: for every hidden neuron, the scores of its incoming weights plus its bias's score equal those of its
outgoing weights. Without prunable biases (``calibrated``) the biases are zeroed, as before.

``synflow`` scores once at initialisation; ``synflow-100`` is the paper's iterative data-free schedule
(100 rounds, density**(k/100) in round k, re-scoring the masked network); ``synflow-multishot`` scores the
trained network in the lottery-ticket protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner, prunable_parameters
from plantseek.prune.variants import iterative_variant, register_score_pruner


def synaptic_flow(model, mask=None, budget=None) -> dict[str, torch.Tensor]:
    """``|θ| ⊙ ∂R/∂|θ|`` (float64) for every prunable parameter of ``model`` (under ``budget``'s scope: the weights,
    and the biases, then part of the product network, when they are prunable) restricted to ``mask``."""
    weights = {}
    for n, p in prunable_parameters(model, budget).items():
        w = p.detach().to(torch.float64).abs()
        if mask is not None:
            w = w * mask[n].to(device=w.device, dtype=torch.float64)
        weights[n] = w.requires_grad_(True)
    names = list(weights)
    arch = model.arch
    device = weights[names[0]].device
    params = {n: weights[n] if n in weights else torch.zeros(s, dtype=torch.float64, device=device)
              for n, s in arch.parameter_shapes().items()}
    r = arch.forward(params, torch.ones(1, *arch.input_shape, dtype=torch.float64, device=device)).sum()
    grads = torch.autograd.grad(r, [weights[n] for n in names])
    return {n: (g * weights[n].detach()).abs() for n, g in zip(names, grads)}


@dataclass
class SynFlow(ScorePruner):
    """Scores ``|θ ⊙ ∂R/∂θ|`` of the absolute-weight network on an all-ones input (no data)."""

    name: str = "synflow"
    description: str = "data-free synaptic flow |θ ⊙ ∂R/∂θ|, one round"

    def score(self, model, data, *, generator, budget, mask):
        return synaptic_flow(model, mask, budget)


register_score_pruner(SynFlow, name="synflow", tags={"paper"}, rank=4, variants=("local", "multishot"))
PRUNERS.register("synflow-100")(declared(iterative_variant(SynFlow, "synflow-100", 100), tags={"iterative"}, rank=5))
