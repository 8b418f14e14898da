"""Paired comparisons of two methods on the same instances: Wilcoxon signed-rank test, Holm correction over all
pairs of a comparison, and the matched-pairs rank-biserial correlation as effect size.

Rule (:data:`PAIRED_RULE`): the two-sided Wilcoxon signed-rank test, zero differences dropped (Wilcoxon's
convention), tied absolute differences sharing their average rank. Up to :data:`EXACT_UP_TO` nonzero differences
the p-value comes from the exact null distribution of the signed-rank sum given those ranks (all 2**n sign patterns
equally likely, counted by :func:`signed_rank_law`; it equals :func:`scipy.stats.wilcoxon`'s exact p without ties,
and stays exact with ties, where scipy would switch to a normal approximation that is too small for few ties-heavy
pairs or to a slow permutation test); above, :func:`scipy.stats.wilcoxon`'s normal approximation with tie
correction. p-values are Holm-corrected over the pairs of one comparison; a difference is *significant* when its
corrected p is below :data:`ALPHA`, and only then does the page name a better method. The effect size
r = (R+ - R-) / (R+ + R-) (signed-rank sums of the differences a - b) lies in [-1, 1]: +1 when a is better on every
instance that differs.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

ALPHA = 0.05
EXACT_UP_TO = 50
NOT_SIGNIFICANT = "no significant difference"
PAIRED_RULE = (f"Paired comparisons: two-sided Wilcoxon signed-rank test on the instances both methods ran on "
               f"(same setting, density and seed), Holm-corrected over all pairs of a comparison (one protocol, on all "
               f"tasks or on one task); a method is called "
               f"better only where the corrected p < {ALPHA}. Effect size: matched-pairs rank-biserial r "
               f"(+1: the first method better on every instance that differs).")
PAIR_COLUMNS = ["method_a", "method_b", "n", "n_nonzero", "median_difference", "statistic", "p", "p_holm", "effect",
                "significant", "verdict"]


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        out[j] = running
    return out


def rank_biserial(differences) -> float:
    """Matched-pairs rank-biserial correlation of the differences (zeros dropped; ties get average ranks)."""
    from scipy.stats import rankdata

    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d) & (d != 0)]
    if not len(d):
        return float("nan")
    r = rankdata(np.abs(d))
    return float((r[d > 0].sum() - r[d < 0].sum()) / r.sum())


def signed_rank_law(ranks) -> np.ndarray:
    """The exact null law of the signed-rank sum W+ for the given (possibly tied, half-integer) ranks: entry j is
    P(W+ = j / 2), every sign pattern having probability 2**-n."""
    doubled = np.rint(2 * np.asarray(ranks, dtype=float)).astype(int)
    law = np.zeros(int(doubled.sum()) + 1)
    law[0] = 1.0
    for r in doubled:
        law = 0.5 * (law + np.concatenate([np.zeros(r), law[:len(law) - r]]))
    return law


def wilcoxon_pair(a, b) -> tuple[int, float, float]:
    """(number of nonzero differences, W = min(W+, W-), two-sided p) of the paired samples ``a``, ``b`` (see the
    module's rule); W and p NaN when every difference is zero."""
    from scipy.stats import rankdata, wilcoxon

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[d != 0]
    nonzero = len(d)
    if nonzero == 0:
        return 0, float("nan"), float("nan")
    if nonzero > EXACT_UP_TO:
        res = wilcoxon(d, zero_method="wilcox", alternative="two-sided", method="approx")
        return nonzero, float(res.statistic), float(res.pvalue)
    ranks = rankdata(np.abs(d))
    w_plus = float(ranks[d > 0].sum())
    law = signed_rank_law(ranks)
    j = int(round(2 * w_plus))
    p = min(1.0, 2.0 * min(law[:j + 1].sum(), law[j:].sum()))
    return nonzero, min(w_plus, float(ranks.sum()) - w_plus), float(p)


def pairwise(matrix: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Every pair of methods (columns of an oriented instance matrix, :func:`plantseek.stats.blocks.instance_matrix`):
    Wilcoxon test, Holm-corrected p, effect size and verdict. Columns :data:`PAIR_COLUMNS`; ``verdict`` names the
    better method only when ``p_holm < alpha``, else it is :data:`NOT_SIGNIFICANT`."""
    rows = []
    values = matrix.to_numpy(dtype=float) if matrix.size else np.zeros((0, matrix.shape[1]))
    column = {m: values[:, j] for j, m in enumerate(matrix.columns)}  # one array per method (no per-pair lookups)
    for a, b in itertools.combinations(list(matrix.columns), 2):
        d = column[a] - column[b]
        nonzero, stat, p = wilcoxon_pair(column[a], column[b])
        rows.append([a, b, len(d), nonzero, float(np.median(d)) if len(d) else np.nan, stat, p,
                     np.nan, rank_biserial(d)])
    out = pd.DataFrame(rows, columns=PAIR_COLUMNS[:-2])
    out["p_holm"] = holm(out["p"]) if len(out) else []
    out["significant"] = out["p_holm"].lt(alpha)
    out["verdict"] = [(f"{a} better" if e > 0 else f"{b} better") if s else NOT_SIGNIFICANT
                      for a, b, e, s in zip(out["method_a"], out["method_b"], out["effect"], out["significant"])]
    return out[PAIR_COLUMNS]


def smallest_p(n: int) -> float:
    """The smallest two-sided p an exact Wilcoxon test on ``n`` nonzero differences can reach: 2 / 2**n."""
    return min(1.0, 2.0 / 2.0 ** n) if n > 0 else 1.0
