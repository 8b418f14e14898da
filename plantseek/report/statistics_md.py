"""The leaderboard README.md's Statistics section: per protocol over all tasks, on the weak metric and on recall,
the Friedman test, the critical-difference diagram, the significant differences (or that there are none) and the
rank stability. The per-task views are on the page (index.html)."""

from __future__ import annotations

import pandas as pd

from plantseek.report.format import fmt, md_escape
from plantseek.report.statistics import STATISTICS_RULES, all_comparisons, statistics_context
from plantseek.stats.paired import NOT_SIGNIFICANT
from plantseek.stats.comparisons import ALL_TASKS, Comparison


def statistics_markdown(df: pd.DataFrame, figures: dict[str, str] | None = None,
                        comparisons: list[Comparison] | None = None) -> list[str]:
    """The section's lines (none when no protocol has two methods on a common instance); ``comparisons``:
    :func:`~plantseek.report.statistics.all_comparisons` of ``df`` when already at hand."""
    found = [c for c in (all_comparisons(df) if comparisons is None else comparisons) if c.task == ALL_TASKS]
    if not found:
        return []
    figures = figures or {}
    context = statistics_context(df, figures, found)
    out = ["", "## Statistics", "", *[f"{rule}  " for rule in STATISTICS_RULES], context["seeds_note"],
           "Per-task views: index.html (filter by task)."]
    for c, view in zip(found, context["views"]):
        out += ["", f"### {md_escape(view['title'])}", "", md_escape(view["notes"]), ""]
        if c.key in figures:
            out += [f"![critical-difference diagram: {md_escape(view['alt'])}]({figures[c.key]})", ""]
        out += _significant(c) + [""] + _stability(c)
    return out


def _significant(c: Comparison) -> list[str]:
    wins = c.pairs[c.pairs["significant"]]
    if not len(wins):
        return [f"Significant differences: none ({NOT_SIGNIFICANT} in all {len(c.pairs)} pair(s), Holm-corrected "
                "Wilcoxon signed-rank tests)."]
    lines = ["Significant differences (Holm-corrected Wilcoxon signed-rank tests, p < 0.05):", ""]
    for r in wins.itertuples(index=False):
        lines.append(f"- {md_escape(r.verdict)} than {md_escape(r.method_b if r.effect > 0 else r.method_a)} "
                     f"(Holm p = {fmt(r.p_holm)}, r = {fmt(r.effect, '+.2f')}, {r.n} instances)")
    return lines


def _stability(c: Comparison) -> list[str]:
    lines = ["| method | mean rank | P(first) | 95 % range of place |", "|---|---:|---:|---:|"]
    for r in c.stability.itertuples(index=False):
        lines.append(f"| {md_escape(r.method)} | {fmt(r.mean_rank)} | {r.p_first:.0%} | "
                     f"{r.place_low}–{r.place_high} |")
    return lines
