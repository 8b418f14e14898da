"""index.html of the leaderboard: a self-contained static page (inline CSS and JS, no network) with the ranking (on
hidden instances when the results hold any: :func:`plantseek.frame.leak.published_cells`), the public vs hidden
comparison and the development ranking (public instances) when there are hidden cells, sanity ablations and the
leak ceiling (when there are any), per-setting tables (sortable by clicking a header), a
flat table of all (setting, method, density) rows (ablations included), filters by task and protocol, and the
plots as relative image files.

The page's skeleton is the Jinja2 template ``templates/leaderboard.html.j2``; its style and script are
``static/leaderboard.css`` and ``static/leaderboard.js`` (package data), inlined at render time. This module builds
the table cells (escaped HTML) from the report's tables.
"""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from plantseek.core.reasons import sanitise_reason
from plantseek.families.registry import family_order
from plantseek.report.format import density_label, fmt, h, metric_label
from plantseek.frame.leak import LEAK_RULE, development_cells, has_hidden, leak_ceiling, published_cells
from plantseek.frame.prepared import prepared
from plantseek.report.provenance import board_note, provenance_line, submitted_sources
from plantseek.report.statistics import ci_html, interval_lookup, interval_note, statistics_context, with_intervals
from plantseek.report.rules import (COMPUTE_NOTE, DEVELOPMENT_RULE, PLOT_CAPTIONS, PLOT_TITLES, RANKING_RULE,
                                    SANITY_RULE, SPREAD_RULE)
from plantseek.stats.gap import GAP_RULE, gap_verdict, public_hidden_gap
from plantseek.stats.optimum import OPTIMUM_RULE, distance_to_optimum
from plantseek.report.tables import (SANITY_SHOWN, blocks, direction, is_best, ranking, sanity_table,
                                     sanity_verdict_text, summary_table)

TEMPLATE = "leaderboard.html.j2"
STATIC = ("leaderboard.css", "leaderboard.js")


@lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("plantseek.report", "templates"), autoescape=False,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["h"] = h
    return env


def static_text(name: str) -> str:
    """The text of a file of ``plantseek/report/static`` (``leaderboard.css``, ``leaderboard.js``)."""
    return resources.files("plantseek.report").joinpath("static", name).read_text(encoding="utf-8")


def render_html(df: pd.DataFrame, plots: dict[str, dict[str, str]] | None = None,
                now: _dt.datetime | None = None, cd_figures: dict[str, str] | None = None,
                comparisons: list | None = None, intervals: dict | None = None) -> str:
    """index.html text. ``plots`` maps a setting slug to ``{kind: relative path}`` (see
    :func:`plantseek.report.plots.plots_by_setting`), ``cd_figures`` a comparison key to the relative path of its
    critical-difference diagram (:func:`plantseek.report.cd_diagram.write_cd_diagrams`), ``comparisons`` are
    :func:`~plantseek.report.statistics.all_comparisons` of ``df`` when already at hand (``df`` may be prepared), as
    ``intervals`` its :func:`~plantseek.report.statistics.interval_lookup`."""
    d = prepared(df)
    board = published_cells(d)
    plots = plots or {}
    intervals = interval_lookup(d) if intervals is None else intervals
    sanity = sanity_table(d)
    leak = leak_ceiling(d)
    optimum = distance_to_optimum(d)
    gap = public_hidden_gap(d)
    failed = d[~d["_ok"]]
    fam = dict(zip(d["task"], d["_family"]))  # each task's stored host family
    context = {
        "css": static_text("leaderboard.css"), "js": static_text("leaderboard.js"),
        "provenance": provenance_line(df, now), "sources": submitted_sources(df),
        "tasks": sorted(set(zip(d["task"], d["_family"]))),
        "families": family_order(d["_family"]),
        "protocols": sorted(set(d["protocol"]) - {""}),
        "spread_rule": SPREAD_RULE, "ranking_rule": RANKING_RULE, "sanity_rule": SANITY_RULE,
        "board": board_note(d), "ranking": ranking_cells(ranking(board)), "compute_note": COMPUTE_NOTE,
        "development": ranking_cells(ranking(development_cells(d))) if has_hidden(d) else None,
        "development_rule": DEVELOPMENT_RULE,
        "gap": gap_cells(gap) if len(gap) else None, "gap_rule": GAP_RULE,
        "sanity": _sanity_table(sanity, fam) if len(sanity) else None,
        "leak": _leak_table(leak) if len(leak) else None, "leak_rule": LEAK_RULE,
        "optimum": _optimum_table(optimum) if len(optimum) else None, "optimum_rule": OPTIMUM_RULE,
        "settings": [{**_setting(with_intervals(b, intervals), plots.get(b["slug"], {}), fam),
                      "ci_note": interval_note(with_intervals(b, intervals))} for b in blocks(d)],
        "statistics": statistics_context(board, cd_figures, comparisons), "stats_css": static_text("statistics.css"),
        "flat": _flat_table(summary_table(d), fam, intervals),
        "failed": _failed_table(failed, fam) if len(failed) else None,
    }
    return environment().get_template(TEMPLATE).render(context)


