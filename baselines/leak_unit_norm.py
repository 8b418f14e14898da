"""Leak detector: unit norm outliers. Weights of rows and columns whose norm is far from their matrix's typical one.

At initialisation every row (a unit's incoming weights) and every column (a unit's outgoing weights) of a layer has
about the same norm; a planted unit's row holds ``lam * u`` on its support, so a factor far from the host's scale
(or many planted entries in one column) moves that row's or column's norm away from the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from plantseek.baselines.leak_units import LEAK_TAGS, log_outliers, rows_and_columns, unit_norms, weight_layers
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner


@dataclass
class LeakUnitNorm(ScorePruner):
    """Weight ``(i, j)`` of a matrix scores ``|log |row i| - median|`` plus ``|log |column j| - median|`` (medians
    over the matrix's rows and columns; a convolution's rows and columns are its output and input channels)."""

    name: str = "leak-unit-norm"
    description: str = "leak detector: weights of rows and columns whose norm is far from their matrix's median"

    def score(self, model, data, *, generator, budget, mask):
        return {name: rows_and_columns(log_outliers(unit_norms(w, 0)), log_outliers(unit_norms(w, 1)), w.shape)
                for name, w, _ in weight_layers(model)}


PRUNERS.register("leak-unit-norm")(declared(LeakUnitNorm, tags=LEAK_TAGS, rank=19))
