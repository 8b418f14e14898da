"""One page per setting (``settings/<slug>.html``): what the index answers for that setting, then its methods'
recall, weak and strong metric per requested density (one table per quantity: mean and 95 % interval on separate
lines, so the page never scrolls sideways at 1366 px), and its plots.

The plots are two charts drawn in the browser from the means embedded in the page (recall and weak metric vs density,
each mean with its interval) and the stored figures (``plots/*.png``); both show the methods
:func:`plantseek.report.selection.default_methods` picks (at most eight), and the charts let a reader tick any other
method in. The page is small on purpose (a few thousand DOM nodes at 40 methods): one setting's page is rewritten
only when that setting's cells change (:mod:`plantseek.report.incremental`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from plantseek.report.format import density_label, fmt, h, metric_label
from plantseek.report.index_page import answer_rows
from plantseek.report.page import environment, pm_html, static_text
from plantseek.report.rules import PLOT_CAPTIONS, PLOT_TITLES
from plantseek.report.selection import SELECTION_RULE
from plantseek.report.statistics import interval_note
from plantseek.report.tables import direction, is_best
from plantseek.stats.intervals import NO_INTERVAL
from plantseek.stats.leaders import LEAD_RULE

TEMPLATE = "setting.html.j2"
QUANTITIES = (("recall", "Recall of the planted ticket"), ("weak_metric", "Weak metric (after training)"),
              ("strong_metric", "Strong metric (masked host at its initial weights)"))
#: the charts' colours (Okabe–Ito first): the default methods first, then the rest in alphabetical order
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8c564b", "#7f7f7f",
           "#bcbd22", "#17becf", "#9467bd", "#d62728", "#2ca02c", "#1f77b4", "#F0E442"]


def nm_ceilings(cells: pd.DataFrame) -> dict[str, float]:
    """``{density spec: mean nm_ceiling}`` of a setting's ok cells at N:M densities (docs/patterns.md: the best recall
    any mask of the pattern can reach on the planted ticket); empty when the cells hold none."""
    if "nm_ceiling" not in cells.columns:
        return {}
    ok = cells[cells["status"].eq("ok")] if "status" in cells.columns else cells
    v = pd.to_numeric(ok["nm_ceiling"], errors="coerce")
    means = v[np.isfinite(v)].groupby(ok["density_spec"]).mean()
    return {str(spec): float(m) for spec, m in means.items()}


def render_setting(block: dict[str, Any], leads: pd.DataFrame, shown: list[str], family: str,
                   figures: dict[str, str] | None = None, provenance: str = "",
                   ceilings: dict[str, float] | None = None) -> str:
    """A setting's page. ``block``: its :func:`plantseek.report.tables.setting_blocks` entry with intervals
    (:func:`plantseek.report.statistics.with_intervals`); ``leads``: its rows of
    :func:`plantseek.stats.leaders.leaders`; ``shown``: the methods its plots show by default; ``figures``: kind ->
    path of its stored figures relative to the page; ``ceilings``: :func:`nm_ceilings` of its cells, shown beside
    recall."""
    fam = {block["task"]: family}
    context = {
        "css": static_text("leaderboard.css") + static_text("pages.css"), "js": static_text("setting.js"),
        "setting": block["setting"], "provenance": provenance,
        "metric": metric_label(block["metric"], block["hib"]), "direction": direction(block),
        "ticket": pm_html(block["ticket"]["mean"], block["ticket"]["std"]),
        "dense_weak": pm_html(block["dense_weak"]["mean"], block["dense_weak"]["std"]), "seeds": block["seeds"],
        "ci_note": interval_note(block), "lead_rule": LEAD_RULE, "selection_rule": SELECTION_RULE,
        "answers": answer_rows(leads, fam, href=False),
        "tables": [_quantity_table(block, q, title, ceilings or {}) for q, title in QUANTITIES],
        "chart_data": chart_json(block, shown),
        "figures": [{"path": rel, "title": PLOT_TITLES.get(kind, kind), "caption": PLOT_CAPTIONS.get(kind, "")}
                    for kind, rel in (figures or {}).items()],
        "shown": shown,
    }
    return environment().get_template(TEMPLATE).render(context)


def _quantity_table(b: dict[str, Any], q: str, title: str, ceilings: dict[str, float]) -> dict[str, Any]:
    head = ['<th class="l">method</th>', '<th class="l">protocol</th>']
    for sp in b["specs"]:
        ceiling = ceilings.get(sp) if q == "recall" else None
        extra = (f'<br><span class="ci nm-ceiling" title="best recall any {h(sp)} mask can reach on the planted '
                 f'ticket (mean over seeds)">N:M ceiling {h(fmt(ceiling))}</span>') if ceiling is not None else ""
        head.append(f'<th>density {h(density_label(sp, b["dens"][sp]))}{extra}</th>')
    if q == "recall":
        head.append("<th>failed / cells</th>")
    rows = []
    for m in b["methods"]:
        proto = b["protocol"][m]
        line = [f'<tr data-protocol="{h(proto)}"><th class="l" scope="row">{h(m)}</th>'
                f'<td class="l proto">{h(proto or "—")}</td>']
        for sp in b["specs"]:
            c = b["cell"].get((m, sp))
            if c is None:
                line.append("<td></td>")
            elif c["ok"] == 0:
                line.append(f'<td class="allfail">failed {c["failed"]}/{c["cells"]}</td>')
            else:
                mean = c[f"{q}_mean"]
                ci = b.get("ci", {}).get((m, sp, q))
                second = (f"[{h(fmt(ci[0]))}, {h(fmt(ci[1]))}]" if ci else
                          (NO_INTERVAL if c[f"{q}_n"] == 1 else ""))
                cls = ' class="best"' if is_best(b, sp, q, mean) else ""
                line.append(f'<td{cls}>{h(fmt(mean))}<br><span class="ci">{second}</span></td>')
        if q == "recall":
            nf, nc = b["totals"][m]
            line.append(f'<td class="{"allfail" if nf else ""}">{nf} / {nc}</td>')
        rows.append("".join(line) + "</tr>")
    return {"id": f"q-{q.replace('_', '-')}", "title": title, "head": head, "rows": rows}


def chart_json(b: dict[str, Any], shown: list[str]) -> str:
    """The charts' data as JSON, safe inside a ``<script type="application/json">`` element: the densities (x), per
    method its colour and, per quantity, ``[mean, low, high]`` per density (null where missing), and the methods
    shown by default."""
    xs = [float(b["dens"][sp]) for sp in b["specs"]]
    series = []
    order = list(shown) + [m for m in b["methods"] if m not in shown]  # the default methods get distinct colours
    colour = {m: COLOURS[i % len(COLOURS)] for i, m in enumerate(order)}
    for m in b["methods"]:
        values: dict[str, list] = {}
        for q in ("recall", "weak_metric"):
            pts = []
            for sp in b["specs"]:
                c = b["cell"].get((m, sp))
                mean = c[f"{q}_mean"] if c is not None else np.nan
                ci = b.get("ci", {}).get((m, sp, q))
                pts.append([_num(mean), _num(ci[0]) if ci else None, _num(ci[1]) if ci else None])
            values[q] = pts
        series.append({"method": m, "colour": colour[m], **values})
    data = {"x": [_num(x) for x in xs], "labels": [density_label(sp, b["dens"][sp]) for sp in b["specs"]],
            "metric": b["metric"], "series": series, "shown": shown}
    text = json.dumps(data, ensure_ascii=True, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


__all__ = ["TEMPLATE", "render_setting", "chart_json"]
