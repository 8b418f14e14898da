"""The methods table of a store as markdown: per method and density, recall of the planted ticket, weak metric, the
CPU seconds of the prune request measured by the parent (a pruner cannot rewrite them) and the compute in dense
training runs that the pruner's worker counted (self-reported: labelled so; a hostile pruner can forge it) (mean ±
std over seeds; :func:`plantseek.report.tables.compute_view`). Torch-free.

``python -m plantseek.report.compute_table [STORE] [--task circle] [--depth 5] [--width 100]`` prints it (the
README's methods table comes from the ``methods-circle`` suite: ``python -m plantseek evaluate --suite
methods-circle`` then this command).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import pandas as pd

from plantseek.report.format import fmt, md_escape
from plantseek.report.rules import COMPUTE_NOTE, SELF_REPORTED
from plantseek.report.tables import compute_view


def _pm(mean: float, std: float) -> str:
    if pd.isna(mean):
        return "—"
    return fmt(mean) if pd.isna(std) else f"{fmt(mean)} ± {fmt(std, '.2g')}"


def compute_markdown(df: pd.DataFrame) -> str:
    """One markdown table per setting: a row per method, for each density recall, weak metric, parent-measured
    prune CPU seconds and self-reported compute in dense runs."""
    view = compute_view(df)
    out: list[str] = []
    for setting, g in view.groupby("setting", sort=False):
        specs = list(dict.fromkeys(g["density_spec"]))
        metric = g["metric_name"].iloc[0] or "metric"
        out += [f"### {md_escape(setting)}", "",
                "| method | protocol | " + " | ".join(f"{s}: recall | {s}: weak {md_escape(metric)} | {s}: prune CPU s "
                                                      f"| {s}: dense runs ({SELF_REPORTED})" for s in specs)
                + " | ok / cells |",
                "|---|---|" + "---:|---:|---:|---:|" * len(specs) + "---:|"]
        for method, m in g.groupby("method", sort=False):
            cells = [m[m["density_spec"] == s] for s in specs]
            line = [md_escape(method), md_escape(m["protocol"].iloc[0] or "—")]
            for c in cells:
                if c.empty:
                    line += ["", "", "", ""]
                    continue
                r = c.iloc[0]
                line += [_pm(r["recall_mean"], r["recall_std"]), _pm(r["weak_metric_mean"], r["weak_metric_std"]),
                         _pm(r["prune_cpu_seconds_mean"], r["prune_cpu_seconds_std"]),
                         _pm(r["compute_dense_runs_mean"], r["compute_dense_runs_std"])]
            line.append(f"{int(m['ok'].sum())} / {int(m['cells'].sum())}")
            out.append("| " + " | ".join(line) + " |")
        out.append("")
    if out:
        out.append(COMPUTE_NOTE)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plantseek.report.compute_table", description=__doc__)
    parser.add_argument("store", nargs="?", default=None, help="results store (default results/plantseek.db)")
    parser.add_argument("--task", default=None)
    parser.add_argument("--depth", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    args = parser.parse_args(argv)
    from plantseek.core.errors import PlantseekError
    from plantseek.store.results import load_results

    try:
        df = load_results(args.store)
    except PlantseekError as exc:
        print(f"plantseek: error: {exc}", file=sys.stderr)
        return 2
    for col in ("task", "depth", "width"):
        if getattr(args, col) is not None:
            df = df[df[col] == getattr(args, col)]
    print(compute_markdown(df))
    return 0


if __name__ == "__main__":
    sys.exit(main())
