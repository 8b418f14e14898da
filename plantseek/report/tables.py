"""The leaderboard's tables, pure functions of a results frame (:func:`plantseek.store.results.load_results`).

Aggregation over seeds (the instance seeds of a setting): only cells with status ``ok`` and a finite value enter
a mean; tables show ``mean ± sample standard deviation`` (ddof = 1; no ± with a single seed). Failed cells are
counted and shown, never averaged. Ranking rule: :data:`plantseek.report.rules.RANKING_RULE`.

Sanity ablations (:data:`plantseek.report.rules.SANITY_RULE`): the harness scores a pruner P's masks twice more,
shuffled within each layer and on a re-initialised host (the ``ablation`` column: ``"shuffled"``, ``"reinit"``;
shown as ``"P [shuffled]"`` and ``"P [reinit]"``). They are not competitors: they are kept out of the ranking and of
the per-setting tables, and shown against P in their own section (:func:`sanity_table`) and in the flat table of all
results.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from plantseek.frame.labels import spec_key
from plantseek.frame.prepared import competitors, prepared
from plantseek.report.like_with_like import cells_of, comparisons, describe_subset, ranked_comparisons

#: quantities aggregated over seeds for every (setting, method, density); of the compute figures
#: (:mod:`plantseek.records.compute`) the parent-measured ones (CPU and wall-clock seconds of the prune request) are
#: results, ``compute_dense_runs`` is self-reported by the pruner's worker: shown labelled so, never ranked or sorted on
QUANTITIES = ["recall", "precision", "strong_metric", "weak_metric", "achieved_density", "ticket_metric",
              "dense_weak_metric", "prune_cpu_seconds", "prune_parent_seconds", "compute_dense_runs"]


def _stats(values: pd.Series) -> dict[str, float]:
    v = values.to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    return {
        "mean": float(v.mean()) if n else np.nan,
        "std": (float(v.std(ddof=1)) if v.min() != v.max() else 0.0) if n > 1 else np.nan,
        "min": float(v.min()) if n else np.nan,
        "max": float(v.max()) if n else np.nan,
        "n": n,
    }


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, method, requested density): counts and per-quantity mean/std/min/max/n over seeds.

    Columns: ``setting, slug, task, depth, width, noise, instances, pruner, ablation, protocol, method, density_spec,
    density (mean requested density; the ticket's for "ticket"), metric_name, higher_is_better, cells, ok, failed``
    and, for each quantity ``q`` of :data:`QUANTITIES`, ``q_mean, q_std, q_min, q_max, q_n`` (ok cells with finite
    values only).
    Rows are ordered by setting, method and density (ticket first, then increasing).
    """
    d = prepared(df)
    keys = ["_sid", "_method", "density_spec"]
    out = d.groupby(keys, sort=False).agg(
        setting=("_setting", "first"), slug=("_slug", "first"), task=("task", "first"), depth=("depth", "first"),
        width=("width", "first"), noise=("noise", "first"), instances=("instances", "first"),
        pruner=("pruner", "first"),
        ablation=("_ablation", "first"), protocol=("protocol", "first"), density=("density", "mean"),
        metric_name=("metric_name", "first"),
        higher_is_better=("_hib", "first"), cells=("_ok", "size"), ok=("_ok", "sum"))
    out["ok"] = out["ok"].astype(int)
    out["failed"] = out["cells"] - out["ok"]
    okd = d.loc[d["_ok"], keys + QUANTITIES].replace([np.inf, -np.inf], np.nan)
    stats = okd.groupby(keys, sort=False)[QUANTITIES].agg(["mean", "std", "min", "max", "count"])  # std: ddof=1
    stats.columns = [f"{q}_{'n' if k == 'count' else k}" for q, k in stats.columns]
    out = out.join(stats, how="left")
    for q in QUANTITIES:
        out[f"{q}_n"] = out[f"{q}_n"].fillna(0).astype(int)
        same = out[f"{q}_n"].gt(1) & out[f"{q}_min"].eq(out[f"{q}_max"])
        out.loc[same, f"{q}_std"] = 0.0  # identical values: exactly 0, not rounding noise
    out = out.reset_index().rename(columns={"_method": "method"})
    out["higher_is_better"] = out["higher_is_better"].astype(bool)
    out["_skey"] = out["density_spec"].map(spec_key)
    out = out.sort_values(["_sid", "method", "_skey"], kind="stable").drop(columns="_skey")
    return out.reset_index(drop=True)


