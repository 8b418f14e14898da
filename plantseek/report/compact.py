"""What ``evaluate`` prints at the end: a compact summary per task setting, from a results frame alone.

Per setting (:mod:`plantseek.frame.prepared`): one table with the methods as rows and the requested densities as
columns, each cell the weak metric and the recall, means over seeds, with their bootstrap confidence intervals
where n >= 2 (:mod:`plantseek.stats.intervals`); above it the metric's direction, the planted ticket's reference
(its strong metric and density) and the seeds. Sanity ablations and leak detectors are counted, not tabled (the
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

POINTER = ("Full per-cell table: --table full (or --json). Leaderboard with confidence intervals and significance "
           "tests: python -m plantseek leaderboard{store}; figures: python -m plantseek plot{store}")


def _value(mean: float, ci: tuple | None, spec: str = ".3g") -> str:
    if not np.isfinite(mean):
        return "—"
    text = fmt(mean, spec)
    return f"{text} [{fmt(ci[0], spec)}, {fmt(ci[1], spec)}]" if ci else text


def _cell(row: dict, cis: dict, method: str, spec: str) -> str:
    if row["ok"] == 0:
        return f"failed {row['failed']}/{row['cells']}"
    weak = _value(row["weak_metric_mean"], cis.get((method, spec, "weak_metric")))
    recall = _value(row["recall_mean"], cis.get((method, spec, "recall")), ".2f")
    failed = f" ({row['failed']} failed)" if row["failed"] else ""
    return f"{weak} · {recall}{failed}"


def setting_table(s: pd.DataFrame, cis: dict) -> pd.DataFrame:
    """The methods x densities table of one setting's summary rows ``s`` (``weak · recall`` per cell)."""
    specs = sorted(s["density_spec"].unique(), key=spec_key)
    dens = s.groupby("density_spec")["density"].mean()
    cells = {(r["method"], r["density_spec"]): r for r in s.to_dict("records")}
    methods = sorted(s["method"].unique())
    data = {density_label(sp, dens[sp]): [_cell(cells[(m, sp)], cis, m, sp) if (m, sp) in cells else ""
                                          for m in methods] for sp in specs}
    out = pd.DataFrame(data, index=pd.Index(methods, name="method"))
    return out


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
            with pd.option_context("display.max_colwidth", None, "display.width", 250):
                lines += ["   " + line for line in setting_table(g, cis).to_string().splitlines()]
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
