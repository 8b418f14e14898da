"""Leak detector: neuron norm ratios. A hidden unit's log(incoming norm / outgoing norm), as far from its layer's
median as possible.

Planting overwrites a ticket unit's matched incoming weights and bias with ``lam * u`` (one positive factor per
unit); at initialisation every unit's incoming and outgoing norms are alike, so a unit whose ratio stands out may
be one that planting rescaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.baselines.leak_units import LEAK_TAGS, unit_norms, unit_scores_to_weights
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner

TINY = 1e-300


def norm_ratio_outliers(k: int, layers) -> torch.Tensor:
    """|r - median r| over the hidden units of layer ``k``, r = log(|incoming weights, bias| / |outgoing weights|);
    0 for inputs and outputs (one side missing)."""
    if k == 0 or k == len(layers):
        width = layers[0][1].shape[1] if k == 0 else layers[-1][1].shape[0]
        return torch.zeros(width, dtype=torch.float64)
    w_in, b_in, w_out = layers[k - 1][1], layers[k - 1][2], layers[k][1]
    incoming = unit_norms(w_in, 0) + (b_in.pow(2) if b_in is not None else 0.0)
    ratio = 0.5 * (incoming.clamp_min(TINY).log() - unit_norms(w_out, 1).clamp_min(TINY).log())
    return (ratio - ratio.median()).abs()


@dataclass
class LeakNormRatio(ScorePruner):
    """Weight (i, j) scores the norm-ratio outlier statistic of unit i plus that of unit j."""

    name: str = "leak-norm-ratio"
    description: str = "leak detector: hidden units whose incoming/outgoing norm ratio is far from the layer's"

    def score(self, model, data, *, generator, budget, mask):
        return unit_scores_to_weights(model, norm_ratio_outliers)


PRUNERS.register("leak-norm-ratio")(declared(LeakNormRatio, tags=LEAK_TAGS, rank=13))