RANKING_COLUMNS = ["position", "method", "pruner", "protocol", "mean_rank", "mean_recall_rank", "comparisons",
                   "mean_recall", "cells", "failed", "prune_cpu_seconds", "ranked_on", "subset_place"]
#: what a ranking can be ordered by (the other quantity breaks ties)
RANK_BY = ("weak_metric", "recall")


def ranking(df: pd.DataFrame, by: str = "weak_metric") -> pd.DataFrame:
    """The overall ranking (rule: :data:`RANKING_RULE`), like with like (:mod:`plantseek.report.like_with_like`):
    first the ranked methods, best first, each ranked on the same comparisons and seeds; then every other method,
    ranked on its common subset with them (``position`` NaN, ``subset_place`` its place there).

    Columns: :data:`RANKING_COLUMNS`. ``by``: ``"weak_metric"`` (mean rank of the weak metric, recall breaks ties) or
    ``"recall"`` (the reverse). ``mean_recall`` is the mean over the method's ranked comparisons of its mean recall
    there; ``cells``, ``failed`` and ``prune_cpu_seconds`` (the mean over its ok cells of the CPU seconds its prune
    worker spent, measured by the parent: :mod:`plantseek.records.compute`) count all of its cells. ``ranked_on``
    names the cells the ranks rest on. Self-reported figures (``compute_dense_runs``) are not in the ranking;
    sanity-ablation cells are left out entirely.
    """
    if by not in RANK_BY:
        raise ValueError(f"a ranking is by one of {', '.join(RANK_BY)}, not {by!r}")
    d = competitors(prepared(df))
    if not len(d):
        return pd.DataFrame(columns=RANKING_COLUMNS)
    totals = d.groupby("_method").agg(pruner=("pruner", "first"), protocol=("protocol", "first"),
                                      cells=("_ok", "size"), failed=("_ok", lambda x: int((~x).sum())))
    totals = totals.join(d[d["_ok"]].groupby("_method")["prune_cpu_seconds"].mean(), how="left")
    comps = comparisons(d)
    keys, ranked = ranked_comparisons(comps)
    order = ["mean_rank", "mean_recall_rank"] if by == "weak_metric" else ["mean_recall_rank", "mean_rank"]
    main = _mean_ranks(cells_of(d, comps, sorted(keys), ranked))
    main = main.sort_values([*order, "method"], na_position="last", kind="stable")
    main.insert(0, "position", _positions(main, order))
    main["ranked_on"] = describe_subset(keys, comps, len(keys))
    rows = [main]
    held = d.groupby(["_sid", "density_spec", "_method"])["seed"].agg(frozenset)
    for m in sorted(set(totals.index) - ranked):
        shared = {k: (comps[k][0] & held.get((k[0], k[1], m), frozenset()), ranked) for k in sorted(keys)}
        shared = {k: v for k, v in shared.items() if v[0]}  # the ranked comparisons' seeds that m holds too
        sub = _mean_ranks(cells_of(d, shared, shared, ranked | {m})) if shared else None
        if sub is None or m not in set(sub["method"]):
            rows.append(pd.DataFrame([{"method": m, "comparisons": 0, "ranked_on": "no cell in common with the "
                                       "ranked methods" if keys else "no comparison"}]))
            continue
        sub = sub.sort_values([*order, "method"], kind="stable")
        place = _positions(sub, order)[list(sub["method"]).index(m)]
        row = sub[sub["method"].eq(m)].assign(subset_place=place, ranked_on="common subset: " + describe_subset(
            shared, shared, len(keys)) + f"; place {place:g} of {len(sub)} there")
        rows.append(row)
    out = pd.concat(rows, ignore_index=True).set_index("method")
    out = out.drop(columns=[c for c in ("pruner", "protocol", "cells", "failed", "prune_cpu_seconds")
                            if c in out.columns]).join(totals, how="left")
    out["comparisons"] = out["comparisons"].fillna(0).astype(int)
    out = out.reset_index().rename(columns={"index": "method"})
    for c in RANKING_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    return out[RANKING_COLUMNS].reset_index(drop=True)


