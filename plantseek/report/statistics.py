"""The leaderboard page's statistics (:mod:`plantseek.stats`): confidence intervals next to the means of the tables,
and one view per comparison (protocol x task or all tasks x quantity) with its Friedman test, critical-difference
diagram, rank stability and the table of which differences are significant.

Everything is read from the results frame alone; the page's filters (task, protocol, and the quantity) choose
which view shows (the end of ``static/leaderboard.js``). A difference is called a win only where its Holm-corrected
p is below :data:`plantseek.stats.paired.ALPHA`; elsewhere the table says "no significant difference".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from plantseek.report.cd_diagram import QUANTITY_LABELS, cd_title, comparison_title
from plantseek.families.registry import family_order
from plantseek.report.format import fmt, h
from plantseek.frame.prepared import competitors, prepared
from plantseek.stats.intervals import CONFIDENCE, INTERVAL_RULE, NO_INTERVAL, seed_intervals
from plantseek.stats.paired import ALPHA, NOT_SIGNIFICANT, PAIRED_RULE, smallest_p
from plantseek.stats.comparisons import Comparison, comparisons
from plantseek.stats.ranks import RANK_RULE

#: the quantities the page compares methods on, in the order of its selector
PAGE_QUANTITIES = ("weak_metric", "recall")
STATISTICS_RULES = (INTERVAL_RULE, PAIRED_RULE, RANK_RULE)


def all_comparisons(df: pd.DataFrame) -> list[Comparison]:
    """Every comparison the page and the plots show: per protocol, over all tasks and per task, per quantity."""
    return [c for q in PAGE_QUANTITIES for c in comparisons(df, q)]


# --- confidence intervals in the tables -------------------------------------------------------------------------
def interval_lookup(df: pd.DataFrame) -> dict[tuple, tuple[float, float, int]]:
    """``{(setting id, method, density spec, quantity): (low, high, n)}`` for every group with an interval."""
    d = competitors(prepared(df))  # the tables that show intervals show competitors only
    if not len(d):
        return {}
    iv = seed_intervals(d)
    iv = iv[iv["n"] >= 2]
    return {(r.sid, r.method, r.density_spec, r.quantity): (r.ci_low, r.ci_high, r.n)
            for r in iv.itertuples(index=False)}


def with_intervals(block: dict[str, Any], lookup: dict[tuple, tuple]) -> dict[str, Any]:
    """A setting block (:func:`plantseek.report.tables.setting_blocks`) with its intervals under ``"ci"``."""
    sid = block["sid"]
    return {**block, "ci": {k[1:]: v for k, v in lookup.items() if k[0] == sid}}


def ci_html(ci: dict, method: str, spec: str, quantity: str) -> str:
    """The interval of a table cell as HTML (``[low, high]``, de-emphasised), or nothing when n < 2."""
    v = ci.get((method, spec, quantity))
    if v is None:
        return ""
    low, high, n = v
    return (f' <span class="ci" title="{CONFIDENCE:.0%} bootstrap confidence interval of the mean over {n} seeds">'
            f"[{h(fmt(low))}, {h(fmt(high))}]</span>")


def interval_note(block: dict[str, Any]) -> str:
    """What a setting's table says about intervals: which cells have one, and the n = 1 rule."""
    if block.get("ci"):
        return (f"[low, high]: {CONFIDENCE:.0%} bootstrap confidence interval of the mean over seeds, where a cell "
                f"has n >= 2 seeds; cells with one seed show none ({NO_INTERVAL}).")
    return f"One seed per cell: {NO_INTERVAL} (means only; the ± spread needs two seeds too)."


# --- the statistics section -------------------------------------------------------------------------------------
def statistics_context(df: pd.DataFrame, figures: dict[str, str] | None = None,
                       found: list[Comparison] | None = None) -> dict[str, Any]:
    """The template's ``statistics`` block: the rules, a word on seeds, the quantity choices and one view per
    comparison (``figures``: comparison key -> relative path of its CD diagram)."""
    figures = figures or {}
    found = all_comparisons(df) if found is None else found
    seeds = max((c.seeds for c in found), default=0)
    d = prepared(df) if found else None
    only = family_order(d["_family"]) if d is not None else []
    task_families = dict(zip(d["task"], d["_family"])) if d is not None else {}
    return {"rules": list(STATISTICS_RULES), "seeds_note": _seeds_note(seeds),
            "quantities": [(q, QUANTITY_LABELS[q]) for q in PAGE_QUANTITIES],
            "views": [_view(c, figures.get(c.key), _family(c, only, task_families)) for c in found]}


