"""Does the current training engine change a conclusion? For two stores of the same grid, one per engine (made by
``python -m plantseek bench --grids paper-singleshot,paper-multishot --grid-store DIR``), every (task, method,
density) mean weak metric of the new engine against the previous engine's 95 % interval over seeds (the project's
rule: :func:`plantseek.stats.intervals.bootstrap_interval`).

Usage: ``python benchmarks/compare_engines.py DIR/paper-singleshot-engine1.db DIR/paper-singleshot-engine2.db``.
Prints every (task, method, density) with both means and the interval, then the exceptions; exit status 0.
"""

from __future__ import annotations

import sys

import numpy as np

from plantseek.stats.intervals import bootstrap_interval
from plantseek.store.results import load_results

KEYS = ["task", "pruner", "ablation", "density_spec", "protocol"]


def compare(old_path: str, new_path: str, quantity: str = "weak_metric") -> list[dict]:
    old, new = load_results(old_path), load_results(new_path)
    old, new = old[old.status.eq("ok")], new[new.status.eq("ok")]
    rows = []
    for key, grp in old.groupby(KEYS, sort=True):
        mine = new
        for k, v in zip(KEYS, key):
            mine = mine[mine[k].eq(v)]
        iv = bootstrap_interval(grp[quantity])
        mean_new = float(np.nanmean(mine[quantity])) if len(mine) else float("nan")
        inside = bool(iv.has_interval and iv.low <= mean_new <= iv.high) or (
            iv.n >= 1 and iv.low == iv.high == mean_new)
        same = sorted(zip(grp.seed, grp[quantity])) == sorted(zip(mine.seed, mine[quantity]))
        rows.append({"task": key[0], "method": key[1] + (f" [{key[2]}]" if key[2] else ""), "density": key[3],
                     "n_old": iv.n, "n_new": len(mine), "mean_old": iv.mean, "low": iv.low, "high": iv.high,
                     "mean_new": mean_new, "inside": inside or same, "identical": same, "engines":
                     (sorted(set(grp.engine)), sorted(set(mine.engine)))})
    return rows


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    rows = compare(*argv)
    print(f"{'task':8s} {'method':22s} {'density':8s} {'n':>5s} {'previous mean [95% CI]':>30s} {'current':>9s}  ok")
    for r in rows:
        print(f"{r['task']:8s} {r['method']:22s} {r['density']:8s} {r['n_old']:2d}/{r['n_new']:<2d} "
              f"{r['mean_old']:9.4f} [{r['low']:8.4f}, {r['high']:8.4f}] {r['mean_new']:9.4f}  "
              f"{'identical' if r['identical'] else 'yes' if r['inside'] else 'NO'}")
    out = [r for r in rows if not r["inside"]]
    same = sum(r["identical"] for r in rows)
    print(f"{len(rows)} (task, method, density) means: {same} identical, {len(rows) - len(out) - same} inside the "
          f"previous engine's 95 % interval, {len(out)} outside")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
