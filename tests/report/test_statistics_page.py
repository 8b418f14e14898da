"""The leaderboard page's statistics from hand-made frames: intervals only where n >= 2, the n = 1 rule, and a win
named only where the Holm-corrected Wilcoxon test is significant."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import NOW, _row  # noqa: E402

from plantseek.report.page import render_html  # noqa: E402


def frame(values: dict[str, list[float]]) -> pd.DataFrame:
    """relu (MSE, lower is better), density 0.1, one cell per (pruner, seed) with the given weak metric."""
    return pd.DataFrame([_row(task="relu", metric_name="mse", pruner=p, seed=s, weak_metric=v, recall=0.5)
                         for p, vs in values.items() for s, v in enumerate(vs)])


def pairs_rows(html: str) -> list[str]:
    body = html.split('<section class="stats-view" id="st-single-shot-weak-metric"')[1].split("</section>")[0]
    return re.findall(r"<tr><td.*?</tr>", body.split("stats-pairs")[1].split("</table>")[0])


def test_beating_on_every_instance_is_no_win_when_holm_says_so():
    # alpha has the lower MSE on all 6 seeds: p = 1/32, but 3 pairs -> Holm p = 3/32 >= 0.05
    html = render_html(frame({"alpha": [0.1] * 6, "beta": [0.2] * 6, "gamma": [0.3, 0.1, 0.3, 0.1, 0.3, 0.3]}),
                       now=NOW)
    rows = pairs_rows(html)
    alpha_beta = [r for r in rows if "alpha" in r and "beta" in r]
    assert len(rows) == 3 and len(alpha_beta) == 1
    assert "no significant difference" in alpha_beta[0] and 'data-v="0.09375"' in alpha_beta[0]
    assert "alpha better" not in html and "beta better" not in html
    assert "Which differences are significant (0 of 3 pairs)" in html


def test_a_significant_difference_is_named():
    html = render_html(frame({"alpha": [0.1] * 6, "beta": [0.2] * 6}), now=NOW)
    (row,) = pairs_rows(html)
    assert 'class="l sig"' in row and "alpha better" in row and 'data-v="0.03125"' in row
    assert "Which differences are significant (1 of 1 pairs)" in html


def test_one_seed_shows_no_interval_and_says_why():
    html = render_html(frame({"alpha": [0.1], "beta": [0.2]}), now=NOW)
    assert 'class="ci"' not in html
    assert "One seed per cell: n = 1: no interval" in html
    assert "come from 1 seed" in html
    assert "with 1 instances no Wilcoxon test can reach p &lt; 0.05" in html


def test_intervals_next_to_means_where_n_is_at_least_two():
    html = render_html(frame({"alpha": [0.0, 1.0, 10.0], "beta": [0.2]}), now=NOW)
    # alpha's three seeds: the percentile bootstrap interval is the exact law's extremes [0, 10]
    assert re.search(r'<span class="ci" title="95% bootstrap confidence interval of the mean over 3 seeds">'
                     r"\[0, 10\]</span>", html)
    assert html.count('class="ci"') == 2  # recall ([0.5, 0.5]) and weak of alpha; no strong metric; beta: one seed
    assert "[0.5, 0.5]" in html
    assert "cells with one seed show none (n = 1: no interval)" in html


def test_the_markdown_names_wins_only_where_significant():
    from plantseek.report.markdown import render_markdown

    md = render_markdown(frame({"alpha": [0.1] * 6, "beta": [0.2] * 6, "gamma": [0.3, 0.1, 0.3, 0.1, 0.3, 0.3]}),
                         now=NOW)
    assert "## Statistics" in md and "Significant differences: none (no significant difference in all 3 pair(s)" in md
    assert "alpha better" not in md
    md = render_markdown(frame({"alpha": [0.1] * 6, "beta": [0.2] * 6}), now=NOW,
                         cd_figures={"single-shot-weak-metric": "plots/cd_single-shot-weak-metric.svg"})
    assert "- alpha better than beta (Holm p = 0.0312, r = +1.00, 6 instances)" in md
    assert "](plots/cd_single-shot-weak-metric.svg)" in md


def test_long_pair_tables_start_folded():
    """Past 30 pairs (9 methods: 36 pairs) a view's table of pairs starts folded; with 3 methods (3 pairs) open."""
    rows = [_row(task="circle", pruner=f"m{i}", seed=s, weak_metric=0.5 + 0.01 * i, recall=0.5)
            for i in range(9) for s in range(2)]
    html = render_html(pd.DataFrame(rows))
    folded = re.findall(r'<details class="pairs"( open)?><summary><h4>Which differences are significant '
                        r'\((\d+) of (\d+) pairs\)', html)
    assert folded and all(opened == "" and total == "36" for opened, _, total in folded)
    few = render_html(pd.DataFrame([r for r in rows if r["pruner"] in ("m0", "m1", "m2")]))
    assert re.findall(r'<details class="pairs"( open)?>', few) == [" open"] * 2  # weak metric and recall
