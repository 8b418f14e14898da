"""Running a grid: expand a suite into cells, group the cells by instance, run the groups.

* :func:`expand`: every cell of a suite, in a stable order (task, seed, pruner, density);
* :func:`group_cells`: cells sharing an instance (task, depth, width, seed, options, samples), so that each
  instance is planted, and each of its masks trained, once;
* :func:`run_cells`: skips the cells a results store already finished, bundles the groups that can train
  together (:func:`plantseek.run.bundle.bundle_groups`, up to ``max_batch`` networks), runs every bundle
  (:func:`plantseek.run.bundle.run_bundle`) on an executor (:mod:`plantseek.run.executors`), and stores each
  result as soon as its bundle ends; ``on_work`` follows the work done as it is reported from inside the bundles
  (:mod:`plantseek.run.work`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from plantseek.prune.contract import is_file_ref
from plantseek.run.bundle import bundle_groups, networks_of, run_bundle
from plantseek.run.executors import SlurmOptions, make_executor
from plantseek.run.isolation.mechanisms import warn_once
from plantseek.run.isolation.pruning import DEFAULT_PRUNE_TIMEOUT
from plantseek.records.cells import CellConfig, CellResult
from plantseek.run.suites import CompositeSuite, Suite
from plantseek.run.work import WorkDone, bundle_work, prune_weight
from plantseek.train.config import pruning_budget
from plantseek.train.device import resolve_device


def pruner_code_hash(ref: str) -> str:
    """sha256 prefix of a pruner file (file references only), so that an edited file gives new cell ids."""
    if not is_file_ref(ref):
        return ""
    path = Path(ref.partition(":")[0])
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else ""


def expand(suite: Suite | CompositeSuite) -> list[CellConfig]:
    """All cells of a suite, in a stable order (task, seed, pruner, density, calibration seed). The pruners' budget
    takes the pruning scope of the suite's training protocol (``paper``: biases prunable, ranked with the weights). A
    composite suite's cells: its members' in member order, a cell id already given by an earlier member left out."""
    if isinstance(suite, CompositeSuite):
        unique = {}
        for part in suite.parts():
            for c in expand(part):
                unique.setdefault(c.cell_id, c)
        return list(unique.values())
    budget = pruning_budget(suite.budget, suite.training_protocol)
    pruners = suite.pruner_names()
    codes = {p: pruner_code_hash(p) for p in pruners}
    settings = {t: suite.setting(t) for t in suite.tasks}  # a task's depth, width, options, samples
    draws = suite.calibration_seeds if suite.calibration_size else (0,)  # post-training: one cell per draw
    return [
        CellConfig(task=t, depth=settings[t]["depth"], width=settings[t]["width"], seed=s, pruner=p, density=d,
                   task_options=tuple(sorted(settings[t]["task_options"].items())), train=suite.train,
                   budget=budget, pruner_code=codes[p], n_samples=settings[t]["n_samples"],
                   training_protocol=suite.training_protocol, calibration_size=suite.calibration_size,
                   calibration_seed=c)
        for t in suite.tasks for s in suite.seeds for p in pruners for d in suite.densities for c in draws
    ]


def group_cells(cells: Iterable[CellConfig]) -> list[list[CellConfig]]:
    """The cells grouped by instance (and weak-training configuration and protocol, which a group shares), groups
    in order of first appearance, cells in their given order."""
    groups: "OrderedDict[tuple, list[CellConfig]]" = OrderedDict()
    for c in cells:
        groups.setdefault(c.group_key, []).append(c)
    return list(groups.values())


# automatic --max-batch, per device type: at most this many networks per bundle, and at least BUNDLES_PER_JOB
# bundles per worker process (so that the work spreads and results are stored as the grid goes). On the CPU one
# thread's throughput per network stops growing at K ~ 16-32 networks and falls when the stacked working set
# leaves the cache (README "Performance": bench's K sweep), so bundles there only fill small groups up to 32;
# a GPU wants every network it can hold (~0.8 MB each on the paper's hosts).
AUTO_MAX_BATCH = {"cpu": 32, "cuda": 512}
BUNDLES_PER_JOB = 3


def auto_max_batch(groups: Sequence[Sequence[CellConfig]], jobs: int, device_type: str = "cpu") -> int:
    """The networks per bundle when ``--max-batch`` is not given: :data:`AUTO_MAX_BATCH` of the device type,
    fewer when the grid would otherwise give fewer than :data:`BUNDLES_PER_JOB` bundles per worker process."""
    total = sum(networks_of(g) for g in groups)
    most = AUTO_MAX_BATCH.get(device_type, AUTO_MAX_BATCH["cpu"])
    return max(1, min(most, -(-total // (BUNDLES_PER_JOB * max(1, jobs)))))


def _run_bundle_task(args) -> list[tuple[CellConfig, CellResult]]:
    groups, timeout, device = args
    return run_bundle(groups, timeout, device)


def run_cells(cells: Sequence[CellConfig], *, store=None, jobs: int = 1, executor: str | None = None,
              prune_timeout: float | None = DEFAULT_PRUNE_TIMEOUT, device: str | None = None,
              on_result: Callable[[CellConfig, CellResult], None] | None = None, max_batch: int | None = None,
              scheduler: str | None = None, slurm: SlurmOptions | None = None,
              provenance: dict[str, Any] | None = None, on_work: Callable[[WorkDone], None] | None = None,
              ) -> list[tuple[CellConfig, CellResult]]:
    """Run ``cells`` (skipping those ``store`` already finished), storing each result as soon as its bundle ends.
    ``max_batch``: networks trained as one batch across instances (1: one instance at a time; None: automatic,
    :func:`auto_max_batch`). ``scheduler``, ``slurm``: the options of the dask and slurm executors. ``provenance``:
    entries added to every result's provenance before it is stored (e.g. ``{"suite": "default@339a05b17011"}``:
    :mod:`plantseek.run.suite_version`); no number depends on them. ``on_work``: called with the run's
    :class:`~plantseek.run.work.WorkDone` once before any work, after every progress tick and after every bundle
    (a side channel: it cannot change a result)."""
    if store is not None:
        done = store.finished_ids()
        cells = [c for c in cells if c.cell_id not in done]
    results: list[tuple[CellConfig, CellResult]] = []
    groups = group_cells(cells)
    bundles = bundle_groups(groups, max_batch or auto_max_batch(groups, jobs, resolve_device(device).type))
    work = [(b, prune_timeout, device) for b in bundles]
    if work:
        warn_once()  # here, before the worker processes start: one warning per run, not one per process
    prune_units = prune_weight(cells)
    units = [bundle_work(b, prune_units) for b in bundles]
    bundle_of = {g[0].cell_id: i for i, b in enumerate(bundles) for g in b[:1]}
    done = WorkDone(total=sum(units), groups=len(groups), prune_units=prune_units)
    report = on_work or (lambda _w: None)

    def on_tick(kind: str, n: int) -> None:
        done.tick(kind, n)
        report(done)

    report(done)
    for group_results in make_executor(jobs, executor, scheduler, slurm).imap(_run_bundle_task, work,
                                                                               on_tick if on_work else None):
        if group_results:
            done.bundle_done(units[bundle_of[group_results[0][0].cell_id]])
            report(done)
        for config, result in group_results:
            if provenance:
                result = dataclasses.replace(result, provenance={**result.provenance, **provenance})
            if store is not None:
                store.put(config, result)
            results.append((config, result))
            if on_result is not None:
                on_result(config, result)
    return results
