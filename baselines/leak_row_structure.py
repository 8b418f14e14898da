"""Leak detector: row/column structure. Weights that carry a large share of their row's and column's energy.

A Gaussian row spreads its energy over all its entries; a ticket unit's few planted entries may dominate its row
(or column) when the planted values are large next to the rest, as a unit with unusually few large entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from plantseek.baselines.leak_units import LEAK_TAGS, weight_layers
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner

TINY = 1e-300


@dataclass
class LeakRowStructure(ScorePruner):
    """Weight (i, j) scores w_ij² / |row i|² + w_ij² / |column j|²: its share of its row's and its column's
    energy (2 for the only nonzero entry of both, about 1/n + 1/m for a Gaussian matrix)."""

    name: str = "leak-row-structure"
    description: str = "leak detector: weights holding a large share of their row's and column's energy"

    def score(self, model, data, *, generator, budget, mask):
        out = {}
        for name, w, _ in weight_layers(model):
            sq = w.pow(2)
            out[name] = sq / sq.sum(1, keepdim=True).clamp_min(TINY) + sq / sq.sum(0, keepdim=True).clamp_min(TINY)
        return out


PRUNERS.register("leak-row-structure")(declared(LeakRowStructure, tags=LEAK_TAGS, rank=15))
