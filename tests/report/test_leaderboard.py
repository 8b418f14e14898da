"""Leaderboard tables, ranking, escaping and files, from synthetic results frames (no store, no torch runs)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
import types

import numpy as np
import pandas as pd
import pytest

from plantseek.planted.task import task_family
from plantseek.core.errors import StoreError
from plantseek.report.format import md_escape
from plantseek.report.leaderboard import write_leaderboard
from plantseek.report.markdown import render_markdown
from plantseek.report.page import render_html
from plantseek.frame.prepared import prepare, prepared
from plantseek.report.provenance import provenance_line
from plantseek.report.rules import RANKING_RULE, SANITY_RULE
from plantseek.report.tables import ranking, sanity_table, summary_table

NOW = dt.datetime(2025, 1, 2, 3, 4, tzinfo=dt.timezone.utc)

# (task, metric, depth, width, ticket weights, weight-matrix shapes (in, out)); host depth 5 = 4 weight matrices
_TASKS = {
    "circle": ("accuracy", 5, 100, 108, [(2, 100), (100, 100), (100, 100), (100, 4)]),
    "relu": ("mse", 5, 100, 4, [(1, 100), (100, 100), (100, 100), (100, 1)]),
    "helix": ("mse", 5, 100, 128, [(1, 100), (100, 100), (100, 100), (100, 3)]),
}
_PRUNERS = {  # name: (protocol, skill in [0, 1])
    "random": ("single-shot", 0.0), "magnitude": ("single-shot", 0.3), "snip": ("single-shot", 0.5),
    "synflow": ("single-shot", 0.6), "magnitude-imp": ("multi-shot", 0.55), "edge-popup": ("strong", 0.7),
}
DENSITIES = ["ticket", "0.01", "0.1", "0.5", "1"]


def _row(**kw) -> dict:
    base = dict(cell_id="", task="circle", depth=5, width=100, seed=0, pruner="a", ablation="", density_spec="0.1",
                noise=0.01,
                status="ok", error="", protocol="single-shot", metric_name="accuracy", density=0.1,
                achieved_density=0.1, strong_metric=np.nan, weak_metric=np.nan, ticket_metric=0.99,
                dense_metric=0.3, dense_weak_metric=0.97, prune_seconds=0.5, train_seconds=2.0,
                plantseek_version="0.1.0", git_commit="0123456789abcdef0123", torch_version="2.3.0",
                platform="Linux-x86_64", created_at="2025-01-01T00:00:00+00:00", recall=np.nan, precision=np.nan,
                f1=np.nan, jaccard=np.nan, effective_density=np.nan, nominal_density=np.nan,
                contains_ticket=False, layer_collapse=False, ticket_neurons_recovered=np.nan, metrics_json="{}")
    base.update(kw)
    if "family" not in kw:  # as the harness stores it: the task's host family
        base["family"] = task_family(base["task"]) or "MLP"
    if "higher_is_better" not in kw:  # as the harness stores it: from the task (unknown for a failed instance)
        base["higher_is_better"] = {"accuracy": True, "mse": False}.get(base["metric_name"])
    base["cell_id"] = base["cell_id"] or (f"{base['task']}-{base['pruner']}-{base['ablation']}-{base['density_spec']}-"
                                          f"{base['seed']}")
    return base


def synthetic_results(tasks=("circle", "relu"), pruners=tuple(_PRUNERS), seeds=(0, 1, 2),
                      densities=DENSITIES, fail=True, nan=True, rng_seed=0) -> pd.DataFrame:
    """A realistic results frame as load_results returns it: several tasks, pruners, densities and seeds,
    one failed cell, one ok cell with a NaN weak metric, per-layer recovery data in metrics_json."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for task in tasks:
        metric, depth, width, n_ticket, shapes = _TASKS[task]
        sizes = np.array([a * b for a, b in shapes], float)
        tick_layers = np.array([n_ticket * 0.2, n_ticket * 0.2, n_ticket * 0.5, n_ticket * 0.1])
        ticket_dens = float(n_ticket / sizes.sum())
        for seed in seeds:
            ticket_metric = 0.99 if metric == "accuracy" else 1e-4 * (1 + 0.1 * seed)
            for pruner, (protocol, skill) in _PRUNERS.items():
                if pruner not in pruners:
                    continue
                for spec in densities:
                    dens = ticket_dens if spec == "ticket" else float(spec)
                    recall = float(np.clip(dens ** (1 - skill) + rng.normal(0, 0.02), 0, 1))
                    if metric == "accuracy":
                        weak = float(np.clip(0.55 + 0.4 * recall + rng.normal(0, 0.01), 0, 1))
                        strong = float(np.clip(0.25 + 0.2 * recall * skill + rng.normal(0, 0.01), 0, 1))
                    else:
                        weak = float(0.05 * (1 - recall) ** 2 + 2e-4 + abs(rng.normal(0, 1e-4)))
                        strong = float(0.5 * (1 - 0.5 * recall * skill))
                    layer_d = np.clip(dens * np.array([1.5, 0.8, 1.0, 2.0]) * rng.uniform(0.8, 1.2, 4), 0, 1)
                    if pruner == "synflow" and spec == "0.01":
                        layer_d[1] = 0.0  # a collapsed layer
                    per_layer = {"density": layer_d.tolist(), "ticket_density": (tick_layers / sizes).tolist(),
                                 "recall": [recall] * 4, "precision": [min(1.0, recall * ticket_dens / dens)] * 4}
                    rows.append(_row(
                        task=task, depth=depth, width=width, seed=seed, pruner=pruner, density_spec=spec,
                        protocol=protocol, metric_name=metric, density=dens, achieved_density=dens,
                        strong_metric=strong, weak_metric=weak, ticket_metric=ticket_metric,
                        dense_metric=0.3 if metric == "accuracy" else 0.4,
                        dense_weak_metric=0.97 if metric == "accuracy" else 3e-4, recall=recall,
                        precision=min(1.0, recall * ticket_dens / dens), f1=recall, jaccard=recall / 2,
                        effective_density=dens, nominal_density=dens, contains_ticket=recall > 0.999,
                        prune_seconds=float(0.01 + skill * 3 * (1 + rng.uniform())),
                        train_seconds=float(1.5 + rng.uniform()),
                        compute_dense_runs=0.0 if pruner == "random" else float(skill * (1 + rng.uniform())),
                        prune_cpu_seconds=float(0.005 + skill * 2 * (1 + rng.uniform())),  # measured by the parent
                        git_commit="0123456789abcdef0123" if seed < 2 else "fedcba9876543210fedc",
                        metrics_json=json.dumps({"per_layer": per_layer, "collapsed_layers": []}),
                        created_at=f"2025-01-0{1 + seed}T00:00:00+00:00"))
    df = pd.DataFrame(rows)
    df["prune_parent_seconds"] = df["prune_seconds"]  # as the harness stores it: the parent's wall-clock
    hit = df.index[(df["pruner"] == "snip") & (df["density_spec"] == "0.01") & (df["seed"] == 1)]
    if fail and len(hit):
        i = hit[0]
        for c in ["strong_metric", "weak_metric", "recall", "precision", "achieved_density", "ticket_metric",
                  "dense_weak_metric", "prune_seconds", "train_seconds", "prune_parent_seconds", "prune_cpu_seconds"]:
            df.loc[i, c] = np.nan
        df.loc[i, ["status", "error", "protocol", "metric_name", "metrics_json"]] = \
            ["failed", "PrunerError: snip: gradient is NaN", "", "", ""]
    hit = df.index[(df["pruner"] == "magnitude") & (df["density_spec"] == "0.1") & (df["seed"] == 0)]
    if nan and len(hit):
        df.loc[hit[0], "weak_metric"] = np.nan
    return df


