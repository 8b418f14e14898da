"""Magnitude pruning: keep the weights of largest absolute value |θ|.

Single-shot at initialisation (``magnitude``, ``magnitude-local``) and, scored after training, the paper's
multi-shot lottery-ticket protocol (``magnitude-multishot`` = iterative magnitude pruning with rewinding to the
initial weights, IMP). With prunable biases (the budget's ``prunable_biases``) a bias scores ``|b|``, ranked with
the weights, as the reference code's ``Mag`` on its masked parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from plantseek.prune.schedules import ScorePruner, prunable_parameters
from plantseek.prune.variants import register_score_pruner


@dataclass
class Magnitude(ScorePruner):
    """Scores |θ| of every prunable parameter (pruned weights of a trained masked network are exactly zero)."""

    name: str = "magnitude"
    description: str = "largest absolute weights |θ|"

    def score(self, model, data, *, generator, budget, mask):
        return {n: p.detach().abs() for n, p in prunable_parameters(model, budget).items()}


register_score_pruner(Magnitude, name="magnitude", tags={"paper"}, rank=1,
                      variants=("local", "multishot", "multishot-revival"))
