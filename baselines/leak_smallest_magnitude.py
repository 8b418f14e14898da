"""Leak detector: the smallest magnitudes. Keeps the weights of smallest ``|w|`` over the whole network.

The reverse of magnitude pruning: planted weights ``lam * u`` whose factor is fitted to many prescribed entries at
once (a neuron reading thirty piecewise-linear units) come out far smaller than the Gaussian weights around them.
"""

from __future__ import annotations

from dataclasses import dataclass

from plantseek.baselines.leak_units import LEAK_TAGS, weight_layers
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner


@dataclass
class LeakSmallestMagnitude(ScorePruner):
    """Scores ``-|w|`` (float64), globally: the smallest magnitudes are kept."""

    name: str = "leak-smallest-magnitude"
    description: str = "leak detector: the weights of smallest |w| (the reverse of magnitude pruning)"

    def score(self, model, data, *, generator, budget, mask):
        return {name: -w.abs() for name, w, _ in weight_layers(model)}


PRUNERS.register("leak-smallest-magnitude")(declared(LeakSmallestMagnitude, tags=LEAK_TAGS, rank=17))