def tiny() -> pd.DataFrame:
    """Hand-checkable: pruner a (3 ok seeds, one NaN recall) and pruner b (2 ok seeds, 1 failed) at density 0.1."""
    return pd.DataFrame([
        _row(pruner="a", seed=0, weak_metric=0.8, strong_metric=0.30, recall=0.2),
        _row(pruner="a", seed=1, weak_metric=0.9, strong_metric=0.40, recall=0.4),
        _row(pruner="a", seed=2, weak_metric=1.0, strong_metric=0.50, recall=np.nan),
        _row(pruner="b", seed=0, weak_metric=0.5, strong_metric=0.25, recall=0.1),
        _row(pruner="b", seed=1, weak_metric=0.7, strong_metric=0.25, recall=0.1),
        _row(pruner="b", seed=2, status="failed", error="boom", protocol="", metric_name=""),
    ])


# --- summary table --------------------------------------------------------------------------------------------
def test_means_and_spreads_by_hand():
    s = summary_table(tiny()).set_index("method")
    a, b = s.loc["a"], s.loc["b"]
    assert a["weak_metric_mean"] == pytest.approx(0.9)
    assert a["weak_metric_std"] == pytest.approx(0.1)  # sample std (ddof=1) of 0.8, 0.9, 1.0
    assert (a["weak_metric_min"], a["weak_metric_max"]) == pytest.approx((0.8, 1.0))
    assert a["recall_mean"] == pytest.approx(0.3) and a["recall_n"] == 2  # the NaN recall is left out
    assert a["recall_std"] == pytest.approx(math.sqrt(0.02))
    assert (a["cells"], a["ok"], a["failed"]) == (3, 3, 0)
    assert b["weak_metric_mean"] == pytest.approx(0.6) and b["weak_metric_std"] == pytest.approx(math.sqrt(0.02))
    assert (b["cells"], b["ok"], b["failed"]) == (3, 2, 1)
    assert b["strong_metric_std"] == pytest.approx(0.0)
    assert b["protocol"] == "single-shot"  # the failed cell inherits its pruner's protocol