# --- cells ---------------------------------------------------------------------------------------------------
def th(label: str, col: int | None = None, type_: str = "num", first: str | None = None, cls: str = "",
       extra: str = "") -> str:
    """A header cell; with ``col``, sortable by the page's script (``first``: the direction of the first click)."""
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


def num_td(value: float, text: str | None = None, cls: str = "") -> str:
    """A numeric cell: its exact value in ``data-v`` (what sorting uses), ``text`` (HTML) shown."""
    v = "" if not np.isfinite(value) else repr(float(value))
    c = f' class="{cls}"' if cls else ""
    return f'<td{c} data-v="{v}">{text if text is not None else h(fmt(value))}</td>'


def text_td(value: Any, shown: Any = None, cls: str = "l") -> str:
    """A text cell, sorted by ``value``, showing ``shown`` (default: the value); both escaped."""
    return f'<td class="{cls}" data-v="{h(value)}">{h(value if shown is None else shown)}</td>'


def pm_html(mean: float, std: float) -> str:
    """``mean ± std`` as HTML, the spread de-emphasised."""
    if not np.isfinite(mean):
        return "—"
    if not np.isfinite(std):
        return h(fmt(mean))
    return f'{h(fmt(mean))} <span class="pm">± {h(fmt(std, ".2g"))}</span>'


# --- tables --------------------------------------------------------------------------------------------------
def ranking_cells(rk: pd.DataFrame) -> dict[str, list[str]]:
    head = [th("#", 0, first="ascending"), th("method", 1, "str", cls="l"), th("protocol", 2, "str", cls="l"),
            th("mean rank (weak metric)", 3, first="ascending"), th("comparisons", 4),
            th("mean rank (recall)", 5, first="ascending"), th("mean recall", 6), th("failed", 7, first="descending"),
            th("cells", 8), th("prune CPU s", 9, first="ascending",
                               extra='title="CPU seconds of the prune worker per cell (mean over cells), measured by '
                                     'the harness: a pruner cannot rewrite it"'),
            th("ranked on", 10, "str", cls="l")]
    rows = [f'<tr data-protocol="{h(r.protocol)}">'
            f"{num_td(r.position, h(fmt(r.position, 'g')))}{text_td(r.method)}{text_td(r.protocol, r.protocol or '—')}"
            f"{num_td(r.mean_rank)}{num_td(float(r.comparisons), str(r.comparisons))}"
            f"{num_td(r.mean_recall_rank)}{num_td(r.mean_recall)}"
            f"{num_td(float(r.failed), str(r.failed))}{num_td(float(r.cells), str(r.cells))}"
            f"{num_td(r.prune_cpu_seconds)}{text_td(r.ranked_on)}</tr>"
            for r in rk.itertuples(index=False)]
    return {"head": head, "rows": rows}


