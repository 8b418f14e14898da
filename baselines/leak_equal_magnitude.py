"""Leak detector: exactly repeated magnitudes. Keeps the weights whose float32 ``|w|`` exactly equals another weight's.

Gaussian draws in float32 almost never repeat (a float32 magnitude of a weight near 0.1 has about 2^23 neighbours
of its size), but a target neuron whose nonzero weights are equal (a line detector's kernel of ones, a unit that
sums two inputs) is planted with one factor per neuron, so its planted weights share one magnitude exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.baselines.leak_units import LEAK_TAGS, break_ties, weight_layers
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner


def repeat_counts(weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per weight tensor, how many *other* entries of all of ``weights`` have exactly its float32 magnitude."""
    flat = torch.cat([w.detach().to(torch.float32).abs().flatten() for w in weights])
    _, inverse, counts = torch.unique(flat, return_inverse=True, return_counts=True)
    others = (counts[inverse] - 1).to(torch.float64)
    return [part.view(w.shape) for part, w in zip(others.split([w.numel() for w in weights]), weights)]


@dataclass
class LeakEqualMagnitude(ScorePruner):
    """Weight scores: the number of other prunable weights (any layer) with exactly its float32 magnitude, ties
    (every unrepeated weight: 0) broken at random."""

    name: str = "leak-equal-magnitude"
    description: str = "leak detector: weights whose float32 magnitude exactly equals another weight's"

    def score(self, model, data, *, generator, budget, mask):
        layers = weight_layers(model)
        counts = repeat_counts([w for _, w, _ in layers])
        return break_ties({name: c for (name, _, _), c in zip(layers, counts)}, generator, 0.5)


PRUNERS.register("leak-equal-magnitude")(declared(LeakEqualMagnitude, tags=LEAK_TAGS, rank=16))