def test_single_seed_has_no_spread_and_all_nan_is_dash():
    df = pd.DataFrame([_row(pruner="a", weak_metric=0.8, recall=0.5), _row(pruner="b", weak_metric=np.nan)])
    s = summary_table(df).set_index("method")
    assert s.loc["a", "weak_metric_mean"] == pytest.approx(0.8) and np.isnan(s.loc["a", "weak_metric_std"])
    assert np.isnan(s.loc["b", "weak_metric_mean"]) and s.loc["b", "weak_metric_n"] == 0
    md = render_markdown(df, now=NOW)
    row_a = next(line for line in md.splitlines() if line.startswith("| a |") and "W " in line)
    assert "W 0.8" in row_a and "±" not in row_a.split("W ")[1].split("<br>")[0]
    row_b = next(line for line in md.splitlines() if line.startswith("| b |") and "W " in line)
    assert "W —" in row_b


def test_density_order_and_ticket_label():
    df = synthetic_results(tasks=("circle",), pruners=("random", "snip"), seeds=(0,), fail=False, nan=False)
    s = summary_table(df)
    specs = s[s["method"] == "random"]["density_spec"].tolist()
    assert specs == ["ticket", "0.01", "0.1", "0.5", "1"]
    md = render_markdown(df, now=NOW)
    assert "ticket (0.00524)" in md  # 108 ticket weights of 20600


# --- ranking ----------------------------------------------------------------------------------------------------
def _rank_example() -> pd.DataFrame:
    rows = []
    circle = dict(task="circle", metric_name="accuracy")
    relu = dict(task="relu", metric_name="mse", noise=0.01)
    for m, w in (("A", 0.9), ("B", 0.8), ("C", 0.8)):
        rows.append(_row(pruner=m, density_spec="0.1", density=0.1, weak_metric=w, recall=0.5, **circle))
    for m, w in (("A", 0.5), ("B", 0.7)):
        rows.append(_row(pruner=m, density_spec="ticket", density=0.005, weak_metric=w, recall=0.5, **circle))
    rows.append(_row(pruner="C", density_spec="ticket", status="failed", error="x", density=np.nan, **circle))
    for m, w in (("A", 0.1), ("B", 0.99), ("C", 0.5)):  # density 1: excluded from the ranking
        rows.append(_row(pruner=m, density_spec="1", density=1.0, weak_metric=w, recall=1.0, **circle))
    for m, w in (("A", 0.01), ("B", 0.001), ("C", 0.1)):  # MSE: lower is better
        rows.append(_row(pruner=m, density_spec="0.1", density=0.1, weak_metric=w, recall=0.5, **relu))
    rows.append(_row(pruner="A", density_spec="ticket", density=0.001, weak_metric=1.0, recall=0.5, **relu))
    return pd.DataFrame(rows)


