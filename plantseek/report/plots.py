"""Plots of stored results, drawn from the results DataFrame alone (``plantseek.store.results.load_results``).

One set of figures per setting (task, depth, width, noise); each method is one (pruner, protocol) and keeps its
colour and marker across all figures:

- ``metric``: task metric vs density, two panels (strong: the masked host at its initial weights; weak: after
  training); mean over seeds as a line, min–max over seeds as a band; the planted ticket's strong metric as a
  dashed horizontal reference (and the trained dense host, dotted, on the weak panel); log density axis; log y
  for MSE.
- ``recovery``: recall and precision of the planted ticket vs density (same style).
- ``layers``: per-layer density of each method against the ticket's, at the ticket density (or, without
  ticket-density cells, the lowest density), from ``metrics_json`` → ``per_layer``.
- ``walltime``: recall vs wall-clock, where wall-clock = ``prune_parent_seconds`` (the prune request, timed by the
  parent around the worker) + ``train_seconds`` (weak training, run by the harness); a cell without a parent-measured
  prune time is not drawn (a pruner's own clock is self-reported). It measures search cost, not inference speed.
- ``heads``: on attention settings, the mean recall of the ticket's heads per method and density
  (:mod:`plantseek.families.attention.plots`).
- ``compute``: recall vs the CPU seconds of the prune request measured by the parent (``prune_cpu_seconds``, log
  x; below :data:`COMPUTE_FLOOR` drawn at it); only cells that recorded it. The worker's FLOP counts
  (``compute_dense_runs``) are self-reported (:mod:`plantseek.records.compute`) and never plotted as a result.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot, no global state; PNG through Agg) and
written only into the folder given. The input frame is never modified.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from plantseek.core.errors import ConfigError
from plantseek.frame.labels import spec_key
from plantseek.families.registry import FAMILIES, resolve
from plantseek.frame.prepared import prepared
from plantseek.report.tables import summary_table

__all__ = ["KINDS", "FORMATS", "plots_by_setting", "write_plots", "figure_metric", "figure_recovery",
           "figure_layers", "figure_walltime", "figure_compute", "per_layer_profiles", "filter_results"]

KINDS = ("metric", "recovery", "layers", "walltime", "compute")
COMPUTE_FLOOR = 1e-4  # CPU seconds: where a request below it is drawn on the log axis
FORMATS = ("png", "svg", "pdf")
_FLOOR = 1e-12  # log axes: non-positive values (an exact fit has MSE 0) are drawn at this floor
# Okabe–Ito (colour-blind safe) first, then tab10-like extras
_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
            "#8c564b", "#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#d62728", "#2ca02c", "#1f77b4"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]


def _t(text: Any) -> str:
    """User text made literal for matplotlib (a ``$`` would start mathtext)."""
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


def _styles(methods: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {m: {"color": _COLOURS[i % len(_COLOURS)], "marker": _MARKERS[i % len(_MARKERS)]}
            for i, m in enumerate(sorted(set(methods)))}


def _new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _legend(fig, axes) -> None:
    handles, labels = [], []
    for ax in np.atleast_1d(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), frameon=False,
                   fontsize=9)


def _ticket_density(s: pd.DataFrame) -> float:
    t = s.loc[s["density_spec"] == "ticket", "density"]
    return float(t.mean()) if t.notna().any() else np.nan


def _lines(ax, s: pd.DataFrame, q: str, styles: dict, log_y: bool) -> None:
    """Per method: mean over seeds vs density, min–max band."""
    for method, g in s.groupby("method", sort=True):
        g = g[np.isfinite(g["density"].astype(float)) & np.isfinite(g[f"{q}_mean"].astype(float))]
        if g.empty:
            continue
        g = g.sort_values("density")
        x = g["density"].to_numpy(float)
        y, lo, hi = (g[f"{q}_{k}"].to_numpy(float) for k in ("mean", "min", "max"))
        if log_y:
            y, lo, hi = (np.maximum(v, _FLOOR) for v in (y, lo, hi))
        st = styles[method]
        ax.plot(x, y, color=st["color"], marker=st["marker"], ms=5, lw=1.6, label=_t(method))
        ax.fill_between(x, lo, hi, color=st["color"], alpha=0.15, lw=0)


def _plain_log_labels(axis) -> None:
    """Log-axis labels as plain numbers (0.5, 2, 30) rather than 2×10⁰."""
    from matplotlib.ticker import LogFormatter

    axis.set_major_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.4)))
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.4)))


def _density_axis(ax, tick: float) -> None:
    ax.set_xscale("log")
    ax.set_xlabel("density (fraction of weights kept)")
    if np.isfinite(tick) and tick > 0:
        ax.axvline(tick, color="0.45", ls=":", lw=1)
    ax.grid(True, which="major", alpha=0.3)


def figure_metric(cells: pd.DataFrame, styles: dict | None = None):
    """Strong and weak task metric vs density for one setting's prepared cells; None when nothing to draw."""
    s = summary_table(cells)
    if not np.isfinite(s[["strong_metric_mean", "weak_metric_mean"]].to_numpy(float)).any():
        return None
    styles = styles or _styles(s["method"])
    metric = s["metric_name"].iloc[0] or "metric"
    log_y = metric.lower() == "mse"
    okc = cells[cells["_ok"]]
    ticket = okc["ticket_metric"].astype(float)
    ticket = ticket[np.isfinite(ticket)]
    dense_w = okc["dense_weak_metric"].astype(float)
    dense_w = dense_w[np.isfinite(dense_w)]
    tick = _ticket_density(s)
    fig = _new_figure(11, 4.6)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, q, title in ((axes[0], "strong_metric", "strong: masked host at its initial weights"),
                         (axes[1], "weak_metric", "weak: masked network after training")):
        _lines(ax, s, q, styles, log_y)
        if len(ticket):
            ax.axhline(max(float(ticket.mean()), _FLOOR) if log_y else float(ticket.mean()), color="black",
                       ls="--", lw=1.2, label="planted ticket (strong)")
        if q == "weak_metric" and len(dense_w):
            ax.axhline(max(float(dense_w.mean()), _FLOOR) if log_y else float(dense_w.mean()), color="0.5",
                       ls="-.", lw=1.0, label="dense host, trained")
        _density_axis(ax, tick)
        if log_y:
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel(f"test {_t(metric)}" + (" (log)" if log_y else ""))
    fig.suptitle(f"{_t(cells['_setting'].iloc[0])}: {_t(metric)} vs density "
                 f"({'lower' if log_y else 'higher'} is better; band = min–max over seeds)", fontsize=11)
    _legend(fig, axes)
    return fig


