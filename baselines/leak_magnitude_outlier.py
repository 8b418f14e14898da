"""Leak detector: per-layer magnitude outliers in either direction, |log|w| - median log|w|| of the layer.

A planted weight is ``lam * u`` with one factor ``lam`` per neuron; when a target neuron's weights span a wide
range (doubling slopes, equal weights next to a bias of another scale), some planted weights end up far larger or
far smaller than the Gaussian weights around them.
"""

from __future__ import annotations

from dataclasses import dataclass

from plantseek.baselines.leak_units import LEAK_TAGS, weight_layers
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner

TINY = 1e-300  # an exactly zero weight counts as the smallest magnitude (the most extreme low outlier)


@dataclass
class LeakMagnitudeOutlier(ScorePruner):
    """Scores |log|w| - median(log|w|)| within each layer (float64): far from the layer's typical scale = kept."""

    name: str = "leak-magnitude-outlier"
    description: str = "leak detector: |log|w| - layer median of log|w||, outliers in either direction"

    def score(self, model, data, *, generator, budget, mask):
        out = {}
        for name, w, _ in weight_layers(model):
            logs = w.abs().clamp_min(TINY).log()
            out[name] = (logs - logs.flatten().median()).abs()
        return out


PRUNERS.register("leak-magnitude-outlier")(declared(LeakMagnitudeOutlier, tags=LEAK_TAGS, rank=11))
