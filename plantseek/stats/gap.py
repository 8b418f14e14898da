"""Public against hidden instances: per method, its recall on public instances next to its recall on hidden ones,
and a flag where the public recall is far above the hidden one (the signature of re-planting public instances from
their seeds, or of a method tuned to the public seeds).

Rule (:data:`GAP_RULE`): a *matched pair* is one (task, depth, width, noise, training, requested density, seed)
that a method ran both on a public and on a hidden instance (the same specification and seed, planted from the
seed and from the leaderboard key: two draws of the same distribution); only competitors' ok cells with a finite
recall below full density count (:func:`plantseek.stats.blocks.comparison_cells`); cells of several keys on one side
are averaged. Per pair, the difference d = public recall - hidden recall; the method's gap is the mean of d over its
pairs with its percentile-bootstrap interval (:func:`plantseek.stats.intervals.bootstrap_interval`, resampling
pairs). A method is **flagged** when that interval lies entirely above :data:`GAP_MARGIN` (two pairs at least: with
one there is no interval). An honest method's d scatters around 0 (public and hidden instances are drawn alike), so
its interval covers 0; a re-planter's d is about 1 - (random's recall) on every pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from plantseek.frame.prepared import prepared
from plantseek.stats.blocks import comparison_cells
from plantseek.stats.intervals import CONFIDENCE, bootstrap_interval

GAP_MARGIN = 0.1  # recall: a public - hidden gap whose whole interval exceeds this is flagged
MIN_PAIRS = 2
GAP_RULE = (
    f"Public vs hidden instances: a matched pair is one (task setting, requested density below 1, seed) that a method "
    f"ran on both a public instance (planted from the seed: anyone can re-plant it) and a hidden one (planted from the "
    f"leaderboard key); d = public recall - hidden recall (ok cells). Gap = mean of d over the method's pairs, with "
    f"its {CONFIDENCE:.0%} percentile-bootstrap interval over the pairs. Flagged (public far above hidden) when the "
    f"whole interval lies above {GAP_MARGIN:g} (at least {MIN_PAIRS} pairs): the signature of a pruner that "
    f"re-plants public instances from their seeds or was tuned to the public seeds. An honest method's gap "
    f"scatters around 0, since public and hidden instances are drawn alike.")
GAP_COLUMNS = ["method", "protocol", "public_recall", "public_cells", "hidden_recall", "hidden_cells", "pairs",
               "gap_mean", "gap_low", "gap_high", "flagged", "note"]
_MATCH = ["task", "depth", "width", "_noise", "_training", "density_spec", "seed"]


def public_hidden_gap(df: pd.DataFrame) -> pd.DataFrame:
    """One row per competitor method of a frame that holds hidden cells (empty, with :data:`GAP_COLUMNS`, when it
    holds none): its mean recall over public and over hidden cells (comparison cells, see the module) and their
    counts, the matched pairs, the gap's mean and interval, ``flagged`` (bool) and a ``note`` (why there is no
    interval, or which side is missing). Sorted by method."""
    cells = comparison_cells(prepared(df))
    cells = cells[np.isfinite(cells["recall"].astype(float))]
    if not cells["instances"].eq("hidden").any():
        return pd.DataFrame(columns=GAP_COLUMNS)
    cells = cells.assign(_noise=cells["noise"].fillna(-np.inf))
    rows = []
    for method, g in cells.groupby("_method", sort=True):
        sides = {k: g[g["instances"].eq(k)] for k in ("public", "hidden")}
        means = {k: s.groupby(_MATCH)["recall"].mean() for k, s in sides.items()}
        both = means["public"].index.intersection(means["hidden"].index)
        diff = (means["public"].loc[both] - means["hidden"].loc[both]).to_numpy(dtype=float)
        iv = bootstrap_interval(diff)
        flagged = bool(iv.n >= MIN_PAIRS and np.isfinite(iv.low) and iv.low > GAP_MARGIN)
        rows.append([method, g["protocol"].iloc[0], _mean(sides["public"]), len(sides["public"]),
                     _mean(sides["hidden"]), len(sides["hidden"]), iv.n, iv.mean, iv.low, iv.high, flagged,
                     _note(len(sides["public"]), len(sides["hidden"]), iv.n)])
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def gap_verdict(flagged: bool, note: str) -> str:
    """What a page shows in the flag column: "FLAGGED", "no", or why no verdict could be reached."""
    return "FLAGGED" if flagged else (note or "no")


def _mean(side: pd.DataFrame) -> float:
    return float(side["recall"].mean()) if len(side) else np.nan


def _note(public: int, hidden: int, pairs: int) -> str:
    if not hidden:
        return "not scored on hidden instances"
    if not public:
        return "no public cells"
    if not pairs:
        return "no matched (setting, density, seed)"
    if pairs < MIN_PAIRS:
        return "1 pair: no interval"
    return ""
