"""The leaderboard: tables, a ranking and a static page, computed from a results DataFrame alone.

Every function here is pure: it reads the DataFrame of :func:`plantseek.store.results.load_results` (one row per cell,
columns as in :mod:`plantseek.run.records`) and returns tables or text; only :func:`write_leaderboard` writes files,
and only into the folder it is given. Nothing is recomputed from masks or instances, so a leaderboard can be
rebuilt offline from any stored results.

Words: **density** is the fraction of prunable weights KEPT. A *setting* is one (task, depth, width, noise); a
*method* is one (pruner, protocol); a *comparison* is one (setting, requested density).

Aggregation over seeds (the instance seeds of a setting): only cells with status ``ok`` and a finite value enter
a mean; tables show ``mean ± sample standard deviation`` (ddof = 1; no ± with a single seed). Failed cells are
counted and shown, never averaged.

Ranking rule (:data:`RANKING_RULE`): see there; it is also printed into every README.md and index.html.

Sanity ablations (:data:`SANITY_RULE`): the harness scores a pruner P's masks twice more, shuffled within each
layer and on a re-initialised host; the store names those cells ``"P [shuffled]"`` and ``"P [reinit]"``
(:attr:`plantseek.run.records.CellConfig.label`). They are not competitors: they are kept out of the ranking and of
the per-setting tables, and shown against P in their own section (:func:`sanity_table`) and in the flat table of
all results.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from plantseek.core.errors import StoreError

__all__ = [
    "REQUIRED_COLUMNS", "QUANTITIES", "RANKING_RULE", "SPREAD_RULE", "prepare", "summary_table", "ranking",
    "provenance_line", "render_markdown", "render_html", "write_results_csv", "write_leaderboard",
    "higher_is_better", "fmt", "md_escape", "SANITY_RULE", "SANITY_COLUMNS", "ABLATIONS", "split_ablation",
    "sanity_table",
]

REQUIRED_COLUMNS = ["task", "depth", "width", "seed", "pruner", "density_spec", "status", "protocol",
                    "metric_name", "density", "strong_metric", "weak_metric", "ticket_metric"]
# numeric columns that may be absent from older or foreign frames; they are then treated as all-NaN
_NUMERIC = ["depth", "width", "seed", "noise", "density", "achieved_density", "strong_metric", "weak_metric",
            "ticket_metric", "dense_metric", "dense_weak_metric", "prune_seconds", "train_seconds", "recall",
            "precision", "f1", "jaccard", "effective_density", "nominal_density"]
#: quantities aggregated over seeds for every (setting, method, density)
QUANTITIES = ["recall", "precision", "strong_metric", "weak_metric", "achieved_density", "ticket_metric",
              "dense_weak_metric"]

SPREAD_RULE = ("Values are mean ± sample standard deviation (ddof = 1) over seeds, from cells with status ok and "
               "a finite value; no ± is shown when only one seed contributes. Failed cells are counted, never "
               "averaged.")
RANKING_RULE = (
    "Overall ranking: one comparison per (task setting, requested density) with density below 1 (density 1 keeps "
    "every weight, so all methods coincide) and at least two methods. In each comparison the methods are ranked "
    "by their mean weak metric over seeds (weak = the pruned network after training; accuracy: higher is "
    "better, MSE: lower is better); ties share the average of their ranks; a method whose cells there all "
    "failed or have no finite weak metric is placed last (tied with any others in the same state). A method's "
    "score is its mean rank over the comparisons it took part in (lower is better); ties in that score are "
    "broken by the mean rank of recall (fraction of planted-ticket weights kept, higher is better), computed "
    "the same way. The number of comparisons is shown: a method that entered fewer comparisons is ranked on "
    "fewer data. Sanity ablations (a method's own masks shuffled within each layer, shown as \"P [shuffled]\", "
    "or on a re-initialised host, \"P [reinit]\") are not competitors: they enter no comparison, do not count "
    "towards the two methods a comparison needs, and are not ranked; they are left out of the per-setting tables "
    "and shown in the Sanity ablations section instead.")

#: the sanity ablations of plantseek.run.ablations.ABLATIONS (not imported: this module needs no torch)
ABLATIONS = ("shuffled", "reinit")
_ABLATION_RE = re.compile(r"^(?P<base>.*\S) \[(?P<abl>" + "|".join(ABLATIONS) + r")\]$", re.S)
SANITY_RULE = (
    "Each pruner's own masks are scored twice more: shuffled at random within each layer (same per-layer counts; "
    "\"P [shuffled]\") and applied to a re-initialised host with nothing planted (\"P [reinit]\"; its strong "
    "metric is not meaningful). These are checks of P, not competitors, and are not ranked. Values are means ± "
    "sample standard deviation over seeds of the weak metric and recall (ok cells, finite values). \"Beats its "
    "shuffled mask\": yes when the pruner's mean weak metric is strictly better than its shuffled mask's in the "
    "metric's direction (a tie is no), n/a when either mean is missing. Density 1 is left out: every weight is "
    "kept, so a shuffled mask is the same mask.")

_METRIC_DIRECTION = {"accuracy": True, "mse": False}
_SEP = " · "


def higher_is_better(metric_name: str) -> bool:
    """Direction of a task metric: accuracy is higher-better, MSE lower-better (unknown names: higher)."""
    return _METRIC_DIRECTION.get(str(metric_name).lower(), True)


# --- formatting ----------------------------------------------------------------------------------------------
def fmt(x: Any, spec: str = ".3g") -> str:
    """A number for a table: 3 significant digits, an em dash for missing or non-finite values."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—"
    return format(v, spec)


