"""Which methods a setting's plots show by default: the leaders, random and magnitude, at most :data:`SHOWN` in all
(a plot with 26-40 lines cannot be read); the page lets a reader add any other method.

Rule (:data:`SELECTION_RULE`): random and magnitude (the references, when the setting has them), then the methods
by their mean rank over the setting's densities below 1 (and the ticket's), alternately by recall and by weak
metric (best first, each method once), until :data:`SHOWN` methods are chosen. A pure function of the summary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SHOWN = 8
REFERENCES = ("random", "magnitude")
SELECTION_RULE = (f"The plots show at most {SHOWN} methods by default: {' and '.join(REFERENCES)} (the references) and "
                  f"the leaders by mean rank over densities, alternately by recall and by weak metric; tick any other "
                  f"method to add it.")


def _mean_ranks(s: pd.DataFrame, q: str, higher: bool) -> pd.Series:
    comp = s[(s["density"] < 1) | (s["density"].isna() & s["density_spec"].eq("ticket"))]
    v = comp[f"{q}_mean"].astype(float)
    v = v if higher else -v
    ranks = comp.assign(_v=v).groupby("density_spec")["_v"].rank(ascending=False, method="average",
                                                                   na_option="bottom")
    return ranks.groupby(comp["method"]).mean()


def default_methods(s: pd.DataFrame, shown: int = SHOWN) -> list[str]:
    """The methods a setting's plots show by default (see the module's rule). ``s``: the setting's rows of
    :func:`plantseek.report.tables.summary_table` (competitors); returns at most ``shown`` method names."""
    if not len(s):
        return []
    methods = set(s["method"])
    chosen = [m for m in REFERENCES if m in methods][:shown]
    hib = bool(s["higher_is_better"].iloc[0])
    orders = []
    for q, higher in (("recall", True), ("weak_metric", hib)):
        r = _mean_ranks(s, q, higher)
        orders.append(sorted(r.index, key=lambda m: (r[m] if np.isfinite(r[m]) else np.inf, m)))
    i = 0
    while len(chosen) < shown and any(i < len(o) for o in orders):
        for o in orders:
            if i < len(o) and o[i] not in chosen and len(chosen) < shown:
                chosen.append(o[i])
        i += 1
    return chosen


__all__ = ["SHOWN", "REFERENCES", "SELECTION_RULE", "default_methods"]
