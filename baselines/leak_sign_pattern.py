"""Leak detector: sign patterns. Units whose incoming or outgoing weights share one sign.

At initialisation a unit's weights are positive or negative at random, so the sign coherence |sum w| / sum |w| of
its n weights is small (1 only by chance, with probability 2^(1-n); always 1 for a single weight). Target neurons
often have weights of one sign (paths of unit weights, mirroring layers, readouts of positive slopes), and planting
writes them with one positive factor, so a planted unit's weights may be more coherent than the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.baselines.leak_units import LEAK_TAGS, weight_layers
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner

TINY = 1e-300


def coherence(w: torch.Tensor, dim: int) -> torch.Tensor:
    """|sum w| / sum |w| along ``dim``: 1 = all one sign (by chance with probability 2^(1-n) for n random signs, so
    short rows and columns, e.g. those into a few outputs, reach it often), near 0 = mixed."""
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