def gap_cells(gap: pd.DataFrame) -> dict[str, list[str]]:
    """Public vs hidden recall per method (:func:`plantseek.stats.gap.public_hidden_gap`), flagged rows marked."""
    head = [th("method", 0, "str", cls="l"), th("protocol", 1, "str", cls="l"), th("recall: public", 2),
            th("recall: hidden", 3), th("public − hidden", 4, first="descending"),
            th("95 % interval", 5, first="descending", extra='title="sorted by its lower end"'),
            th("matched pairs", 6), th("public far above hidden", 7, "str", cls="l")]
    rows = []
    for r in gap.itertuples(index=False):
        interval = "" if not np.isfinite(r.gap_low) else f"[{fmt(r.gap_low)}, {fmt(r.gap_high)}]"
        verdict = gap_verdict(r.flagged, r.note)
        cls = " verdict-no" if r.flagged else ""
        rows.append(f'<tr data-protocol="{h(r.protocol)}">'
                    f"{text_td(r.method)}{text_td(r.protocol, r.protocol or '—')}"
                    f"{num_td(r.public_recall)}{num_td(r.hidden_recall)}{num_td(r.gap_mean)}"
                    f"{num_td(r.gap_low, h(interval))}{num_td(float(r.pairs), str(r.pairs))}"
                    f'<td class="l{cls}" data-v="{h(verdict)}">{h(verdict)}</td></tr>')
    return {"head": head, "rows": rows}


def _leak_table(leak: pd.DataFrame) -> dict[str, list[str]]:
    head = [th("setting", 0, "str", cls="l"), th("best leak detector", 1, "str", cls="l"),
            th("its recall (leak ceiling)", 2, first="descending"), th("random's recall", 3),
            th("ceiling / random", 4, first="descending"), th("seeds", 5)]
    rows = [f"<tr>{text_td(r.setting)}{text_td(r.detector)}"
            f"{num_td(r.detector_recall_mean, pm_html(r.detector_recall_mean, r.detector_recall_std))}"
            f"{num_td(r.random_recall_mean, pm_html(r.random_recall_mean, r.random_recall_std))}"
            f"{num_td(r.ratio)}"
            f"{num_td(float(r.seeds), str(r.seeds))}</tr>"
            for r in leak.itertuples(index=False)]
    return {"head": head, "rows": rows}


def _optimum_table(table: pd.DataFrame) -> dict[str, list[str]]:
    head = [th("setting", 0, "str", cls="l"), th("pruner", 1, "str", cls="l"), th("instances", 2),
            th("reached", 3, first="descending"), th("kept / optimum (mean)", 4), th("95 % interval", 5),
            th("density", 6)]
    rows = []
    for r in table.itertuples(index=False):
        interval = f"[{fmt(r.ratio_lo)}, {fmt(r.ratio_hi)}]" if np.isfinite(r.ratio_lo) else "—"
        rows.append(f"<tr>{text_td(f'{r.task} · depth {r.depth} · width {r.width}')}{text_td(r.pruner)}"
                    f"{num_td(float(r.instances), str(r.instances))}{num_td(float(r.reached), str(r.reached))}"
                    f"{num_td(r.ratio)}{num_td(r.ratio_lo, h(interval))}{num_td(r.density)}</tr>")
    return {"head": head, "rows": rows}


def _sanity_table(sanity: pd.DataFrame, fam: dict[str, str]) -> dict[str, list[str]]:
    head = [th("setting", 0, "str", cls="l"), th("metric", 1, "str", cls="l"), th("method", 2, "str", cls="l"),
            th("density", 3, first="ascending"), th("weak", 4, cls="gs"), th("recall", 5),
            th("weak [shuffled]", 6, cls="gs"), th("recall [shuffled]", 7), th("weak [reinit]", 8, cls="gs"),
            th("beats its shuffled mask (paired test)", 9, "str", cls="l gs")]
    rows = []
    for r in sanity.to_dict("records"):
        metric = metric_label(r["metric_name"], r["higher_is_better"])
        rows.append(f'<tr{_row_attrs(r["task"], r["protocol"], fam)}>'
                    f'{text_td(r["setting"])}{text_td(metric)}{text_td(r["method"])}'
                    f'{num_td(r["density"], h(density_label(r["density_spec"], r["density"])))}')
        for pre, q in SANITY_SHOWN:
            rows.append(num_td(r[f"{pre}{q}_mean"], pm_html(r[f"{pre}{q}_mean"], r[f"{pre}{q}_std"]),
                               "gs" if q == "weak_metric" else ""))
        v = r["beats_shuffled"]
        rows.append(f'<td class="l gs verdict-{h(v.replace("/", "").replace(" ", "-"))}" data-v="{h(v)}">'
                    f'{h(sanity_verdict_text(r))}</td></tr>')
    return {"head": head, "rows": rows}