def test_ranking_rule_by_hand():
    r = ranking(_rank_example()).set_index("method")
    # circle 0.1: A 1, B/C tie 2.5; circle ticket: B 1, A 2, C (failed) 3; relu 0.1: B 1, A 2, C 3;
    # circle density 1 excluded; relu ticket has one method: excluded
    assert r.loc["A", "mean_rank"] == pytest.approx(5 / 3)
    assert r.loc["B", "mean_rank"] == pytest.approx(4.5 / 3)
    assert r.loc["C", "mean_rank"] == pytest.approx(8.5 / 3)
    assert list(r.index) == ["B", "A", "C"]
    assert r["comparisons"].tolist() == [3, 3, 3]
    assert r["position"].tolist() == [1, 2, 3]
    assert (r.loc["C", "failed"], r.loc["C", "cells"]) == (1, 4)


def test_ranking_ties_broken_by_recall_then_shared():
    df = pd.DataFrame([_row(pruner=p, density_spec=s, density=float(s), weak_metric=w, recall=0.5)
                       for s, ws in (("0.1", (0.9, 0.8)), ("0.5", (0.8, 0.9))) for p, w in zip("PQ", ws)])
    r2 = ranking(df).set_index("method")
    assert r2.loc["P", "mean_rank"] == r2.loc["Q", "mean_rank"] == 1.5
    assert r2.loc["P", "position"] == r2.loc["Q", "position"] == 1  # full tie: shared position
    df.loc[(df.pruner == "P"), "recall"] = 0.7
    r3 = ranking(df)
    assert r3["method"].tolist() == ["P", "Q"] and r3["position"].tolist() == [1, 2]


def test_rule_is_stated_in_both_files(tmp_path):
    df = _rank_example()
    md, page = render_markdown(df, now=NOW), render_html(df, now=NOW)
    assert RANKING_RULE in md
    assert "mean rank over the ranked comparisons" in page and "ties share the average" in page
    assert "sample standard deviation" in md and "sample standard deviation" in page


# --- sanity ablations ----------------------------------------------------------------------------------------------
def _ablation_example(p: str = "P") -> pd.DataFrame:
    """P with its two sanity ablations (stored as pruner P with ablation "shuffled" / "reinit", shown as
    "P [shuffled]", "P [reinit]") and a competitor Q.

    circle (accuracy) 0.1: P 0.85 vs shuffled 0.75; relu (MSE) 0.1: P 0.03 vs shuffled 0.02 (higher
    MSE is worse); circle 0.5: every shuffled cell failed -> n/a; density 1 is left out of the section. The
    ablations' weak metrics beat every competitor, so counting them would change every rank.
    """
    circle = dict(task="circle", metric_name="accuracy")
    relu = dict(task="relu", metric_name="mse")
    rows = []
    for seed in (0, 1):
        def add(name, spec, weak, recall, status="ok", ablation="", **kw):
            rows.append(_row(pruner=name, ablation=ablation, seed=seed, density_spec=spec, density=float(spec),
                             weak_metric=weak, recall=recall, strong_metric=np.nan if ablation == "reinit" else 0.3,
                             status=status, error="" if status == "ok" else "boom", **kw))
        add(p, "0.1", (0.9, 0.8)[seed], 0.6, **circle)
        add(p, "0.1", (0.7, 0.8)[seed], 0.1, ablation="shuffled", **circle)
        add(p, "0.1", 0.95, 0.6, ablation="reinit", **circle)
        add("Q", "0.1", 0.5, 0.3, **circle)
        add(p, "0.5", 0.9, 0.7, **circle)
        add(p, "0.5", np.nan, np.nan, status="failed", ablation="shuffled", **circle)
        add(p, "0.5", 0.99, 0.7, ablation="reinit", **circle)
        add("Q", "0.5", 0.6, 0.4, **circle)
        for name, ablation in ((p, ""), (p, "shuffled"), (p, "reinit"), ("Q", "")):
            add(name, "1", 0.97, 1.0, ablation=ablation, **circle)
        add(p, "0.1", (0.02, 0.04)[seed], 0.5, **relu)
        add(p, "0.1", (0.01, 0.03)[seed], 0.1, ablation="shuffled", **relu)
        add(p, "0.1", 0.001, 0.5, ablation="reinit", **relu)
        add("Q", "0.1", 0.05, 0.2, **relu)
    return pd.DataFrame(rows)


