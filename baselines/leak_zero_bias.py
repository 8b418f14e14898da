"""Leak detector: exactly-zero biases. Keeps the incoming and outgoing weights of units whose bias is exactly 0.

A target neuron with zero bias is planted with an exactly zero host bias, which a Gaussian initialisation never
produces; planting zeroes the same share of non-ticket biases in each hidden layer to hide it. This detector
measures whether that works.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.baselines.leak_units import LEAK_TAGS, break_ties, unit_scores_to_weights
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner


def zero_bias_units(k: int, layers) -> torch.Tensor:
    """1.0 for each unit of layer ``k`` with an exactly zero bias, else 0.0 (inputs have no bias: all 0)."""
    if k == 0 or layers[k - 1][2] is None:
        width = layers[0][1].shape[1] if k == 0 else layers[k - 1][1].shape[0]
        return torch.zeros(width, dtype=torch.float64)
    return (layers[k - 1][2] == 0).to(torch.float64)


@dataclass
class LeakZeroBias(ScorePruner):
    """Weight (i, j) scores [bias of unit i is 0] + [bias of unit j is 0] (0, 1 or 2), ties broken at random."""

    name: str = "leak-zero-bias"
    description: str = "leak detector: weights into and out of units whose bias is exactly zero"

    def score(self, model, data, *, generator, budget, mask):
        return break_ties(unit_scores_to_weights(model, zero_bias_units), generator, 0.5)


PRUNERS.register("leak-zero-bias")(declared(LeakZeroBias, tags=LEAK_TAGS, rank=12))
