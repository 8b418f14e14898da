"""What ``evaluate`` prints at the end: a compact summary per task setting, from a results frame alone.

Per setting (:mod:`plantseek.frame.prepared`): one table with the methods as rows and the requested densities as
columns, each cell the weak metric and the recall (3 significant digits: 0.003 is not 0), means over seeds, with
their bootstrap confidence intervals where n >= 2 (:mod:`plantseek.stats.intervals`); above it the metric's
direction, the planted ticket's reference (its strong metric and density) and the seeds. Rows are ordered best
first (:func:`method_order`: the mean rank of the weak metric over the density columns), the best cell of each
column carries a ``*``, and a cell whose network collapsed is labelled (:func:`constant_value`), with a legend under
the table. Sanity ablations and leak detectors are counted, not tabled (the
full table, the leaderboard and the plots show them). The strong metric is left out: it is the masked host at its
initial weights, often of no useful scale (MSEs of 1e10), and it stays in ``--table full``, the store and the
leaderboard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from plantseek.frame.labels import spec_key
from plantseek.report.format import density_label, fmt, metric_label
from plantseek.frame.prepared import competitors, prepare
from plantseek.report.tables import summary_table
from plantseek.stats.intervals import NO_INTERVAL, seed_intervals

BEST = "*"
COLLAPSED = "collapsed"  # the mask leaves no input-output path (the stored layer_collapse metric, every ok seed)
CONSTANT = "constant"  # a path is left, but the trained network scores exactly what collapsed ones score
CONSTANT_RTOL = 1e-6

POINTER = ("Full per-cell table: --table full (or --json). Leaderboard with confidence intervals and significance "
           "tests: python -m plantseek leaderboard{store}; figures: python -m plantseek plot{store}")


def _value(mean: float, ci: tuple | None, spec: str = ".3g") -> str:
    if not np.isfinite(mean):
        return "—"
    text = fmt(mean, spec)
    return f"{text} [{fmt(ci[0], spec)}, {fmt(ci[1], spec)}]" if ci else text


def _cell(row: dict, cis: dict, method: str, spec: str, best: bool = False, constant: float | None = None) -> str:
    if row["ok"] == 0:
        return f"failed {row['failed']}/{row['cells']}"
    weak = _value(row["weak_metric_mean"], cis.get((method, spec, "weak_metric")))
    recall = _value(row["recall_mean"], cis.get((method, spec, "recall")), ".3g")
    mark = BEST if best else ""
    collapsed = int(row.get("collapsed", 0) or 0)
    if collapsed:
        label = f" ({COLLAPSED})" if collapsed == row["ok"] else f" ({COLLAPSED} {collapsed}/{row['ok']})"
    elif constant is not None and _same(row["weak_metric_mean"], constant):
        label = f" ({CONSTANT})"
    else:
        label = ""
    failed = f" ({row['failed']} failed)" if row["failed"] else ""
    return f"{weak}{mark} · {recall}{label}{failed}"


def _same(a: float, b: float) -> bool:
    return bool(np.isfinite(a) and np.isfinite(b) and abs(a - b) <= CONSTANT_RTOL * max(1.0, abs(b)))


def weak_matrix(s: pd.DataFrame) -> pd.DataFrame:
    """Methods x density specs: the mean weak metric of one setting's summary rows (NaN where no ok cell)."""
    return s.pivot_table(index="method", columns="density_spec", values="weak_metric_mean", aggfunc="first",
                         dropna=False).reindex(index=sorted(s["method"].unique()),
                                               columns=sorted(s["density_spec"].unique(), key=spec_key))


def method_order(s: pd.DataFrame) -> list[str]:
    """The methods best first: by the mean, over the density columns, of their rank on the weak metric (in its
    direction; a missing or failed cell ranks last), ties by name."""
    m = weak_matrix(s).astype(float)
    sign = -1.0 if bool(s["higher_is_better"].iloc[0]) else 1.0
    ranks = (sign * m).rank(axis=0, method="average", na_option="bottom")
    mean_rank = ranks.mean(axis=1)
    return sorted(m.index, key=lambda name: (float(mean_rank[name]), name))


def best_methods(s: pd.DataFrame) -> dict[str, set[str]]:
    """Per density spec, the methods with the best mean weak metric of its column (ties: all of them)."""
    m = weak_matrix(s).astype(float)
    hib = bool(s["higher_is_better"].iloc[0])
    out: dict[str, set[str]] = {}
    for spec in m.columns:
        col = m[spec][np.isfinite(m[spec])]
        out[spec] = set(col.index[col == (col.max() if hib else col.min())]) if len(col) else set()
    return out


def constant_value(s: pd.DataFrame) -> float | None:
    """The weak metric of a collapsed network in this setting, or None if no cell collapsed on every seed.

    A collapsed network (no input-output path of kept weights) outputs a constant whatever its input, so its
    weak metric is that of the constant predictor: the share of the majority class (accuracy) or the variance of
    the targets around the constant (mse). It is read from the cells flagged collapsed (their most frequent mean
    weak metric), not recomputed: the summary reads stored results only."""
    whole = s[(s["ok"] > 0) & s["collapsed"].eq(s["ok"]) & np.isfinite(s["weak_metric_mean"].astype(float))]
    if not len(whole):
        return None
    return float(whole["weak_metric_mean"].round(12).mode().iloc[0])


