"""Compute on the leaderboard: only figures the parent measured are shown as results or ranked on (the ranking's
prune CPU seconds, the compute and wall-clock figures); the worker's self-reported counts appear only in the methods
table, labelled self-reported (torch-free)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import NOW, synthetic_results  # noqa: E402

from plantseek.frame.prepared import prepare  # noqa: E402
from plantseek.records.compute import SELF_REPORTED  # noqa: E402
from plantseek.report.markdown import render_markdown  # noqa: E402
from plantseek.report.page import render_html  # noqa: E402
from plantseek.report.plots import COMPUTE_FLOOR, figure_compute, figure_walltime  # noqa: E402
from plantseek.report.tables import compute_view, ranking  # noqa: E402

CPU = {("snip", 0): 0.5, ("snip", 1): 1.5, ("random", 0): 0.01, ("random", 1): 0.03}  # per seed, every density


def frame():
    df = synthetic_results(tasks=("circle",), pruners=("random", "snip"), seeds=(0, 1), fail=False)
    df["prune_cpu_seconds"] = [CPU[(p, s)] for p, s in zip(df["pruner"], df["seed"])]
    df["prune_parent_seconds"] = df["prune_cpu_seconds"] + 0.25
    df["compute_dense_runs"] = [0.0 if p == "random" else 2.0 for p in df["pruner"]]  # self-reported
    df["self_reported"] = 1.0
    return df


def forged(df: pd.DataFrame) -> pd.DataFrame:
    """Every figure that only the pruner's worker reports, rewritten as a hostile pruner could."""
    out = df.copy()
    for col in SELF_REPORTED:
        out[col] = 1e-9 if col != "worker_prune_seconds" else 0.0
    return out


def test_the_ranking_states_each_methods_mean_parent_measured_cpu_seconds():
    rk = ranking(frame()).set_index("method")
    assert rk.loc["snip", "prune_cpu_seconds"] == 1.0 and rk.loc["random", "prune_cpu_seconds"] == 0.02
    assert not set(SELF_REPORTED) & set(rk.columns)
    md = render_markdown(frame(), now=NOW)
    ranking_md = md.split("## Overall ranking", 1)[1].split("\n## ", 1)[0]
    assert "| prune CPU s |" in ranking_md and "dense runs" not in ranking_md.split("Compute:")[0]


def test_forged_self_reported_figures_change_nothing_on_the_pages_or_the_ranking():
    df = frame()
    assert forged(df)["compute_dense_runs"].ne(df["compute_dense_runs"]).any()
    assert render_html(forged(df), now=NOW) == render_html(df, now=NOW)
    assert render_markdown(forged(df), now=NOW) == render_markdown(df, now=NOW)
    pd.testing.assert_frame_equal(ranking(forged(df)), ranking(df))


def test_no_self_reported_figure_is_sortable_on_the_page():
    page = render_html(frame(), now=NOW)
    sortable = re.findall(r"<th [^>]*data-col=[^>]*>(.*?)</th>", page)
    assert sortable and not any("dense run" in t or "FLOP" in t or "self-reported" in t for t in sortable)
    ranking_html = re.search(r'id="ranking-table">.*?</table>', page, re.S).group(0)
    assert ">prune CPU s</th>" in ranking_html and 'data-v="1.0"' in ranking_html  # snip: mean of 0.5 and 1.5


def test_the_compute_view_has_measured_and_self_reported_compute_per_density():
    df = frame()
    view = compute_view(df)
    snip = view[view["method"] == "snip"]
    assert set(snip["density_spec"]) == set(df["density_spec"])
    assert (snip["prune_cpu_seconds_mean"] == 1.0).all() and (snip["prune_parent_seconds_mean"] == 1.25).all()
    assert (snip["compute_dense_runs_mean"] == 2.0).all()
    row = snip[snip["density_spec"] == "0.1"].iloc[0]
    cells = df[(df["pruner"] == "snip") & (df["density_spec"] == "0.1")]
    assert np.isclose(row["recall_mean"], cells["recall"].mean())
    assert np.isclose(row["weak_metric_mean"], cells["weak_metric"].mean())


def _x_of_every_cell(fig) -> list[float]:
    ax = fig.axes[0]
    small = [c for c in ax.collections if c.get_sizes()[0] == 14]  # one point per cell (large: the means)
    return sorted(float(x) for c in small for x in c.get_offsets()[:, 0])


def test_the_compute_figure_draws_parent_measured_cpu_seconds():
    d = prepare(frame())
    fig = figure_compute(d)
    ok = d[d["_ok"] & np.isfinite(d["recall"])]
    assert _x_of_every_cell(fig) == sorted(np.maximum(ok["prune_cpu_seconds"], COMPUTE_FLOOR))
    old = frame()
    old["prune_cpu_seconds"] = np.nan  # a store written before the parent measured CPU time
    assert figure_compute(prepare(old)) is None  # its dense runs (self-reported) are never drawn instead
    assert ranking(old)["prune_cpu_seconds"].isna().all()


def test_the_walltime_figure_draws_the_parent_measured_prune_time_plus_training():
    d = prepare(frame())
    ok = d[d["_ok"] & np.isfinite(d["recall"])]
    assert np.allclose(_x_of_every_cell(figure_walltime(d)),
                       sorted(ok["prune_parent_seconds"] + ok["train_seconds"]))
    worker_clock_only = prepare(frame().assign(prune_parent_seconds=np.nan))  # prune_seconds alone: not trusted
    assert figure_walltime(worker_clock_only) is None


def test_the_methods_table_labels_self_reported_compute():
    from plantseek.report.compute_table import compute_markdown

    md = compute_markdown(frame())
    lines = md.splitlines()
    head = next(line for line in lines if line.startswith("| method |"))
    assert "0.1: recall" in head and "0.1: prune CPU s" in head and "0.1: dense runs (self-reported)" in head
    snip = next(line for line in lines if line.startswith("| snip |"))
    cells = [c.strip() for c in snip.strip("|").split("|")]
    assert cells[-1] == "10 / 10" and "1 ± 0.71" in cells  # CPU 0.5 and 1.5 over two seeds: mean 1, std 0.71
    assert cells.count("2 ± 0") == 5  # self-reported dense runs, one per density
    assert "self-reported" in lines[-1] and "a hostile pruner can forge them" in lines[-1]