def _md_table(md: str, heading: str) -> list[list[str]]:
    lines = md.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0].splitlines()
    rows = [re.split(r"(?<!\\)\|", line)[1:-1] for line in lines if line.startswith("|")]
    return [[c.strip() for c in r] for r in rows[2:]]  # no header, no alignment row


def test_ablation_and_direction_come_from_their_columns_never_from_labels():
    # a pruner whose name merely looks like an ablation label is a competitor: only the ablation column counts
    df = pd.DataFrame([_row(pruner="P [shuffled]", weak_metric=0.9, recall=0.5),
                       _row(pruner="Q", weak_metric=0.8, recall=0.5)])
    assert set(ranking(df)["method"]) == {"P [shuffled]", "Q"} and len(sanity_table(df)) == 0
    # the direction is the stored one, whatever the metric is called: here a lower "accuracy" is better
    flipped = df.assign(higher_is_better=False)
    assert list(ranking(df)["method"]) == ["P [shuffled]", "Q"]
    assert list(ranking(flipped)["method"]) == ["Q", "P [shuffled]"]
    # a failed cell without a direction takes its setting's
    mixed = pd.concat([flipped, pd.DataFrame([_row(pruner="R", status="failed", error="x", metric_name="",
                                                   higher_is_better=None)])], ignore_index=True)
    assert not prepare(mixed)["_hib"].any()


def test_frame_without_the_new_columns_is_refused():
    with pytest.raises(StoreError, match="ablation, higher_is_better"):
        prepare(tiny().drop(columns=["ablation", "higher_is_better"]))


def test_sanity_table_verdicts_by_hand():
    t = sanity_table(_ablation_example()).set_index(["task", "density_spec"])
    assert sorted(t.index) == [("circle", "0.1"), ("circle", "0.5"), ("relu", "0.1")]  # density 1 left out
    assert set(t["pruner"]) == {"P"} and set(t["method"]) == {"P"}  # Q has no ablations: no rows
    c1, c5, r1 = t.loc[("circle", "0.1")], t.loc[("circle", "0.5")], t.loc[("relu", "0.1")]
    assert (c1["weak_metric_mean"], c1["shuffled_weak_metric_mean"]) == pytest.approx((0.85, 0.75))
    assert c1["weak_metric_std"] == pytest.approx(math.sqrt(0.005))
    assert (c1["recall_mean"], c1["shuffled_recall_mean"], c1["reinit_recall_mean"]) == pytest.approx((0.6, 0.1, 0.6))
    assert c1["reinit_weak_metric_mean"] == pytest.approx(0.95)
    assert (c1["beats_shuffled"], c1["shuffled_pairs"]) == ("too few seeds", 2)  # 2 pairs decide nothing
    assert (r1["weak_metric_mean"], r1["shuffled_weak_metric_mean"]) == pytest.approx((0.03, 0.02))
    assert r1["beats_shuffled"] == "too few seeds"
    assert np.isnan(c5["shuffled_weak_metric_mean"]) and c5["beats_shuffled"] == "n/a"
    assert c5["reinit_weak_metric_mean"] == pytest.approx(0.99)