def _pm(mean: float, std: float) -> str:
    if not np.isfinite(mean):
        return "—"
    return fmt(mean) if not np.isfinite(std) else f"{fmt(mean)} ± {fmt(std, '.2g')}"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(text: Any) -> str:
    """Text from users (pruner and task names) made inert in Markdown: HTML escaped, specials backslashed."""
    s = " ".join(str(text).split())  # no newlines or tabs (they would break a table row)
    s = html.escape(s, quote=True)  # & < > " '  -> entities; Markdown renders inline HTML otherwise
    return _MD_SPECIAL.sub(r"\\\1", s)


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _slugify(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s or "x"


# --- preparing the frame -------------------------------------------------------------------------------------
def _str_col(s: pd.Series) -> pd.Series:
    return s.where(s.notna(), "").astype(str)


def _spec_key(spec: str) -> tuple:
    if spec == "ticket":
        return (0, 0.0, spec)
    try:
        return (1, float(spec), spec)
    except ValueError:
        return (2, 0.0, spec)


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """A normalised copy of a results frame with helper columns (the input is never modified).

    Added: ``_ok`` (status ok), ``_base`` and ``_ablation`` (:func:`split_ablation` of the pruner), ``_sid``
    (setting index, sorted), ``_setting`` (its label), ``_slug`` (a file-name safe, unique name), ``_method``
    (display name of (pruner, protocol)), ``_hib`` (metric direction). Failed cells get the protocol of their pruner
    (of an ablation: else of its base pruner) and the metric name of their setting when those are unique.
    """
    if not isinstance(df, pd.DataFrame):
        raise StoreError(f"expected a results DataFrame, got {type(df).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise StoreError(f"results lack column(s) {', '.join(missing)}: not a plantseek results table")
    if len(df) == 0:
        raise StoreError("the results hold no cells: nothing to show (run a grid first)")
    d = df.copy()
    d = d.reset_index(drop=True)
    for c in _NUMERIC:
        d[c] = pd.to_numeric(d[c], errors="coerce") if c in d.columns else np.nan
    for c in ["task", "pruner", "density_spec", "status", "protocol", "metric_name", "error"]:
        d[c] = _str_col(d[c]) if c in d.columns else ""
    d["_ok"] = d["status"].eq("ok")
    parts = [split_ablation(p) for p in d["pruner"]]
    d["_base"] = [b for b, _ in parts]
    d["_ablation"] = [a for _, a in parts]

    # protocol of failed cells: the pruner's, when the pruner has exactly one (an ablation's: else its base's)
    for key in ("pruner", "_base"):
        for _, grp in d.groupby(key, sort=False):
            known = sorted(set(grp["protocol"]) - {""})
            if len(known) == 1:
                d.loc[grp.index[grp["protocol"].eq("")], "protocol"] = known[0]
    protocols_of = d.groupby("pruner")["protocol"].nunique()
    d["_method"] = [p if protocols_of[p] <= 1 or not proto else f"{p} ({proto})"
                    for p, proto in zip(d["pruner"], d["protocol"])]

    # settings: (task, depth, width, noise); NaN noise sorts first
    keys = d[["task", "depth", "width", "noise"]].copy()
    keys["noise"] = keys["noise"].fillna(-np.inf)
    uniq = keys.drop_duplicates().sort_values(["task", "depth", "width", "noise"], kind="stable")
    sid_of = {tuple(r): i for i, r in enumerate(uniq.itertuples(index=False, name=None))}
    d["_sid"] = [sid_of[tuple(r)] for r in keys.itertuples(index=False, name=None)]
    labels, slugs, used = {}, {}, set()
    for (task, depth, width, noise), i in sid_of.items():
        parts = [task]
        if np.isfinite(depth):
            parts.append(f"depth {int(depth)}")
        if np.isfinite(width):
            parts.append(f"width {int(width)}")
        if np.isfinite(noise):
            parts.append(f"noise {noise:g}")
        labels[i] = _SEP.join(parts)
        slug = _slugify("-".join([task] + [p.replace("depth ", "d").replace("width ", "w").replace(" ", "")
                                           for p in parts[1:]]))
        base, k = slug, 2
        while slug.lower() in used:  # distinct settings whose names sanitise alike
            slug, k = f"{base}-{k}", k + 1
        used.add(slug.lower())
        slugs[i] = slug
    d["_setting"] = d["_sid"].map(labels)
    d["_slug"] = d["_sid"].map(slugs)

    # metric name of a setting (failed cells may lack it)
    for sid, grp in d.groupby("_sid"):
        known = sorted(set(grp["metric_name"]) - {""})
        if len(known) == 1:
            d.loc[grp.index, "metric_name"] = known[0]
    d["_hib"] = d["metric_name"].map(higher_is_better)

    # requested density of failed cells: the spec, or the setting's ticket density
    spec_num = pd.to_numeric(d["density_spec"], errors="coerce")
    d["density"] = d["density"].fillna(spec_num)
    tick = d[d["density_spec"].eq("ticket")].groupby("_sid")["density"].mean()
    miss = d["density"].isna() & d["density_spec"].eq("ticket")
    d.loc[miss, "density"] = d.loc[miss, "_sid"].map(tick)
    return d


def split_ablation(pruner: str) -> tuple[str, str]:
    """``"P [shuffled]"`` -> ``("P", "shuffled")``; a name without a sanity-ablation suffix -> ``(name, "")``."""
    m = _ABLATION_RE.match(str(pruner))
    return (m.group("base"), m.group("abl")) if m else (str(pruner), "")


def _competitors(d: pd.DataFrame) -> pd.DataFrame:
    """The prepared frame without sanity-ablation cells."""
    return d[d["_ablation"].eq("")]


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

    Columns: ``setting, slug, task, depth, width, noise, pruner, protocol, method, density_spec, density (mean
    requested density; the ticket's for "ticket"), metric_name, higher_is_better, cells, ok, failed`` and, for each
    quantity ``q`` of :data:`QUANTITIES`, ``q_mean, q_std, q_min, q_max, q_n`` (ok cells with finite values only).
    Rows are ordered by setting, method and density (ticket first, then increasing).
    """
    d = df if "_sid" in df.columns else prepare(df)
    keys = ["_sid", "_method", "density_spec"]
    out = d.groupby(keys, sort=False).agg(
        setting=("_setting", "first"), slug=("_slug", "first"), task=("task", "first"), depth=("depth", "first"),
        width=("width", "first"), noise=("noise", "first"), pruner=("pruner", "first"),
        protocol=("protocol", "first"), density=("density", "mean"), metric_name=("metric_name", "first"),
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
    out["_skey"] = out["density_spec"].map(_spec_key)
    out = out.sort_values(["_sid", "method", "_skey"], kind="stable").drop(columns="_skey")
    return out.reset_index(drop=True)


def ranking(df: pd.DataFrame) -> pd.DataFrame:
    """The overall ranking (rule: :data:`RANKING_RULE`), one row per method, best first.

    Columns: ``position, method, pruner, protocol, mean_rank, mean_recall_rank, comparisons, mean_recall,
    cells, failed``. ``mean_recall`` is the mean over the method's comparisons of its mean recall. Sanity-ablation
    cells (``"P [shuffled]"``, ``"P [reinit]"``) are left out entirely.
    """
    d = _competitors(df if "_sid" in df.columns else prepare(df))
    cols = ["position", "method", "pruner", "protocol", "mean_rank", "mean_recall_rank", "comparisons",
            "mean_recall", "cells", "failed"]
    if not len(d):
        return pd.DataFrame(columns=cols)
    s = summary_table(d)
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
    totals = d.groupby("_method").agg(pruner=("pruner", "first"), protocol=("protocol", "first"),
                                      cells=("_ok", "size"), failed=("_ok", lambda x: int((~x).sum())))
    if ranked:
        r = pd.concat(ranked)
        agg = r.groupby("method").agg(mean_rank=("_rank", "mean"), mean_recall_rank=("_rrank", "mean"),
                                      comparisons=("_rank", "size"), mean_recall=("recall_mean", "mean"))
    else:
        agg = pd.DataFrame(columns=["mean_rank", "mean_recall_rank", "comparisons", "mean_recall"])
    out = totals.join(agg, how="left")
    out["comparisons"] = out["comparisons"].fillna(0).astype(int)
    out.index.name = "method"
    out = out.reset_index()
    out = out.sort_values(["mean_rank", "mean_recall_rank", "method"], na_position="last", kind="stable")
    pos: list[float] = []
    prev = None
    for i, (a, b) in enumerate(zip(out["mean_rank"].round(9), out["mean_recall_rank"].round(9)), start=1):
        if not np.isfinite(a):  # took part in no comparison
            pos.append(np.nan)
            continue
        pos.append(pos[-1] if prev == (a, b) else float(i))  # equal scores share a position
        prev = (a, b)
    out.insert(0, "position", pos)
    return out[cols].reset_index(drop=True)


_SIDES = (("", ""), ("shuffled", "shuffled_"), ("reinit", "reinit_"))  # (ablation, column prefix)
SANITY_COLUMNS = (["setting", "slug", "task", "metric_name", "higher_is_better", "method", "pruner", "protocol",
                   "density_spec", "density"]
                  + [f"{pre}{q}_{k}" for _, pre in _SIDES for q in ("weak_metric", "recall") for k in ("mean", "std")]
                  + ["beats_shuffled"])


def _verdict(mine: float, shuffled: float, hib: bool) -> str:
    if not (np.isfinite(mine) and np.isfinite(shuffled)):
        return "n/a"
    return "yes" if (mine > shuffled if hib else mine < shuffled) else "no"


def sanity_table(df: pd.DataFrame) -> pd.DataFrame:
    """For every pruner P with sanity-ablation cells, one row per (setting, P, requested density below 1): P's
    weak metric and recall against ``P [shuffled]`` and ``P [reinit]`` (rule: :data:`SANITY_RULE`).

    Columns: :data:`SANITY_COLUMNS`; ``pruner`` is P, ``method`` its display name; the quantities are
    ``{side}{q}_mean`` and ``{side}{q}_std`` for side ``""`` (P itself), ``"shuffled_"`` and ``"reinit_"`` and
    q in (weak_metric, recall), over ok cells with a finite value (std: ddof = 1, NaN with one seed).
    ``beats_shuffled`` is "yes", "no" or "n/a". Empty (no rows) when the frame holds no ablation cells.
    """
    d = df if "_sid" in df.columns else prepare(df)
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
        for abl, pre in _SIDES:
            side = g[g["_ablation"].eq(abl) & g["_ok"]]
            for q in ("weak_metric", "recall"):
                st = _stats(side[q])
                r[f"{pre}{q}_mean"], r[f"{pre}{q}_std"] = st["mean"], st["std"]
        r["beats_shuffled"] = _verdict(r["weak_metric_mean"], r["shuffled_weak_metric_mean"], hib)
        rows.append(r)
    out = pd.DataFrame(rows)
    out["_skey"] = out["density_spec"].map(_spec_key)
    out = out.sort_values(["_sid", "method", "_skey"], kind="stable")
    return out[SANITY_COLUMNS].reset_index(drop=True)


# --- provenance ----------------------------------------------------------------------------------------------
def _distinct(df: pd.DataFrame, col: str) -> list[str]:
    if col not in df.columns:
        return []
    vals = _str_col(df[col])
    return sorted(v for v in set(vals) if v and v.lower() != "nan")


def _listed(values: list[str], limit: int = 4) -> str:
    if not values:
        return "unknown"
    shown = ", ".join(values[:limit])
    return shown + (f" (+{len(values) - limit} more)" if len(values) > limit else "")


def _minute(stamp: str) -> str:
    """An ISO 8601 time shortened to the minute, in UTC ("2025-01-02 03:04 UTC"); other text unchanged."""
    try:
        t = _dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if t.tzinfo is not None:
        t = t.astimezone(_dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M") + (" UTC" if t.tzinfo is not None else "")


def provenance(df: pd.DataFrame, now: _dt.datetime | None = None) -> dict[str, Any]:
    """Facts about where the results came from, all read from the frame (plus the generation time)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    ok = df["status"].astype(str).eq("ok") if "status" in df.columns else pd.Series(dtype=bool)
    created = sorted({_minute(c) for c in _distinct(df, "created_at")})
    return {
        "plantseek_versions": _distinct(df, "plantseek_version"),
        "git_commits": [c[:10] for c in _distinct(df, "git_commit")],
        "torch_versions": _distinct(df, "torch_version"),
        "cells": int(len(df)), "ok": int(ok.sum()), "failed": int(len(df) - ok.sum()),
        "created_from": created[0] if created else "", "created_to": created[-1] if created else "",
        "generated": now.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def provenance_line(df: pd.DataFrame, now: _dt.datetime | None = None) -> str:
    """One line: plantseek version(s), git commit(s), torch version(s), cell counts, result dates, generation time."""
    p = provenance(df, now)
    parts = [f"plantseek {_listed(p['plantseek_versions'])}", f"git {_listed(p['git_commits'])}",
             f"torch {_listed(p['torch_versions'])}",
             f"{p['cells']} cells ({p['ok']} ok, {p['failed']} failed)"]
    if p["created_from"]:
        span = p["created_from"] if p["created_from"] == p["created_to"] else \
            f"{p['created_from']} to {p['created_to']}"
        parts.append(f"results created {span}")
    parts.append(f"generated {p['generated']}")
    return "; ".join(parts)


# --- shared table layout -------------------------------------------------------------------------------------
def _density_label(spec: str, density: float) -> str:
    return f"ticket ({fmt(density)})" if spec == "ticket" else spec


def _setting_blocks(d: pd.DataFrame, s: pd.DataFrame) -> list[dict[str, Any]]:
    """Per setting: its label, densities (ordered), methods, summary rows and references."""
    blocks = []
    for sid, g in s.groupby("_sid", sort=True):
        specs = sorted(g["density_spec"].unique(), key=_spec_key)
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


def _blocks(d: pd.DataFrame) -> list[dict[str, Any]]:
    """The per-setting blocks of the competitors (sanity ablations are shown in their own section)."""
    main = _competitors(d)
    return _setting_blocks(main, summary_table(main)) if len(main) else []


def _metric_label(metric: str, hib: bool) -> str:
    return f"{metric or 'metric'} ({'higher' if hib else 'lower'} is better)"


def _is_best(block: dict, spec: str, q: str, value: float) -> bool:
    b = block["best"].get((spec, q))
    return b is not None and np.isfinite(value) and math.isclose(value, b, rel_tol=1e-12, abs_tol=0.0)


def _direction(block: dict) -> str:
    return "higher is better" if block["hib"] else "lower is better"


# --- Markdown ------------------------------------------------------------------------------------------------
def render_markdown(df: pd.DataFrame, plots: dict[str, dict[str, str]] | None = None,
                    now: _dt.datetime | None = None) -> str:
    """README.md text: provenance, the ranking with its rule, sanity ablations (when there are any), per-setting
    tables, plot links.

    ``plots`` maps a setting slug to ``{kind: relative path}`` (see :func:`plantseek.report.plots.plots_by_setting`).
    """
    d = prepare(df)
    rk = ranking(d)
    sanity = sanity_table(d)
    plots = plots or {}
    out = ["# plantseek leaderboard", "", f"_{md_escape(provenance_line(df, now))}_", "",
           "Density = fraction of prunable weights **kept**. Recall = fraction of the planted ticket's weights kept "
           "by a mask; precision = fraction of kept weights that belong to the ticket. Strong = the masked host "
           "network at its initial weights; weak = the masked network after training. " + SPREAD_RULE,
           "", "Files: [results.csv](results.csv) (every cell, no masks), [index.html](index.html) (sortable, "
           "filterable page with the plots).", "", "## Overall ranking", "", RANKING_RULE, "",
           "| # | method | protocol | mean rank (weak metric) | comparisons | mean rank (recall) | mean recall | "
           "failed / cells |", "|---:|---|---|---:|---:|---:|---:|---:|"]
    for r in rk.itertuples(index=False):
        out.append(f"| {fmt(r.position, 'g')} | {md_escape(r.method)} | {md_escape(r.protocol or '—')} | "
                   f"{fmt(r.mean_rank)} | {r.comparisons} | {fmt(r.mean_recall_rank)} | {fmt(r.mean_recall)} | "
                   f"{r.failed} / {r.cells} |")
    if len(sanity):
        out += ["", "## Sanity ablations", "", SANITY_RULE, "",
                "| setting | metric | method | density | weak | recall | weak [shuffled] | recall [shuffled] | "
                "weak [reinit] | recall [reinit] | beats its shuffled mask |",
                "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
        for r in sanity.to_dict("records"):
            line = [md_escape(r["setting"]), md_escape(_metric_label(r["metric_name"], r["higher_is_better"])),
                    md_escape(r["method"]), md_escape(_density_label(r["density_spec"], r["density"]))]
            line += [_pm(r[f"{pre}{q}_mean"], r[f"{pre}{q}_std"]) for _, pre in _SIDES
                     for q in ("weak_metric", "recall")]
            line.append(r["beats_shuffled"])
            out.append("| " + " | ".join(line) + " |")
    for b in _blocks(d):
        out += ["", f"## {md_escape(b['setting'])}", "",
                f"Metric: {md_escape(b['metric'])} ({_direction(b)}). Planted ticket (strong): "
                f"{_pm(b['ticket']['mean'], b['ticket']['std'])}; dense host after training: "
                f"{_pm(b['dense_weak']['mean'], b['dense_weak']['std'])}; {b['seeds']} seed(s). "
                f"Each cell: R = recall, S = strong {md_escape(b['metric'])}, W = weak {md_escape(b['metric'])}; "
                "**bold** = best in its column.", ""]
        head = ["method", "protocol"] + [md_escape(_density_label(sp, b["dens"][sp])) for sp in b["specs"]] + \
            ["failed / cells"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|---|---|" + "---|" * len(b["specs"]) + "---:|")
        for m in b["methods"]:
            line = [md_escape(m), md_escape(b["protocol"][m] or "—")]
            for sp in b["specs"]:
                c = b["cell"].get((m, sp))
                if c is None:
                    line.append("")
                    continue
                if c["ok"] == 0:
                    line.append(f"failed ({c['failed']}/{c['cells']})")
                    continue
                parts = []
                for q, letter in (("recall", "R"), ("strong_metric", "S"), ("weak_metric", "W")):
                    txt = f"{letter} {_pm(c[f'{q}_mean'], c[f'{q}_std'])}"
                    parts.append(f"**{txt}**" if _is_best(b, sp, q, c[f"{q}_mean"]) else txt)
                if c["failed"]:
                    parts.append(f"⚠ {c['failed']}/{c['cells']} failed")
                line.append("<br>".join(parts))
            line.append("{} / {}".format(*b["totals"][m]))
            out.append("| " + " | ".join(line) + " |")
        figs = plots.get(b["slug"], {})
        if figs:
            out.append("")
            for kind, rel in figs.items():
                out.append(f"![{_PLOT_TITLES.get(kind, kind)}: {md_escape(b['setting'])}]({rel})")
    errors = d.loc[~d["_ok"], ["_setting", "_method", "density_spec", "seed", "error"]]
    if len(errors):
        out += ["", "## Failed cells", "", "| setting | method | density | seed | error |", "|---|---|---|---:|---|"]
        for r in errors.itertuples(index=False):
            out.append(f"| {md_escape(r[0])} | {md_escape(r[1])} | {md_escape(r[2])} | {fmt(r[3], 'g')} | "
                       f"{md_escape(r[4][:200])} |")
    return "\n".join(out) + "\n"


_PLOT_TITLES = {
    "metric": "Task metric vs density (strong and weak)",
    "recovery": "Ticket recovery (recall, precision) vs density",
    "layers": "Per-layer density against the ticket's",
    "walltime": "Recall vs wall-clock",
}
_PLOT_CAPTIONS = {
    "metric": "Mean over seeds (line) with min–max band; dashed line: the planted ticket's strong metric.",
    "recovery": "Mean over seeds (line) with min–max band; dotted vertical line: the ticket's density.",
    "layers": "Per weight matrix, mean over seeds; black: the planted ticket.",
    "walltime": "Wall-clock = prune_seconds (the pruner's own prune call) + train_seconds (weak training); "
                "it measures search cost, not inference speed.",
}


# --- HTML ----------------------------------------------------------------------------------------------------
_CSS = """
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--alt:#f6f8fa;--acc:#0b5cad;--bad:#b42318;--best:#e6f4ea}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 -apple-system,"Segoe UI",Roboto,"DejaVu Sans",Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:20px 32px 12px;border-bottom:1px solid var(--line);background:var(--alt)}
h1{margin:0 0 4px;font-size:24px}
h2{font-size:18px;margin:28px 0 6px}
main{padding:8px 32px 40px;max-width:1500px}
.prov{color:var(--muted);font-size:12.5px;margin:2px 0}
.note{color:var(--muted);font-size:13px;max-width:1100px;margin:6px 0}
.controls{display:flex;gap:18px;align-items:center;flex-wrap:wrap;margin:12px 0 0}
.controls label{font-weight:600}
select{font:inherit;padding:3px 6px;border:1px solid var(--line);border-radius:4px;background:#fff}
#shown{color:var(--muted)}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:6px;margin:8px 0}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:5px 9px;border-bottom:1px solid var(--line);white-space:nowrap;text-align:right}
th.l,td.l{text-align:left}
thead th{background:var(--alt);position:sticky;top:0;font-weight:600}
thead tr.sub th{font-weight:500;color:var(--muted);font-size:12.5px}
th.grp{text-align:center;border-left:1px solid var(--line)}
td.gs,th.gs{border-left:1px solid var(--line)}
tbody tr{background:#fff}
tbody tr:nth-child(even){background:#fbfcfd}
tbody tr:hover{background:#eef4fb}
table.pivot tbody th[scope=row]{position:sticky;left:0;background:inherit;z-index:1;border-right:1px solid var(--line)}
table.pivot thead tr:first-child th:first-child{position:sticky;left:0;z-index:2}
th[data-col]{cursor:pointer;user-select:none}
th[data-col]:hover{color:var(--acc)}
th[data-col]::after{content:" \\2195";color:#9aa4ae;font-size:11px}
th[aria-sort=ascending]::after{content:" \\25B2";color:var(--acc)}
th[aria-sort=descending]::after{content:" \\25BC";color:var(--acc)}
td.best{background:var(--best);font-weight:600}
.fail{color:var(--bad);font-size:12px;margin-left:4px}
td.allfail{color:var(--bad)}
td.verdict-yes{color:#1a7f37;font-weight:600}
td.verdict-no{color:var(--bad);font-weight:600}
.pm{color:var(--muted);font-size:12px}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px;margin:10px 0 6px}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:8px;background:#fff}
figure img{width:100%;height:auto;display:block}
figcaption{color:var(--muted);font-size:12px;margin-top:4px}
section.setting{border-top:2px solid var(--line);margin-top:26px}
code{background:var(--alt);padding:0 3px;border-radius:3px}
td.err{white-space:normal;text-align:left;max-width:700px;font-family:ui-monospace,monospace;font-size:12px}
footer{color:var(--muted);font-size:12px;padding:16px 32px;border-top:1px solid var(--line)}
"""

_JS = r"""
(function () {
  'use strict';
  function cellValue(row, col, type) {
    var c = row.cells[col];
    if (!c) return null;
    var v = c.getAttribute('data-v');
    if (v === null) v = c.textContent.trim();
    if (v === '') return null;
    if (type === 'num') { var x = parseFloat(v); return isFinite(x) ? x : null; }
    return v.toLowerCase();
  }
  function sortBy(table, th) {
    var col = parseInt(th.getAttribute('data-col'), 10);
    var type = th.getAttribute('data-type') || 'num';
    var cur = th.getAttribute('aria-sort');
    var dir = cur === 'ascending' ? 'descending' : cur === 'descending' ? 'ascending'
      : (th.getAttribute('data-first') || (type === 'num' ? 'descending' : 'ascending'));
    Array.prototype.forEach.call(table.querySelectorAll('th[aria-sort]'), function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir);
    var sign = dir === 'ascending' ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var va = cellValue(a, col, type), vb = cellValue(b, col, type);
      if (va === null && vb === null) return 0;
      if (va === null) return 1;
      if (vb === null) return -1;
      if (type === 'num') return sign * (va - vb);
      return sign * va.localeCompare(vb);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.querySelectorAll('th[data-col]'), function (th) {
      th.tabIndex = 0;
      if (!th.title) th.title = 'sort by this column';
      th.addEventListener('click', function () { sortBy(table, th); });
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(table, th); } });
    });
  });
  var fTask = document.getElementById('f-task'), fProto = document.getElementById('f-protocol');
  function apply() {
    var t = fTask.value, p = fProto.value;
    Array.prototype.forEach.call(document.querySelectorAll('section[data-task]'), function (s) {
      s.hidden = !!t && s.getAttribute('data-task') !== t;
    });
    var shown = 0, total = 0;
    Array.prototype.forEach.call(document.querySelectorAll('tbody tr[data-protocol]'), function (r) {
      var task = r.getAttribute('data-task');
      var hide = (!!p && r.getAttribute('data-protocol') !== p) || (!!t && task !== null && task !== t);
      r.hidden = hide;
      if (r.closest('#all-results')) { total++; if (!hide) shown++; }
    });
    var n = document.getElementById('shown');
    if (n) n.textContent = shown + ' of ' + total + ' rows shown';
  }
  fTask.addEventListener('change', apply);
  fProto.addEventListener('change', apply);
  apply();
})();
"""


def _th(label: str, col: int | None = None, type_: str = "num", first: str | None = None, cls: str = "",
        extra: str = "") -> str:
    attrs = []
    if cls:
        attrs.append(f'class="{cls}"')
    if col is not None:
        attrs.append(f'data-col="{col}" data-type="{type_}"')
        if first:
            attrs.append(f'data-first="{first}"')
    if extra:
        attrs.append(extra)
    return f"<th {' '.join(attrs)}>{label}</th>"


def _num_td(value: float, text: str | None = None, cls: str = "") -> str:
    v = "" if not np.isfinite(value) else repr(float(value))
    c = f' class="{cls}"' if cls else ""
    return f'<td{c} data-v="{v}">{text if text is not None else _h(fmt(value))}</td>'


def _pm_html(mean: float, std: float) -> str:
    if not np.isfinite(mean):
        return "—"
    if not np.isfinite(std):
        return _h(fmt(mean))
    return f'{_h(fmt(mean))} <span class="pm">± {_h(fmt(std, ".2g"))}</span>'


def render_html(df: pd.DataFrame, plots: dict[str, dict[str, str]] | None = None,
                now: _dt.datetime | None = None) -> str:
    """index.html: a self-contained static page (inline CSS and JS, no network) with the ranking, sanity ablations
    (when there are any), per-setting tables (sortable by clicking a header), a flat table of all (setting,
    method, density) rows (ablations included), filters by task and protocol, and the plots as relative image
    files (``plots`` as in :func:`render_markdown`)."""
    d = prepare(df)
    s = summary_table(d)
    rk = ranking(d)
    sanity = sanity_table(d)
    plots = plots or {}
    blocks = _blocks(d)
    tasks = sorted(d["task"].unique())
    protocols = sorted(set(d["protocol"]) - {""})
    prov = provenance_line(df, now)
    o: list[str] = []
    o.append("<!DOCTYPE html>")
    o.append('<html lang="en"><head><meta charset="utf-8">')
    o.append('<meta name="viewport" content="width=device-width, initial-scale=1">')
    o.append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self' file: data:; "
             "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">")
    o.append('<link rel="icon" href="data:,">')
    o.append("<title>plantseek leaderboard</title>")
    o.append(f"<style>{_CSS}</style></head><body>")
    o.append("<header><h1>plantseek leaderboard</h1>")
    o.append(f'<p class="prov" id="provenance">{_h(prov)}</p>')
    o.append('<div class="controls">')
    o.append('<span><label for="f-task">Task</label> <select id="f-task"><option value="">all tasks</option>')
    o += [f'<option value="{_h(t)}">{_h(t)}</option>' for t in tasks]
    o.append("</select></span>")
    o.append('<span><label for="f-protocol">Protocol</label> <select id="f-protocol">'
             '<option value="">all protocols</option>')
    o += [f'<option value="{_h(p)}">{_h(p)}</option>' for p in protocols]
    o.append("</select></span>")
    o.append('<span><a href="results.csv">results.csv</a> (every cell) · <a href="README.md">README.md</a></span>')
    o.append("</div></header><main>")
    o.append('<p class="note">Density = fraction of prunable weights <b>kept</b>. Recall = fraction of the planted '
             "ticket's weights that a mask keeps; precision = fraction of kept weights that belong to the ticket. "
             "Strong = the masked host at its initial weights; weak = the masked network after training. "
             f"{_h(SPREAD_RULE)} Click a column header to sort; highlighted cells are the best in their column.</p>")

    # ranking
    o.append('<h2 id="ranking">Overall ranking</h2>')
    o.append(f'<p class="note" id="ranking-rule">{_h(RANKING_RULE)}</p>')
    o.append('<div class="scroll"><table class="sortable" id="ranking-table"><thead><tr>')
    o += [_th("#", 0, first="ascending"), _th("method", 1, "str", cls="l"), _th("protocol", 2, "str", cls="l"),
          _th("mean rank (weak metric)", 3, first="ascending"), _th("comparisons", 4),
          _th("mean rank (recall)", 5, first="ascending"), _th("mean recall", 6), _th("failed", 7, first="descending"),
          _th("cells", 8)]
    o.append("</tr></thead><tbody>")
    for r in rk.itertuples(index=False):
        o.append(f'<tr data-protocol="{_h(r.protocol)}">'
                 f"{_num_td(r.position, _h(fmt(r.position, 'g')))}"
                 f'<td class="l" data-v="{_h(r.method)}">{_h(r.method)}</td>'
                 f'<td class="l" data-v="{_h(r.protocol)}">{_h(r.protocol or "—")}</td>'
                 f"{_num_td(r.mean_rank)}{_num_td(float(r.comparisons), str(r.comparisons))}"
                 f"{_num_td(r.mean_recall_rank)}{_num_td(r.mean_recall)}"
                 f"{_num_td(float(r.failed), str(r.failed))}{_num_td(float(r.cells), str(r.cells))}</tr>")
    o.append("</tbody></table></div>")

    # sanity ablations
    if len(sanity):
        o.append('<section id="sanity"><h2>Sanity ablations</h2>')
        o.append(f'<p class="note" id="sanity-rule">{_h(SANITY_RULE)}</p>')
        o.append('<div class="scroll"><table class="sortable" id="sanity-table"><thead><tr>')
        o += [_th("setting", 0, "str", cls="l"), _th("metric", 1, "str", cls="l"), _th("method", 2, "str", cls="l"),
              _th("density", 3, first="ascending"), _th("weak", 4, cls="gs"), _th("recall", 5),
              _th("weak [shuffled]", 6, cls="gs"), _th("recall [shuffled]", 7), _th("weak [reinit]", 8, cls="gs"),
              _th("recall [reinit]", 9), _th("beats its shuffled mask", 10, "str", cls="l gs")]
        o.append("</tr></thead><tbody>")
        for r in sanity.to_dict("records"):
            metric = _metric_label(r["metric_name"], r["higher_is_better"])
            o.append(f'<tr data-task="{_h(r["task"])}" data-protocol="{_h(r["protocol"])}">'
                     f'<td class="l" data-v="{_h(r["setting"])}">{_h(r["setting"])}</td>'
                     f'<td class="l" data-v="{_h(metric)}">{_h(metric)}</td>'
                     f'<td class="l" data-v="{_h(r["method"])}">{_h(r["method"])}</td>'
                     f'{_num_td(r["density"], _h(_density_label(r["density_spec"], r["density"])))}')
            for _, pre in _SIDES:
                for j, q in enumerate(("weak_metric", "recall")):
                    o.append(_num_td(r[f"{pre}{q}_mean"], _pm_html(r[f"{pre}{q}_mean"], r[f"{pre}{q}_std"]),
                                     "gs" if j == 0 else ""))
            v = r["beats_shuffled"]
            o.append(f'<td class="l gs verdict-{_h(v.replace("/", ""))}" data-v="{_h(v)}">{_h(v)}</td></tr>')
        o.append("</tbody></table></div></section>")

    # per-setting tables
    for b in blocks:
        o.append(f'<section class="setting" data-task="{_h(b["task"])}" id="s-{_h(b["slug"])}">')
        o.append(f"<h2>{_h(b['setting'])}</h2>")
        o.append(f'<p class="note">Metric: <b>{_h(b["metric"])}</b> ({_direction(b)}). Planted ticket (strong): '
                 f"<b>{_pm_html(b['ticket']['mean'], b['ticket']['std'])}</b>; dense host after training: "
                 f"{_pm_html(b['dense_weak']['mean'], b['dense_weak']['std'])}; {b['seeds']} seed(s).</p>")
        first_metric = "descending" if b["hib"] else "ascending"
        o.append(f'<div class="scroll"><table class="sortable pivot" id="t-{_h(b["slug"])}"><thead><tr>')
        o.append(_th("method", 0, "str", cls="l", extra='rowspan="2"'))
        o.append(_th("protocol", 1, "str", cls="l", extra='rowspan="2"'))
        for sp in b["specs"]:
            o.append(f'<th class="grp" colspan="3">density {_h(_density_label(sp, b["dens"][sp]))}</th>')
        o.append(_th("failed / cells", 2 + 3 * len(b["specs"]), first="descending", extra='rowspan="2"'))
        o.append('</tr><tr class="sub">')
        for i, _sp in enumerate(b["specs"]):
            base = 2 + 3 * i
            o.append(_th("recall", base, cls="gs"))
            o.append(_th("strong", base + 1, first=first_metric,
                         extra=f'title="strong {_h(b["metric"])}: masked host at its initial weights"'))
            o.append(_th("weak", base + 2, first=first_metric,
                         extra=f'title="weak {_h(b["metric"])}: masked network after training"'))
        o.append("</tr></thead><tbody>")
        for m in b["methods"]:
            proto = b["protocol"][m]
            o.append(f'<tr data-task="{_h(b["task"])}" data-protocol="{_h(proto)}">'
                     f'<th class="l" scope="row" data-v="{_h(m)}">{_h(m)}</th>'
                     f'<td class="l" data-v="{_h(proto)}">{_h(proto or "—")}</td>')
            for sp in b["specs"]:
                c = b["cell"].get((m, sp))
                if c is None:
                    o.append('<td class="gs" data-v=""></td><td data-v=""></td><td data-v=""></td>')
                    continue
                if c["ok"] == 0:
                    o.append(f'<td class="gs allfail" data-v="" title="all cells failed">failed '
                             f'{c["failed"]}/{c["cells"]}</td><td data-v=""></td><td data-v=""></td>')
                    continue
                note = (f'<span class="fail" title="{c["failed"]} of {c["cells"]} cells failed">'
                        f'⚠ {c["failed"]} failed</span>') if c["failed"] else ""
                for j, q in enumerate(("recall", "strong_metric", "weak_metric")):
                    cls = ("gs " if j == 0 else "") + ("best" if _is_best(b, sp, q, c[f"{q}_mean"]) else "")
                    text = _pm_html(c[f"{q}_mean"], c[f"{q}_std"]) + (note if j == 0 else "")
                    o.append(_num_td(c[f"{q}_mean"], text, cls.strip()))
            nf, nc = b["totals"][m]
            o.append(_num_td(float(nf), f"{nf} / {nc}"))
            o.append("</tr>")
        o.append("</tbody></table></div>")
        figs = plots.get(b["slug"], {})
        if figs:
            o.append('<div class="plots">')
            for kind, rel in figs.items():
                title = _PLOT_TITLES.get(kind, kind)
                o.append(f'<figure><a href="{_h(rel)}"><img src="{_h(rel)}" alt="{_h(title)}: {_h(b["setting"])}">'
                         f"</a><figcaption><b>{_h(title)}.</b> {_h(_PLOT_CAPTIONS.get(kind, ''))}"
                         "</figcaption></figure>")
            o.append("</div>")
        o.append("</section>")

    # flat table
    o.append('<section id="all"><h2>All results</h2>')
    o.append('<p class="note">One row per (setting, method, requested density). <span id="shown"></span></p>')
    o.append('<div class="scroll"><table class="sortable" id="all-results"><thead><tr>')
    heads = [("task", "str", None, "l"), ("depth", "num", "ascending", ""), ("width", "num", "ascending", ""),
             ("noise", "num", "ascending", ""), ("method", "str", None, "l"), ("protocol", "str", None, "l"),
             ("density", "num", "ascending", ""), ("achieved density", "num", "ascending", ""),
             ("recall", "num", None, ""), ("precision", "num", None, ""), ("metric", "str", None, "l"),
             ("strong", "num", None, ""), ("weak", "num", None, ""), ("ticket (strong)", "num", None, ""),
             ("ok", "num", None, ""), ("failed", "num", None, "")]
    o += [_th(_h(h), i, t, first, cls) for i, (h, t, first, cls) in enumerate(heads)]
    o.append("</tr></thead><tbody>")
    for r in s.itertuples(index=False):
        o.append(f'<tr data-task="{_h(r.task)}" data-protocol="{_h(r.protocol)}">'
                 f'<td class="l" data-v="{_h(r.task)}">{_h(r.task)}</td>'
                 f"{_num_td(r.depth, _h(fmt(r.depth, 'g')))}{_num_td(r.width, _h(fmt(r.width, 'g')))}"
                 f"{_num_td(r.noise, _h(fmt(r.noise, 'g')))}"
                 f'<td class="l" data-v="{_h(r.method)}">{_h(r.method)}</td>'
                 f'<td class="l" data-v="{_h(r.protocol)}">{_h(r.protocol or "—")}</td>'
                 f"{_num_td(r.density, _h(_density_label(r.density_spec, r.density)))}"
                 f"{_num_td(r.achieved_density_mean)}"
                 f"{_num_td(r.recall_mean, _pm_html(r.recall_mean, r.recall_std))}"
                 f"{_num_td(r.precision_mean, _pm_html(r.precision_mean, r.precision_std))}"
                 f'<td class="l" data-v="{_h(r.metric_name)}">{_h(r.metric_name or "—")}</td>'
                 f"{_num_td(r.strong_metric_mean, _pm_html(r.strong_metric_mean, r.strong_metric_std))}"
                 f"{_num_td(r.weak_metric_mean, _pm_html(r.weak_metric_mean, r.weak_metric_std))}"
                 f"{_num_td(r.ticket_metric_mean)}"
                 f"{_num_td(float(r.ok), str(r.ok))}"
                 f"{_num_td(float(r.failed), str(r.failed), 'allfail' if r.failed else '')}</tr>")
    o.append("</tbody></table></div></section>")

    failed = d[~d["_ok"]]
    if len(failed):
        o.append('<section id="failed"><h2>Failed cells</h2><div class="scroll"><table class="sortable">'
                 "<thead><tr>" + _th("setting", 0, "str", cls="l") + _th("method", 1, "str", cls="l")
                 + _th("density", 2, "str", cls="l") + _th("seed", 3, first="ascending")
                 + _th("error", 4, "str", cls="l") + "</tr></thead><tbody>")
        view = failed.rename(columns={"_setting": "setting", "_method": "method"})
        for r in view.itertuples(index=False):
            o.append(f'<tr data-task="{_h(r.task)}" data-protocol="{_h(r.protocol)}">'
                     f'<td class="l" data-v="{_h(r.setting)}">{_h(r.setting)}</td>'
                     f'<td class="l" data-v="{_h(r.method)}">{_h(r.method)}</td>'
                     f'<td class="l" data-v="{_h(r.density_spec)}">{_h(r.density_spec)}</td>'
                     f"{_num_td(r.seed, _h(fmt(r.seed, 'g')))}"
                     f'<td class="l err">{_h(str(r.error)[:300])}</td></tr>')
        o.append("</tbody></table></div></section>")
    o.append(f"<footer>Generated by plantseek from stored results only. {_h(prov)}</footer>")
    o.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(o) + "\n"


# --- files ---------------------------------------------------------------------------------------------------
def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_results_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Every cell of the frame as CSV, without masks (columns named mask/masks or holding bytes are dropped)."""
    drop = [c for c in df.columns if str(c).lower() in ("mask", "masks")
            or df[c].map(lambda v: isinstance(v, (bytes, bytearray, memoryview))).any()]
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    df.drop(columns=drop).to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def write_leaderboard(df: pd.DataFrame, out_dir: str | Path, with_plots: bool = True,
                      now: _dt.datetime | None = None) -> list[Path]:
    """Write ``results.csv``, ``README.md``, ``index.html`` and (``with_plots``) ``plots/*.png`` into ``out_dir``.

    Everything comes from ``df`` alone. Returns the written files.
    """
    prepare(df)  # validates before anything is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    written: list[Path] = []
    rel: dict[str, dict[str, str]] = {}
    if with_plots:
        from plantseek.report.plots import plots_by_setting

        for slug, kinds in plots_by_setting(df, out / "plots", fmt="png").items():
            rel[slug] = {kind: f"plots/{p.name}" for kind, p in kinds.items()}
            written += list(kinds.values())
    written.append(write_results_csv(df, out / "results.csv"))
    for name, text in (("README.md", render_markdown(df, rel, now)), ("index.html", render_html(df, rel, now))):
        _write_text(out / name, text)
        written.append(out / name)
    return written
