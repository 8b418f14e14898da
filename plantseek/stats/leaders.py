"""Who leads each (setting, requested density), and whether the lead is significant: the answers of the
leaderboard's index.

Rule (:data:`LEAD_RULE`): per setting, requested density (below 1, or the ticket's) and quantity (recall; the weak
metric, oriented so that higher is better), the competitors' ok cells with a finite value are averaged over seeds;
the method with the best mean leads and the next best is the runner-up (equal means: by name). Each mean comes with
its seed bootstrap interval (:func:`plantseek.stats.intervals.bootstrap_interval`). The lead is *significant* when
the paired two-sided Wilcoxon signed-rank test (:func:`plantseek.stats.paired.wilcoxon_pair`) of the leader against
the runner-up, on the seeds both ran (the same planted network pruned by both), gives p < :data:`ALPHA` with the
leader ahead on those seeds; a single mean never decides it. One test per answer, no correction across answers:
read each as its own question. Answers are given over all protocols (``view`` ``""``) and, where a setting holds
several protocols, within each (``view`` = the protocol).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from plantseek.frame.prepared import prepared
from plantseek.stats.blocks import comparison_cells, oriented
from plantseek.stats.intervals import bootstrap_interval
from plantseek.stats.paired import ALPHA, rank_biserial, smallest_p, wilcoxon_pair

LEAD_QUANTITIES = ("recall", "weak_metric")
LEAD_RULE = (f"Leader: the best mean over seeds; runner-up: the next. A lead is significant when a paired two-sided "
             f"Wilcoxon signed-rank test of the leader against the runner-up on the seeds both ran gives "
             f"p < {ALPHA} (one test per answer, not corrected across answers); a mean alone never decides it.")
LEADER_COLUMNS = ["family", "task", "sid", "setting", "slug", "density_spec", "density", "view", "quantity",
                  "metric_name", "higher_is_better", "methods",
                  "best", "best_protocol", "best_mean", "best_low", "best_high", "best_n",
                  "second", "second_protocol", "second_mean", "second_low", "second_high", "second_n",
                  "pairs", "p", "significant", "verdict"]


def lead_verdict(best: np.ndarray, second: np.ndarray) -> tuple[int, float, bool, str]:
    """(common seeds, p, significant, verdict) of the leader's values ``best`` against the runner-up's ``second``
    (oriented: higher is better; paired by position, NaN where a seed is missing)."""
    both = np.isfinite(best) & np.isfinite(second)
    a, b = best[both], second[both]
    n = int(both.sum())
    if n < 2:
        return n, float("nan"), False, f"{n} common seed(s): no test"
    nonzero, _, p = wilcoxon_pair(a, b)
    if nonzero == 0:
        return n, float("nan"), False, f"tied on all {n} common seeds"
    ahead = rank_biserial(a - b) > 0
    if p < ALPHA and ahead:
        return n, p, True, f"significant lead (Wilcoxon p = {p:.2g}, {n} seeds)"
    if smallest_p(nonzero) >= ALPHA:
        return n, p, False, f"not significant: {n} seeds cannot reach p < {ALPHA}"
    return n, p, False, f"no significant lead (p = {p:.2g}, {n} seeds)"


def leaders(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, requested density, view, quantity): leader, runner-up, their means and intervals and
    the lead's test (columns :data:`LEADER_COLUMNS`). ``df``: the cells to rank (the published ones)."""
    cells = comparison_cells(prepared(df))
    rows: list[dict] = []
    if not len(cells):
        return pd.DataFrame(columns=LEADER_COLUMNS)
    values = {q: (oriented(cells, q).to_numpy(float), cells[q].to_numpy(float)) for q in LEAD_QUANTITIES}
    for (sid, spec), idx in sorted(cells.groupby(["_sid", "density_spec"], sort=False).indices.items()):
        g = cells.iloc[idx]
        first = g.iloc[0]
        head = {"family": first["_family"], "task": first["task"], "sid": sid, "setting": first["_setting"],
                "slug": first["_slug"], "density_spec": spec, "density": float(g["density"].mean()),
                "metric_name": first["metric_name"], "higher_is_better": bool(first["_hib"])}
        protocol = g["protocol"].to_numpy(object)
        views = [""] + (sorted(set(protocol)) if len(set(protocol)) > 1 else [])
        for view in views:
            keep = np.ones(len(g), bool) if not view else protocol == view
            for q in LEAD_QUANTITIES:
                o, raw = values[q][0][idx][keep], values[q][1][idx][keep]
                row = _answer(g["_method"].to_numpy(object)[keep], g["seed"].to_numpy()[keep], protocol[keep], o, raw)
                if row is not None:
                    rows.append({**head, "view": view, "quantity": q, **row})
    return pd.DataFrame(rows, columns=LEADER_COLUMNS)


def _answer(method: np.ndarray, seed: np.ndarray, protocol: np.ndarray, v: np.ndarray, raw: np.ndarray) -> dict | None:
    """Leader and runner-up of one (setting, density, view) on one quantity: ``v`` oriented, ``raw`` as stored."""
    ok = np.isfinite(v)
    method, seed, protocol, v, raw = method[ok], seed[ok], protocol[ok], v[ok], raw[ok]
    if not len(v):
        return None
    names = sorted(set(method))
    seeds = sorted(set(seed))
    where = {s: i for i, s in enumerate(seeds)}
    by_method: dict[str, np.ndarray] = {}
    for m in names:
        sel = method == m
        wide = np.full(len(seeds), np.nan)
        sums = np.zeros(len(seeds))
        counts = np.zeros(len(seeds))
        np.add.at(sums, [where[s] for s in seed[sel]], v[sel])
        np.add.at(counts, [where[s] for s in seed[sel]], 1)
        wide[counts > 0] = sums[counts > 0] / counts[counts > 0]  # the mean of a seed's cells (one, normally)
        by_method[m] = wide
    means = {m: float(np.nanmean(w)) for m, w in by_method.items()}
    order = sorted(names, key=lambda m: (-means[m], m))
    proto = dict(zip(method, protocol))
    row: dict = {"methods": len(order)}
    for who, m in (("best", order[0]), ("second", order[1] if len(order) > 1 else None)):
        if m is None:
            row.update({who: "", f"{who}_protocol": "", f"{who}_mean": np.nan, f"{who}_low": np.nan,
                        f"{who}_high": np.nan, f"{who}_n": 0})
            continue
        iv = bootstrap_interval(raw[method == m])
        row.update({who: m, f"{who}_protocol": proto[m], f"{who}_mean": iv.mean, f"{who}_low": iv.low,
                    f"{who}_high": iv.high, f"{who}_n": iv.n})
    if len(order) > 1:
        n, p, sig, verdict = lead_verdict(by_method[order[0]], by_method[order[1]])
    else:
        n, p, sig, verdict = 0, float("nan"), False, "one method: no runner-up"
    row.update({"pairs": n, "p": p, "significant": sig, "verdict": verdict})
    return row


__all__ = ["LEAD_QUANTITIES", "LEAD_RULE", "LEADER_COLUMNS", "lead_verdict", "leaders"]