def test_ablations_are_not_ranked_or_in_setting_tables():
    df = _ablation_example()
    r = ranking(df).set_index("method")
    assert sorted(r.index) == ["P", "Q"]
    # circle 0.1, circle 0.5, relu 0.1: P beats Q in each; density 1 excluded; ablations do not take ranks
    assert r.loc["P", "mean_rank"] == 1 and r.loc["Q", "mean_rank"] == 2
    assert r["comparisons"].tolist() == [3, 3]
    assert (r.loc["P", "cells"], r.loc["P", "failed"]) == (8, 0)  # P's own cells only (4 per seed)
    # without Q no comparison has two competitors: P alone is unranked, its ablations do not count
    alone = ranking(df[df["pruner"] != "Q"])
    assert alone["method"].tolist() == ["P"] and alone["comparisons"].tolist() == [0]
    md = render_markdown(df, now=NOW)
    assert RANKING_RULE in md and "are not competitors" in RANKING_RULE
    assert [row[1] for row in _md_table(md, "## Overall ranking")] == ["P", "Q"]
    for heading in ("## circle · depth 5 · width 100 · noise 0.01 · calibrated training",
                    "## relu · depth 5 · width 100 · noise 0.01 · calibrated training"):
        assert sorted(row[0] for row in _md_table(md, heading)) == ["P", "Q"]
    page = render_html(df, now=NOW)
    pivots = re.findall(r'<table class="sortable pivot".*?</table>', page, re.S)
    ranking_html = re.search(r'<table class="sortable" id="ranking-table">.*?</table>', page, re.S).group(0)
    assert len(pivots) == 2 and not any("[shuffled]" in t or "[reinit]" in t for t in pivots + [ranking_html])
    flat = re.search(r'<table class="sortable" id="all-results">.*?</table>', page, re.S).group(0)
    assert ">P [shuffled]</td>" in flat and ">P [reinit]</td>" in flat  # every row is still listed


def test_sanity_section_in_readme_and_page():
    df = _ablation_example()
    md = render_markdown(df, now=NOW)
    assert "## Sanity ablations" in md and SANITY_RULE in md
    assert md.index("## Overall ranking") < md.index("## Sanity ablations") < md.index("## circle")
    rows = _md_table(md, "## Sanity ablations")
    got = {(row[0].split(" · ")[0], row[3]): (row[2], row[4], row[6], row[9]) for row in rows}
    # circle: differences 0.2 and 0 (dropped, Wilcoxon's convention): one sign, p = 1; relu: two, p = 2 / 2**2
    assert got == {("circle", "0.1"): ("P", "0.85 ± 0.071", "0.75 ± 0.071", "too few seeds (p = 1, 2 seeds)"),
                   ("relu", "0.1"): ("P", "0.03 ± 0.014", "0.02 ± 0.014", "too few seeds (p = 0.5, 2 seeds)"),
                   ("circle", "0.5"): ("P", "0.9 ± 0", "—", "n/a")}
    assert all(len(row) == 10 for row in rows)  # no recall [reinit] column: the same mask, so P's recall
    page = render_html(df, now=NOW)
    assert '<section id="sanity"><h2>Sanity ablations</h2>' in page and "beats its shuffled mask" in page
    table = re.search(r'<table class="sortable" id="sanity-table">.*?</table>', page, re.S).group(0)
    verdicts = re.findall(r'<td class="l gs verdict-[a-z-]+" data-v="([^"]*)">', table)
    assert sorted(verdicts) == ["n/a", "too few seeds", "too few seeds"]
    assert table.count('data-task="relu"') == 1 and table.count('data-protocol="single-shot"') == 3  # filters


def test_no_ablations_no_section(tmp_path):
    df = synthetic_results(tasks=("circle",), pruners=("random", "snip"), seeds=(0, 1))
    assert len(sanity_table(df)) == 0 and list(sanity_table(df).columns)
    write_leaderboard(df, tmp_path, with_plots=False, now=NOW)
    for name in ("README.md", "index.html"):
        text = (tmp_path / name).read_text()
        assert "Sanity ablations" in text  # only in the ranking rule, which says how they would be treated
        assert "## Sanity ablations" not in text and 'id="sanity"' not in text and SANITY_RULE not in text


def test_ablation_of_hostile_name_is_escaped():
    df = _ablation_example(p=EVIL)
    page = render_html(df, now=NOW)
    assert page.count("<script") == 1 and "<img src=x" not in page
    table = re.search(r'<table class="sortable" id="sanity-table">.*?</table>', page, re.S).group(0)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in table
    md = render_markdown(df, now=NOW)
    assert "<script" not in md and "<img" not in md
    rows = _md_table(md, "## Sanity ablations")
    assert len(rows) == 3 and all(len(row) == 10 for row in rows) and rows[0][2] == md_escape(EVIL)
    assert sorted(ranking(df)["method"]) == sorted([EVIL, "Q"])