def figure_recovery(cells: pd.DataFrame, styles: dict | None = None):
    """Recall and precision of the planted ticket vs density; None when nothing to draw."""
    s = summary_table(cells)
    if not np.isfinite(s[["recall_mean", "precision_mean"]].to_numpy(float)).any():
        return None
    styles = styles or _styles(s["method"])
    tick = _ticket_density(s)
    fig = _new_figure(11, 4.6)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, q, title in ((axes[0], "recall", "recall: fraction of ticket weights kept"),
                         (axes[1], "precision", "precision: fraction of kept weights in the ticket")):
        _lines(ax, s, q, styles, False)
        _density_axis(ax, tick)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("fraction")
    fig.suptitle(f"{_t(cells['_setting'].iloc[0])}: ticket recovery vs density "
                 "(dotted: ticket density; band = min–max over seeds)", fontsize=11)
    _legend(fig, axes)
    return fig


def _per_layer(value: Any) -> dict | None:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    pl = value.get("per_layer")
    return pl if isinstance(pl, dict) else None


def _mean_lists(lists: list) -> np.ndarray | None:
    arrs = []
    for v in lists:
        try:
            a = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            continue
        if a.ndim == 1 and len(a):
            arrs.append(a)
    if not arrs:
        return None
    n = pd.Series([len(a) for a in arrs]).mode().iloc[0]  # the usual layer count; odd lengths are dropped
    return np.nanmean(np.vstack([a for a in arrs if len(a) == n]), axis=0)


def per_layer_profiles(cells: pd.DataFrame) -> tuple[str, float, np.ndarray | None, dict[str, np.ndarray]]:
    """At one density of a setting (the ticket's if present, else the lowest), the mean per-layer density of
    each method and the ticket's per-layer density: ``(density_spec, density, ticket_profile, {method: profile})``.
    """
    if "metrics_json" not in cells.columns:
        return "", np.nan, None, {}
    okc = cells[cells["_ok"]].copy()
    okc["_pl"] = okc["metrics_json"].map(_per_layer)
    okc = okc[okc["_pl"].notna()]
    if okc.empty:
        return "", np.nan, None, {}
    specs = sorted(okc["density_spec"].unique(), key=spec_key)
    spec = specs[0]
    at = okc[okc["density_spec"] == spec]
    ticket = _mean_lists([pl.get("ticket_density") for pl in at["_pl"]])
    profiles = {}
    for method, g in at.groupby("_method", sort=True):
        prof = _mean_lists([pl.get("density") for pl in g["_pl"]])
        if prof is not None:
            profiles[method] = prof
    return spec, float(at["density"].mean()), ticket, profiles


