"""Mean and bootstrap confidence interval over seeds, per (setting, method, requested density).

Rule (:data:`INTERVAL_RULE`): the percentile bootstrap of the mean (:func:`scipy.stats.bootstrap`,
``method="percentile"``), :data:`N_RESAMPLES` resamples from a generator seeded with :data:`BOOTSTRAP_SEED`, so an
interval is the same on every run. Only ok cells with a finite value count. With a single value there is no
interval (:data:`NO_INTERVAL`): none is invented; identical values give the degenerate interval ``[v, v]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from plantseek.report.prepared import prepared

CONFIDENCE = 0.95
N_RESAMPLES = 9999
BOOTSTRAP_SEED = 0
NO_INTERVAL = "n = 1: no interval"
NO_VALUE = "n = 0: no value"
INTERVAL_RULE = (f"Confidence intervals: {CONFIDENCE:.0%} percentile bootstrap of the mean over seeds "
                 f"({N_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}); shown where n >= 2 ({NO_INTERVAL} otherwise).")
#: quantities :func:`seed_intervals` covers
INTERVAL_QUANTITIES = ("recall", "strong_metric", "weak_metric")
INTERVAL_COLUMNS = ["sid", "setting", "slug", "task", "protocol", "method", "density_spec", "quantity", "n", "mean",
                    "ci_low", "ci_high", "note"]


@dataclass(frozen=True)
class Interval:
    """The mean of ``n`` values and its confidence interval ``[low, high]`` (NaN, with ``note``, when n < 2)."""

    mean: float
    low: float
    high: float
    n: int
    note: str = ""

    @property
    def has_interval(self) -> bool:
        return self.n >= 2 and bool(np.isfinite(self.low))


def bootstrap_interval(values, confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> Interval:
    """The mean of the finite ``values`` and its percentile-bootstrap interval (see the module's rule)."""
    from scipy.stats import bootstrap

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, 0, NO_VALUE)
    mean = float(v.mean())
    if n == 1:
        return Interval(mean, np.nan, np.nan, 1, NO_INTERVAL)
    if v.min() == v.max():
        return Interval(mean, float(v[0]), float(v[0]), n)
    res = bootstrap((v,), np.mean, n_resamples=n_resamples, confidence_level=confidence, method="percentile",
                    vectorized=True, rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return Interval(mean, float(ci.low), float(ci.high), n)


def seed_intervals(df: pd.DataFrame, quantities=INTERVAL_QUANTITIES) -> pd.DataFrame:
    """One row per (setting, method, requested density, quantity) of the frame (ok cells; ablations and leak
    detectors included): ``n`` values over seeds, their ``mean``, ``ci_low``/``ci_high`` and ``note``
    (:data:`NO_INTERVAL` with one seed). Columns :data:`INTERVAL_COLUMNS`."""
    d = prepared(df)
    ok = d[d["_ok"]]
    rows = []
    for (sid, method, spec), g in ok.groupby(["_sid", "_method", "density_spec"], sort=True):
        first = g.iloc[0]
        for q in quantities:
            iv = bootstrap_interval(g[q])
            rows.append([sid, first["_setting"], first["_slug"], first["task"], first["protocol"], method, spec, q,
                         iv.n, iv.mean, iv.low, iv.high, iv.note])
    return pd.DataFrame(rows, columns=INTERVAL_COLUMNS)