# --- escaping, failures, provenance ----------------------------------------------------------------------------------
EVIL = '<script>alert("x")</script>|**bold**<img src=x onerror=alert(1)>'


def test_malicious_pruner_name_is_escaped():
    df = tiny()
    df.loc[df["pruner"] == "b", "pruner"] = EVIL
    df.loc[0, "task"] = 'circ"le'  # a quote in an attribute value
    page = render_html(df, now=NOW)
    assert page.count("<script") == 1  # only the page's own script
    assert "<img src=x" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert 'data-task="circ&quot;le"' in page
    md = render_markdown(df, now=NOW)
    assert "<script" not in md and "<img" not in md
    row = next(line for line in md.splitlines() if "alert" in line and "R " in line)
    cells = re.split(r"(?<!\\)\|", row)[1:-1]  # unescaped pipes only
    header = next(line for line in md.splitlines() if line.startswith("| method | protocol |"))
    assert len(cells) == len(header.split("|")[1:-1])
    assert md_escape("a|b*c_d") == r"a\|b\*c\_d"


def test_failed_cells_counted_and_listed():
    df = synthetic_results()
    md = render_markdown(df, now=NOW)
    assert "⚠ 1/3 failed" in md
    assert "## Failed cells" in md and "gradient is NaN" in md
    assert "1 failed" in provenance_line(df, NOW)
    page = render_html(df, now=NOW)
    assert "⚠ 1 failed" in page and "gradient is NaN" in page
    r = ranking(df).set_index("method")
    assert r.loc["snip", "failed"] == 1 and r.loc["random", "failed"] == 0
    all_failed = tiny()
    all_failed.loc[all_failed.pruner == "b", ["status", "weak_metric", "recall"]] = ["failed", np.nan, np.nan]
    assert "failed (3/3)" in render_markdown(all_failed, now=NOW)


def test_provenance_line():
    line = provenance_line(synthetic_results(), NOW)
    assert "plantseek 0.1.0" in line and "torch 2.3.0" in line
    assert "0123456789" in line and "fedcba9876" in line
    assert "180 cells (179 ok, 1 failed)" in line  # 2 tasks x 6 pruners x 5 densities x 3 seeds
    assert "generated 2025-01-02 03:04 UTC" in line


def test_nan_metrics_do_not_poison_means():
    df = synthetic_results(tasks=("circle",), fail=False)
    s = summary_table(df).set_index(["method", "density_spec"])
    ok = df[(df.pruner == "magnitude") & (df.density_spec == "0.1")]["weak_metric"].dropna()
    assert s.loc[("magnitude", "0.1"), "weak_metric_n"] == 2
    assert s.loc[("magnitude", "0.1"), "weak_metric_mean"] == pytest.approx(ok.mean())
    assert np.isfinite(ranking(df)["mean_rank"]).all()


def test_errors_are_one_line():
    with pytest.raises(StoreError, match="no cells"):
        render_markdown(tiny().iloc[0:0])
    with pytest.raises(StoreError, match="lack column"):
        prepare(tiny().drop(columns=["weak_metric"]))


def test_inputs_not_modified(tmp_path):
    df = synthetic_results(tasks=("relu",), pruners=("random", "snip"))
    before = df.copy()
    write_leaderboard(df, tmp_path, with_plots=False, now=NOW)
    pd.testing.assert_frame_equal(df, before)


def test_write_leaderboard_files(tmp_path):
    df = synthetic_results(tasks=("circle",), pruners=("random", "snip", "edge-popup"), seeds=(0, 1))
    df["mask"] = [b"\x00\x01"] * len(df)  # must never reach results.csv
    files = write_leaderboard(df, tmp_path / "lb", with_plots=False, now=NOW)
    names = sorted(str(p.relative_to(tmp_path / "lb")) for p in files)
    slug = prepared(df)["_slug"].iloc[0]  # one setting: one page of its own (the design of issue 25)
    assert names == ["README.md", "all.html", "index.html", "results.csv", "results.parquet", f"settings/{slug}.html",
                     "settings/fingerprints.json"]
    csv = pd.read_csv(tmp_path / "lb" / "results.csv")
    assert len(csv) == len(df) and "mask" not in csv.columns and "metrics_json" in csv.columns
    for name in ("index.html", "all.html", f"settings/{slug}.html"):
        page = (tmp_path / "lb" / name).read_text()
        assert "http://" not in page and "https://" not in page and "<link rel=\"stylesheet\"" not in page