def figure_layers(cells: pd.DataFrame, styles: dict | None = None):
    """Per-layer density profile of each method against the ticket's; None without per-layer data."""
    spec, dens, ticket, profiles = per_layer_profiles(cells)
    if not profiles:
        return None
    styles = styles or _styles(profiles)
    values = [p for p in profiles.values()] + ([ticket] if ticket is not None else [])
    positive = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values])
    floor = float(positive.min()) / 3 if len(positive) else 1e-4
    fig = _new_figure(8.5, 4.8)
    ax = fig.subplots()
    zeros = False
    for method, prof in profiles.items():
        x = np.arange(1, len(prof) + 1)
        st = styles.get(method, {"color": "C0", "marker": "o"})
        ax.plot(x, np.where(prof > 0, prof, floor), color=st["color"], marker=st["marker"], ms=5, lw=1.4,
                label=_t(method))
        z = prof <= 0
        if z.any():
            zeros = True
            ax.scatter(x[z], np.full(z.sum(), floor), marker="x", s=70, color=st["color"], zorder=5)
    if ticket is not None:
        x = np.arange(1, len(ticket) + 1)
        ax.plot(x, np.where(ticket > 0, ticket, floor), color="black", lw=2.2, ls="--", marker="o", ms=6,
                label="planted ticket")
    ax.set_yscale("log")
    n = max(len(v) for v in values)
    ax.set_xticks(np.arange(1, n + 1))
    ax.set_xlabel("weight matrix (1 = input layer → output)")
    ax.set_ylabel("layer density (log)")
    ax.grid(True, which="major", alpha=0.3)
    label = "the ticket density" if spec == "ticket" else f"density {spec}"
    fig.suptitle(f"{_t(cells['_setting'].iloc[0])}: per-layer density at {label} ({dens:.3g}), mean over seeds"
                 + ("\n× at the bottom: layer pruned away (density 0)" if zeros else ""), fontsize=11)
    _legend(fig, ax)
    return fig


def _recall_scatter(cells: pd.DataFrame, x: pd.Series, x_floor: float, styles: dict | None):
    """A figure of recall vs ``x`` (log scale, at least ``x_floor``) over the ok cells: every cell small, the mean
    per (method, density) large; (figure, axes), or None when no ok cell has a finite ``x`` and recall."""
    okc = cells[cells["_ok"]]
    rec = okc["recall"].astype(float)
    keep = np.isfinite(x) & np.isfinite(rec)
    if not keep.any():
        return None
    pts = pd.DataFrame({"method": okc["_method"], "spec": okc["density_spec"], "x": np.maximum(x, x_floor),
                        "recall": rec})[keep]
    styles = styles or _styles(pts["method"])
    fig = _new_figure(8.5, 4.8)
    ax = fig.subplots()
    for method, g in pts.groupby("method", sort=True):
        st = styles.get(method, {"color": "C0", "marker": "o"})
        ax.scatter(g["x"], g["recall"], s=14, alpha=0.35, color=st["color"], marker=st["marker"], lw=0)
        m = g.groupby("spec").agg(x=("x", "mean"), recall=("recall", "mean"))
        ax.scatter(m["x"], m["recall"], s=60, color=st["color"], marker=st["marker"], edgecolor="black",
                   lw=0.7, label=_t(method))
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("recall (fraction of ticket weights kept)")
    ax.grid(True, which="major", alpha=0.3)
    return fig, ax


def figure_walltime(cells: pd.DataFrame, styles: dict | None = None):
    """Recall vs wall-clock (prune_parent_seconds + train_seconds, both measured by the harness): every cell, and the
    mean per (method, density); None when no cell has a parent-measured prune time."""
    okc = cells[cells["_ok"]]
    wall = okc["prune_parent_seconds"].astype(float) + okc["train_seconds"].astype(float).fillna(0.0)
    drawn = _recall_scatter(cells, wall, 1e-4, styles)
    if drawn is None:
        return None
    fig, ax = drawn
    _plain_log_labels(ax.xaxis)
    ax.set_xlabel("wall-clock seconds = prune_parent_seconds + train_seconds (log; measured by the harness)")
    fig.suptitle(f"{_t(cells['_setting'].iloc[0])}: recall vs wall-clock\n"
                 "small: one cell; large: mean per method and density", fontsize=11)
    _legend(fig, ax)
    return fig


