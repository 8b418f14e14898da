"""Ranks over instances: the Friedman test, the Nemenyi critical difference (Demšar 2006) and the bootstrap
distribution of each method's overall rank.

Rule (:data:`RANK_RULE`): on each instance the methods are ranked, 1 = best (ties share the average rank); a
method's *mean rank* is the average over instances. The Friedman test (:func:`scipy.stats.friedmanchisquare`, k >= 3
methods) asks whether all mean ranks could be equal. The Nemenyi critical difference
CD = q_alpha * sqrt(k (k + 1) / (6 N)), q_alpha the studentized range quantile / sqrt(2) (Demšar 2006, Table 5),
is the least difference of mean ranks that is significant; a critical-difference diagram joins methods whose mean
ranks differ by less than CD. Rank stability: instances are resampled with replacement (:data:`N_BOOT` times,
seed :data:`BOOT_SEED`) and each method's overall place (1 + the number of methods with a strictly smaller mean
rank) is recorded.
"""

from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from plantseek.stats.paired import ALPHA

N_BOOT = 2000
BOOT_SEED = 0
RANK_RULE = ("Ranks: per instance, 1 = best (ties averaged); Friedman test over instances (k >= 3 methods); "
             f"Nemenyi critical difference at alpha = {ALPHA} (Demšar 2006): mean ranks closer than CD are joined "
             f"by a bar and are not significantly different. Rank stability: {N_BOOT} bootstrap resamples of the "
             "instances (seeded); tied mean ranks share the better place, so P(first) may add up to over 100 %.")


@dataclass(frozen=True)
class Friedman:
    """The Friedman test of an instance matrix: k methods, n instances, chi-square statistic, p (NaN when k < 3
    or n < 2, with ``note``), the mean ranks (best first) and the Nemenyi critical difference ``cd``."""

    k: int
    n: int
    statistic: float
    p: float
    cd: float
    mean_ranks: dict[str, float] = field(default_factory=dict)
    note: str = ""


def instance_ranks(matrix: pd.DataFrame) -> pd.DataFrame:
    """Rank of each method on each instance (row) of an oriented matrix: 1 = highest value, ties averaged."""
    from scipy.stats import rankdata

    if not matrix.size:
        return matrix.copy()
    r = rankdata(-matrix.to_numpy(dtype=float), axis=1, method="average")
    return pd.DataFrame(r, index=matrix.index, columns=matrix.columns)


@lru_cache(maxsize=64)
def nemenyi_q(k: int, alpha: float = ALPHA) -> float:
    """q_alpha of the Nemenyi test for k methods: the studentized range quantile (infinite df) over sqrt(2)."""
    from scipy.stats import studentized_range

    if k < 2:
        return float("nan")
    return float(studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0))


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi CD = q_alpha * sqrt(k (k + 1) / (6 n)) for k methods on n instances (NaN when n = 0 or k < 2)."""
    if n < 1 or k < 2:
        return float("nan")
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n))


def friedman(matrix: pd.DataFrame, alpha: float = ALPHA) -> Friedman:
    """The Friedman test, mean ranks and critical difference of an oriented instance matrix."""
    from scipy.stats import friedmanchisquare

    n, k = matrix.shape if matrix.size else (0, matrix.shape[1] if matrix.ndim == 2 else 0)
    ranks = instance_ranks(matrix)
    mean = ranks.mean(axis=0).sort_values(kind="stable") if n else pd.Series(dtype=float)
    mean_ranks = {str(m): float(v) for m, v in mean.items()}
    cd = critical_difference(k, n, alpha)
    if k < 3 or n < 2:
        why = f"{k} method(s)" if k < 3 else f"{n} instance(s)"
        return Friedman(k, n, np.nan, np.nan, cd, mean_ranks, f"no Friedman test with {why} (needs k >= 3, n >= 2)")
    if np.allclose(ranks.to_numpy(), (k + 1) / 2):
        return Friedman(k, n, 0.0, 1.0, cd, mean_ranks, "every instance a tie")
    res = friedmanchisquare(*[matrix[c].to_numpy(dtype=float) for c in matrix.columns])
    return Friedman(k, n, float(res.statistic), float(res.pvalue), cd, mean_ranks)


def cliques(mean_ranks: dict[str, float], cd: float) -> list[tuple[str, ...]]:
    """The maximal groups of methods (in mean-rank order) whose mean ranks all lie within ``cd`` of each other:
    the bars of a critical-difference diagram. Groups of one method are left out."""
    names = sorted(mean_ranks, key=lambda m: (mean_ranks[m], m))
    if not np.isfinite(cd):
        return []
    groups: list[tuple[str, ...]] = []
    for i, a in enumerate(names):
        j = i
        while j + 1 < len(names) and mean_ranks[names[j + 1]] - mean_ranks[a] < cd:
            j += 1
        group = tuple(names[i:j + 1])
        if len(group) > 1 and not any(set(group) <= set(g) for g in groups):
            groups.append(group)
    return groups


def rank_stability(matrix: pd.DataFrame, n_boot: int = N_BOOT, seed: int = BOOT_SEED) -> pd.DataFrame:
    """The bootstrap distribution of each method's overall place (1 = best mean rank; ties share the better place).

    One row per method, ordered by observed mean rank: ``mean_rank`` (observed), ``place`` (observed),
    ``p_first`` (share of resamples where it is first), ``place_low``/``place_median``/``place_high`` (2.5 %, 50 %,
    97.5 % quantiles of its place, ``numpy.quantile`` with ``method="inverted_cdf"``, so always a place that
    occurred) and ``p_place_1``..``p_place_k``."""
    cols = ["method", "mean_rank", "place", "p_first", "place_low", "place_median", "place_high"]
    n, k = matrix.shape
    if n == 0 or k == 0:
        return pd.DataFrame(columns=cols)
    r = instance_ranks(matrix).to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    means = r[idx].mean(axis=1)  # (n_boot, k)
    places = _places(means)
    observed_mean = r.mean(axis=0)
    observed = _places(observed_mean[None, :])[0]
    rows = []
    for j, m in enumerate(matrix.columns):
        p = places[:, j]
        q = np.quantile(p, [0.025, 0.5, 0.975], method="inverted_cdf")
        row = {"method": m, "mean_rank": float(observed_mean[j]), "place": int(observed[j]),
               "p_first": float(np.mean(p == 1)), "place_low": int(q[0]), "place_median": int(q[1]),
               "place_high": int(q[2])}
        row.update({f"p_place_{i}": float(np.mean(p == i)) for i in range(1, k + 1)})
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.sort_values(["mean_rank", "method"], kind="stable").reset_index(drop=True)


def _places(means: np.ndarray) -> np.ndarray:
    """Place of each column in each row: 1 + the number of columns with a strictly smaller value (rounded to 1e-9)."""
    m = np.round(means, 9)
    return 1 + (m[:, None, :] < m[:, :, None]).sum(axis=2)
