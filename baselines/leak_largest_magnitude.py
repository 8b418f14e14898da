"""Leak detector: the largest magnitudes relative to their layer. Keeps the weights of largest ``|w| / rms(layer)``.

Magnitude pruning with each layer's scale divided out, so that layers of small fan-in (large initial weights) do not
take the whole budget: what stands out is a planted weight far above its own layer's typical size.
"""

from __future__ import annotations

from dataclasses import dataclass

from plantseek.baselines.leak_units import LEAK_TAGS, TINY, weight_layers
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner


@dataclass
class LeakLargestMagnitude(ScorePruner):
    """Scores ``|w| / sqrt(mean(w^2))`` within each layer: the largest relative magnitudes are kept."""

    name: str = "leak-largest-magnitude"
    description: str = "leak detector: the weights of largest |w| relative to their layer's root mean square"

    def score(self, model, data, *, generator, budget, mask):
        return {name: w.abs() / w.pow(2).mean().sqrt().clamp_min(TINY) for name, w, _ in weight_layers(model)}


PRUNERS.register("leak-largest-magnitude")(declared(LeakLargestMagnitude, tags=LEAK_TAGS, rank=18))