# --- CLI ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def fake_store(monkeypatch, tmp_path):
    """A stand-in plantseek.store.results whose load_results (and load_checked, with no refused cell) returns a
    given frame (the real store is tested elsewhere)."""
    frames = {}
    mod = types.ModuleType("plantseek.store.results")
    mod.load_results = lambda path: frames[str(path)].copy()
    mod.load_checked = lambda path: types.SimpleNamespace(frame=frames[str(path)].copy(), refused=[], problems=[],
                                                           hidden_masks=0)
    monkeypatch.setitem(sys.modules, "plantseek.store.results", mod)

    def make(df):
        path = tmp_path / f"store{len(frames)}.db"
        path.write_bytes(b"")
        frames[str(path)] = df
        return path

    return make


def test_cli_leaderboard(fake_store, tmp_path, capsys):
    from plantseek.cli import main

    store = fake_store(synthetic_results(tasks=("relu",), pruners=("random", "synflow"), seeds=(0, 1)))
    out = tmp_path / "board"
    assert main(["leaderboard", "--store", str(store), "--out", str(out), "--no-plots"]) == 0
    assert (out / "index.html").exists() and (out / "README.md").exists() and (out / "results.csv").exists()
    assert (out / "results.parquet").exists()
    assert "20 cells" in capsys.readouterr().out


def test_cli_leaderboard_errors(fake_store, tmp_path, capsys):
    from plantseek.cli import main

    empty = fake_store(tiny().iloc[0:0])
    assert main(["leaderboard", "--store", str(empty), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("plantseek: error: ") and "no cells" in err and err.count("\n") == 1
    assert main(["leaderboard", "--store", str(tmp_path / "missing.db"), "--out", str(tmp_path / "x")]) == 2
    assert "no results store" in capsys.readouterr().err


def test_the_training_protocol_is_named_in_every_setting_and_separates_settings():
    import json

    from plantseek.frame.prepared import prepare

    df = synthetic_results(tasks=("circle",), seeds=(0,), fail=False, nan=False)
    paper = df.copy()
    df["config_json"] = json.dumps({"task": "circle"})  # stored before the protocol was a choice: calibrated
    paper["config_json"] = json.dumps({"task": "circle", "training_protocol": "paper"})
    d = prepare(pd.concat([df, paper], ignore_index=True))
    assert sorted(d["_setting"].unique()) == ["circle · depth 5 · width 100 · noise 0.01 · calibrated training",
                                              "circle · depth 5 · width 100 · noise 0.01 · paper training"]
    assert d.groupby("_training")["_slug"].first().to_dict() == {"calibrated": "circle-d5-w100-noise0.01",
                                                                "paper": "circle-d5-w100-noise0.01-paper"}


def test_cells_trained_differently_are_separate_settings_and_leak_detectors_are_never_ranked():
    import json

    from plantseek.frame.prepared import prepare

    df = synthetic_results(tasks=("circle",), seeds=(0,), fail=False, nan=False)
    df["config_json"] = json.dumps({"task": "circle", "train": {"epochs": 10}})  # the default: not named
    short = df.copy()
    short["config_json"] = json.dumps({"task": "circle", "train": {"epochs": 1, "lr": 0.001}})
    detector = df.copy()
    detector["pruner"] = "leak-anything"
    both = pd.concat([df, short, detector], ignore_index=True)
    d = prepare(both)
    assert sorted(d["_setting"].unique()) == ["circle · depth 5 · width 100 · noise 0.01 · calibrated training",
                                              "circle · depth 5 · width 100 · noise 0.01 · calibrated training, "
                                              "epochs 1"]
    assert "leak-anything" not in set(ranking(both)["method"])
    md = render_markdown(both, now=NOW)
    tables = md.split("## circle")[1:]  # the per-setting tables (the leak ceiling section comes before them)
    assert tables and not any("leak-anything" in t for t in tables)
