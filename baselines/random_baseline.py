"""Random pruning: uniform scores drawn from the pruner's generator (the chance baseline).

With prunable biases (the budget's ``prunable_biases``) every bias draws a score too, after all weights (the
prunable order: ``layers.0.weight``, ..., ``layers.0.bias``, ...), and the kept set is uniform over weights and
biases.

(The file is not called ``random.py`` so that running it directly cannot shadow the standard library.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.prune.schedules import ScorePruner, prunable_parameters
from plantseek.prune.variants import register_score_pruner


@dataclass
class Random(ScorePruner):
    """Keeps a uniformly random set of weights: scores ~ U[0, 1), drawn layer by layer (layer order,
    row-major) from ``generator``. Global scope keeps a uniformly random subset of all weights."""

    name: str = "random"
    description: str = "uniformly random weights (scores drawn from the seeded generator)"

    def score(self, model, data, *, generator, budget, mask):
        return {n: torch.rand(p.shape, generator=generator, dtype=torch.float64)
                for n, p in prunable_parameters(model, budget).items()}


register_score_pruner(Random, name="random", tags={"paper"}, rank=0, variants=("local",))
