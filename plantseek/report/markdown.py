"""README.md of the leaderboard: provenance, the ranking with its rule (on hidden instances when the results hold
any), the public vs hidden comparison and the development ranking (when they do), sanity ablations and the leak
ceiling (when there are any), per-setting tables, plot links and failed cells; text from the results frame alone."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import pandas as pd

from plantseek.core.reasons import sanitise_reason
from plantseek.families.registry import families
from plantseek.report.format import density_label, fmt, md_escape, metric_label, pm
from plantseek.frame.leak import LEAK_RULE, development_cells, has_hidden, leak_ceiling, published_cells
from plantseek.frame.prepared import prepared
from plantseek.report.answers_md import answers_markdown
from plantseek.report.optimum_md import optimum_section
from plantseek.report.provenance import board_note, provenance_line, submitted_sources
from plantseek.report.rules import (COMPUTE_NOTE, DEVELOPMENT_RULE, GLOSSARY, PLOT_TITLES, RANKING_RULE, SANITY_RULE,
                                    SPREAD_RULE)
from plantseek.stats.gap import GAP_RULE, gap_verdict, public_hidden_gap
from plantseek.stats.leaders import leaders
from plantseek.report.statistics_md import statistics_markdown
from plantseek.report.tables import (SANITY_SHOWN, blocks, direction, is_best, ranking, sanity_table,
                                     sanity_verdict_text)


def render_markdown(df: pd.DataFrame, plots: dict[str, dict[str, str]] | None = None,
                    now: _dt.datetime | None = None, cd_figures: dict[str, str] | None = None,
                    comparisons: list | None = None, leads: pd.DataFrame | None = None) -> str:
    """README.md text. ``plots`` maps a setting slug to ``{kind: relative path}`` (see
    :func:`plantseek.report.plots.plots_by_setting`), ``cd_figures`` a comparison key to its critical-difference
    diagram (:mod:`plantseek.report.statistics_md`), ``leads`` the answers (:func:`plantseek.stats.leaders.leaders`
    of the published cells) when already at hand."""
    d = prepared(df)
    plots = plots or {}
    out = ["# plantseek leaderboard", "", f"_{md_escape(provenance_line(df, now))}_", "",
           *_sources(df),
           GLOSSARY + SPREAD_RULE,
           "", "Files: [results.csv](results.csv) (every cell, no masks; the same table with its column types: "
           "[results.parquet](results.parquet)), [index.html](index.html) (sortable, filterable page with the "
           "plots).", ""]
    board = published_cells(d)
    out += answers_markdown(leaders(board) if leads is None else leads)
    out += _ranking_section(ranking(board), board_note(d))
    out += _gap_section(public_hidden_gap(d))
    if has_hidden(d):
        out += ["", "## Development ranking (public instances)", "", DEVELOPMENT_RULE, ""]
        out += _ranking_table(ranking(development_cells(d)))
    out += statistics_markdown(board, cd_figures, comparisons)
    out += _sanity_section(sanity_table(d))
    out += _leak_section(leak_ceiling(d))
    out += optimum_section(d)
    for family in families():  # extra sections of host families (attention: head and projection recall)
        section = family.hook("report_section")
        out += section(d) if section else []
    for b in blocks(d):
        out += _setting_section(b, plots.get(b["slug"], {}))
    out += _failed_section(d)
    return "\n".join(out) + "\n"


def _sources(df: pd.DataFrame) -> list[str]:
    """Where each submitted pruner came from (file, code hash), one line each, then a blank line; none: []."""
    lines = [f"Source of {md_escape(line)}  " for line in submitted_sources(df)]
    return lines + [""] if lines else []


def _ranking_section(rk: pd.DataFrame, board: str) -> list[str]:
    return ["## Overall ranking", "", f"**{board}**", "", RANKING_RULE, "", *_ranking_table(rk), "", COMPUTE_NOTE]


def _ranking_table(rk: pd.DataFrame) -> list[str]:
    out = ["| # | method | protocol | mean rank (weak metric) | comparisons | mean rank (recall) | mean recall | "
           "failed / cells | prune CPU s | ranked on |", "|---:|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rk.itertuples(index=False):
        out.append(f"| {fmt(r.position, 'g')} | {md_escape(r.method)} | {md_escape(r.protocol or '—')} | "
                   f"{fmt(r.mean_rank)} | {r.comparisons} | {fmt(r.mean_recall_rank)} | {fmt(r.mean_recall)} | "
                   f"{r.failed} / {r.cells} | {fmt(r.prune_cpu_seconds)} | {md_escape(r.ranked_on)} |")
    return out


def _gap_section(gap: pd.DataFrame) -> list[str]:
    if not len(gap):
        return []
    out = ["", "## Public vs hidden instances", "", GAP_RULE, "",
           "| method | protocol | recall: public | recall: hidden | public − hidden | 95 % interval | matched pairs | "
           "public far above hidden |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in gap.itertuples(index=False):
        interval = f"[{fmt(r.gap_low)}, {fmt(r.gap_high)}]" if np.isfinite(r.gap_low) else "—"
        verdict = gap_verdict(r.flagged, r.note)
        out.append(f"| {md_escape(r.method)} | {md_escape(r.protocol or '—')} | {fmt(r.public_recall)} | "
                   f"{fmt(r.hidden_recall)} | {fmt(r.gap_mean)} | {interval} | {r.pairs} | "
                   f"{'**FLAGGED**' if r.flagged else md_escape(verdict)} |")
    return out


def _sanity_section(sanity: pd.DataFrame) -> list[str]:
    if not len(sanity):
        return []
    out = ["", "## Sanity ablations", "", SANITY_RULE, "",
           "| setting | metric | method | density | weak | recall | weak [shuffled] | recall [shuffled] | "
           "weak [reinit] | beats its shuffled mask (paired test) |",
           "|---|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in sanity.to_dict("records"):
        line = [md_escape(r["setting"]), md_escape(metric_label(r["metric_name"], r["higher_is_better"])),
                md_escape(r["method"]), md_escape(density_label(r["density_spec"], r["density"]))]
        line += [pm(r[f"{pre}{q}_mean"], r[f"{pre}{q}_std"]) for pre, q in SANITY_SHOWN]
        line.append(sanity_verdict_text(r))
        out.append("| " + " | ".join(line) + " |")
    return out


def _leak_section(leak: pd.DataFrame) -> list[str]:
    if not len(leak):
        return []
    out = ["", "## Leak ceiling", "", LEAK_RULE, "",
           "| setting | best leak detector | its recall (leak ceiling) | random's recall | ceiling / random | seeds |",
           "|---|---|---:|---:|---:|---:|"]
    for r in leak.itertuples(index=False):
        out.append(f"| {md_escape(r.setting)} | {md_escape(r.detector)} | "
                   f"{pm(r.detector_recall_mean, r.detector_recall_std)} | "
                   f"{pm(r.random_recall_mean, r.random_recall_std)} | {fmt(r.ratio)} | {r.seeds} |")
    return out


def _setting_section(b: dict[str, Any], figs: dict[str, str]) -> list[str]:
    out = ["", f"## {md_escape(b['setting'])}", "",
           f"Metric: {md_escape(b['metric'])} ({direction(b)}). Planted ticket (strong): "
           f"{pm(b['ticket']['mean'], b['ticket']['std'])}; dense host after training: "
           f"{pm(b['dense_weak']['mean'], b['dense_weak']['std'])}; {b['seeds']} seed(s). "
           f"Each cell: R = recall, S = strong {md_escape(b['metric'])}, W = weak {md_escape(b['metric'])}; "
           "**bold** = best mean in its column (not a claim of significance: see Statistics).", ""]
    head = ["method", "protocol"] + [md_escape(density_label(sp, b["dens"][sp])) for sp in b["specs"]] + \
        ["failed / cells"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|---|---|" + "---|" * len(b["specs"]) + "---:|")
    for m in b["methods"]:
        line = [md_escape(m), md_escape(b["protocol"][m] or "—")]
        line += [_pivot_cell(b, sp, b["cell"].get((m, sp))) for sp in b["specs"]]
        line.append("{} / {}".format(*b["totals"][m]))
        out.append("| " + " | ".join(line) + " |")
    if figs:
        out.append("")
        for kind, rel in figs.items():
            out.append(f"![{PLOT_TITLES.get(kind, kind)}: {md_escape(b['setting'])}]({rel})")
    return out


def _pivot_cell(b: dict[str, Any], spec: str, c: dict[str, Any] | None) -> str:
    """One (method, density) cell of a setting table: R, S and W, the best in bold, failures noted."""
    if c is None:
        return ""
    if c["ok"] == 0:
        return f"failed ({c['failed']}/{c['cells']})"
    parts = []
    for q, letter in (("recall", "R"), ("strong_metric", "S"), ("weak_metric", "W")):
        txt = f"{letter} {pm(c[f'{q}_mean'], c[f'{q}_std'])}"
        parts.append(f"**{txt}**" if is_best(b, spec, q, c[f"{q}_mean"]) else txt)
    if c["failed"]:
        parts.append(f"⚠ {c['failed']}/{c['cells']} failed")
    return "<br>".join(parts)


def _failed_section(d: pd.DataFrame) -> list[str]:
    errors = d.loc[~d["_ok"], ["_setting", "_method", "density_spec", "seed", "error"]]
    if not len(errors):
        return []
    out = ["", "## Failed cells", "", "| setting | method | density | seed | error |", "|---|---|---|---:|---|"]
    for r in errors.itertuples(index=False):
        out.append(f"| {md_escape(r[0])} | {md_escape(r[1])} | {md_escape(r[2])} | {fmt(r[3], 'g')} | "
                   f"{md_escape(sanitise_reason(r[4], 200))} |")
    return out