def _family(c: Comparison, families: list[str], task_families: dict[str, str]) -> str:
    """The task family a comparison belongs to (for the page's family filter)."""
    if c.family:
        return c.family
    return task_families.get(c.task, "") if c.task else (families[0] if len(families) == 1 else "")


def _seeds_note(seeds: int) -> str:
    if seeds == 0:
        return "No protocol has two methods with a common instance: nothing to compare."
    if seeds == 1:
        return ("An instance is one (setting, density, seed); the compared instances come from 1 seed, so every "
                "test below compares methods across settings and densities, each a single run: it says nothing "
                "about seed-to-seed variation, and with few instances little can be significant.")
    return (f"An instance is one (setting, density, seed); the compared instances come from up to {seeds} seeds "
            "(only instances where every method of the protocol has a value).")


def _view(c: Comparison, figure: str | None, family: str = "") -> dict[str, Any]:
    fr = c.friedman
    if math.isfinite(fr.p):
        verdict = "the methods differ" if fr.p < ALPHA else "no significant difference among the methods"
        test = f"Friedman χ² = {fmt(fr.statistic)}, p = {fmt(fr.p)} ({verdict} at α = {ALPHA})"
    else:
        test = fr.note
    notes = [f"{c.instances} instance(s) compared" + (f", {c.incomplete} left out (a method lacked a value)"
                                                      if c.incomplete else ""), test,
             f"Nemenyi CD = {fmt(fr.cd)}"]
    if smallest_p(c.instances) >= ALPHA:
        notes.append(f"with {c.instances} instances no Wilcoxon test can reach p < {ALPHA} "
                     f"(smallest possible p = {fmt(smallest_p(c.instances))})")
    return {"protocol": c.protocol, "task": c.task, "quantity": c.quantity, "key": c.key, "family": family,
            "covers": " ".join(c.tasks),
            "title": comparison_title(c),
            "notes": "; ".join(notes) + ".", "figure": figure, "alt": cd_title(c),
            "stability": _stability_table(c.stability), "pairs": _pairs_table(c.pairs),
            "wins": int(c.pairs["significant"].sum()) if len(c.pairs) else 0}


def _num(value: float, text: str | None = None, cls: str = "") -> str:
    v = "" if value is None or not np.isfinite(value) else repr(float(value))
    c = f' class="{cls}"' if cls else ""
    return f'<td{c} data-v="{v}">{text if text is not None else h(fmt(value))}</td>'


def _th(label: str, col: int, type_: str = "num", cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<th{c} data-col="{col}" data-type="{type_}">{h(label)}</th>'


def _stability_table(st: pd.DataFrame) -> dict[str, list[str]]:
    head = [_th("method", 0, "str", "l"), _th("mean rank", 1), _th("place", 2), _th("P(first)", 3),
            _th("95 % range of place", 4), _th("median place", 5)]
    rows = [f'<tr><td class="l" data-v="{h(r.method)}">{h(r.method)}</td>{_num(r.mean_rank)}'
            f"{_num(r.place, str(r.place))}{_num(r.p_first, f'{r.p_first:.0%}')}"
            f"{_num(r.place_high - r.place_low, f'{r.place_low}–{r.place_high}')}"
            f"{_num(r.place_median, str(r.place_median))}</tr>"
            for r in st.itertuples(index=False)]
    return {"head": head, "rows": rows}


def _pairs_table(pairs: pd.DataFrame) -> dict[str, list[str]]:
    head = [_th("method A", 0, "str", "l"), _th("method B", 1, "str", "l"), _th("instances", 2),
            _th("median A − B (higher = A better)", 3), _th("Wilcoxon p", 4), _th("Holm p", 5),
            _th("effect r", 6), _th("verdict", 7, "str", "l")]
    rows = []
    for r in pairs.itertuples(index=False):
        cls = "l sig" if r.significant else "l nosig"
        rows.append(f'<tr><td class="l" data-v="{h(r.method_a)}">{h(r.method_a)}</td>'
                    f'<td class="l" data-v="{h(r.method_b)}">{h(r.method_b)}</td>'
                    f"{_num(r.n, str(r.n))}{_num(r.median_difference)}{_num(r.p)}{_num(r.p_holm)}"
                    f"{_num(r.effect, h(fmt(r.effect, '+.2f')))}"
                    f'<td class="{cls}" data-v="{h(r.verdict)}">{h(r.verdict)}</td></tr>')
    return {"head": head, "rows": rows}


__all__ = ["NOT_SIGNIFICANT", "all_comparisons", "interval_lookup", "with_intervals", "ci_html", "interval_note",
           "statistics_context"]
