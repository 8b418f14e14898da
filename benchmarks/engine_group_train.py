"""The weak-training call of one cell group (the first instance of a suite), timed with the previous engine (every
network on the full host) and the current one (sparse networks compacted), best of 3 interleaved, process CPU
seconds (robust on a loaded machine), one torch thread.

Usage: ``python benchmarks/engine_group_train.py [paper-singleshot]``. Prints the networks' parameter shares (the
compacted share of each network; 1.0 = full host) and both CPU times.
"""

from __future__ import annotations

import os
import sys
import time

import torch

import plantseek.run.group as group
from plantseek.run.bundle import run_group
from plantseek.run.grid import expand, group_cells
from plantseek.run.suites import SUITES
from plantseek.train.batched import train_masks_batched
from plantseek.train.compact import compact_plan, cost_share
from plantseek.train.engine import ENGINE_VARIABLE


def main(name: str = "paper-singleshot") -> None:
    torch.set_num_threads(1)
    captured = []
    original = group.train_masks

    def capture(*args, **kwargs):
        captured.append(args)
        return original(*args, **kwargs)

    group.train_masks = capture
    os.environ[ENGINE_VARIABLE] = "1"
    run_group(group_cells(expand(SUITES.get(name)))[0])
    arch, starts, masks, x, y, loss, config, generators = captured[0]
    shares = sorted(round(cost_share(compact_plan(arch, m, config), arch), 3) for m in masks)
    print(f"{name}: {len(masks)} networks, parameter shares {shares}")
    best: dict[bool, float] = {}
    for _ in range(3):
        for compact in (False, True):
            gens = [torch.Generator().set_state(g.get_state()) for g in generators]
            t0 = time.process_time()
            train_masks_batched(arch, starts, masks, x, y, loss, config, gens, compact=compact)
            best[compact] = min(best.get(compact, float("inf")), time.process_time() - t0)
    print(f"training CPU s: previous engine {best[False]:.2f}, current {best[True]:.2f}, "
          f"{best[False] / best[True]:.2f}x")


if __name__ == "__main__":
    main(*sys.argv[1:])
