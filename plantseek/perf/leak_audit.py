"""The leak audit without training: each leak detector's recall at the ticket density next to a random mask's, per
task, over seeds (``python -m plantseek.perf.leak_audit``).

The ``leak-audit`` suite runs the same detectors through the harness (isolated prune calls, weak training, the store);
recall at the ticket density needs none of that: this module plants each instance of the suite (its tasks, hosts and
seeds), builds the host as every pruner receives it (float32, :meth:`PlantedInstance.host`) and calls each detector's
``prune`` with the harness's generator stream (``seed, "prune", pruner, "ticket"``), so its recalls are the suite's.

Per task and pruner it reports the mean and standard deviation of recall over seeds, ``random`` (the expected recall
of a uniformly random mask: the ticket density) and the ratio of the two, and ``chance``: the expected recall of a
random mask that keeps as many weights *per layer* as the detector did (a detector that spends its budget on the
small layers where the ticket is dense gains that much without reading any weight; the rest is what its statistic
reads off the weights).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import dataclass
from typing import Sequence

import torch

from plantseek.core import seeding
from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig
from plantseek.prune.contract import get_pruner
from plantseek.run.suites import SUITES, Suite
from plantseek.score.metrics import overlap_counts

#: the acceptance bound: every detector's mean recall at most this many times the random mask's expected recall
BOUND = 2.0
#: significance below which a detector's hits count as more than the bound allows (see :func:`passes`)
P_LEVEL = 0.001


@dataclass(frozen=True)
class Measured:
    """One detector on one instance: recall at the ticket density, the chance level of its layer allocation, and the
    instance's ticket (weights, density, and the recall of a random mask keeping the ticket's own count per layer)."""

    task: str
    seed: int
    pruner: str
    recall: float
    chance: float  # expected recall of a random mask keeping as many weights per layer as this pruner did
    density: float  # the ticket density = a uniformly random mask's expected recall
    ticket_weights: int
    allocation: float  # expected recall of a random mask keeping the ticket's own count per layer (intrinsic)


def measure_instance(suite: Suite, task: str, seed: int, pruners: Sequence[str]) -> list[Measured]:
    """Every pruner of ``pruners`` at the ticket density on the suite's instance of ``task`` and ``seed``."""
    s = suite.setting(task)
    inst = plant(task, depth=s["depth"], width=s["width"], seed=seed, data=DataConfig(n_samples=s["n_samples"]),
                 **s["task_options"])
    density, data = inst.ticket_density, inst.pruner_data()
    out = []
    for name in pruners:
        mask = get_pruner(name).prune(inst.host(), data, density, budget=suite.budget,
                                      generator=seeding.generator(seed, "prune", name, "ticket"))
        counts = overlap_counts(mask, inst.ticket, inst.arch.structure())
        ticket = int(counts["ticket"].sum())
        chance = float((counts["kept"] * counts["ticket"] / counts["total"]).sum() / ticket)
        allocation = float((counts["ticket"] ** 2 / counts["total"]).sum() / ticket)
        out.append(Measured(task, seed, name, float(counts["both"].sum() / ticket), chance, density, ticket,
                            allocation))
    return out


def measure(suite: Suite, tasks: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
            progress=None) -> list[Measured]:
    """The suite's pruners at the ticket density on each of its tasks and seeds (or those given)."""
    pruners = suite.pruner_names()
    rows = []
    for task in tasks or suite.tasks:
        for seed in seeds if seeds is not None else suite.seeds:
            rows += measure_instance(suite, task, seed, pruners)
            if progress:
                progress(f"{task} seed {seed}")
    return rows