def _setting(b: dict[str, Any], figs: dict[str, str], fam: dict[str, str]) -> dict[str, Any]:
    """One setting's section: its notes, the two header rows and the rows of its (method x density) table."""
    first_metric = "descending" if b["hib"] else "ascending"
    n = len(b["specs"])
    head = [th("method", 0, "str", cls="l", extra='rowspan="2"'),
            th("protocol", 1, "str", cls="l", extra='rowspan="2"')]
    head += [f'<th class="grp" colspan="3">density {h(density_label(sp, b["dens"][sp]))}</th>' for sp in b["specs"]]
    head.append(th("failed / cells", 2 + 3 * n, first="descending", extra='rowspan="2"'))
    subhead = []
    for i in range(n):
        subhead += [th("recall", 2 + 3 * i, cls="gs"),
                    th("strong", 3 + 3 * i, first=first_metric,
                       extra=f'title="strong {h(b["metric"])}: masked host at its initial weights"'),
                    th("weak", 4 + 3 * i, first=first_metric,
                       extra=f'title="weak {h(b["metric"])}: masked network after training"')]
    rows = []
    for m in b["methods"]:
        rows += _setting_row(b, m, fam)
    figures = [{"path": rel, "title": PLOT_TITLES.get(kind, kind), "caption": PLOT_CAPTIONS.get(kind, "")}
               for kind, rel in figs.items()]
    return {"task": b["task"], "family": fam.get(b["task"], ""), "slug": b["slug"], "setting": b["setting"],
            "metric": b["metric"],
            "direction": direction(b), "ticket": pm_html(b["ticket"]["mean"], b["ticket"]["std"]),
            "dense_weak": pm_html(b["dense_weak"]["mean"], b["dense_weak"]["std"]), "seeds": b["seeds"],
            "head": head, "subhead": subhead, "rows": rows, "figures": figures}


def _setting_row(b: dict[str, Any], m: str, fam: dict[str, str]) -> list[str]:
    """The lines of method ``m``'s row: recall, strong and weak per density (best highlighted), then failures."""
    proto = b["protocol"][m]
    lines = [f'<tr{_row_attrs(b["task"], proto, fam)}>'
             f'<th class="l" scope="row" data-v="{h(m)}">{h(m)}</th>{text_td(proto, proto or "—")}']
    for sp in b["specs"]:
        c = b["cell"].get((m, sp))
        if c is None:
            lines.append('<td class="gs" data-v=""></td><td data-v=""></td><td data-v=""></td>')
            continue
        if c["ok"] == 0:
            lines.append(f'<td class="gs allfail" data-v="" title="all cells failed">failed '
                         f'{c["failed"]}/{c["cells"]}</td><td data-v=""></td><td data-v=""></td>')
            continue
        note = (f'<span class="fail" title="{c["failed"]} of {c["cells"]} cells failed">'
                f'⚠ {c["failed"]} failed</span>') if c["failed"] else ""
        for j, q in enumerate(("recall", "strong_metric", "weak_metric")):
            cls = ("gs " if j == 0 else "") + ("best" if is_best(b, sp, q, c[f"{q}_mean"]) else "")
            text = (pm_html(c[f"{q}_mean"], c[f"{q}_std"]) + ci_html(b.get("ci", {}), m, sp, q)
                    + (note if j == 0 else ""))
            lines.append(num_td(c[f"{q}_mean"], text, cls.strip()))
    nf, nc = b["totals"][m]
    lines += [num_td(float(nf), f"{nf} / {nc}"), "</tr>"]
    return lines


_FLAT_HEADS = [("task", "str", None, "l"), ("depth", "num", "ascending", ""), ("width", "num", "ascending", ""),
               ("noise", "num", "ascending", ""), ("instances", "str", None, "l"), ("method", "str", None, "l"),
               ("protocol", "str", None, "l"),
               ("density", "num", "ascending", ""), ("achieved density", "num", "ascending", ""),
               ("recall", "num", None, ""), ("recall: 95 % CI", "num", "ascending", "ci-col"),
               ("precision", "num", None, ""), ("metric", "str", None, "l"),
               ("strong", "num", None, ""), ("weak", "num", None, ""), ("weak: 95 % CI", "num", "ascending", "ci-col"),
               ("ticket (strong)", "num", None, ""), ("ok", "num", None, ""), ("failed", "num", None, "")]