def _mean_ranks(cells: pd.DataFrame) -> pd.DataFrame:
    """Per method: mean rank of the weak metric and of recall over the comparisons of ``cells``, how many, and the
    mean of its mean recall there (columns ``method, mean_rank, mean_recall_rank, comparisons, mean_recall``)."""
    cols = ["method", "mean_rank", "mean_recall_rank", "comparisons", "mean_recall"]
    ranked = _ranked_comparisons(summary_table(cells)) if len(cells) else []
    if not ranked:
        return pd.DataFrame(columns=cols)
    r = pd.concat(ranked)
    agg = r.groupby("method").agg(mean_rank=("_rank", "mean"), mean_recall_rank=("_rrank", "mean"),
                                  comparisons=("_rank", "size"), mean_recall=("recall_mean", "mean"))
    return agg.reset_index()[cols]


COMPUTE_VIEW_COLUMNS = ["setting", "method", "protocol", "density_spec", "density", "ok", "cells", "recall_mean",
                        "recall_std", "weak_metric_mean", "weak_metric_std", "metric_name", "prune_cpu_seconds_mean",
                        "prune_cpu_seconds_std", "prune_parent_seconds_mean", "prune_parent_seconds_std",
                        "compute_dense_runs_mean", "compute_dense_runs_std"]


def compute_view(df: pd.DataFrame) -> pd.DataFrame:
    """Recovery against compute: one row per (setting, method, requested density) of the competitors, with the mean
    (and std over seeds) recall of the planted ticket, weak metric, the parent-measured CPU and wall-clock seconds of
    the prune request and the self-reported compute in dense training runs (:data:`COMPUTE_VIEW_COLUMNS`; ordered as
    :func:`summary_table`)."""
    d = competitors(prepared(df))
    if not len(d):
        return pd.DataFrame(columns=COMPUTE_VIEW_COLUMNS)
    return summary_table(d)[COMPUTE_VIEW_COLUMNS].reset_index(drop=True)


def _positions(out: pd.DataFrame, order: list[str]) -> list[float]:
    """Places 1, 2, ... down the sorted ranking; equal scores share a place; no place without a comparison."""
    pos: list[float] = []
    prev = None
    for i, (a, b) in enumerate(zip(out[order[0]].astype(float).round(9), out[order[1]].astype(float).round(9)),
                               start=1):
        if not np.isfinite(a):  # took part in no comparison
            pos.append(np.nan)
            continue
        pos.append(pos[-1] if prev == (a, b) else float(i))  # equal scores share a position
        prev = (a, b)
    return pos


def _ranked_comparisons(s: pd.DataFrame) -> list[pd.DataFrame]:
    """The comparisons of the summary ``s`` with each method's weak-metric rank ``_rank`` and recall rank
    ``_rrank`` (missing values share the last places); an empty list when there is no comparison."""
    comp = s[(s["density"] < 1) | s["density"].isna() & s["density_spec"].eq("ticket")].copy()
    comp["_weak"] = np.where(comp["higher_is_better"], -comp["weak_metric_mean"], comp["weak_metric_mean"])
    comp["_rec"] = -comp["recall_mean"]
    by = ["_sid", "density_spec"]
    size = comp.groupby(by)["_weak"].transform("size")
    comp = comp[size >= 2]
    ranked = []
    if len(comp):
        grp = comp.groupby(by)
        size = grp["_weak"].transform("size")
        for src, dst in (("_weak", "_rank"), ("_rec", "_rrank")):
            finite = grp[src].transform("count")  # missing values share the last places (their mean rank)
            comp[dst] = grp[src].rank(method="average").fillna(finite + (size - finite + 1) / 2.0)
        ranked = [comp]
    return ranked


