"""The README's answers: who leads each (setting, requested density), by recall and by weak metric, with each
leader's mean and seed interval and whether its lead over the runner-up is significant
(:func:`plantseek.stats.leaders.leaders`, the index page's answers as Markdown)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from plantseek.frame.labels import spec_key
from plantseek.report.format import density_label, fmt, md_escape, metric_label
from plantseek.stats.leaders import LEAD_RULE

QUANTITIES = (("recall", "recall"), ("weak_metric", "weak metric"))


def _leader(r: dict | None) -> str:
    """``leader mean [low, high]`` and the lead's verdict, or a dash."""
    if r is None or not isinstance(r["best"], str) or not r["best"]:
        return "—"
    n = int(r["best_n"])
    ci = f" [{fmt(r['best_low'])}, {fmt(r['best_high'])}]" if n >= 2 and np.isfinite(r["best_low"]) else ""
    if not (isinstance(r["second"], str) and r["second"]):
        return md_escape(f"{r['best']} {fmt(r['best_mean'])}{ci}") + " · no runner-up"
    lead = f"**significant lead** (p = {r['p']:.2g})" if r["significant"] else "lead not significant"
    return md_escape(f"{r['best']} {fmt(r['best_mean'])}{ci}") + f" · {lead} over {md_escape(r['second'])}"


def answers_markdown(leads: pd.DataFrame) -> list[str]:
    """The section's lines: one row per (setting, requested density) over all protocols; [] without answers."""
    leads = leads[leads["view"].eq("")] if len(leads) else leads
    if not len(leads):
        return []
    by: dict[tuple, dict[str, dict]] = {}
    for r in leads.to_dict("records"):
        by.setdefault((r["setting"], r["density_spec"]), {})[r["quantity"]] = r
    out = ["", "## Who leads each setting and density", "",
           f"{LEAD_RULE} Means over seeds with their 95 % bootstrap interval; the weak metric as stored (its "
           "direction beside the setting). Every method's cells: the setting pages of index.html.", "",
           "| setting | density | best by recall | best by weak metric |", "|---|---|---|---|"]
    for key in sorted(by, key=lambda k: (k[0], spec_key(k[1]))):
        g = by[key]
        first = next(iter(g.values()))
        metric = metric_label(first["metric_name"], first["higher_is_better"])
        out.append(f"| {md_escape(first['setting'])} ({md_escape(metric)}) "
                   f"| {md_escape(density_label(first['density_spec'], first['density']))} "
                   + "".join(f"| {_leader(g.get(q))} " for q, _ in QUANTITIES) + "|")
    return out


__all__ = ["answers_markdown"]
