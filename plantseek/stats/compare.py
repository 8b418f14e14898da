"""Two methods compared cell by cell: per (setting, requested density, quantity), the paired differences over the
seeds both ran, their bootstrap interval and a Wilcoxon signed-rank test, Holm-corrected over every row of the
comparison (pure, torch-free; what ``python -m plantseek compare`` prints).

The two sides are frames of prepared cells (:func:`plantseek.frame.prepared.prepared`), e.g. two pruners of one
store, or one pruner in two stores. A pair is one (setting, requested density, seed) where both sides have an
``ok`` cell (failed and diverged cells pair with nothing). Differences are oriented so that a positive value means
the first side is better: recall and accuracy as they are, an MSE as ``log10(mse_b / mse_a)`` (orders of
magnitude, the scale on which MSEs of different tasks and densities compare). A row names a better side only when
its Holm-corrected p is below :data:`~plantseek.stats.paired.ALPHA` *and* its interval excludes 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from plantseek.stats.intervals import CONFIDENCE, bootstrap_interval
from plantseek.stats.paired import ALPHA, NOT_SIGNIFICANT, holm, wilcoxon_pair

QUANTITIES = ("recall", "weak_metric")
COMPARE_COLUMNS = ["setting", "density_spec", "quantity", "scale", "n", "mean_a", "mean_b", "difference", "ci_low",
                   "ci_high", "p", "p_holm", "verdict"]
COMPARE_RULE = (f"Paired by (setting, density, seed) over ok cells; difference oriented so that > 0 means the first "
                f"side is better (MSE: log10 of the ratio); {CONFIDENCE:.0%} percentile bootstrap interval of the mean "
                f"difference; two-sided Wilcoxon signed-rank test, Holm-corrected over all rows; a side is called "
                f"better only where the corrected p < {ALPHA} and the interval excludes 0.")


def _oriented(values: pd.Series, higher_is_better: bool, quantity: str) -> tuple[pd.Series, str]:
    """Values on the scale the difference is taken on, and that scale's name."""
    if quantity == "recall" or higher_is_better:
        return values.astype(float), "difference"
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.log10(values.astype(float)), "log10 ratio"


def compare_sides(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str],
                  quantities: tuple[str, ...] = QUANTITIES) -> pd.DataFrame:
    """One row per (setting, requested density, quantity) with at least one pair (:data:`COMPARE_COLUMNS`)."""
    keys = ["_setting", "density_spec", "seed"]
    left = a[a["_ok"]].drop_duplicates(keys)
    right = b[b["_ok"]].drop_duplicates(keys)
    both = left.merge(right, on=keys, suffixes=("_a", "_b"))
    rows = []
    for (setting, spec), grp in both.groupby(["_setting", "density_spec"], sort=False):
        hib = bool(grp["_hib_a"].iloc[0])
        for q in quantities:
            va, scale = _oriented(grp[f"{q}_a"], hib, q)
            vb, _ = _oriented(grp[f"{q}_b"], hib, q)
            keep = np.isfinite(va.to_numpy()) & np.isfinite(vb.to_numpy())
            if not keep.any():
                continue
            diff = (va - vb).to_numpy()[keep]
            ci = bootstrap_interval(diff)
            _, _, p = wilcoxon_pair(va.to_numpy()[keep], vb.to_numpy()[keep])
            rows.append({"setting": setting, "density_spec": spec, "quantity": q, "scale": scale, "n": int(keep.sum()),
                         "mean_a": float(grp[f"{q}_a"].to_numpy()[keep].mean()),
                         "mean_b": float(grp[f"{q}_b"].to_numpy()[keep].mean()),
                         "difference": ci.mean, "ci_low": ci.low, "ci_high": ci.high, "p": p})
    out = pd.DataFrame(rows, columns=[c for c in COMPARE_COLUMNS if c not in ("p_holm", "verdict")])
    if not len(out):
        return pd.DataFrame(columns=COMPARE_COLUMNS)
    tested = out["p"].notna().to_numpy()
    out["p_holm"] = np.nan
    if tested.any():
        out.loc[tested, "p_holm"] = holm(out.loc[tested, "p"].to_numpy())
    out["verdict"] = [_verdict(r, names) for r in out.itertuples()]
    return out[COMPARE_COLUMNS]


def _verdict(row, names: tuple[str, str]) -> str:
    if not (row.p_holm < ALPHA):  # also NaN: no nonzero difference, or too few pairs
        return NOT_SIGNIFICANT
    if row.ci_low > 0:
        return f"{names[0]} better"
    if row.ci_high < 0:
        return f"{names[1]} better"
    return NOT_SIGNIFICANT


def tally(table: pd.DataFrame, names: tuple[str, str]) -> str:
    """One line: in how many rows each side is better, and in how many neither."""
    a = int(table["verdict"].eq(f"{names[0]} better").sum())
    b = int(table["verdict"].eq(f"{names[1]} better").sum())
    return (f"{names[0]} better in {a}, {names[1]} better in {b}, no significant difference in {len(table) - a - b} "
            f"of {len(table)} comparisons")


STANDING_COLUMNS = ["setting", "density_spec", "n", "recall", "rank", "of", "best_other", "best_other_recall",
                    "difference", "ci_low", "ci_high", "verdict"]


def standing(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Where the method labelled ``name`` stands, per (setting, requested density) it has ok cells in: its mean
    recall over its seeds, its rank by mean recall among every other method (no ablations) **on the same seeds**
    (1 = best; methods missing any of those seeds are left out), the best of the others, and the paired comparison
    with it (:func:`compare_sides`, Holm over these rows)."""
    d = frame[frame["_ok"] & frame["_ablation"].eq("")]
    mine = d[d["_label"].eq(name)]
    rows, pairs = [], []
    for (setting, spec), grp in mine.groupby(["_setting", "density_spec"], sort=False):
        seeds = set(grp["seed"])
        here = d[d["_setting"].eq(setting) & d["density_spec"].eq(spec) & d["seed"].isin(seeds)]
        full = here.groupby("_label")["seed"].nunique()
        methods = full[full == len(seeds)].index
        means = here[here["_label"].isin(methods)].groupby("_label")["recall"].mean().sort_values(ascending=False)
        others = means.drop(name, errors="ignore")
        rank = int((means > means.get(name, np.nan)).sum()) + 1
        best = others.index[0] if len(others) else ""
        rows.append({"setting": setting, "density_spec": spec, "n": len(seeds), "recall": float(means.get(name)),
                     "rank": rank, "of": len(means), "best_other": best,
                     "best_other_recall": float(others.iloc[0]) if len(others) else np.nan})
        if best:
            pairs.append((len(rows) - 1, here[here["_label"].eq(best)], grp))
    out = pd.DataFrame(rows)
    for col in ("difference", "ci_low", "ci_high"):
        out[col] = np.nan
    out["verdict"] = "no other method on these seeds"
    for i, theirs, grp in pairs:
        t = compare_sides(grp, theirs, (name, str(out.at[i, "best_other"])), ("recall",))
        if len(t):
            out.loc[i, ["difference", "ci_low", "ci_high"]] = t.iloc[0][["difference", "ci_low", "ci_high"]].to_numpy()
            out.at[i, "p"] = t.iloc[0]["p"]
    if "p" in out.columns:
        out["p_holm"] = holm(out["p"].to_numpy())
        for i, _, _ in pairs:
            row = out.loc[i]
            out.at[i, "verdict"] = _verdict(row, (name, str(row["best_other"])))
    return out.reindex(columns=STANDING_COLUMNS) if len(out) else pd.DataFrame(columns=STANDING_COLUMNS)
