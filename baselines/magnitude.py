"""Magnitude pruning: keep the weights of largest absolute value |θ|.

Single-shot at initialisation (``magnitude``, ``magnitude-local``) and, scored after training, the paper's
multi-shot lottery-ticket protocol (``magnitude-multishot`` = iterative magnitude pruning with rewinding to the
initial weights, IMP). With prunable biases (the budget's ``prunable_biases``) a bias scores ``|b|``, ranked with
the weights, as the reference code's ``Mag`` on its masked parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner, local_variant, multishot_variant, prunable_parameters


@dataclass
class Magnitude(ScorePruner):
    """Scores |θ| of every prunable parameter (pruned weights of a trained masked network are exactly zero)."""

    name: str = "magnitude"
    description: str = "largest absolute weights |θ|"

    def score(self, model, data, *, generator, budget, mask):
        return {n: p.detach().abs() for n, p in prunable_parameters(model, budget).items()}


PRUNERS.register("magnitude")(declared(Magnitude, tags={"paper"}, rank=1))
PRUNERS.register("magnitude-local")(declared(local_variant(Magnitude, "magnitude-local"), tags={"local"}, rank=1))
PRUNERS.register("magnitude-multishot")(declared(multishot_variant(Magnitude, "magnitude-multishot"),
                                                 tags={"paper"}, rank=1))
