"""The paired data a protocol's methods are compared on: one row per *instance*, one column per method.

An instance is one (setting, requested density, seed): the same planted network, pruned by every method to the
same density, so its values are paired. Only comparisons below full density count (the ticket's density and
densities < 1, as in the ranking, :data:`plantseek.report.rules.RANKING_RULE`); only competitors (no sanity
ablation, no leak detector) of the protocol; only ok cells with a finite value. Values are *oriented*: higher is
better (a lower-is-better weak metric such as MSE is negated), so every statistic reads "larger = better".
An instance that lacks a value of some method is left out (a Friedman test needs complete blocks); how many were
left out is in ``matrix.attrs["incomplete"]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from plantseek.frame.prepared import competitors, prepared

#: what a comparison can be made on
QUANTITIES = ("weak_metric", "recall")
BLOCK = ["_sid", "density_spec", "seed"]


def comparison_cells(df: pd.DataFrame) -> pd.DataFrame:
    """The prepared competitor cells that enter comparisons: ok, below full density or at the ticket's."""
    d = competitors(prepared(df))
    below = (d["density"] < 1) | (d["density"].isna() & d["density_spec"].eq("ticket"))
    return d[d["_ok"] & below]


def oriented(cells: pd.DataFrame, quantity: str) -> pd.Series:
    """``quantity`` of each cell with higher = better (the weak or strong metric negated where lower is better)."""
    if quantity not in QUANTITIES + ("strong_metric",):
        raise ValueError(f"no comparison on {quantity!r}; choose one of {', '.join(QUANTITIES)}")
    v = cells[quantity].astype(float)
    if quantity == "recall":
        return v
    return v.where(cells["_hib"], -v)


def instance_matrix(df: pd.DataFrame, protocol: str, quantity: str = "weak_metric",
                    task: str | None = None, cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """Instances x methods of ``protocol`` (optionally one ``task``): oriented ``quantity`` values, complete rows only.

    Index: (``_sid``, ``density_spec``, ``seed``); columns: methods, sorted. Methods without any value are dropped
    before incomplete instances are. ``cells``: :func:`comparison_cells` of ``df`` when already at hand."""
    cells = comparison_cells(df) if cells is None else cells
    cells = cells[cells["protocol"].eq(protocol) & (cells["task"].eq(task) if task else True)]
    values = cells[BLOCK + ["_method"]].assign(_v=oriented(cells, quantity))
    values = values[np.isfinite(values["_v"])]
    if not len(values):
        out = pd.DataFrame()
        out.attrs["incomplete"] = 0
        return out
    wide = values.groupby(BLOCK + ["_method"], sort=True)["_v"].mean().unstack("_method")
    wide = wide.dropna(axis=1, how="all")
    complete = wide.dropna(axis=0, how="any")
    complete = complete[sorted(complete.columns)]
    complete.columns.name = None
    complete.attrs["incomplete"] = int(len(wide) - len(complete))
    return complete