SIDES = (("", ""), ("shuffled", "shuffled_"), ("reinit", "reinit_"))  # (ablation, column prefix)
#: the (column prefix, quantity) pairs the pages show: a re-initialised host keeps the same mask, so its recall
#: equals P's and only its trained (weak) metric says something
SANITY_SHOWN = (("", "weak_metric"), ("", "recall"), ("shuffled_", "weak_metric"), ("shuffled_", "recall"),
                ("reinit_", "weak_metric"))
SANITY_COLUMNS = (["setting", "slug", "task", "metric_name", "higher_is_better", "method", "pruner", "protocol",
                   "density_spec", "density"]
                  + [f"{pre}{q}_{k}" for _, pre in SIDES for q in ("weak_metric", "recall") for k in ("mean", "std")]
                  + ["shuffled_pairs", "shuffled_p", "beats_shuffled"])
#: fewer pairs than this can never give a two-sided exact signed-rank p below 0.05 (2 / 2**5 = 0.0625)
MIN_SANITY_PAIRS = 6


def _paired_verdict(g: pd.DataFrame, hib: bool) -> tuple[int, float, str]:
    """(pairs, p, verdict) of P against P [shuffled] on the seeds where both have an ok cell with a finite weak
    metric: the two-sided Wilcoxon signed-rank test of the oriented differences (an MSE as -log10), as in
    :mod:`plantseek.stats.compare`. "yes": P is better at p < 0.05; "no": it is not (with at least
    :data:`MIN_SANITY_PAIRS` pairs); "too few seeds": fewer pairs, where no outcome could reach p < 0.05; "n/a":
    no pair."""
    from plantseek.stats.paired import ALPHA, wilcoxon_pair

    def side(abl: str) -> pd.Series:
        v = g[g["_ablation"].eq(abl) & g["_ok"]].groupby("seed")["weak_metric"].first().astype(float)
        v = v[np.isfinite(v) & (hib | (v > 0))]
        return v if hib else -np.log10(v)
    mine, shuffled = side(""), side("shuffled")
    seeds = mine.index.intersection(shuffled.index)
    n = len(seeds)
    if n == 0:
        return 0, np.nan, "n/a"
    diff = mine[seeds] - shuffled[seeds]
    _, _, p = wilcoxon_pair(mine[seeds].to_numpy(), shuffled[seeds].to_numpy())
    if n < MIN_SANITY_PAIRS:
        return n, p, "too few seeds"
    return n, p, "yes" if p < ALPHA and diff.mean() > 0 else "no"


def sanity_table(df: pd.DataFrame) -> pd.DataFrame:
    """For every pruner P with sanity-ablation cells, one row per (setting, P, requested density below 1): P's
    weak metric and recall against ``P [shuffled]`` and ``P [reinit]`` (rule: :data:`SANITY_RULE`).

    Columns: :data:`SANITY_COLUMNS`; ``pruner`` is P, ``method`` its display name; the quantities are
    ``{side}{q}_mean`` and ``{side}{q}_std`` for side ``""`` (P itself), ``"shuffled_"`` and ``"reinit_"`` and
    q in (weak_metric, recall), over ok cells with a finite value (std: ddof = 1, NaN with one seed).
    ``beats_shuffled`` is the paired test's verdict (:func:`_paired_verdict`) over ``shuffled_pairs`` seeds with
    two-sided p ``shuffled_p``. Empty (no rows) when the frame holds no ablation cells.
    """
    d = prepared(df)
    fam = d[d["_base"].isin(set(d.loc[d["_ablation"].ne(""), "_base"]))]
    fam = fam[(fam["density"] < 1) | fam["density"].isna() & fam["density_spec"].eq("ticket")]
    if not len(fam):
        return pd.DataFrame(columns=SANITY_COLUMNS)
    n_protocols = fam.groupby("_base")["protocol"].agg(lambda x: len(set(x) - {""}))
    rows = []
    for (sid, base, proto, spec), g in fam.groupby(["_sid", "_base", "protocol", "density_spec"], sort=False):
        hib = bool(g["_hib"].iloc[0])
        r: dict[str, Any] = {
            "setting": g["_setting"].iloc[0], "slug": g["_slug"].iloc[0], "task": g["task"].iloc[0],
            "metric_name": g["metric_name"].iloc[0], "higher_is_better": hib,
            "method": base if n_protocols[base] <= 1 or not proto else f"{base} ({proto})", "pruner": base,
            "protocol": proto, "density_spec": spec, "density": float(g["density"].mean()), "_sid": sid}
        for abl, pre in SIDES:
            side = g[g["_ablation"].eq(abl) & g["_ok"]]
            for q in ("weak_metric", "recall"):
                st = _stats(side[q])
                r[f"{pre}{q}_mean"], r[f"{pre}{q}_std"] = st["mean"], st["std"]
        r["shuffled_pairs"], r["shuffled_p"], r["beats_shuffled"] = _paired_verdict(g, hib)
        rows.append(r)
    out = pd.DataFrame(rows)
    out["_skey"] = out["density_spec"].map(spec_key)
    out = out.sort_values(["_sid", "method", "_skey"], kind="stable")
    return out[SANITY_COLUMNS].reset_index(drop=True)