def figure_compute(cells: pd.DataFrame, styles: dict | None = None):
    """Recall vs the prune worker's CPU seconds over the prune request, measured by the parent
    (``prune_cpu_seconds``): every cell, and the mean per (method, density); None when no cell recorded it. The
    worker's own FLOP counts are self-reported and not drawn."""
    cost = cells.loc[cells["_ok"], "prune_cpu_seconds"].astype(float)
    drawn = _recall_scatter(cells, cost, COMPUTE_FLOOR, styles)
    if drawn is None:
        return None
    fig, ax = drawn
    _plain_log_labels(ax.xaxis)
    ax.set_xlabel(f"CPU seconds of the prune worker, measured by the harness (log; below {COMPUTE_FLOOR:g} drawn "
                  "at it)")
    fig.suptitle(f"{_t(cells['_setting'].iloc[0])}: recall vs prune CPU seconds\n"
                 "small: one cell; large: mean per method and density", fontsize=11)
    _legend(fig, ax)
    return fig


_FIGURES = {"metric": figure_metric, "recovery": figure_recovery, "layers": figure_layers,
            "walltime": figure_walltime, "compute": figure_compute}


def filter_results(d: pd.DataFrame, tasks: Sequence[str] | None = None,
                   pruners: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows of a prepared frame for the given tasks and pruners (None: all); unknown names are an error."""
    for col, wanted, what in (("task", tasks, "task"), ("pruner", pruners, "pruner")):
        if wanted:
            have = set(d[col])
            unknown = [w for w in wanted if w not in have]
            if unknown:
                raise ConfigError(f"no results for {what}(s) {', '.join(map(repr, unknown))} "
                                  f"(have: {', '.join(sorted(have))})")
            d = d[d[col].isin(list(wanted))]
    return d


def plots_by_setting(df: pd.DataFrame, out_dir: str | Path, tasks: Sequence[str] | None = None,
                     pruners: Sequence[str] | None = None, fmt: str = "png",
                     dpi: int = 110, methods: Mapping[str, Sequence[str]] | None = None,
                     ) -> dict[str, dict[str, Path]]:
    """Write every figure of every setting into ``out_dir``; return ``{setting slug: {kind: path}}``.

    File names: ``{slug}_{kind}.{fmt}``, the slug naming the setting (e.g. ``circle-d5-w100-noise0.01``). A figure
    with nothing to draw (e.g. no per-layer data) is left out. ``methods`` (slug -> method names): draw only those
    settings, each with only those methods (the leaderboard's default selection,
    :func:`plantseek.report.selection.default_methods`); colours stay those of the whole frame.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown plot format {fmt!r} (choose from {', '.join(FORMATS)})")
    from matplotlib import rc_context

    d = prepared(df)
    styles = _styles(d["_method"])  # colours fixed over all settings and filters
    d = filter_results(d, tasks, pruners)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, dict[str, Path]] = {}
    meta = {"Date": None} if fmt in ("svg", "pdf") else {"Software": None}
    with rc_context({"svg.hashsalt": "plantseek", "svg.fonttype": "path", "font.size": 9.5,
                     "axes.spines.top": False, "axes.spines.right": False}):
        for sid, cells in d.groupby("_sid", sort=True):
            slug = cells["_slug"].iloc[0]
            if methods is not None:
                if slug not in methods:
                    continue
                cells = cells[cells["_method"].isin(list(methods[slug]))]
            for kind, draw in _figures(cells["_family"].iloc[0]):
                fig = draw(cells, styles)
                if fig is None:
                    continue
                path = out / f"{slug}_{kind}.{fmt}"
                fig.savefig(path, format=fmt, dpi=dpi, metadata=meta)
                written.setdefault(slug, {})[kind] = path
    return written


def _figures(family: str) -> list[tuple[str, Any]]:
    """The figure kinds of a setting: :data:`KINDS`, then the extra kinds of its host family (attention: ``heads``)."""
    extra = FAMILIES.get(family).figures if family in FAMILIES else ()
    return [(kind, _FIGURES[kind]) for kind in KINDS] + [(kind, resolve(ref)) for kind, ref in extra]


def write_plots(df: pd.DataFrame, out_dir: str | Path, tasks: Sequence[str] | None = None,
                pruners: Sequence[str] | None = None, fmt: str = "png") -> list[Path]:
    """Write all figures (see :func:`plots_by_setting`) and return the list of written files."""
    return [p for kinds in plots_by_setting(df, out_dir, tasks, pruners, fmt).values() for p in kinds.values()]