def setting_table(s: pd.DataFrame, cis: dict) -> pd.DataFrame:
    """The methods x densities table of one setting's summary rows ``s`` (``weak · recall`` per cell), rows best
    first (:func:`method_order`), the best cell of each column marked, collapsed cells labelled. ``s`` may carry
    a ``collapsed`` column (ok cells flagged ``layer_collapse``; :func:`with_collapse`)."""
    if "collapsed" not in s.columns:
        s = s.assign(collapsed=0)
    specs = sorted(s["density_spec"].unique(), key=spec_key)
    dens = s.groupby("density_spec")["density"].mean()
    cells = {(r["method"], r["density_spec"]): r for r in s.to_dict("records")}
    methods = method_order(s)
    best = best_methods(s)
    constant = constant_value(s)
    data = {density_label(sp, dens[sp]): [_cell(cells[(m, sp)], cis, m, sp, m in best[sp], constant)
                                          if (m, sp) in cells else "" for m in methods] for sp in specs}
    return pd.DataFrame(data, index=pd.Index(methods, name="method"))


def with_collapse(s: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """The summary rows ``s`` with ``collapsed``: how many of each row's ok cells (of the prepared frame ``cells``)
    are flagged ``layer_collapse`` (0 where the frame has no such column)."""
    if "layer_collapse" not in cells.columns:
        return s.assign(collapsed=0)
    ok = cells[cells["_ok"]]
    flagged = ok["layer_collapse"].fillna(False).astype(bool)
    counts = flagged.groupby([ok["_sid"], ok["_method"], ok["density_spec"]]).sum()
    keys = list(zip(s["_sid"], s["method"], s["density_spec"]))
    return s.assign(collapsed=[int(counts.get(k, 0)) for k in keys])


def legend(s: pd.DataFrame) -> list[str]:
    """The lines under a setting's table: the order, the mark, and what a collapsed cell shows."""
    metric = s["metric_name"].iloc[0] or "metric"
    lines = [f"   rows: best first (mean rank of the weak {metric} over the densities); {BEST} best weak {metric} of "
             "its density column"]
    constant = constant_value(s)
    if constant is not None:
        what = "the majority class's share" if metric == "accuracy" else "the constant predictor's error"
        lines.append(f"   {COLLAPSED}: the mask leaves no path from input to output, the network outputs a constant "
                     f"(weak {metric} {fmt(constant)} = {what}); {CONSTANT}: a path is left but the trained network "
                     "scores the same")
    return lines


def _header(s: pd.DataFrame, cells: pd.DataFrame, cis: dict) -> list[str]:
    first = s.iloc[0]
    metric = first["metric_name"] or "metric"
    ticket = cells.loc[cells["_ok"], "ticket_metric"].astype(float)
    ticket = ticket[np.isfinite(ticket)]
    tick_d = s.loc[s["density_spec"].eq("ticket"), "density"]
    ref = f"planted ticket: strong {metric} {fmt(ticket.mean()) if len(ticket) else '—'}"
    if len(tick_d):
        ref += f" at density {fmt(tick_d.mean())}, recall 1"
    seeds = int(cells["seed"].nunique())
    intervals = ("[low, high] = 95 % bootstrap CI over seeds" if cis else NO_INTERVAL)
    return [f"== {first['setting']}",
            f"   cells: weak {metric_label(metric, bool(first['higher_is_better']))} · recall; {ref}; "
            f"{seeds} seed(s) ({intervals})"]


def compact_summary(df: pd.DataFrame, store: str | None = None) -> str:
    """The text ``evaluate`` ends with (see the module); ``df`` as :func:`plantseek.store.results.load_results`,
    ``store`` the store the pointer's commands should read (None: their default; "": results not stored)."""
    d = prepare(df)
    main = competitors(d)
    lines: list[str] = []
    if len(main):
        s = summary_table(main)
        iv = seed_intervals(main, ("weak_metric", "recall"))
        iv = iv[iv["n"] >= 2]
        for sid, g in s.groupby("_sid", sort=True):
            cis = {(r.method, r.density_spec, r.quantity): (r.ci_low, r.ci_high)
                   for r in iv[iv["sid"] == sid].itertuples(index=False)}
            lines += _header(g, main[main["_sid"] == sid], cis)
            g = with_collapse(g, main)
            with pd.option_context("display.max_colwidth", None, "display.width", 250):
                lines += ["   " + line for line in setting_table(g, cis).to_string().splitlines()]
            lines += legend(g)
            lines.append("")
    others = d[~d.index.isin(main.index)]
    if len(others):
        lines.append(f"Not tabled here: {len(others)} cell(s) of sanity ablations and leak detectors "
                     f"({', '.join(sorted(others['_method'].unique()))}).")
    failed = d[~d["_ok"]]
    if len(failed):
        lines.append(f"{len(failed)} cell(s) FAILED (see --table full or the leaderboard's Failed cells).")
    if store == "":
        lines.append("Full per-cell table: --table full (or --json). The results were not stored (--no-store): "
                     "run with a store to get the leaderboard and the plots.")
    else:
        lines.append(POINTER.format(store=f" --store {store}" if store else ""))
    return "\n".join(lines)
