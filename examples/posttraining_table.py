"""The measured table of docs/post-training.md from a store of the posttraining-default suite.

    python -m plantseek evaluate --suite posttraining-default --store results/posttraining.db --jobs 2
    python examples/posttraining_table.py results/posttraining.db

Per task and density, per method: the pruned trained network's test metric without retraining (``weak_metric``) and
its recall of the planted ticket, each the mean over every (instance seed, calibration seed) cell with its 95 %
percentile-bootstrap interval over those cells (``ok`` and ``diverged`` cells: a diverged cell's metric counts, it is
what the method gave), and the mean spread over calibration draws (the standard deviation of recall across the
calibration seeds of one instance, averaged over instances).
"""

from __future__ import annotations

import sys

from plantseek.stats.intervals import bootstrap_interval
from plantseek.store.results import load_results


def main(path: str) -> None:
    df = load_results(path)
    df = df[df["status"].isin(["ok", "diverged"]) & (df["calibration_size"] > 0)]
    for (task, spec), part in df.groupby(["task", "density_spec"], sort=True):
        metric = part["metric_name"].iloc[0]
        dense = bootstrap_interval(part.groupby("seed")["dense_weak_metric"].first())
        print(f"\n**{task}, density {spec}** (dense trained {metric}: {dense.mean:.3g}; "
              f"{part['seed'].nunique()} instances x {part['calibration_seed'].nunique()} calibration draws)\n")
        print(f"| method | {metric} (no retraining) | recall | recall spread over draws |")
        print("|---|---|---|---|")
        for pruner, cells in sorted(part.groupby("pruner"), key=lambda kv: -kv[1]["recall"].mean()):
            m, r = bootstrap_interval(cells["weak_metric"]), bootstrap_interval(cells["recall"])
            spread = cells.groupby("seed")["recall"].std(ddof=0).mean()
            print(f"| {pruner} | {m.mean:.3g} [{m.low:.3g}, {m.high:.3g}] | {r.mean:.3f} [{r.low:.3f}, {r.high:.3f}] "
                  f"| {spread:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/plantseek.db")