def sanity_verdict_text(r: dict[str, Any]) -> str:
    """``yes (p = 0.002, 10 seeds)`` and the like: the verdict with what it rests on."""
    if r["beats_shuffled"] == "n/a":
        return "n/a"
    p = r["shuffled_p"]
    ptext = f"p = {p:.2g}, " if np.isfinite(p) else ""
    return f"{r['beats_shuffled']} ({ptext}{r['shuffled_pairs']} seed{'s' if r['shuffled_pairs'] != 1 else ''})"


def setting_blocks(d: pd.DataFrame, s: pd.DataFrame) -> list[dict[str, Any]]:
    """Per setting: its label, densities (ordered), methods, summary rows and references."""
    blocks = []
    for sid, g in s.groupby("_sid", sort=True):
        specs = sorted(g["density_spec"].unique(), key=spec_key)
        dens = g.groupby("density_spec")["density"].mean().to_dict()
        cells = d[d["_sid"] == sid]
        okc = cells[cells["_ok"]]
        hib = bool(g["higher_is_better"].iloc[0])
        best = {}
        for spec, gs in g.groupby("density_spec"):
            for q, higher in (("recall", True), ("strong_metric", hib), ("weak_metric", hib)):
                v = gs[f"{q}_mean"].astype(float)
                if np.isfinite(v).sum() >= 2:
                    best[(spec, q)] = float(v.max() if higher else v.min())
        blocks.append({
            "sid": sid, "setting": g["setting"].iloc[0], "slug": g["slug"].iloc[0], "task": g["task"].iloc[0],
            "metric": g["metric_name"].iloc[0] or "metric", "hib": hib, "specs": specs, "dens": dens,
            "methods": sorted(g["method"].unique()),
            "cell": {(r["method"], r["density_spec"]): r for r in g.to_dict("records")},
            "protocol": dict(zip(g["method"], g["protocol"])),
            "totals": {m: (int(t["failed"].sum()), int(t["cells"].sum())) for m, t in g.groupby("method")},
            "ticket": _stats(okc["ticket_metric"]), "dense_weak": _stats(okc["dense_weak_metric"]),
            "seeds": int(cells["seed"].nunique()), "best": best,
        })
    return blocks


def blocks(d: pd.DataFrame) -> list[dict[str, Any]]:
    """The per-setting blocks of the competitors (sanity ablations are shown in their own section)."""
    main = competitors(d)
    return setting_blocks(main, summary_table(main)) if len(main) else []


def is_best(block: dict, spec: str, q: str, value: float) -> bool:
    b = block["best"].get((spec, q))
    return b is not None and np.isfinite(value) and math.isclose(value, b, rel_tol=1e-12, abs_tol=0.0)


def direction(block: dict) -> str:
    return "higher is better" if block["hib"] else "lower is better"
