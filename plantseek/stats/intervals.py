"""Mean and bootstrap confidence interval over seeds, per (setting, method, requested density).

Rule (:data:`INTERVAL_RULE`): the percentile bootstrap of the mean. :data:`N_RESAMPLES` resamples of the n values
(with replacement, indices drawn as one (resamples x n) array by ``numpy.random.default_rng(BOOTSTRAP_SEED)``, so an
interval is the same on every run), the mean of each, and the 2.5 % and 97.5 % quantiles of those means
(``numpy.quantile``, linear interpolation): what :func:`scipy.stats.bootstrap` with ``method="percentile"`` computes
(tests/stats compare the two), without its per-call overhead, which a page with hundreds of cells would pay
hundreds of times. Only ok cells with a finite value count. With a single value there is no interval
(:data:`NO_INTERVAL`): none is invented; identical values give the degenerate interval ``[v, v]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from plantseek.frame.prepared import prepared

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
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, n, size=(n_resamples, n))].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Interval(mean, float(low), float(high), n)


def seed_intervals(df: pd.DataFrame, quantities=INTERVAL_QUANTITIES) -> pd.DataFrame:
    """One row per (setting, method, requested density, quantity) of the frame (ok cells; ablations and leak
    detectors included): ``n`` values over seeds, their ``mean``, ``ci_low``/``ci_high`` and ``note``
    (:data:`NO_INTERVAL` with one seed). Columns :data:`INTERVAL_COLUMNS`."""
    d = prepared(df)
    ok = d[d["_ok"]]
    values = {q: ok[q].to_numpy(dtype=float) for q in quantities}
    first = ok[["_sid", "_setting", "_slug", "task", "protocol", "_method", "density_spec"]].to_numpy(dtype=object)
    rows = []
    for _, idx in sorted(ok.groupby(["_sid", "_method", "density_spec"], sort=False).indices.items()):
        head = list(first[idx[0]])
        for q in quantities:
            iv = bootstrap_interval(values[q][idx])
            rows.append(head + [q, iv.n, iv.mean, iv.low, iv.high, iv.note])
    return pd.DataFrame(rows, columns=INTERVAL_COLUMNS)
