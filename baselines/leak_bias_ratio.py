"""Leak detector: bias-to-weight ratios. Rows whose ``|bias| / |incoming weights|`` is far from their layer's typical.

The ratio is what one positive factor per unit cannot change: a planted unit's bias and matched weights are both
``lam`` times the target's, so where the target's bias is large or small next to its weights (a knot far from zero,
a bias that must keep a unit active), that row's ratio stands out among the host's random ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.baselines.leak_units import LEAK_TAGS, break_ties, log_outliers, rows_and_columns, unit_norms
from plantseek.baselines.leak_units import weight_layers
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner


def bias_ratio_outliers(w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``|log r - median log r|`` per row, ``r = |b_i| / |row i|``; zeros for a matrix without bias."""
    if b is None:
        return torch.zeros(w.shape[0], dtype=torch.float64)
    return log_outliers(b.abs() / unit_norms(w, 0).sqrt())


@dataclass
class LeakBiasRatio(ScorePruner):
    """Weight ``(i, j)`` scores the bias-ratio outlier statistic of row ``i`` (every weight of a row alike; a matrix
    without bias scores 0), ties broken at random."""

    name: str = "leak-bias-ratio"
    description: str = "leak detector: rows whose |bias| / |incoming weights| is far from their layer's median"

    def score(self, model, data, *, generator, budget, mask):
        scores = {}
        for name, w, b in weight_layers(model):
            scores[name] = rows_and_columns(bias_ratio_outliers(w, b), torch.zeros(w.shape[1], dtype=torch.float64),
                                            w.shape)
        return break_ties(scores, generator, 1e-9)


PRUNERS.register("leak-bias-ratio")(declared(LeakBiasRatio, tags=LEAK_TAGS, rank=20))
