"""The leaderboard README's answers (plantseek.report.answers_md): per setting and density, the leader by recall and
by weak metric, checked against means computed here from the cells."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import NOW, synthetic_results  # noqa: E402

from plantseek.report.markdown import render_markdown  # noqa: E402

ROW = re.compile(r"^\| (?P<task>\w+) · .*? \| (?P<density>[^|]+?) \| (?P<recall>[^|]+) \| (?P<weak>[^|]+) \|$")


def _rows(text: str) -> list[dict]:
    start = text.index("## Who leads each setting and density")
    section = text[start:text.index("## Overall ranking")]
    return [m.groupdict() for m in map(ROW.match, section.splitlines()) if m]


def test_each_answer_is_the_best_mean_over_seeds_of_the_cells():
    df = synthetic_results(seeds=tuple(range(8)))
    rows = _rows(render_markdown(df, now=NOW))
    ok = df[df["status"].eq("ok") & df["ablation"].fillna("").eq("") & (df["density"] < 1)]  # density 1: no question
    assert len(rows) == ok.groupby(["task", "density_spec"]).ngroups  # one row per setting and density
    for row in rows:
        spec = row["density"].split(" ")[0]
        g = ok[ok["task"].eq(row["task"]) & ok["density_spec"].eq(spec)]
        for col, q in (("recall", "recall"), ("weak", "weak_metric")):
            means = g[np.isfinite(g[q])].groupby("pruner")[q].mean()
            hib = q == "recall" or bool(g["higher_is_better"].iloc[0])
            best = means.idxmax() if hib else means.idxmin()
            name, mean = row[col].split(" ")[:2]
            assert name == best, (row, col)
            assert float(mean) == float(f"{means[best]:.3g}")


def test_a_leader_ahead_on_every_one_of_eight_seeds_has_a_significant_lead():
    df = synthetic_results(tasks=("circle",), pruners=("random", "magnitude"), seeds=tuple(range(8)), fail=False,
                           nan=False)
    df.loc[df["pruner"].eq("magnitude"), "recall"] = df.loc[df["pruner"].eq("random"), "recall"].to_numpy() + 0.1
    for row in _rows(render_markdown(df, now=NOW)):
        # exact two-sided Wilcoxon signed-rank p with 8 positive differences: 2 / 2**8
        assert row["recall"].startswith("magnitude ")
        assert "**significant lead** (p = 0.0078) over random" in row["recall"]


def test_one_seed_gives_no_interval_and_no_significant_lead():
    df = synthetic_results(tasks=("circle",), pruners=("random", "magnitude"), seeds=(0,), fail=False, nan=False)
    for row in _rows(render_markdown(df, now=NOW)):
        assert "[" not in row["recall"] and "lead not significant" in row["recall"]
