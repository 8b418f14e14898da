"""Leak detector: sign patterns. Units whose incoming or outgoing weights share one sign.

At initialisation a unit's weights are positive or negative at random (coherence |sum w| / sum |w| about
1/sqrt(n)); target neurons often have weights of one sign (paths of unit weights, mirroring layers, readouts of
positive slopes), and planting writes them with one positive factor, so a planted unit's weights may be more
coherent than the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.baselines.leak_units import LEAK_TAGS, weight_layers
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner

TINY = 1e-300


def coherence(w: torch.Tensor, dim: int) -> torch.Tensor:
    """|sum w| / sum |w| along ``dim`` (1 = all one sign, ~0 = mixed), weighting each weight by its magnitude."""
    return w.sum(dim).abs() / w.abs().sum(dim).clamp_min(TINY)


@dataclass
class LeakSignPattern(ScorePruner):
    """Weight (i, j) of a layer scores the sign coherence of row i (unit i's incoming weights) plus that of
    column j (unit j's outgoing weights)."""

    name: str = "leak-sign-pattern"
    description: str = "leak detector: weights of rows and columns whose weights share one sign"

    def score(self, model, data, *, generator, budget, mask):
        return {name: coherence(w, 1)[:, None] + coherence(w, 0)[None, :] for name, w, _ in weight_layers(model)}


PRUNERS.register("leak-sign-pattern")(declared(LeakSignPattern, tags=LEAK_TAGS, rank=14))
