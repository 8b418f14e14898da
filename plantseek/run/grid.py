"""Running a grid: expand a suite into cells, group the cells by instance, run the groups.

* :func:`expand`: every cell of a suite, in a stable order (task, seed, pruner, density);
* :func:`group_cells`: cells sharing an instance (task, depth, width, seed, options, samples), so that each
  instance is planted, and each of its masks trained, once;
* :func:`run_cells`: skips the cells a results store already finished, runs every group through
  :func:`plantseek.run.group.run_group` on an executor (:mod:`plantseek.run.executors`), and stores each
  result as soon as its group ends.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterable, Sequence

from plantseek.prune.contract import is_file_ref
from plantseek.run.executors import make_executor
from plantseek.run.group import run_group
from plantseek.run.pruning import DEFAULT_PRUNE_TIMEOUT
from plantseek.run.records import CellConfig, CellResult
from plantseek.run.suites import Suite
from plantseek.train.config import pruning_budget


def pruner_code_hash(ref: str) -> str:
    """sha256 prefix of a pruner file (file references only), so that an edited file gives new cell ids."""
    if not is_file_ref(ref):
        return ""
    path = Path(ref.partition(":")[0])
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else ""


def expand(suite: Suite) -> list[CellConfig]:
    """All cells of a suite, in a stable order (task, seed, pruner, density). The pruners' budget takes the
    pruning scope of the suite's training protocol (``paper``: biases prunable, ranked with the weights)."""
    options = tuple(sorted(suite.task_options.items()))
    budget = pruning_budget(suite.budget, suite.training_protocol)
    pruners = suite.pruner_names()
    codes = {p: pruner_code_hash(p) for p in pruners}
    return [
        CellConfig(task=t, depth=suite.depth, width=suite.width, seed=s, pruner=p, density=d,
                   task_options=options, train=suite.train, budget=budget, pruner_code=codes[p],
                   n_samples=suite.n_samples, training_protocol=suite.training_protocol)
        for t in suite.tasks for s in suite.seeds for p in pruners for d in suite.densities
    ]


def group_cells(cells: Iterable[CellConfig]) -> list[list[CellConfig]]:
    """The cells grouped by instance (and weak-training configuration and protocol, which a group shares), groups
    in order of first appearance, cells in their given order."""
    groups: "OrderedDict[tuple, list[CellConfig]]" = OrderedDict()
    for c in cells:
        groups.setdefault(c.group_key, []).append(c)
    return list(groups.values())


def _run_group_task(args) -> list[tuple[CellConfig, CellResult]]:
    cells, timeout, device = args
    return run_group(cells, timeout, device)


def run_cells(cells: Sequence[CellConfig], *, store=None, jobs: int = 1, executor: str | None = None,
              prune_timeout: float | None = DEFAULT_PRUNE_TIMEOUT, device: str | None = None,
              on_result: Callable[[CellConfig, CellResult], None] | None = None, scheduler: str | None = None,
              ) -> list[tuple[CellConfig, CellResult]]:
    """Run ``cells`` (skipping those ``store`` already finished), storing each result as soon as its group ends."""
    if store is not None:
        done = store.finished_ids()
        cells = [c for c in cells if c.cell_id not in done]
    results: list[tuple[CellConfig, CellResult]] = []
    work = [(g, prune_timeout, device) for g in group_cells(cells)]
    for group_results in make_executor(jobs, executor, scheduler).imap(_run_group_task, work):
        for config, result in group_results:
            if store is not None:
                store.put(config, result)
            results.append((config, result))
            if on_result is not None:
                on_result(config, result)
    return results