_CI_TITLE = ('title="95 % bootstrap confidence interval of the mean over seeds (sorted by its width; empty: '
             'n = 1, no interval)"')


def _row_attrs(task: str, protocol: str, fam: dict[str, str]) -> str:
    """The attributes the page's filters read: task, protocol and task family (``fam``: task -> stored family)."""
    return f' data-task="{h(task)}" data-family="{h(fam.get(task, ""))}" data-protocol="{h(protocol)}"'


def _ci_td(intervals: dict, key: tuple) -> str:
    """A cell with the interval ``[low, high]`` of ``key`` (sorted by its width), or an empty cell (n = 1)."""
    v = intervals.get(key)
    if v is None:
        return '<td class="ci-col" data-v=""></td>'
    low, high, n = v
    return num_td(high - low, f"[{h(fmt(low))}, {h(fmt(high))}]", "ci-col")


def _flat_table(s: pd.DataFrame, fam: dict[str, str], intervals: dict | None = None) -> dict[str, list[str]]:
    """The All results table; ``intervals``: :func:`~plantseek.report.statistics.interval_lookup` of the frame."""
    intervals = intervals or {}
    head = [th(h(label), i, t, first, cls, _CI_TITLE if cls == "ci-col" else "")
            for i, (label, t, first, cls) in enumerate(_FLAT_HEADS)]
    rows = [f"<tr{_row_attrs(r.task, r.protocol, fam)}>{text_td(r.task)}"
            f"{num_td(r.depth, h(fmt(r.depth, 'g')))}{num_td(r.width, h(fmt(r.width, 'g')))}"
            f"{num_td(r.noise, h(fmt(r.noise, 'g')))}{text_td(r.instances)}"
            f"{text_td(r.method)}{text_td(r.protocol, r.protocol or '—')}"
            f"{num_td(r.density, h(density_label(r.density_spec, r.density)))}"
            f"{num_td(r.achieved_density_mean)}"
            f"{num_td(r.recall_mean, pm_html(r.recall_mean, r.recall_std))}"
            f"{_ci_td(intervals, (r.sid, r.method, r.density_spec, 'recall'))}"
            f"{num_td(r.precision_mean, pm_html(r.precision_mean, r.precision_std))}"
            f"{text_td(r.metric_name, r.metric_name or '—')}"
            f"{num_td(r.strong_metric_mean, pm_html(r.strong_metric_mean, r.strong_metric_std))}"
            f"{num_td(r.weak_metric_mean, pm_html(r.weak_metric_mean, r.weak_metric_std))}"
            f"{_ci_td(intervals, (r.sid, r.method, r.density_spec, 'weak_metric'))}"
            f"{num_td(r.ticket_metric_mean)}{num_td(float(r.ok), str(r.ok))}"
            f"{num_td(float(r.failed), str(r.failed), 'allfail' if r.failed else '')}</tr>"
            for r in s.rename(columns={"_sid": "sid"}).itertuples(index=False)]
    return {"head": head, "rows": rows}


def _failed_table(failed: pd.DataFrame, fam: dict[str, str]) -> dict[str, list[str]]:
    head = [th("setting", 0, "str", cls="l"), th("method", 1, "str", cls="l"), th("density", 2, "str", cls="l"),
            th("seed", 3, first="ascending"), th("error", 4, "str", cls="l")]
    view = failed.rename(columns={"_setting": "setting", "_method": "method"})
    rows = [f"<tr{_row_attrs(r.task, r.protocol, fam)}>"
            f"{text_td(r.setting)}{text_td(r.method)}{text_td(r.density_spec)}{num_td(r.seed, h(fmt(r.seed, 'g')))}"
            f'<td class="l err">{h(sanitise_reason(r.error, 300))}</td></tr>'
            for r in view.itertuples(index=False)]
    return {"head": head, "rows": rows}