def poisson_tail(k: int, mean: float) -> float:
    """``P(X >= k)`` for ``X ~ Poisson(mean)``."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    term, below = math.exp(-mean), 0.0
    for i in range(k):
        below += term
        term *= mean / (i + 1)
    return max(0.0, 1.0 - below)


def summarise(rows: Sequence[Measured]) -> list[dict]:
    """Per (task, pruner): seeds, mean and std of recall, ``random`` (mean ticket density: a random mask's expected
    recall), ``ratio`` = mean recall / random, ``chance`` (mean chance of its layer allocation) and ``chance_ratio``,
    ``hits`` (ticket weights kept, all seeds) and ``p_value``: the probability of at least that many hits if each
    seed's hits were Poisson with ``BOUND`` times the larger of the two chance levels (small = the detector reads
    more off the weights than the bound allows); ``passes``: within the bound (see :func:`passes`); ``allocation``:
    the task's intrinsic allocation level (a random mask with the ticket's own count per layer)."""
    groups: dict[tuple[str, str], list[Measured]] = {}
    for r in rows:
        groups.setdefault((r.task, r.pruner), []).append(r)
    out = []
    for (task, pruner), rs in groups.items():
        recalls = [r.recall for r in rs]
        random = statistics.fmean(r.density for r in rs)
        chance = statistics.fmean(r.chance for r in rs)
        mean = statistics.fmean(recalls)
        hits = round(sum(r.recall * r.ticket_weights for r in rs))
        bound = BOUND * sum(max(r.density, r.chance) * r.ticket_weights for r in rs)
        row = {"task": task, "pruner": pruner, "seeds": len(rs), "recall_mean": mean,
               "recall_std": statistics.stdev(recalls) if len(rs) > 1 else 0.0, "random": random,
               "ratio": mean / random if random > 0 else math.nan, "chance": chance,
               "chance_ratio": mean / chance if chance > 0 else math.nan, "hits": hits,
               "p_value": poisson_tail(hits, bound), "allocation": statistics.fmean(r.allocation for r in rs)}
        row["passes"] = passes(row)
        out.append(row)
    return out


def passes(row: dict) -> bool:
    """Within the bound: mean recall at most ``BOUND`` times random's, or (the intrinsic exception: the ticket is
    denser in some layers than in others, and a statistic that spends its budget there gains that much without
    reading any planting artifact) at most ``BOUND`` times the chance level of the detector's own layer allocation,
    or hits not significantly (``P_LEVEL``) more than ``BOUND`` times those chance levels give (a ticket of four
    weights, ReLU's: one chance hit in ten seeds is already 125 times random)."""
    return (row["recall_mean"] <= BOUND * row["random"] or row["recall_mean"] <= BOUND * row["chance"]
            or row["p_value"] >= P_LEVEL)


def markdown(summary: Sequence[dict]) -> str:
    """One table: a row per pruner, a column per task, ``mean ± std (×random, ×chance)``; then the random mask's and
    the ticket-layer allocation's expected recall and the best detector per task."""
    tasks = list(dict.fromkeys(s["task"] for s in summary))
    pruners = list(dict.fromkeys(s["pruner"] for s in summary))
    cell = {(s["task"], s["pruner"]): s for s in summary}
    first = {t: next(s for s in summary if s["task"] == t) for t in tasks}
    head = "| recall at the ticket density (× random, × chance of its layer allocation) | "
    lines = [head + " | ".join(tasks) + " |",
             "|---|" + "---:|" * len(tasks),
             "| random mask, expected (= ticket density) | " + " | ".join(f"{first[t]['random']:.4f}" for t in tasks)
             + " |",
             "| ticket-layer allocation, expected (intrinsic) | "
             + " | ".join(f"{first[t]['allocation']:.4f}" for t in tasks) + " |"]
    for p in pruners:
        parts = []
        for t in tasks:
            s = cell.get((t, p))
            mark = "" if s is None or s["passes"] else " **over**"
            parts.append("" if s is None else f"{s['recall_mean']:.4f} ± {s['recall_std']:.4f} ({s['ratio']:.1f}×, "
                         f"{s['chance_ratio']:.1f}×){mark}")
        lines.append(f"| `{p}` | " + " | ".join(parts) + " |")
    best = []
    for t in tasks:
        det = [cell[(t, p)] for p in pruners if p.startswith("leak-") and (t, p) in cell]
        top = max(det, key=lambda s: (s["recall_mean"], s["pruner"]), default=None)
        best.append("" if top is None else f"**{top['recall_mean']:.4f}** (`{top['pruner']}`, {top['ratio']:.1f}×)")
    lines.append("| **leak ceiling** (best detector) | " + " | ".join(best) + " |")
    return "\n".join(lines)


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plantseek.perf.leak_audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="leak-audit", help="the suite whose tasks, hosts, seeds and pruners to use")
    parser.add_argument("--tasks", default=None, help="comma-separated tasks (default: the suite's)")
    parser.add_argument("--seeds", default=None, help="seeds such as 0-9 or 0,3,5 (default: the suite's)")
    parser.add_argument("--json", default=None, help="also write the per-instance rows and the summary to this file")
    args = parser.parse_args(argv)
    try:
        suite = SUITES.get(args.suite)
        if not isinstance(suite, Suite):
            raise ValueError(f"suite {args.suite!r} is a composite")
        tasks = args.tasks.split(",") if args.tasks else None
        seeds = _seeds(args.seeds) if args.seeds else None
    except (ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    rows = measure(suite, tasks, seeds, progress=lambda m: print(m, file=sys.stderr, flush=True))
    summary = summarise(rows)
    print(markdown(summary))
    over = [f"{s['task']} {s['pruner']}" for s in summary if s["pruner"].startswith("leak-") and not s["passes"]]
    print(f"\n{len(over)} detector(s) over the bound" + (": " + ", ".join(over) if over else ""))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": [r.__dict__ for r in rows], "summary": summary}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
