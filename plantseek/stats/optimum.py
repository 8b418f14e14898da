"""Distance to the optimum (Zhang & Papyan's lens): how many more weights a pruner keeps than the sparsest mask that
reaches the same accuracy.

Rule (:data:`OPTIMUM_RULE`): cells whose instance has a known optimum carry ``optimum_nnz``, ``optimum_ratio``
(kept weights / optimum nnz) and ``optimum_metric`` (the optimum mask's strong test metric;
:mod:`plantseek.score.known_optimum`). A cell *reaches the target* when its metric is at least as good as
``optimum_metric`` (higher accuracy, or lower MSE, within ``tolerance``). Per (setting, pruner) and per instance
(seed): the sparsest reaching cell, i.e. the smallest ``optimum_ratio`` and its achieved density; across instances
the mean ratio with its bootstrap interval and the number of instances on which the pruner reached the target at all.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from plantseek.stats.intervals import bootstrap_interval

__all__ = ["OPTIMUM_RULE", "reaches", "distance_to_optimum"]

OPTIMUM_RULE = (
    "Distance to the optimum: on instances with a certified sparsest strong ticket, a cell reaches the target when "
    "its strong metric is at least as good as the optimum mask's; per instance the pruner's sparsest reaching cell "
    "gives kept weights / optimum nnz (1 = as sparse as the optimum); mean over instances with its bootstrap interval.")

GROUP = ["task", "depth", "width", "pruner"]


def reaches(metric: float, target: float, higher_is_better: bool, tolerance: float = 0.0) -> bool:
    """Whether ``metric`` is at least as good as ``target`` (``tolerance``: absolute slack in the metric's units)."""
    if not (math.isfinite(metric) and math.isfinite(target)):
        return False
    return metric >= target - tolerance if higher_is_better else metric <= target + tolerance


def distance_to_optimum(df: pd.DataFrame, metric: str = "strong_metric", tolerance: float = 0.0) -> pd.DataFrame:
    """One row per (task, depth, width, pruner) over ok cells with a known optimum: ``instances``, ``reached``
    (instances on which some cell reached the target), ``ratio`` (mean over reaching instances of the sparsest
    reaching cell's kept / optimum nnz) with ``ratio_lo``/``ratio_hi``, and ``density`` (mean achieved density of
    those cells). Empty when no cell has a known optimum."""
    cols = GROUP + ["instances", "reached", "ratio", "ratio_lo", "ratio_hi", "density"]
    if "optimum_ratio" not in df.columns or df.empty:
        return pd.DataFrame(columns=cols)
    d = df[df["optimum_ratio"].notna()]
    if "status" in d.columns:
        d = d[d["status"].astype(str) == "ok"]
    rows = []
    for key, g in d.groupby(GROUP, sort=True):
        per_instance = []
        for _, inst in g.groupby("seed"):
            ok = [bool(reaches(float(m), float(t), bool(h), tolerance))
                  for m, t, h in zip(inst[metric], inst["optimum_metric"], inst["higher_is_better"])]
            hit = inst[np.asarray(ok, dtype=bool)]
            per_instance.append(None if hit.empty else hit.sort_values("optimum_ratio").iloc[0])
        best = [r for r in per_instance if r is not None]
        iv = bootstrap_interval([float(r["optimum_ratio"]) for r in best])
        dens = float(np.mean([float(r["achieved_density"]) for r in best])) if best else math.nan
        rows.append([*key, len(per_instance), len(best), iv.mean, iv.low, iv.high, dens])
    return pd.DataFrame(rows, columns=cols)
